package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/countersign/countersign/assistant/openai"
)

// Config is every setting of the service. loadConfig reads it once, from
// the one table of settings below: a command-line flag beats the environment
// variable, which beats the YAML file named by --config or
// COUNTERSIGN_CONFIG, which beats the default.
type Config struct {
	// File is the YAML file the settings were read from, if any.
	File string

	Addr            string
	DSN             string
	Demo            bool
	Workers         int
	Lease           time.Duration
	ShutdownTimeout time.Duration
	MaxBodyBytes    int64

	// The model endpoint; no base URL and no key mean the offline drafter.
	OpenAIBaseURL   string
	OpenAIAPIKey    string
	ModelName       string
	ModelOnPrem     bool
	ModelTimeout    time.Duration
	ModelMaxRetries int
	AzureAPIVersion string
	AzureDeployment string

	AuditKeyPath   string
	EventKeyPath   string
	CaseKeyring    string
	AuditOrigin    string
	DirectoryPath  string
	PolicyPath     string
	RequireConsent bool
	StatsRealIDs   bool
	SecureCookies  bool
	TokenCache     time.Duration
	// ClientOrigin is the public origin of the client's pages, for
	// invitation letters and passkeys; "" takes each request's own.
	ClientOrigin string
	// RateLimit is in requests per second per token, signed-in user or
	// client address; 0 switches the limit off.
	RateLimit float64
	RateBurst int
	// SignInLimit is in failed sign-ins per minute per client address (and
	// at once); 0 switches the limit off.
	SignInLimit float64
	// OTLPEndpoint is the OTLP/HTTP collector traces are sent to; "" sends none.
	OTLPEndpoint string

	// The agenda (issue 16): the time zone of its dates, how often each
	// replica looks for reminders due, and the SMTP server reminders are
	// e-mailed through ("" SMTPAddr: in-app notifications only).
	TimeZone      string
	ReminderEvery time.Duration
	SMTPAddr      string
	SMTPFrom      string
	SMTPUsername  string
	SMTPPassword  string

	// RetentionEvery is how often each replica runs the retention job.
	RetentionEvery time.Duration

	// The fields below are not settings: they pace the background work and
	// the server's timeouts, and tests shorten them.
	SequenceEvery     time.Duration
	CheckpointEvery   time.Duration
	ReadHeaderTimeout time.Duration
}

// setting is one row of the settings table: serve --help is generated from
// it, README's Configuration table lists the same rows (a test compares
// them), and loadConfig parses each value, the default included, with set.
type setting struct {
	// Flag is the flag's name, and the setting's key in the config file.
	Flag string
	Env  string
	// Default is parsed like any other value; "" leaves the field empty.
	Default string
	// Shown is the default as help and README say it, when Default alone
	// does not ("" shows Default, or "none" when that is empty too).
	Shown string
	Usage string
	// set parses v into c; its error completes "SETTING must be …".
	set    func(c *Config, v string) error
	isBool bool
}

// shownDefault is the default as serve --help and README show it.
func (s *setting) shownDefault() string {
	switch {
	case s.Shown != "":
		return s.Shown
	case s.Default != "":
		return s.Default
	}
	return "none"
}

