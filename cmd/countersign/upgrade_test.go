package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/countersign/countersign/migrations"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// previousRelease is the commit of the previous release (1.0.0), whose
// migrations migrations.PreviousRelease lists.
const previousRelease = "b60b1f6"

// buildPrevious builds the previous release's binary from the repository's
// history (git archive, go build), once per test binary. The source is
// unpacked once per machine, into a directory named by the commit: go's
// build cache keys a package built without -trimpath by its directory, so
// a fresh directory each run would recompile every package of the release,
// where a fixed one finds them cached and only links.
var buildPrevious = sync.OnceValues(func() (string, error) {
	src, err := previousSource()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "countersign-prev-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "countersign-prev")
	build := exec.Command("go", "build", "-o", bin, "./cmd/countersign")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as buildBinary: one build cache
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build the previous release: %v\n%s", err, out)
	}
	return bin, nil
})

// previousSource is the previous release's source tree, unpacked (git
// archive) into os.TempDir()/countersign-release-<commit>. A tree is
// unpacked beside it and renamed into place whole, so a test binary sees
// either none or a complete one, even with another unpacking at the same
// time; the commit names the content, so a tree found there is reused.
func previousSource() (string, error) {
	src := filepath.Join(os.TempDir(), "countersign-release-"+previousRelease)
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err == nil {
		return src, nil
	}
	dir, err := os.MkdirTemp("", "countersign-release-unpack-")
	if err != nil {
		return "", err
	}
	archive := exec.Command("git", "archive", "--format=tar", previousRelease)
	archive.Dir = "../.."
	untar := exec.Command("tar", "-x", "-C", dir)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return "", err
	}
	var errs, untarErrs bytes.Buffer
	untar.Stdin, archive.Stderr, untar.Stderr = pipe, &errs, &untarErrs
	if err := untar.Start(); err != nil {
		return "", err
	}
	if err := archive.Run(); err != nil {
		return "", fmt.Errorf("git archive %s: %v %s", previousRelease, err, errs.String())
	}
	if err := untar.Wait(); err != nil {
		return "", fmt.Errorf("untar: %v %s", err, untarErrs.String())
	}
	if err := os.Rename(dir, src); err != nil {
		// Another test binary put its tree there first: use that one.
		os.RemoveAll(dir)
		if _, statErr := os.Stat(filepath.Join(src, "go.mod")); statErr != nil {
			return "", fmt.Errorf("unpack the previous release: %w", err)
		}
	}
	return src, nil
}

