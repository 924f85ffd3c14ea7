package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestEverySubcommandHelp asks every subcommand for --help: each exits 0,
// answers on stdout with its own usage line and flags, touches no database,
// and shows no flag that belongs to another subcommand.
func TestEverySubcommandHelp(t *testing.T) {
	t.Parallel()
	settings := []string{"-db", "-config"}
	for _, tc := range []struct {
		args        []string
		flags, none []string
	}{
		{[]string{"serve"}, []string{"--addr", "--db", "--lease", "--audit-key", "--rate-limit"}, nil},
		{[]string{"migrate"}, settings, []string{"-email", "-file"}},
		{[]string{"user", "add"}, append([]string{"-name", "-email", "-role", "-team"}, settings...), []string{"-days", "-id"}},
		{[]string{"user", "disable"}, append([]string{"-email"}, settings...), []string{"-role", "-days", "-name"}},
		{[]string{"token", "create"}, append([]string{"-email", "-label", "-days"}, settings...), []string{"-id "}},
		{[]string{"token", "revoke"}, append([]string{"-id"}, settings...), []string{"-email", "-days", "-label"}},
		{[]string{"audit", "verify"}, append([]string{"-file", "-key", "-since", "-save", "-quiet", "-audit-key", "-audit-origin"}, settings...), nil},
		{[]string{"audit", "checkpoint"}, append([]string{"-audit-key", "-audit-origin"}, settings...), []string{"-file", "-since", "-save"}},
		{[]string{"audit", "export"}, append([]string{"-audit-key"}, settings...), []string{"-file", "-since", "-save"}},
		{[]string{"audit", "key"}, []string{"-audit-key", "-audit-origin"}, []string{"-file", "-since", "-save", "-quiet"}},
		{[]string{"bench"}, []string{"-url", "-clients", "-duration", "-mode", "-rate"}, []string{"-audit-key"}},
		{[]string{"eval", "gate"}, []string{"-set", "-v"}, []string{"-db"}},
		{[]string{"backup"}, append([]string{"-out"}, settings...), []string{"-from", "-force"}},
		{[]string{"restore"}, append([]string{"-from", "-force"}, settings...), []string{"-out"}},
		{[]string{"version"}, nil, []string{"-db"}},
	} {
		name := strings.Join(tc.args, " ")
		for _, help := range []string{"--help", "-h"} {
			// A database that cannot be opened: help must not try.
			getenv := env(map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "no", "such", "dir", "\x00.db")})
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), append(append([]string{}, tc.args...), help), &stdout, &stderr, getenv); code != 0 {
				t.Errorf("countersign %s %s: exit %d, want 0\nstderr: %s", name, help, code, stderr.String())
				continue
			}
			out := stdout.String()
			if !strings.Contains(out, "Usage: countersign "+name) {
				t.Errorf("countersign %s %s: no usage line on stdout: %q", name, help, out)
			}
			for _, f := range tc.flags {
				if !strings.Contains(out, f) {
					t.Errorf("countersign %s %s does not show %s:\n%s", name, help, f, out)
				}
			}
			for _, f := range tc.none {
				if strings.Contains(out, f) {
					t.Errorf("countersign %s %s shows %s, another command's flag:\n%s", name, help, f, out)
				}
			}
		}
	}
}

// TestGroupHelp asks the commands that have subcommands for --help: each
// names its subcommands on stdout and exits 0.
func TestGroupHelp(t *testing.T) {
	t.Parallel()
	for group, subs := range map[string][]string{"audit": {"verify", "checkpoint", "export", "key"}, "user": {"add", "disable"}, "token": {"create", "revoke"}} {
		for _, help := range []string{"--help", "-h", "help"} {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{group, help}, &stdout, &stderr, env(nil)); code != 0 {
				t.Errorf("countersign %s %s: exit %d: %s", group, help, code, stderr.String())
			}
			for _, sub := range subs {
				if !strings.Contains(stdout.String(), "countersign "+group+" "+sub) {
					t.Errorf("countersign %s %s does not name %s:\n%s", group, help, sub, stdout.String())
				}
			}
		}
	}
}

// TestVersion prints the version, and refuses an argument as a usage error.
func TestVersion(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &stdout, &stderr, env(nil)); code != 0 || !strings.HasPrefix(stdout.String(), "countersign "+version+" (go") {
		t.Fatalf("version: exit %d, %q %q", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"version", "extra"}, &stdout, &stderr, env(nil)); code != 2 || stdout.Len() != 0 {
		t.Fatalf("version extra: exit %d, %q", code, stdout.String())
	}
}

// TestAuditVerifyPrintsTheRootAsTheCheckpointDoes compares the root that
// audit verify prints with the root line of the signed checkpoint it
// verified, which is base64 (AUDIT.md, the tlog checkpoint format).
func TestAuditVerifyPrintsTheRootAsTheCheckpointDoes(t *testing.T) {
	t.Parallel()
	b, addNotes := setupBoard(t, storetest.SQLiteDSN(t))
	addNotes(5)
	saved := filepath.Join(b.dir, "saved.checkpoint")
	out := b.mustRun(t, 0, "audit", "verify", "--quiet", "--save", saved)
	m := regexp.MustCompile(`(?m)^OK: .*; root (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("verify said %q", out)
	}
	note, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(note), "\n")
	if len(lines) < 3 || lines[2] != m[1] {
		t.Fatalf("verify printed root %q; the checkpoint it verified says:\n%s", m[1], note)
	}
	if raw, err := base64.StdEncoding.DecodeString(m[1]); err != nil || len(raw) != 32 {
		t.Fatalf("root %q is not a base64 SHA-256 hash", m[1])
	}
}

// TestProgressOnlyOnATerminal draws the verification's progress bar on a
// terminal only: never into a file, a pipe or a buffer.
func TestProgressOnlyOnATerminal(t *testing.T) {
	t.Parallel()
	file, err := os.Create(filepath.Join(t.TempDir(), "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, out := range map[string]*os.File{"a file": file, "a pipe": w} {
		p := newProgress(out, false)
		p.total = 10
		p.update(5)
		p.done()
		if !p.quiet || p.shown {
			t.Errorf("a progress bar drawn into %s", name)
		}
	}
	if info, err := file.Stat(); err != nil || info.Size() != 0 {
		t.Fatalf("the file holds %d bytes of progress bar", info.Size())
	}
	var buf bytes.Buffer
	if newProgress(&buf, false).quiet == false {
		t.Error("a progress bar drawn into a buffer")
	}
	// A character device stands for the terminal: the bar is drawn there.
	tty, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	if p := newProgress(tty, false); p.quiet {
		t.Error("no progress bar on a character device")
	}
	if p := newProgress(tty, true); !p.quiet {
		t.Error("a progress bar despite --quiet")
	}
}

// TestAuditVerifyDrawsNoProgressIntoAFile runs verify as cron would, with
// stderr a file: the file holds no carriage return.
func TestAuditVerifyDrawsNoProgressIntoAFile(t *testing.T) {
	t.Parallel()
	b, addNotes := setupBoard(t, storetest.SQLiteDSN(t))
	addNotes(3)
	f, err := os.Create(filepath.Join(b.dir, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stdout bytes.Buffer
	if code := run(context.Background(), []string{"audit", "verify"}, &stdout, f, b.env); code != 0 {
		t.Fatalf("verify: exit %d: %s", code, stdout.String())
	}
	if got, _ := os.ReadFile(f.Name()); bytes.ContainsRune(got, '\r') {
		t.Fatalf("stderr written to a file holds a progress bar: %q", got)
	}
}