// settings is the one table of the service's settings, in the order of
// serve --help and README.
var settings = []*setting{
	{Flag: "config", Env: "COUNTERSIGN_CONFIG", Usage: "a YAML file of settings, keyed by their flag names (db: postgres://…); flags and the environment override it",
		set: text(func(c *Config) *string { return &c.File })},
	{Flag: "db", Env: "DATABASE_URL", Default: "./countersign.db", Usage: "postgres://… for PostgreSQL, otherwise a SQLite file path",
		set: text(func(c *Config) *string { return &c.DSN })},
	{Flag: "addr", Env: "COUNTERSIGN_ADDR", Default: ":8080", Usage: "the address to listen on",
		set: text(func(c *Config) *string { return &c.Addr })},
	{Flag: "demo", Env: "COUNTERSIGN_DEMO", Default: "false", Usage: "seed a demo team and case, and print tokens to try",
		set: boolean(func(c *Config) *bool { return &c.Demo }), isBool: true},
	{Flag: "workers", Env: "COUNTERSIGN_WORKERS", Default: "4", Usage: "drafts generated at once by this process",
		set: integer(func(c *Config) *int { return &c.Workers }, 1, "a whole number of at least 1")},
	{Flag: "lease", Env: "COUNTERSIGN_LEASE", Default: "30s",
		Usage: "how long a draft held by a drafting worker that stopped (a crash, a lost network) waits before another process takes it over; a live worker renews it every third of this while the model call runs, however long that takes",
		set:   duration(func(c *Config) *time.Duration { return &c.Lease }, time.Second, "a duration of at least 1s, such as 30s")},
	{Flag: "shutdown-timeout", Env: "COUNTERSIGN_SHUTDOWN_TIMEOUT", Default: "20s", Usage: "how long in-flight requests and drafts may finish on SIGTERM",
		set: duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout }, 1, "a positive duration such as 20s")},
	{Flag: "max-body", Env: "COUNTERSIGN_MAX_BODY", Default: "262144", Usage: "the largest accepted request body, in bytes (413 above it)",
		set: integer(func(c *Config) *int64 { return &c.MaxBodyBytes }, 1, "a number of bytes of at least 1")},
	{Flag: "openai-base-url", Env: "OPENAI_BASE_URL", Shown: "none: the offline extractive drafter", Usage: "an OpenAI-compatible endpoint: OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp server",
		set: text(func(c *Config) *string { return &c.OpenAIBaseURL })},
	{Flag: "openai-api-key", Env: "OPENAI_API_KEY", Usage: "the endpoint's API key (better in the environment or the file: a flag shows in the process list)",
		set: text(func(c *Config) *string { return &c.OpenAIAPIKey })},
	{Flag: "model", Env: "COUNTERSIGN_MODEL", Usage: "the model's name; required with an endpoint, unless an Azure deployment names it",
		set: text(func(c *Config) *string { return &c.ModelName })},
	{Flag: "model-onprem", Env: "COUNTERSIGN_MODEL_ONPREM", Default: "false", Shown: "false: text is pseudonymised", Usage: "the endpoint runs under the operator's control and may receive raw text",
		set: boolean(func(c *Config) *bool { return &c.ModelOnPrem }), isBool: true},
	{Flag: "model-timeout", Env: "COUNTERSIGN_MODEL_TIMEOUT", Default: "2m", Usage: "how long one model call may take",
		set: duration(func(c *Config) *time.Duration { return &c.ModelTimeout }, 1, "a positive duration such as 2m")},
	{Flag: "model-max-retries", Env: "COUNTERSIGN_MODEL_MAX_RETRIES", Default: "3", Usage: "retries of a failed model call, with backoff, before the draft's job is retried later (0: none)",
		set: integer(func(c *Config) *int { return &c.ModelMaxRetries }, -1, "a whole number of retries, 0 for none")},
	{Flag: "azure-openai-api-version", Env: "AZURE_OPENAI_API_VERSION", Default: openai.DefaultAzureAPIVersion, Usage: "the Azure OpenAI API version, with a deployment",
		set: text(func(c *Config) *string { return &c.AzureAPIVersion })},
	{Flag: "azure-openai-deployment", Env: "AZURE_OPENAI_DEPLOYMENT", Usage: "an Azure OpenAI deployment: selects Azure OpenAI at the base URL",
		set: text(func(c *Config) *string { return &c.AzureDeployment })},
	{Flag: "audit-key", Env: "COUNTERSIGN_AUDIT_KEY", Shown: "beside the SQLite file, or ./countersign-audit.key",
		Usage: "the file holding the Ed25519 checkpoint signing key (created on first start, mode 0600; keep it outside the database's directory, or serve warns; replicas share it)",
		set:   text(func(c *Config) *string { return &c.AuditKeyPath })},
	{Flag: "event-key", Env: "COUNTERSIGN_EVENT_KEY", Shown: "beside the signing key: countersign-event.key in its directory",
		Usage: "the file holding the key that authenticates each audit event before it enters the log; an event without its MAC is refused (created on first start, mode 0600; keep it outside the database; replicas and the CLI share it)",
		set:   text(func(c *Config) *string { return &c.EventKeyPath })},
	{Flag: "case-keyring", Env: "COUNTERSIGN_CASE_KEYRING", Shown: "beside the event key: countersign-case.keyring in its directory",
		Usage: "the file holding the master keys that wrap each case's key, which seals the case's text at rest (created on first start, mode 0600; keep it and its backups apart from the database's; replicas and the CLI share it; rotated by countersign keys rotate)",
		set:   text(func(c *Config) *string { return &c.CaseKeyring })},
	{Flag: "audit-origin", Env: "COUNTERSIGN_AUDIT_ORIGIN", Default: "countersign.local/audit", Usage: "the log's name in checkpoints",
		set: text(func(c *Config) *string { return &c.AuditOrigin })},
	{Flag: "directory", Env: "COUNTERSIGN_DIRECTORY", Shown: "none (the demo has three)", Usage: "a YAML or JSON list of local services (id, name, description); suggested referrals may name only these",
		set: text(func(c *Config) *string { return &c.DirectoryPath })},
	{Flag: "policy", Env: "COUNTERSIGN_POLICY", Shown: "built-in: the worker signs alone",
		Usage: "a YAML or JSON review policy: the case types cases may have (case_types), kinds that need a supervisor's countersignature, kinds disabled for some case types, reading speed, when a draft is overdue, vigilance checks",
		set:   text(func(c *Config) *string { return &c.PolicyPath })},
	{Flag: "require-consent", Env: "COUNTERSIGN_REQUIRE_CONSENT", Default: "true", Usage: "a draft needs the client's recorded consent to AI-assisted drafting (a recorded refusal is honoured either way)",
		set: boolean(func(c *Config) *bool { return &c.RequireConsent }), isBool: true},
	{Flag: "stats-real-ids", Env: "COUNTERSIGN_STATS_REAL_IDS", Default: "false", Usage: "show staff by user id on the board's pages and in the statistics (API and web interface) instead of pseudonyms",
		set: boolean(func(c *Config) *bool { return &c.StatsRealIDs }), isBool: true},
	{Flag: "secure-cookies", Env: "COUNTERSIGN_SECURE_COOKIES", Default: "false", Usage: "mark the web interface's cookies Secure even over plain HTTP, for a TLS-terminating proxy in front",
		set: boolean(func(c *Config) *bool { return &c.SecureCookies }), isBool: true},
	{Flag: "client-origin", Env: "COUNTERSIGN_CLIENT_ORIGIN", Shown: "none: the address each request came to",
		Usage: "the public origin of the client's own pages, such as https://mijn.example.be: the sign-in address printed on invitation letters, and the relying party of passkeys",
		set:   text(func(c *Config) *string { return &c.ClientOrigin })},
	{Flag: "token-cache", Env: "COUNTERSIGN_TOKEN_CACHE", Default: "1s",
		Usage: "how long an accepted API token is accepted again without reading the database; a token revoked with the CLI or on another replica stops working within this time (0: read every token)",
		set:   duration(func(c *Config) *time.Duration { return &c.TokenCache }, 0, "a duration such as 1s, or 0 to read every token from the database")},
	{Flag: "rate-limit", Env: "COUNTERSIGN_RATE_LIMIT", Default: "50",
		Usage: "requests per second per API token (by its id) or signed-in web user, and per client address for requests without either; over it, 429 with Retry-After (0: no limit)",
		set:   number(func(c *Config) *float64 { return &c.RateLimit }, "a number of requests per second, or 0 for no limit")},
	{Flag: "rate-burst", Env: "COUNTERSIGN_RATE_BURST", Default: "100", Usage: "requests a token, user or address may make at once above the rate limit's pace",
		set: integer(func(c *Config) *int { return &c.RateBurst }, 1, "a whole number of at least 1")},
	{Flag: "signin-limit", Env: "COUNTERSIGN_SIGNIN_LIMIT", Default: "10",
		Usage: "failed sign-ins (a wrong, revoked or expired token, through the API or the sign-in page) a client address may make per minute, and at once; over it, 429 with Retry-After before any token is checked (0: no limit)",
		set:   number(func(c *Config) *float64 { return &c.SignInLimit }, "a number of failed sign-ins per minute, or 0 for no limit")},
	{Flag: "otlp-endpoint", Env: "COUNTERSIGN_OTLP_ENDPOINT", Shown: "none: no traces are sent",
		Usage: "an OpenTelemetry collector's OTLP/HTTP URL, such as http://otel-collector:4318 (/v1/traces is added to a URL without a path); spans carry routes, ids, codes and timings, never case text, names, addresses or paths",
		set:   endpointURL(func(c *Config) *string { return &c.OTLPEndpoint })},
	{Flag: "time-zone", Env: "COUNTERSIGN_TIME_ZONE", Default: "Europe/Brussels",
		Usage: "the service's time zone (an IANA name): agenda dates without a time are whole days in it, reminders of them arrive at 09:00 in it, and the agenda is shown in it",
		set:   timeZone(func(c *Config) *string { return &c.TimeZone })},
	{Flag: "reminder-every", Env: "COUNTERSIGN_REMINDER_EVERY", Default: "1m", Usage: "how often each replica looks for agenda reminders due; each is delivered once, whatever the number of replicas",
		set: duration(func(c *Config) *time.Duration { return &c.ReminderEvery }, time.Second, "a duration of at least 1s, such as 1m")},
	{Flag: "retention-every", Env: "COUNTERSIGN_RETENTION_EVERY", Default: "1h", Usage: "how often each replica runs the retention job, which erases the closed cases whose period (the policy's retention: section) ended and that no legal hold stops; each case is erased once, whatever the number of replicas",
		set: duration(func(c *Config) *time.Duration { return &c.RetentionEvery }, time.Second, "a duration of at least 1s, such as 1h")},
	{Flag: "smtp-addr", Env: "COUNTERSIGN_SMTP_ADDR", Shown: "none: reminders are in-app only",
		Usage: "host:port of an SMTP server through which agenda reminders are also e-mailed (STARTTLS when the server offers it); the mail names a case reference, a kind and a date, never a person",
		set:   text(func(c *Config) *string { return &c.SMTPAddr })},
	{Flag: "smtp-from", Env: "COUNTERSIGN_SMTP_FROM", Usage: "the From address of reminder e-mails; required with --smtp-addr",
		set: text(func(c *Config) *string { return &c.SMTPFrom })},
	{Flag: "smtp-username", Env: "COUNTERSIGN_SMTP_USERNAME", Usage: "the SMTP user name, when the server asks for authentication (PLAIN)",
		set: text(func(c *Config) *string { return &c.SMTPUsername })},
	{Flag: "smtp-password", Env: "COUNTERSIGN_SMTP_PASSWORD", Usage: "the SMTP password (better in the environment or the file: a flag shows in the process list)",
		set: text(func(c *Config) *string { return &c.SMTPPassword })},
}

