// Command countersign is the one binary of Countersign: the service, its
// migrations, the audit tools for ethics boards, user and token
// administration, and the benchmark harness.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/assistant/openai"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	os.Exit(code)
}

const usage = `Usage: countersign <command> [flags]

Commands:
  serve [--addr :8080] [--demo] [--db PATH|URL]   run the service
  migrate [--db PATH|URL]                          apply database migrations and exit
  user add --name N --email E --role R [--team T]  add a user (creates the team if needed)
  token create --email E [--label L] [--days N]    issue an API token for a user
  audit verify [--file EXPORT --key VKEY] [--since CHECKPOINT]
                                                   verify the audit log (live or from an export)
  audit checkpoint                                 sign and print the current checkpoint
  audit export                                     write the audit log as NDJSON to stdout
  audit key                                        print the public verifier key
  bench [flags]                                    drive the API and report throughput and latency

Configuration (environment):
  DATABASE_URL               postgres://… or a SQLite file path (default ./countersign.db)
  OPENAI_BASE_URL, OPENAI_API_KEY, COUNTERSIGN_MODEL, COUNTERSIGN_MODEL_ONPREM=true
                             an OpenAI-compatible model endpoint (default: offline drafter)
  COUNTERSIGN_DIRECTORY      a YAML or JSON list of local services (id, name, description) referrals may name
  COUNTERSIGN_AUDIT_KEY      file holding the checkpoint signing key (default ./countersign-audit.key)
  COUNTERSIGN_AUDIT_ORIGIN   the log's name in checkpoints (default countersign.local/audit)
  COUNTERSIGN_REQUIRE_CONSENT=false
                             drafts need no recorded consent of the client (default: they do;
                             a recorded refusal or withdrawal is honoured either way)
  COUNTERSIGN_SECURE_COOKIES=true
                             mark the web interface's cookies Secure (behind a TLS-terminating proxy)
  COUNTERSIGN_TOKEN_CACHE    how long an accepted API token is accepted again without a database read
                             (default 1s; 0 reads it on every call). A token revoked on another replica
                             or with the CLI stops working within this time; on the same replica, at once
`

// run dispatches a command and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		m := NewMain(stdout, stderr, getenv)
		if err = m.ParseFlags(args[1:]); err == nil {
			if err = m.Run(ctx); err == nil {
				<-ctx.Done()
				err = m.Close()
			}
		}
	case "migrate":
		err = runMigrate(ctx, args[1:], stdout, getenv)
	case "user":
		err = runUser(ctx, args[1:], stdout, getenv)
	case "token":
		err = runToken(ctx, args[1:], stdout, getenv)
	case "audit":
		return runAudit(ctx, args[1:], stdout, stderr, getenv)
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr, getenv)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "countersign: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "countersign %s: %s\n", args[0], describe(err))
		return 1
	}
	return 0
}

// describe renders an error for the terminal: the readable message for
// domain errors, the whole chain otherwise.
func describe(err error) string {
	if countersign.ErrorCode(err) != countersign.EINTERNAL {
		msg := countersign.ErrorMessage(err)
		for _, f := range countersign.ErrorFields(err) {
			msg += fmt.Sprintf("\n  %s: %s", f.Field, f.Message)
		}
		return msg
	}
	return err.Error()
}

// Config is what the service reads from flags and the environment.
type Config struct {
	Addr         string
	DSN          string
	Demo         bool
	AuditKeyPath string
	AuditOrigin  string
	Workers      int
	// Lease is how long a drafting worker holds a draft before another
	// process may take it over.
	Lease time.Duration
	// SequenceEvery and CheckpointEvery pace the background audit work.
	SequenceEvery   time.Duration
	CheckpointEvery time.Duration
	MaxBodyBytes    int64
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout cuts off clients that send their headers slowly.
	ReadHeaderTimeout time.Duration
}

