package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEvalGate(t *testing.T) {
	t.Parallel()
	eval := func(t *testing.T, args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		rc := run(context.Background(), append([]string{"eval"}, args...), &out, &errOut, func(string) string { return "" })
		return rc, out.String(), errOut.String()
	}

	t.Run("MeetsItsTargetsOnTheLabelledSet", func(t *testing.T) {
		t.Parallel()
		rc, out, stderr := eval(t, "gate")
		if rc != 0 || !strings.Contains(out, "all targets met") {
			t.Fatalf("exit %d: %s%s", rc, out, stderr)
		}
		for _, want := range []string{"stakes/3+", "overall", "gate recall by category", "what must be confirmed or left out", " en ", " fr ", " nl ", " de ", "safeguarding", "child_protection", "police_court", "recall", "precision"} {
			if !strings.Contains(out, want) {
				t.Errorf("the report does not mention %q:\n%s", want, out)
			}
		}
	})

	t.Run("HelpExitsZero", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{{"gate", "--help"}, {"--help"}} {
			if rc, out, _ := eval(t, args...); rc != 0 || !strings.Contains(out, "Usage: countersign eval gate") {
				t.Errorf("eval %v: exit %d: %s", args, rc, out)
			}
		}
	})

	t.Run("FailsASetItMisses", func(t *testing.T) {
		t.Parallel()
		set := filepath.Join(t.TempDir(), "set.tsv")
		body := "en\tcp\tShe looks after the baby while her mum goes out.\nen\t-\tThe bus was late.\n" // a miss in ordinary words (ordinary/README.md)
		if err := os.WriteFile(set, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		rc, out, stderr := eval(t, "gate", "--set", set, "-v")
		if rc != 1 || !strings.Contains(stderr, "recall") || !strings.Contains(out, "missed") {
			t.Fatalf("exit %d: %s%s", rc, out, stderr)
		}
	})

	t.Run("RefusesWhatItCannotRead", func(t *testing.T) {
		t.Parallel()
		bad := filepath.Join(t.TempDir(), "bad.tsv")
		if err := os.WriteFile(bad, []byte("en\txx\tA sentence.\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{}, {"nothing"}, {"gate", "--set", bad}, {"gate", "--set", bad + ".missing"}, {"gate", "extra"}} {
			if rc, _, stderr := eval(t, args...); rc != 2 || stderr == "" {
				t.Errorf("eval %v: exit %d, stderr %q", args, rc, stderr)
			}
		}
	})
}