// settingByFlag finds a row of the settings table.
func settingByFlag(name string) *setting {
	for _, s := range settings {
		if s.Flag == name {
			return s
		}
	}
	return nil
}

// ConfigError is a bad or unknown setting; the command exits with status 2.
type ConfigError struct{ Message string }

// Error implements the error interface.
func (e *ConfigError) Error() string { return e.Message }

// loadConfig reads every setting once. The settings named in flags (all of
// them when flags is empty) become flags of fs, which is parsed from args; fs
// may be nil when no flags are read. Then each setting takes its value from
// its flag, else its environment variable, else the config file, else its
// default. A bad value is a *ConfigError naming the setting where it was
// given; help is flag.ErrHelp.
func loadConfig(fs *flag.FlagSet, args []string, getenv func(string) string, flags ...string) (Config, error) {
	fromFlags := map[string]string{}
	if fs != nil {
		if len(flags) == 0 {
			for _, s := range settings {
				flags = append(flags, s.Flag)
			}
		}
		for _, name := range flags {
			s := settingByFlag(name)
			fs.Var(&flagValue{name: name, isBool: s.isBool, to: fromFlags}, name, s.Usage)
		}
		if err := parseFlags(fs, args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return Config{}, err
			}
			msg := err.Error()
			return Config{}, &ConfigError{Message: fmt.Sprintf("%s%s; see countersign %s --help.", strings.ToUpper(msg[:1]), msg[1:], fs.Name())}
		}
	}

	path, ok := fromFlags["config"]
	if !ok {
		path = getenv("COUNTERSIGN_CONFIG")
	}
	fromFile, err := readConfigFile(path)
	if err != nil {
		return Config{}, err
	}

	c := Config{SequenceEvery: 200 * time.Millisecond, CheckpointEvery: 500 * time.Millisecond, ReadHeaderTimeout: 5 * time.Second}
	for _, s := range settings {
		v, name := s.Default, "the default of --"+s.Flag
		if fv, ok := fromFile[s.Flag]; ok {
			v, name = fv, fmt.Sprintf("%s in %s", s.Flag, path)
		}
		if ev := getenv(s.Env); ev != "" {
			v, name = ev, s.Env
		}
		if fv, ok := fromFlags[s.Flag]; ok {
			v, name = fv, "--"+s.Flag
		}
		if err := s.set(&c, v); err != nil {
			return Config{}, &ConfigError{Message: fmt.Sprintf("%s must be %s, not %q.", name, err, v)}
		}
	}
	if c.SMTPAddr != "" && c.SMTPFrom == "" {
		return Config{}, &ConfigError{Message: "COUNTERSIGN_SMTP_FROM (--smtp-from) must give the From address of reminder e-mails when COUNTERSIGN_SMTP_ADDR is set."}
	}
	if (c.OpenAIBaseURL != "" || c.OpenAIAPIKey != "") && c.ModelName == "" && c.AzureDeployment == "" {
		return Config{}, &ConfigError{Message: "COUNTERSIGN_MODEL (--model) must name the model when OPENAI_BASE_URL or OPENAI_API_KEY is set."}
	}
	return c, nil
}