func defaultConfig(getenv func(string) string) Config {
	c := Config{Addr: ":8080", DSN: getenv("DATABASE_URL"), AuditKeyPath: getenv("COUNTERSIGN_AUDIT_KEY"),
		AuditOrigin: getenv("COUNTERSIGN_AUDIT_ORIGIN"), Workers: 4, SequenceEvery: 200 * time.Millisecond,
		CheckpointEvery: 500 * time.Millisecond, MaxBodyBytes: 256 << 10, ShutdownTimeout: 20 * time.Second,
		ReadHeaderTimeout: 5 * time.Second}
	if c.DSN == "" {
		c.DSN = "countersign.db"
	}
	if c.AuditOrigin == "" {
		c.AuditOrigin = "countersign.local/audit"
	}
	return c
}

// keyPath places the signing key beside a SQLite database, or in the
// working directory for PostgreSQL, unless configured.
func (c *Config) keyPath() string {
	if c.AuditKeyPath != "" {
		return c.AuditKeyPath
	}
	if !strings.Contains(c.DSN, "://") {
		return filepath.Join(filepath.Dir(c.DSN), "countersign-audit.key")
	}
	return "countersign-audit.key"
}

// Main is the running service; end-to-end tests drive it directly.
type Main struct {
	Config Config
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	Logger *slog.Logger

	DB      *sqlstore.DB
	Server  *api.Server
	Runner  *review.Runner
	Notary  *audit.Notary
	Model   assistant.Model
	http    *http.Server
	ln      net.Listener
	cancel  context.CancelFunc
	bg      sync.WaitGroup
	Tokens  []DemoToken
	started bool
}

// NewMain returns a Main with the default configuration.
func NewMain(stdout, stderr io.Writer, getenv func(string) string) *Main {
	return &Main{Config: defaultConfig(getenv), Stdout: stdout, Stderr: stderr, Getenv: getenv,
		Logger: slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
}

// ParseFlags reads the serve flags.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.StringVar(&m.Config.Addr, "addr", m.Config.Addr, "address to listen on")
	fs.StringVar(&m.Config.DSN, "db", m.Config.DSN, "database: a SQLite file path or a postgres:// URL")
	fs.BoolVar(&m.Config.Demo, "demo", false, "seed a demo team and case and print tokens to try")
	fs.IntVar(&m.Config.Workers, "workers", m.Config.Workers, "drafts generated at once")
	fs.DurationVar(&m.Config.Lease, "lease", 2*time.Minute, "how long a worker holds a draft it generates before another may take it over")
	fs.DurationVar(&m.Config.ShutdownTimeout, "shutdown-timeout", m.Config.ShutdownTimeout, "how long in-flight requests and drafts may finish on SIGTERM")
	fs.Int64Var(&m.Config.MaxBodyBytes, "max-body", m.Config.MaxBodyBytes, "largest accepted request body in bytes")
	return fs.Parse(args)
}

