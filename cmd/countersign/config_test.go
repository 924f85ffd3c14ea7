package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/assistant/openai"
)

// writeFile writes a file for the test and returns its path.
func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfig(t *testing.T) {
	t.Parallel()
	serve := func(args []string, vars map[string]string) (Config, error) {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		return loadConfig(fs, args, env(vars))
	}

	t.Run("DefaultsAreTheTablesDefaults", func(t *testing.T) {
		t.Parallel()
		c, err := loadConfig(nil, nil, env(nil))
		if err != nil {
			t.Fatal(err)
		}
		want := Config{Addr: ":8080", DSN: "./countersign.db", Workers: 4, Lease: 30 * time.Second, ShutdownTimeout: 20 * time.Second,
			MaxBodyBytes: 262144, ModelTimeout: 2 * time.Minute, ModelMaxRetries: 3, AzureAPIVersion: "2024-10-21",
			AuditOrigin: "countersign.local/audit", RequireConsent: true, TokenCache: time.Second, RateLimit: 50, RateBurst: 100, SignInLimit: 10,
			TimeZone: "Europe/Brussels", ReminderEvery: time.Minute, RetentionEvery: time.Hour,
			SequenceEvery: 200 * time.Millisecond, CheckpointEvery: 500 * time.Millisecond, ReadHeaderTimeout: 5 * time.Second}
		if c != want {
			t.Fatalf("defaults\n got %+v\nwant %+v", c, want)
		}
	})

	t.Run("FlagBeatsEnvironmentBeatsFile", func(t *testing.T) {
		t.Parallel()
		file := writeFile(t, "countersign.yaml", "addr: 127.0.0.1:9000\nworkers: 2\ntoken-cache: 5s\nrate-limit: 7.5\nsecure-cookies: true\n")
		c, err := serve([]string{"--config", file, "--token-cache", "0", "--demo"},
			map[string]string{"COUNTERSIGN_WORKERS": "3", "COUNTERSIGN_TOKEN_CACHE": "2s"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Addr != "127.0.0.1:9000" || c.Workers != 3 || c.TokenCache != 0 || c.RateLimit != 7.5 || !c.SecureCookies || !c.Demo || c.File != file {
			t.Fatalf("got %+v", c)
		}
	})

	t.Run("ReadsTheFileNamedByTheEnvironment", func(t *testing.T) {
		t.Parallel()
		file := writeFile(t, "countersign.yaml", "db: postgres://db.example/countersign\nrequire-consent: false\n")
		c, err := loadConfig(nil, nil, env(map[string]string{"COUNTERSIGN_CONFIG": file}))
		if err != nil || c.DSN != "postgres://db.example/countersign" || c.RequireConsent {
			t.Fatalf("got %+v, %v", c, err)
		}
	})

	t.Run("BadValuesNameTheSetting", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			args []string
			vars map[string]string
			file string
			want string
		}{
			{"EnvironmentDuration", nil, map[string]string{"COUNTERSIGN_TOKEN_CACHE": "soon"}, "",
				`COUNTERSIGN_TOKEN_CACHE must be a duration such as 1s, or 0 to read every token from the database, not "soon".`},
			{"FlagBelowMinimum", []string{"--workers", "0"}, nil, "", `--workers must be a whole number of at least 1, not "0".`},
			{"FlagBoolean", []string{"--require-consent=sometimes"}, nil, "", `--require-consent must be true or false, not "sometimes".`},
			{"FileRate", nil, nil, "rate-limit: -1\n", `rate-limit in FILE must be a number of requests per second, or 0 for no limit, not "-1".`},
			{"FileUnknownKey", nil, nil, "adr: :80\n", `FILE, line 1: "adr" is not a setting; the settings are the flag names of countersign serve --help.`},
			{"FileNotAMap", nil, nil, "- db\n", `The config file FILE must be a map of settings`},
			{"FileMissing", []string{"--config", "/nonexistent/countersign.yaml"}, nil, "", `The config file /nonexistent/countersign.yaml (--config, COUNTERSIGN_CONFIG) cannot be read`},
			{"UnknownFlag", []string{"--adr", ":80"}, nil, "", `Flag provided but not defined: -adr; see countersign serve --help.`},
			{"ModelWithoutName", nil, map[string]string{"OPENAI_BASE_URL": "http://vllm:8000/v1"}, "",
				`COUNTERSIGN_MODEL (--model) must name the model when OPENAI_BASE_URL or OPENAI_API_KEY is set.`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				vars := map[string]string{}
				for k, v := range tc.vars {
					vars[k] = v
				}
				want := tc.want
				if tc.file != "" {
					vars["COUNTERSIGN_CONFIG"] = writeFile(t, "countersign.yaml", tc.file)
					want = strings.ReplaceAll(want, "FILE", vars["COUNTERSIGN_CONFIG"])
				}
				_, err := serve(tc.args, vars)
				ce := (*ConfigError)(nil)
				if !errors.As(err, &ce) || !strings.Contains(ce.Message, want) {
					t.Fatalf("error %v, want a ConfigError with %q", err, want)
				}
			})
		}
	})

	t.Run("BadValueExitsWithStatus2AndOneSentence", func(t *testing.T) {
		t.Parallel()
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"serve", "--max-body", "lots"}, &stdout, &stderr, env(nil))
		if code != 2 {
			t.Fatalf("exit %d, want 2: %s", code, stderr.String())
		}
		if got, want := stderr.String(), "countersign serve: --max-body must be a number of bytes of at least 1, not \"lots\".\n"; got != want {
			t.Fatalf("stderr %q, want %q", got, want)
		}
	})

	t.Run("AnotherCommandReadsTheSameSettings", func(t *testing.T) {
		t.Parallel()
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"migrate"}, &stdout, &stderr, env(map[string]string{"COUNTERSIGN_CONFIG": "/nonexistent.yaml"}))
		if code != 2 || !strings.Contains(stderr.String(), "/nonexistent.yaml") {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		db := filepath.Join(t.TempDir(), "from-file.db")
		file := writeFile(t, "countersign.yaml", "db: "+db+"\n")
		if code := run(context.Background(), []string{"migrate", "--config", file}, &stdout, &stderr, env(nil)); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		if _, err := os.Stat(db); err != nil {
			t.Fatalf("migrate did not use the file's database: %v", err)
		}
	})

	t.Run("ModelEndpoint", func(t *testing.T) {
		t.Parallel()
		c, _ := loadConfig(nil, nil, env(nil))
		if _, ok := c.openAI(); ok {
			t.Fatal("an endpoint without any configured")
		}
		c, err := loadConfig(nil, nil, env(map[string]string{"OPENAI_BASE_URL": "http://vllm:8000/v1", "COUNTERSIGN_MODEL": "mistral",
			"COUNTERSIGN_MODEL_ONPREM": "true", "COUNTERSIGN_MODEL_TIMEOUT": "30s", "COUNTERSIGN_MODEL_MAX_RETRIES": "0"}))
		cfg, ok := c.openAI()
		if err != nil || !ok || !cfg.OnPremises || cfg.Timeout != 30*time.Second || cfg.MaxRetries >= 0 || cfg.Model != "mistral" || cfg.Azure.Deployment != "" {
			t.Fatalf("cfg = %+v, ok = %v, err = %v", cfg, ok, err)
		}
		c, err = loadConfig(nil, nil, env(map[string]string{"OPENAI_BASE_URL": "https://x.openai.azure.com", "OPENAI_API_KEY": "k", "AZURE_OPENAI_DEPLOYMENT": "drafts"}))
		cfg, _ = c.openAI()
		if err != nil || cfg.Model != "drafts" || cfg.Azure != (openai.AzureConfig{APIVersion: "2024-10-21", Deployment: "drafts"}) || cfg.MaxRetries != 3 {
			t.Fatalf("azure cfg = %+v, err = %v", cfg, err)
		}
	})
}