// parseFlags parses args into fs. --help (or -h) prints the command's
// usage and flags to fs.Output() and returns flag.ErrHelp; any other
// mistake is returned, with nothing printed, for the caller to word.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(out, "Usage: countersign %s [flags]\n\nFlags:\n", fs.Name())
		fs.PrintDefaults()
	}
	return err
}

// readConfigFile reads the YAML config file at path ("" for none) into raw
// values keyed by flag name. Unknown keys are refused, so that a misspelt
// setting is never silently ignored.
func readConfigFile(path string) (map[string]string, error) {
	out := map[string]string{}
	if path == "" {
		return out, nil
	}
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{Message: fmt.Sprintf("The config file %s (--config, COUNTERSIGN_CONFIG) cannot be read: %v.", path, errors.Unwrap(err))}
	}
	if len(bytes.TrimSpace(buf)) == 0 {
		return out, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(buf, &doc); err != nil {
		return nil, &ConfigError{Message: fmt.Sprintf("The config file %s is not valid YAML: %s.", path, strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	if len(doc.Content) == 0 {
		return out, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &ConfigError{Message: fmt.Sprintf("The config file %s must be a map of settings such as \"db: postgres://…\".", path)}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if s := settingByFlag(k.Value); s == nil || s.Flag == "config" {
			return nil, &ConfigError{Message: fmt.Sprintf("%s, line %d: %q is not a setting; the settings are the flag names of countersign serve --help.", path, k.Line, k.Value)}
		}
		if v.Kind != yaml.ScalarNode {
			return nil, &ConfigError{Message: fmt.Sprintf("%s, line %d: %s must be a single value.", path, v.Line, k.Value)}
		}
		out[k.Value] = v.Value
	}
	return out, nil
}

// flagValue records a flag's raw value; loadConfig parses it with the
// setting's own parser, after the environment and the file.
type flagValue struct {
	name   string
	isBool bool
	to     map[string]string
}

func (f *flagValue) String() string { return "" }

func (f *flagValue) Set(v string) error { f.to[f.name] = v; return nil }

// IsBoolFlag lets a boolean setting be given as --demo, without a value.
func (f *flagValue) IsBoolFlag() bool { return f.isBool }

func text(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func boolean(p func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("true or false")
		}
		*p(c) = b
		return nil
	}
}

func integer[T int | int64](p func(*Config) *T, low T, want string) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || T(n) < low || int64(T(n)) != n {
			return errors.New(want)
		}
		*p(c) = T(n)
		return nil
	}
}

