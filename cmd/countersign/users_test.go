package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestUserAndTokenCommands shows the administration commands the way an
// operator runs them: the help lists token revoke and user disable; user
// disable stops the user's tokens; token create refuses --days 0 and
// negative values with a sentence naming the flag.
func TestUserAndTokenCommands(t *testing.T) {
	t.Parallel()
	dsn := storetest.SQLiteDSN(t)
	dir := t.TempDir()
	getenv := env(map[string]string{"DATABASE_URL": dsn, "COUNTERSIGN_AUDIT_KEY": filepath.Join(dir, "audit.key"),
		"COUNTERSIGN_EVENT_KEY": storetest.MustWriteEventKey(t, dir)})
	db := storetest.MustOpen(t, dsn)
	f := storetest.MustSeed(t, db)
	cmd := func(t *testing.T, want int, args ...string) (string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr, getenv); code != want {
			t.Fatalf("countersign %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, stdout.String(), stderr.String())
		}
		return stdout.String(), stderr.String()
	}

	t.Run("TheHelpListsEveryAdministrationCommand", func(t *testing.T) {
		out, _ := cmd(t, 0, "help")
		for _, want := range []string{"user add", "user disable --email", "token create", "token revoke --id"} {
			if !strings.Contains(out, want) {
				t.Errorf("countersign help lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("TokenCreateRefusesZeroAndNegativeDays", func(t *testing.T) {
		for _, days := range []string{"0", "-3"} {
			_, stderr := cmd(t, 1, "token", "create", "--email", f.Supervisor.Email, "--days", days)
			if !strings.Contains(stderr, "--days must be a whole number of days of at least 1") {
				t.Errorf("--days %s: %q, want a sentence naming --days", days, stderr)
			}
		}
		out, _ := cmd(t, 0, "token", "create", "--email", f.Supervisor.Email, "--days", "1")
		secret := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
		tok, _, err := db.Authenticate(context.Background(), secret)
		if err != nil {
			t.Fatalf("the token of --days 1: %v", err)
		}
		if tok.ExpiresAt == nil {
			t.Fatal("a token from the command line never expires")
		}
	})

	t.Run("UserDisableStopsTheirTokens", func(t *testing.T) {
		_, secret, err := db.CreateToken(storetest.CLI(), f.Worker.ID, "laptop", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.Authenticate(context.Background(), secret); err != nil {
			t.Fatal(err)
		}
		out, _ := cmd(t, 0, "user", "disable", "--email", f.Worker.Email)
		if !strings.Contains(out, f.Worker.ID) {
			t.Fatalf("user disable says %q", out)
		}
		if _, _, err := db.Authenticate(context.Background(), secret); countersign.ErrorCode(err) != countersign.EUNAUTHORIZED {
			t.Fatalf("a disabled user's token: %v, want unauthorized", err)
		}
		_, stderr := cmd(t, 1, "user", "disable", "--email", f.Worker.Email)
		if !strings.Contains(stderr, "disabled already") {
			t.Fatalf("disabling twice: %q", stderr)
		}
		if out, _ := cmd(t, 0, "user", "disable", "--help"); !strings.Contains(out, "-email") {
			t.Fatalf("user disable --help: %q", out)
		}
	})
}
