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
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/assistant/openai"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/internal/httpx"
	"github.com/countersign/countersign/internal/tracing"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	os.Exit(code)
}

const usage = `Usage: countersign <command> [flags]

Commands:
  serve [--addr :8080] [--demo] [--db PATH|URL]   run the service (settings: countersign serve --help)
  migrate [--db PATH|URL]                          apply database migrations and exit
  user add --name N --email E --role R [--team T]  add a user (creates the team if needed)
  user disable --email E                           disable a user: their tokens and web sessions stop working
  token create --email E [--label L] [--days N]    issue an API token for a user (expires after N days, 90 by default)
  token revoke --id TOKEN_ID                       revoke a token, and end the web sessions signed in with it
  audit verify [--file EXPORT --key VKEY] [--since CHECKPOINT]
                                                   verify the audit log (live or from an export); live, also the case data against it
  audit checkpoint                                 sign and print the current checkpoint
  audit export                                     write the audit log as NDJSON to stdout
  audit key                                        print the public verifier key
  bench [flags]                                    drive the API and report throughput and latency
  eval gate [--set FILE] [-v]                      measure the high-stakes detector on a labelled set
  caseload --file EXPORT [--policy FILE] [--pseudonyms]
                                                   recompute each team's caseload from an audit export (the API's CSV)
  backup --out FILE                                a consistent copy of the SQLite database while serve runs (PostgreSQL: how to)
  restore --from FILE [--force]                    put a backup in place of the SQLite database (serve stopped)
  retention plan|run [--limit N]                   what the retention policy erases when; erase the expired cases now
  keys rotate|retire|encrypt-existing              the case master keyring: rotate it, retire an old key, seal text of release 1.0
  version                                          print the version of this binary and of its API

Every command takes --help (or -h) for its own flags.

serve takes every setting of countersign serve --help as a flag, from the environment,
or from the YAML file named by --config or COUNTERSIGN_CONFIG; migrate, user, token and
audit read the same settings (--db and --config as flags, audit also --audit-key,
--audit-origin, --event-key and --case-keyring; keys --audit-key, --event-key and
--case-keyring).
`

// version is this release. api/openapi.json's info.version and
// info.description say the same as `countersign version`; a test keeps them so.
const version = "1.0.0"