func duration(p func(*Config) *time.Duration, low time.Duration, want string) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < low {
			return errors.New(want)
		}
		*p(c) = d
		return nil
	}
}

func timeZone(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if _, err := time.LoadLocation(v); err != nil || v == "" || v == "Local" {
			return errors.New("an IANA time zone such as Europe/Brussels")
		}
		*p(c) = v
		return nil
	}
}

func endpointURL(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v != "" {
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errors.New("an http:// or https:// URL such as http://otel-collector:4318")
			}
		}
		*p(c) = v
		return nil
	}
}

func number(p func(*Config) *float64, want string) func(*Config, string) error {
	return func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return errors.New(want)
		}
		*p(c) = f
		return nil
	}
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

// openAI returns the model endpoint's configuration, and false when none is
// configured (the offline drafter then writes the drafts).
func (c *Config) openAI() (openai.Config, bool) {
	if c.OpenAIBaseURL == "" && c.OpenAIAPIKey == "" {
		return openai.Config{}, false
	}
	cfg := openai.Config{BaseURL: c.OpenAIBaseURL, APIKey: c.OpenAIAPIKey, Model: c.ModelName, OnPremises: c.ModelOnPrem,
		Timeout: c.ModelTimeout, MaxRetries: c.ModelMaxRetries}
	if c.AzureDeployment != "" {
		cfg.Azure = openai.AzureConfig{Deployment: c.AzureDeployment, APIVersion: c.AzureAPIVersion}
	}
	if cfg.Model == "" {
		cfg.Model = c.AzureDeployment
	}
	// openai reads a zero MaxRetries as its default and a negative one as none.
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = -1
	}
	return cfg, true
}

// serveHelp is serve --help: the settings table, one setting a paragraph.
func serveHelp() string {
	var b strings.Builder
	b.WriteString(`Usage: countersign serve [flags]

Runs the service. Each setting is read from its flag, else its environment
variable, else its key (the flag's name) in the YAML file given by --config
or COUNTERSIGN_CONFIG, else its default.

Settings:
`)
	for _, s := range settings {
		fmt.Fprintf(&b, "  --%s, %s\n", s.Flag, s.Env)
		b.WriteString(wrap(s.Usage, "        ", 78))
		fmt.Fprintf(&b, "        default: %s\n", s.shownDefault())
	}
	return b.String()
}

// wrap breaks text into lines of at most width columns, each indented.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, w := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	b.WriteString(line + "\n")
	return b.String()
}
