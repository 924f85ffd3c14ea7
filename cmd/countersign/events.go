package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/internal/sealbox"
	"github.com/countersign/countersign/sqlstore"
)

// eventKeyPath places the event key beside the signing key, unless configured.
func (c *Config) eventKeyPath() string {
	if c.EventKeyPath != "" {
		return c.EventKeyPath
	}
	return filepath.Join(filepath.Dir(c.keyPath()), "countersign-event.key")
}

// openDB opens the database with the event key, which every command that
// writes or sequences audit events needs (see sqlstore.DB.EventKey).
func (c *Config) openDB(ctx context.Context) (*sqlstore.DB, error) {
	key, err := audit.LoadOrCreateEventKey(c.eventKeyPath())
	if err != nil {
		return nil, err
	}
	ring, err := sealbox.LoadOrCreateKeyring(c.caseKeyringPath())
	if err != nil {
		return nil, err
	}
	db, err := sqlstore.Open(ctx, c.DSN)
	if err != nil {
		return nil, err
	}
	db.EventKey, db.CaseKeys = key, ring
	return db, nil
}

// watchRefusals logs each pending event the sequencer refuses and counts
// it in reg as countersign_audit_refused_events_total, by reason. The log
// line names ids and codes only: the row's payload stays in audit_refused.
func watchRefusals(db *sqlstore.DB, reg prometheus.Registerer, logger *slog.Logger) {
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "countersign_audit_refused_events_total",
		Help: "Pending audit events the sequencer kept out of the log (no valid MAC under the event key, or a replayed copy), by reason."},
		[]string{"reason"})
	for _, r := range []string{sqlstore.RefusedMissingMAC, sqlstore.RefusedInvalidMAC, sqlstore.RefusedReplayed, sqlstore.RefusedMalformed} {
		refused.WithLabelValues(r) // shown at 0, so an alert can watch it from the start
	}
	reg.MustRegister(refused)
	db.OnRefused = func(r sqlstore.RefusedEvent) {
		refused.WithLabelValues(r.Reason).Inc()
		logger.Error("audit event refused: not written by this service", "op", "audit.sequencer", "pending_id", r.PendingID,
			"reason", r.Reason, "claimed_actor_id", clip(r.ActorID), "claimed_action", clip(r.Action))
	}
}

// clip bounds a value someone else wrote before it reaches the log.
func clip(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:64], "") + "…"
	}
	return s
}

// reportForgedEvents fails rep when events were written by someone who
// does not hold the event key: pending events the sequencer refused
// (sqlstore.RefusedEvents), kept out of the log, and events in the log
// whose MAC does not verify (sqlstore.UnauthenticatedEvents), written
// straight into audit_event or sequenced with another key. The hashes and
// the checkpoint may all verify, since whoever wrote them computed them,
// but the board must hear of them. Each is named by its ids and reason;
// what a refused row said stays in audit_refused.
func reportForgedEvents(ctx context.Context, db *sqlstore.DB, rep *audit.Report) error {
	var problems []string
	seqs, n, err := db.UnauthenticatedEvents(ctx, 10)
	if err != nil {
		return err
	}
	if n > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%d entries of the log were not written by this service (their MAC does not verify under the event key): entries", n)
		for _, s := range seqs {
			fmt.Fprintf(&b, " %d", s)
		}
		if n > len(seqs) {
			fmt.Fprintf(&b, " and %d more", n-len(seqs))
		}
		problems = append(problems, b.String())
	}
	refused, err := db.RefusedEvents(ctx)
	if err != nil {
		return err
	}
	if len(refused) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%d pending event(s) were refused and kept out of the log: not written by this service (table audit_refused)", len(refused))
		for i, r := range refused {
			if i == 10 {
				fmt.Fprintf(&b, "; and %d more", len(refused)-i)
				break
			}
			fmt.Fprintf(&b, "; refused %d (pending id %d, %s, claimed %s by %s, %s)", r.ID, r.PendingID, r.Reason, clip(r.Action), clip(r.ActorID), r.RefusedAt.Format(time.RFC3339))
		}
		problems = append(problems, b.String())
	}
	if len(problems) == 0 {
		return nil
	}
	if rep.OK {
		rep.OK, rep.Problem = false, strings.Join(problems, "; also, ")
	} else {
		rep.Problem += "; also, " + strings.Join(problems, "; also, ")
	}
	return nil
}
