package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/metrics"
	"github.com/countersign/countersign/sqlstore"
)

// sequencerLagLimit is how long a pending audit event may wait before
// /readyz says the sequencer is behind.
const sequencerLagLimit = 30 * time.Second

// observe adds the operator's series to the server's registry (the
// counters of internal/metrics, the store's queues and backlog read on each
// scrape, the model's circuit breaker) and /readyz's checks of the
// sequencer and the keys, beside the database's.
func (m *Main) observe(s *api.Server, db *sqlstore.DB, model assistant.Model, logger *slog.Logger) {
	metrics.Register(s.Registry)
	s.Registry.MustRegister(&metrics.StoreCollector{Read: db.Operations, MinInterval: time.Second, Timeout: 2 * time.Second, Logger: logger})
	var healthy func() bool
	if c, ok := model.(interface{ Healthy() bool }); ok {
		healthy = c.Healthy
	}
	s.Registry.MustRegister(metrics.Breaker(healthy))

	s.Checks["sequencer"] = func(ctx context.Context) error {
		oldest, err := db.OldestPending(ctx)
		if err != nil {
			logger.Warn("read the audit backlog for /readyz", "op", "serve.readyz", "err", err)
			return countersign.Errorf(countersign.EUNAVAILABLE, "The audit backlog cannot be read.")
		}
		if !oldest.IsZero() && time.Since(oldest) > sequencerLagLimit {
			return countersign.Errorf(countersign.EUNAVAILABLE, "Audit events have waited more than %s to enter the log.", sequencerLagLimit)
		}
		return nil
	}
	keys := map[string]string{"signing key": m.Config.keyPath(), "event key": m.Config.eventKeyPath(), "case keyring": m.Config.caseKeyringPath()}
	s.Checks["keys"] = func(context.Context) error {
		for name, path := range keys {
			if _, err := os.Stat(path); err != nil {
				return countersign.Errorf(countersign.EUNAVAILABLE, "The audit %s file %s is gone; the service holds it in memory, but a restart would fail or make a new one.", name, path)
			}
		}
		return nil
	}
}

// otlpError words a refused OTLP endpoint as a setting's error.
func otlpError(err error) error {
	return &ConfigError{Message: fmt.Sprintf("--otlp-endpoint (COUNTERSIGN_OTLP_ENDPOINT): %v.", err)}
}

// countedSignIns is the client accounts store with each sign-in counted in
// countersign_client_signins_total: ok, or refused when the store refused
// the credential (EUNAUTHORIZED). Both doors (api, web) are handed it.
type countedSignIns struct{ client.Accounts }

func countSignIn(err error) {
	switch {
	case err == nil:
		metrics.ClientSignIn(true)
	case countersign.ErrorCode(err) == countersign.EUNAUTHORIZED:
		metrics.ClientSignIn(false)
	}
}

func (c countedSignIns) Redeem(ctx context.Context, r client.Redemption) (*client.Session, string, error) {
	s, secret, err := c.Accounts.Redeem(ctx, r)
	countSignIn(err)
	return s, secret, err
}

func (c countedSignIns) SignInWithPassphrase(ctx context.Context, f client.SignInFilter, passphrase string, kind client.SessionKind, lang string) (*client.Session, string, error) {
	s, secret, err := c.Accounts.SignInWithPassphrase(ctx, f, passphrase, kind, lang)
	countSignIn(err)
	return s, secret, err
}

func (c countedSignIns) SignInWithPasskey(ctx context.Context, ceremony string, credentialID, credential []byte, lang string) (*client.Session, string, error) {
	s, secret, err := c.Accounts.SignInWithPasskey(ctx, ceremony, credentialID, credential, lang)
	countSignIn(err)
	return s, secret, err
}