// description is what `countersign version` says the service is.
const description = "AI drafts, humans sign: a language model drafts from case notes, and nothing it drafts enters the case record until a named person signs it off. JSON API with bearer tokens; errors are RFC 9457 problem+json."

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
	case "eval":
		err = runEval(args[1:], stdout)
	case "caseload":
		err = runCaseload(args[1:], stdout)
	case "retention":
		err = runRetention(ctx, args[1:], stdout, getenv)
	case "keys":
		err = runKeys(ctx, args[1:], stdout, getenv)
	case "backup":
		err = runBackup(ctx, args[1:], stdout, getenv)
	case "restore":
		err = runRestore(ctx, args[1:], stdout, getenv)
	case "version":
		fs := flag.NewFlagSet("version", flag.ContinueOnError)
		fs.SetOutput(stdout)
		if err = parseFlags(fs, args[1:]); err == nil && fs.NArg() > 0 {
			err = &ConfigError{Message: fmt.Sprintf("version takes no argument %q.", fs.Arg(0))}
		} else if err != nil && !errors.Is(err, flag.ErrHelp) {
			err = &ConfigError{Message: fmt.Sprintf("%s; see countersign version --help.", err)}
		}
		if err == nil {
			fmt.Fprintf(stdout, "countersign %s (%s)\n%s\n", version, runtime.Version(), description)
		}
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
	if ce := (*ConfigError)(nil); errors.As(err, &ce) {
		fmt.Fprintf(stderr, "countersign %s: %s\n", args[0], ce.Message)
		return 2
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

// Main is the running service; end-to-end tests drive it directly.
type Main struct {
	// Config is read from the environment by NewMain, and again with the
	// flags by ParseFlags; tests change its fields before Run.
	Config Config
	Stdout io.Writer
	Stderr io.Writer
	// Getenv is the environment the configuration is read from.
	Getenv func(string) string
	Logger *slog.Logger
	// configErr is a bad setting found by NewMain, returned by Run.
	configErr error

	DB      *sqlstore.DB
	Server  *api.Server
	Web     *web.Server
	Runner  *review.Runner
	Notary  *audit.Notary
	Model   assistant.Model
	http    *http.Server
	ln      net.Listener
	cancel  context.CancelFunc
	bg      sync.WaitGroup
	Tokens  []DemoToken
	started bool
	// benchHook, set by `countersign bench` in process, may wrap the API
	// server's stores before it serves (bench_accesslog.go); never a setting.
	benchHook func(*api.Server)
	// DemoInvitation is the code of the demo client's letter, and its
	// address, made at each start of serve --demo.
	DemoInvitation struct{ Code, Letter string }
	// traces flushes and stops the trace exporter (internal/tracing).
	traces func(context.Context) error
}

// NewMain returns a Main configured from the environment (and the file it
// names); a bad setting is returned by Run.
func NewMain(stdout, stderr io.Writer, getenv func(string) string) *Main {
	cfg, err := loadConfig(nil, nil, getenv)
	return &Main{Config: cfg, configErr: err, Stdout: stdout, Stderr: stderr, Getenv: getenv,
		Logger: slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
}

// ParseFlags reads the configuration again, with the serve flags, which
// beat the environment and the file. --help prints the settings to Stdout
// and returns flag.ErrHelp.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, err := loadConfig(fs, args, m.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(m.Stdout, serveHelp())
		return err
	}
	if err == nil && fs.NArg() > 0 {
		err = &ConfigError{Message: fmt.Sprintf("serve takes no argument %q; settings are flags such as --addr :8080.", fs.Arg(0))}
	}
	if err != nil {
		return err
	}
	m.Config, m.configErr = cfg, nil
	return nil
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
	if m.configErr != nil {
		return m.configErr
	}
	traces, err := tracing.Setup(ctx, m.Config.OTLPEndpoint, version)
	if err != nil {
		return otlpError(err)
	}
	m.traces = traces
	policy, err := review.LoadPolicy(m.Config.PolicyPath)
	if err != nil {
		return &ConfigError{Message: fmt.Sprintf("The review policy (--policy, COUNTERSIGN_POLICY) is refused: %v", err)}
	}
	directory, err := m.directory()
	if err != nil {
		return err
	}
	db, err := m.Config.openDB(ctx)
	if err != nil {
		return err
	}
	m.DB = db
	db.Policy, db.TokenCache, db.RequireConsent = policy, m.Config.TokenCache, m.Config.RequireConsent
	signer, vkey, err := audit.LoadOrCreateSigner(m.Config.keyPath(), m.Config.AuditOrigin)
	if err != nil {
		return err
	}
	warnKeyBesideDatabase(m.Logger, &m.Config)
	verifierKeys, err := audit.ParseVerifierKeys(vkey)
	if err != nil {
		return err
	}
	m.Notary = &audit.Notary{Store: db.AuditStore, Signer: signer, Origin: m.Config.AuditOrigin, Logger: m.Logger}

	model, err := m.model()
	if err != nil {
		return err
	}
	m.Model = model
	host, _ := os.Hostname()
	m.Runner = &review.Runner{Store: db.ReviewStore, Drafter: &assistant.Drafter{Model: model, Directory: directory}, Logger: m.Logger,
		Owner: fmt.Sprintf("%s:%d", host, os.Getpid()), Workers: m.Config.Workers, Lease: m.Config.Lease, Grace: m.Config.ShutdownTimeout / 2,
		// Every call and retry of one draft, with their backoff; the
		// heartbeat keeps the lease meanwhile.
		Timeout: m.Config.ModelTimeout * time.Duration(m.Config.ModelMaxRetries+2),
		// Told of each draft finished here, so a GET waiting for it answers at once.
		Watch: &review.Watch{}}

	s := api.NewServer()
	watchRefusals(db, s.Registry, m.Logger)
	m.observe(s, db, model, m.Logger)
	s.Identity, s.Cases, s.Review, s.Audit, s.AuditProofs = db.IdentityStore, db.CaseStore, db.ReviewStore, db.AuditStore, m.Notary
	s.Export = db.Export
	// The client's file, and the log of staff reads of case content.
	s.Files, s.Responses = db, db
	s.StatsRealIDs = m.Config.StatsRealIDs
	limits := &httpx.Limits{}
	if m.Config.RateLimit > 0 {
		limits.Requests = &httpx.RateLimit{PerSecond: m.Config.RateLimit, Burst: m.Config.RateBurst}
	}
	if m.Config.SignInLimit > 0 {
		limits.SignIns = &httpx.RateLimit{PerSecond: m.Config.SignInLimit / 60, Burst: max(1, int(m.Config.SignInLimit))}
	}
	s.Limits = limits
	s.Logger, s.MaxBodyBytes, s.DraftQueued, s.DraftWatch = m.Logger, m.Config.MaxBodyBytes, m.Runner.Wake, m.Runner.Watch
	s.Checks["database"] = db.Ping
	s.Clients = countedSignIns{db.ClientIdentityStore}
	m.Web = &web.Server{Identity: db.IdentityStore, Cases: db.CaseStore, Review: db.ReviewStore, Audit: db.AuditStore, Checkpoints: m.Notary, DraftQueued: m.Runner.Wake, Logger: m.Logger,
		SecureCookies: m.Config.SecureCookies, MaxBodyBytes: m.Config.MaxBodyBytes, Limits: limits, StatsRealIDs: m.Config.StatsRealIDs,
		Clients: s.Clients, ClientOrigin: m.Config.ClientOrigin, Files: db,
		VerifyLog: func(ctx context.Context) (*audit.Report, error) {
			return verifyStoredLog(ctx, db, m.Notary, &audit.Verifier{Origin: m.Config.AuditOrigin, Keys: verifierKeys}) // as audit verify does
		}}
	if c, ok := model.(interface{ Healthy() bool }); ok {
		s.Checks["model"] = func(context.Context) error {
			if !c.Healthy() {
				return countersign.Errorf(countersign.EUNAVAILABLE, "The model endpoint is failing; drafts are retried later.")
			}
			return nil
		}
	}
	if m.benchHook != nil {
		m.benchHook(s)
	}
	if err := m.wireAgenda(db, s); err != nil {
		return err
	}
	m.wireRetention(db, s)
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
	m.bg.Go(func() { m.runReminders(bgctx, db) })
	m.bg.Go(func() { m.runRetentionJob(bgctx, db) })
	m.bg.Go(func() {
		// The parties written before migration 0021 get their e-mail's
		// blind index now rather than at the first sign-in by e-mail.
		if err := db.IndexEmails(bgctx); err != nil && bgctx.Err() == nil {
			m.Logger.Error("index client e-mails", "op", "client.email_index", "err", err)
		}
	})

	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.Config.Addr, err)
	}
	m.ln = ln
	// One mux, one address: the JSON API and the web interface each add
	// their routes, and both go through the API's middleware (metrics, security
	// headers, rate limit).
	mux := http.NewServeMux()
	s.Routes(mux)
	m.Web.Routes(mux)
	m.http = &http.Server{Handler: s.Middleware(tracing.Handler(mux)), ReadHeaderTimeout: m.Config.ReadHeaderTimeout, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 32 << 10}
	// The write timeout leaves room for a GET held by Prefer: wait
	// (api.MaxDraftWait); shutting down answers those at once.
	m.http.RegisterOnShutdown(m.Runner.Watch.Close)
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
	cfg, ok := m.Config.openAI()
	if !ok {
		return assistant.Extractive{}, nil
	}
	return openai.New(cfg)
}

// directory returns the local referral directory named by --directory
// (COUNTERSIGN_DIRECTORY); the demo has a small one of its own.
func (m *Main) directory() ([]assistant.Service, error) {
	if path := m.Config.DirectoryPath; path != "" {
		d, err := assistant.LoadDirectory(path)
		if err != nil {
			return nil, &ConfigError{Message: fmt.Sprintf("The directory of services (--directory, COUNTERSIGN_DIRECTORY) is refused: %v.", err)}
		}
		return d, nil
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
	if m.traces != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = errors.Join(err, m.traces(ctx))
		cancel()
	}
	return err
}