// TestUpgradeSideBySide is a rolling upgrade on PostgreSQL: the previous
// release's binary creates the database (its migrations only) and serves
// it; this release's binary starts on the same database, applies the newer
// migrations while the old one keeps serving, and then a draft's life runs
// across both: requested through one, approved through the other, both
// ways, and the audit log verifies. It is the test of the expand-then-
// contract rule (migrations/migrations.go, docs/OPERATIONS.md).
func TestUpgradeSideBySide(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds two releases and runs them")
	}
	if err := exec.Command("git", "-C", "../..", "cat-file", "-e", previousRelease+"^{commit}").Run(); err != nil {
		t.Skipf("the previous release %s is not in this checkout's history (a shallow clone?): %v", previousRelease, err)
	}
	dsn := storetest.EmptyPostgresDSN(t)
	prev, err := buildPrevious()
	if err != nil {
		t.Fatal(err)
	}
	cur, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := []string{"DATABASE_URL=" + dsn, "COUNTERSIGN_AUDIT_KEY=" + filepath.Join(dir, "audit.key"), "COUNTERSIGN_EVENT_KEY=" + filepath.Join(dir, "event.key"),
		"COUNTERSIGN_RATE_LIMIT=0", "HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	raw, err := sqlx.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	applied := func() int {
		var n int
		if err := raw.Get(&n, `SELECT COUNT(*) FROM schema_migrations`); err != nil {
			t.Fatal(err)
		}
		return n
	}

	oldLogs, newLogs := &syncBuffer{}, &syncBuffer{}
	old := startProc(t, prev, freeAddr(t), env, oldLogs, "--demo")
	if n := applied(); n != len(migrations.PreviousRelease) {
		t.Fatalf("the previous release applied %d migrations, want %d", n, len(migrations.PreviousRelease))
	}
	worker := demoToken(t, old.stdout.String(), "worker")
	caseID := firstCase(t, old.addr, worker)

	// A draft queued by the old release before the upgrade.
	ctx := context.Background()
	var before review.Draft
	if code := postJSON(ctx, old.addr, worker, "/v1/cases/"+caseID+"/drafts", `{"kind":"summary"}`, &before); code != 202 {
		t.Fatalf("request a draft from the previous release: %d", code)
	}

	cur1 := startProc(t, cur, freeAddr(t), env, newLogs)
	all, err := fs.Glob(migrations.FS, "postgres/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if n := applied(); n != len(all) {
		t.Fatalf("this release applied %d migrations in all, want %d", n, len(all))
	}

	await := func(addr, id string) *review.Draft {
		t.Helper()
		deadline := time.Now().Add(patience)
		for {
			var d review.Draft
			if code := getJSON(ctx, addr, worker, "/v1/drafts/"+id, &d); code == 200 && d.Status == review.StatusPendingReview {
				return &d
			} else if code != 200 || d.Status == review.StatusFailed || time.Now().After(deadline) {
				t.Fatalf("draft %s: %d %s %q\nprevious:\n%s\nthis:\n%s", id, code, d.Status, d.FailureReason, oldLogs.String(), newLogs.String())
			}
			time.Sleep(pollInterval)
		}
	}
	approve := func(addr string, d *review.Draft, who string) {
		t.Helper()
		if code := postJSON(ctx, addr, worker, "/v1/drafts/"+d.ID+"/approve", approval(d.Content), nil); code != 200 {
			t.Fatalf("approve %s's draft through the other release: %d\nprevious:\n%s\nthis:\n%s", who, code, oldLogs.String(), newLogs.String())
		}
	}
	// The old release's draft, generated by either, approved by the new one.
	approve(cur1.addr, await(cur1.addr, before.ID), "the previous release")
	// Notes and a draft through each, approved through the other.
	for _, side := range []struct{ from, to, name string }{{old.addr, cur1.addr, "the previous release"}, {cur1.addr, old.addr, "this release"}} {
		if code := postJSON(ctx, side.from, worker, "/v1/cases/"+caseID+"/notes", `{"body":"Visit after the upgrade, written through `+side.name+`."}`, nil); code != 201 {
			t.Fatalf("add a note through %s: %d", side.name, code)
		}
		var d review.Draft
		if code := postJSON(ctx, side.from, worker, "/v1/cases/"+caseID+"/drafts", `{"kind":"summary"}`, &d); code != 202 {
			t.Fatalf("request a draft through %s: %d", side.name, code)
		}
		approve(side.to, await(side.to, d.ID), side.name)
	}
	for _, addr := range []string{old.addr, cur1.addr} {
		var rec struct {
			Entries []review.Entry `json:"entries"`
		}
		if code := getJSON(ctx, addr, worker, "/v1/cases/"+caseID+"/record", &rec); code != 200 || len(rec.Entries) != 3 {
			t.Fatalf("the record through %s: %d, %d entries, want 3", addr, code, len(rec.Entries))
		}
	}
	// Each release proves every entry of the log, whichever sequenced it:
	// the previous release reads its proofs from audit_node, which this
	// release goes on writing on a database the previous one began
	// (sqlstore keepsNodes), and this one reads the tiles.
	ethics := demoToken(t, old.stdout.String(), "ethics")
	var size uint64
	deadline := time.Now().Add(patience)
	for {
		var seqd uint64
		if err := raw.Get(&size, `SELECT COALESCE(MAX(size), 0) FROM audit_checkpoint`); err != nil {
			t.Fatal(err)
		}
		if err := raw.Get(&seqd, `SELECT size FROM audit_head`); err != nil {
			t.Fatal(err)
		}
		if size > 0 && size == seqd {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint covers the log: checkpoint %d, log %d", size, seqd)
		}
		time.Sleep(pollInterval)
	}
	// Entries the previous release sequenced get their tiles at this
	// release's sequencer's next pass (sqlstore sequenceTx): until then a
	// proof may be refused, never wrong; it must be answered within the
	// test's patience.
	for i := range size {
		for _, side := range []struct{ addr, name string }{{old.addr, "the previous release"}, {cur1.addr, "this release"}} {
			path := fmt.Sprintf("/v1/audit/proof/inclusion?index=%d&size=%d", i, size)
			for code := getJSON(ctx, side.addr, ethics, path, nil); code != 200; code = getJSON(ctx, side.addr, ethics, path, nil) {
				if time.Now().After(deadline) {
					t.Fatalf("%s proves entry %d of %d: %d\nprevious:\n%s\nthis:\n%s", side.name, i, size, code, oldLogs.String(), newLogs.String())
				}
				time.Sleep(pollInterval)
			}
		}
	}
	verify := exec.Command(cur, "audit", "verify", "--quiet")
	verify.Env = env
	if out, err := verify.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "OK: ") {
		t.Fatalf("audit verify after the upgrade: %v\n%s", err, out)
	}
}