// Addr returns the address the service listens on, once running.
func (m *Main) Addr() string {
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

// Run opens the database, starts the background workers and the HTTP server,
// and returns; Close stops them.
func (m *Main) Run(ctx context.Context) error {
	db, err := sqlstore.Open(ctx, m.Config.DSN)
	if err != nil {
		return err
	}
	m.DB = db
	if db.Policy, err = review.LoadPolicyFromEnv(m.Getenv); err != nil {
		return err
	}
	db.TokenCache = time.Second
	if v := m.Getenv("COUNTERSIGN_TOKEN_CACHE"); v != "" {
		if db.TokenCache, err = time.ParseDuration(v); err != nil || db.TokenCache < 0 {
			return fmt.Errorf("COUNTERSIGN_TOKEN_CACHE must be a duration such as 1s, or 0 to read every token from the database: %q", v)
		}
	}
	if v := m.Getenv("COUNTERSIGN_REQUIRE_CONSENT"); v != "" {
		if db.RequireConsent, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("COUNTERSIGN_REQUIRE_CONSENT must be true or false: %w", err)
		}
	}
	signer, vkey, err := audit.LoadOrCreateSigner(m.Config.keyPath(), m.Config.AuditOrigin)
	if err != nil {
		return err
	}
	verifierKeys, err := audit.ParseVerifierKeys(vkey)
	if err != nil {
		return err
	}
	m.Notary = &audit.Notary{Store: db, Signer: signer, Origin: m.Config.AuditOrigin, Logger: m.Logger}

	model, err := m.model()
	if err != nil {
		return err
	}
	directory, err := m.directory()
	if err != nil {
		return err
	}
	m.Model = model
	host, _ := os.Hostname()
	m.Runner = &review.Runner{Store: db, Drafter: &assistant.Drafter{Model: model, Directory: directory}, Logger: m.Logger,
		Owner: fmt.Sprintf("%s:%d", host, os.Getpid()), Workers: m.Config.Workers, Lease: m.Config.Lease, Grace: m.Config.ShutdownTimeout / 2}

	s := api.NewServer()
	s.Identity, s.Cases, s.Review, s.Audit, s.AuditProofs = db, db, db, db, m.Notary
	s.Export = db.Export
	s.StatsRealIDs = m.Getenv("COUNTERSIGN_STATS_REAL_IDS") == "true"
	s.SecureCookies = m.Getenv("COUNTERSIGN_SECURE_COOKIES") == "true"
	s.Logger, s.MaxBodyBytes, s.DraftQueued = m.Logger, m.Config.MaxBodyBytes, m.Runner.Wake
	s.Checks["database"] = db.Ping
	s.VerifyLog = func(ctx context.Context) (*audit.Report, error) {
		return m.Notary.VerifyLog(ctx, &audit.Verifier{Origin: m.Config.AuditOrigin, Keys: verifierKeys}, db.AllStoredEvents)
	}
	if c, ok := model.(interface{ Healthy() bool }); ok {
		s.Checks["model"] = func(context.Context) error {
			if !c.Healthy() {
				return countersign.Errorf(countersign.EUNAVAILABLE, "The model endpoint is failing; drafts are retried later.")
			}
			return nil
		}
	}
	m.Server = s

	if m.Config.Demo {
		if err := m.seedDemo(ctx); err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
	}

	bgctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.bg.Go(func() {
		db.RunSequencer(bgctx, m.Config.SequenceEvery, func(err error) { m.Logger.Error("sequence audit events", "op", "audit.sequencer", "err", err) })
	})
	m.bg.Go(func() { m.Notary.Run(bgctx, m.Config.CheckpointEvery) })
	m.bg.Go(func() { m.Runner.Run(bgctx) })

	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.Config.Addr, err)
	}
	m.ln = ln
	m.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: m.Config.ReadHeaderTimeout, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 32 << 10}
	m.bg.Go(func() {
		if err := m.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("http server", "err", err)
		}
	})
	m.started = true
	m.Logger.Info("countersign serving", "addr", ln.Addr().String(), "database", db.Dialect(), "model", model.Name(), "provider", model.Provider())
	if m.Config.Demo {
		m.printDemo()
	}
	return nil
}

// model returns the configured OpenAI-compatible client, or the offline
// extractive drafter when no endpoint is configured.
func (m *Main) model() (assistant.Model, error) {
	cfg, ok, err := openai.ConfigFromEnv(m.Getenv)
	if err != nil {
		return nil, err
	}
	if !ok {
		return assistant.Extractive{}, nil
	}
	return openai.New(cfg)
}

// directory returns the local referral directory named by
// COUNTERSIGN_DIRECTORY; the demo has a small one of its own.
func (m *Main) directory() ([]assistant.Service, error) {
	if path := m.Getenv("COUNTERSIGN_DIRECTORY"); path != "" {
		return assistant.LoadDirectory(path)
	}
	if m.Config.Demo {
		return demoDirectory, nil
	}
	return nil, nil
}

// Close stops accepting requests, lets in-flight requests finish up to the
// shutdown deadline, stops the workers (a draft in flight keeps its lease and
// is resumed after it expires), sequences what is pending, and closes the database.
func (m *Main) Close() error {
	var err error
	if m.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
		err = m.http.Shutdown(ctx)
		cancel()
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.bg.Wait()
	if m.DB != nil {
		if _, serr := m.DB.Sequence(context.Background()); serr != nil {
			err = errors.Join(err, serr)
		}
		err = errors.Join(err, m.DB.Close())
	}
	return err
}
