package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/countersign/countersign/internal/sealbox"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestKeysRotateAndRetire runs `countersign keys rotate`, `keys retire` and
// `keys encrypt-existing` on both databases: the keyring file gains a new
// primary key, every case key is rewrapped with it, the old key can then
// be retired and the text still opens; the key in use cannot be retired.
func TestKeysRotateAndRetire(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn, dir := dsnOf(t), t.TempDir()
			getenv := env(map[string]string{"DATABASE_URL": dsn, "COUNTERSIGN_AUDIT_KEY": filepath.Join(dir, "audit.key"),
				"COUNTERSIGN_EVENT_KEY": storetest.MustWriteEventKey(t, dir)})
			ringPath := filepath.Join(dir, "countersign-case.keyring")
			db := storetest.MustOpen(t, dsn)
			f := storetest.MustSeed(t, db)
			old := storetest.CaseKeys.Primary()
			keys := func(args ...string) (int, string) {
				var stdout, stderr bytes.Buffer
				code := run(context.Background(), append([]string{"keys"}, args...), &stdout, &stderr, getenv)
				return code, stdout.String() + stderr.String()
			}
			if code, out := keys("rotate", "--batch", "1"); code != 0 || !strings.Contains(out, "Rewrapped 1 case keys") {
				t.Fatalf("keys rotate: exit %d\n%s", code, out)
			}
			ring, err := sealbox.LoadKeyring(ringPath)
			if err != nil {
				t.Fatal(err)
			}
			if ids := ring.IDs(); len(ids) != 2 || ids[0] != old {
				t.Fatalf("the keyring after rotate holds %v, want %s and a new key", ids, old)
			}
			if code, out := keys("retire", "--master", ring.Primary()); code == 0 {
				t.Fatalf("the key in use was retired:\n%s", out)
			}
			if code, out := keys("retire", "--master", old); code != 0 {
				t.Fatalf("keys retire: exit %d\n%s", code, out)
			}
			if ring, err = sealbox.LoadKeyring(ringPath); err != nil || ring.Has(old) {
				t.Fatalf("after retire: %v, %v", ring.IDs(), err)
			}
			// A replica started with the new keyring alone reads the case.
			fresh := storetest.MustOpen(t, dsn)
			fresh.CaseKeys = ring
			notes, err := fresh.FindNotes(storetest.As(context.Background(), f.Worker), f.Case.ID)
			if err != nil || len(notes) != 3 || notes[0].Body != f.Notes[0].Body {
				t.Fatalf("notes after the rotation: %v, %v", notes, err)
			}
			if code, out := keys("encrypt-existing"); code != 0 || !strings.Contains(out, "Created 0 case keys and sealed 0 rows") {
				t.Fatalf("keys encrypt-existing: exit %d\n%s", code, out)
			}
		})
	}
}

// TestKeysHelpOnTheBinary asks the built binary for the help of keys and
// of each of its subcommands: exit 0, the usage and the flags, and no
// database or key file touched.
func TestKeysHelpOnTheBinary(t *testing.T) {
	t.Parallel()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"keys", "--help"}, []string{"countersign keys rotate", "countersign keys retire", "countersign keys encrypt-existing"}},
		{[]string{"keys", "rotate", "--help"}, []string{"Usage: countersign keys rotate", "-batch", "-resume", "-case-keyring"}},
		{[]string{"keys", "retire", "-h"}, []string{"Usage: countersign keys retire", "-master", "-case-keyring"}},
		{[]string{"keys", "encrypt-existing", "--help"}, []string{"Usage: countersign keys encrypt-existing", "-batch"}},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = append(os.Environ(), "DATABASE_URL="+filepath.Join(dir, "never.db"), "COUNTERSIGN_CASE_KEYRING="+filepath.Join(dir, "never.keyring"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(tc.args, " "), err, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%s does not say %q:\n%s", strings.Join(tc.args, " "), w, out)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("help created %v", entries)
	}
}