// TestServeHelpMatchesREADME runs serve --help and compares every setting
// it lists with README's Configuration table: the same settings, flags,
// variables and defaults, in the same order.
func TestServeHelpMatchesREADME(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--help"}, &stdout, &stderr, env(nil)); code != 0 {
		t.Fatalf("serve --help exit %d: %s", code, stderr.String())
	}
	type row struct{ flag, env, def string }
	var help []row
	sc := bufio.NewScanner(&stdout)
	head := regexp.MustCompile(`^  (--[a-z-]+), ([A-Z_]+)$`)
	for sc.Scan() {
		if m := head.FindStringSubmatch(sc.Text()); m != nil {
			help = append(help, row{flag: m[1], env: m[2]})
		} else if d, ok := strings.CutPrefix(sc.Text(), "        default: "); ok && len(help) > 0 {
			help[len(help)-1].def = d
		}
	}
	if len(help) < 20 {
		t.Fatalf("serve --help lists %d settings:\n%s", len(help), stdout.String())
	}

	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Configuration\n")
	if !ok {
		t.Fatal("README.md has no Configuration section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var table []row
	for line := range strings.SplitSeq(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 6 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`--") {
			continue
		}
		cell := func(i int) string { return strings.ReplaceAll(strings.TrimSpace(cells[i]), "`", "") }
		table = append(table, row{cell(1), cell(2), cell(3)})
	}
	for i := range max(len(help), len(table)) {
		var h, r row
		if i < len(help) {
			h = help[i]
		}
		if i < len(table) {
			r = table[i]
		}
		if h != r {
			t.Errorf("setting %d: serve --help says %+v, README says %+v", i+1, h, r)
		}
	}
}

// TestVersionMatchesOpenAPI checks that the OpenAPI document's info says
// what countersign version says.
func TestVersionMatchesOpenAPI(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &stdout, &stderr, env(nil)); code != 0 {
		t.Fatalf("version exit %d: %s", code, stderr.String())
	}
	first, desc, _ := strings.Cut(strings.TrimSpace(stdout.String()), "\n")
	fields := strings.Fields(first)
	if len(fields) < 2 || fields[0] != "countersign" {
		t.Fatalf("version printed %q", stdout.String())
	}
	var doc struct {
		Info struct {
			Version     string `json:"version"`
			Description string `json:"description"`
		} `json:"info"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Info.Version != fields[1] || doc.Info.Description != desc {
		t.Fatalf("openapi.json info: version %q, description %q\ncountersign version: %q, %q", doc.Info.Version, doc.Info.Description, fields[1], desc)
	}
}
