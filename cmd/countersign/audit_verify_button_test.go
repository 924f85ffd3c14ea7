package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
	"github.com/countersign/countersign/web"
)

// TestVerifyButtonReportsWhatTheCLIReports: the board's "Verify the log"
// button, which runs verifyStoredLog as main.go wires it, shows the
// finding `audit verify` prints for the same database when the sequencer
// has met a stored tile it cannot continue (the level-1 tile deleted, an
// entry pending that completes a level-0 tile), on both databases. The
// page around the verdict sequences the log to show the trail and a
// checkpoint, which fails the same way; before, that failure replaced the
// verdict with an internal error, while the CLI reported the finding.
func TestVerifyButtonReportsWhatTheCLIReports(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := dsnOf(t)
			b := newBoardBundle(t, dsn)
			db := storetest.MustOpen(t, dsn)
			f := storetest.MustSeed(t, db)
			notary, verifier := b.notary(t, db)
			s := &web.Server{Identity: db, Cases: db, Review: db, Audit: db, Checkpoints: notary, Clients: db,
				VerifyLog: func(ctx context.Context) (*audit.Report, error) {
					return verifyStoredLog(ctx, db, notary, verifier) // as main.go wires it
				}}
			srv := httptest.NewServer(s.Handler())
			t.Cleanup(srv.Close)
			_, secret, err := db.CreateToken(storetest.CLI(), f.Ethics.ID, "test", nil)
			if err != nil {
				t.Fatal(err)
			}
			c := newBrowserless(t, srv.URL)
			c.signIn(secret)
			c.get("/audit") // the form's CSRF token

			// The log ends one entry short of the ninth full level-0 tile;
			// the level-1 tile, which holds the hashes of the eight full
			// ones, is deleted, and the pending entry completes the ninth,
			// whose hash the sequencer must add to it.
			h, err := db.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			storetest.MustFillLog(t, db, int(9*audit.TileWidth-1-h.Size))
			storetest.MustTamperTile(t, db, 1, 0, nil)
			storetest.MustAddPending(t, db, 1)
			const problem = "The stored tile at level 1, index 0 is missing, though the log's entries need 8 hashes there. Proofs of those entries cannot be served."
			if out := b.mustRun(t, 1, "audit", "verify", "--quiet"); !strings.Contains(out, "FAILED: "+problem+"\n") {
				t.Fatalf("audit verify said %q, want %q", out, problem)
			}

			form := url.Values{"csrf": {c.csrf}}
			resp, body := c.read(c.c.PostForm(srv.URL+"/audit/verify", form))
			body = html.UnescapeString(body)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "The log failed verification") || !strings.Contains(body, problem) {
				t.Fatalf("the verify page (status %d) does not say %q:\n%s", resp.StatusCode, problem, body)
			}
			// The checkpoint beside the verdict is the one the log was
			// verified against, of the entries sequenced before the tile.
			if want := fmt.Sprintf("<dt>Entries</dt><dd>%d</dd>", 9*audit.TileWidth-1); !strings.Contains(body, want) {
				t.Fatalf("the verify page does not say %q:\n%s", want, body)
			}
		})
	}
}

// growingLog is the log's store as the running service shares it with the
// board's verification: grow appends entries when a checkpoint's
// sequencing begins, after the verification's own sequencing.
type growingLog struct {
	*sqlstore.DB
	grow func()
}

func (g *growingLog) Sequence(ctx context.Context) (uint64, error) {
	if g.grow != nil {
		g.grow()
		g.grow = nil
	}
	return g.DB.Sequence(ctx)
}

// TestVerifyStoredLogWhenTheLogGrowsMeanwhile: an entry the service
// appends while the board verifies is sequenced by the checkpoint
// verifyStoredLog signs, and that sequencing meets a stored tile that
// differs from the events. verifyStoredLog, which the button and `audit
// verify` run, answers the finding the CLI prints for the database as it
// is left, on both databases; before, it returned the sequencer's error,
// which the button showed as an internal error.
func TestVerifyStoredLogWhenTheLogGrowsMeanwhile(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			// The log ends one entry short of the ninth full level-0 tile,
			// and the level-1 tile holds a hash where the ninth's goes.
			dsn := storetest.FilledLogDSN(t, name == "postgres", 9*audit.TileWidth-1)
			b := newBoardBundle(t, dsn)
			db := storetest.MustOpen(t, dsn)
			l1, err := db.ReadTile(ctx, 1, 0)
			if err != nil {
				t.Fatal(err)
			}
			storetest.MustTamperTile(t, db, 1, 0, append(bytes.Clone(l1), bytes.Repeat([]byte{0x5a}, sha256.Size)...))
			n, verifier := b.notary(t, &growingLog{DB: db, grow: func() { storetest.MustAddPending(t, db, 1) }})
			rep, err := verifyStoredLog(ctx, db, n, verifier)
			if err != nil || rep.OK || !strings.Contains(rep.Problem, "The stored tile at level 1, index 0 ") {
				t.Fatalf("verifyStoredLog: %+v, %v, want the level-1 tile's finding", rep, err)
			}
			if out := b.mustRun(t, 1, "audit", "verify", "--quiet"); !strings.Contains(out, "FAILED: "+rep.Problem+"\n") {
				t.Fatalf("audit verify said %q, want %q", out, rep.Problem)
			}
		})
	}
}

// notary returns a notary over store and the verifier of its checkpoints,
// with the service's key and origin, which the CLI derives from the same
// settings, so either verifies the other's checkpoints.
func (b *boardBundle) notary(t *testing.T, store audit.LogStore) (*audit.Notary, *audit.Verifier) {
	t.Helper()
	const origin = "countersign.local/audit"
	signer, vkey, err := audit.LoadOrCreateSigner(b.vars["COUNTERSIGN_AUDIT_KEY"], origin)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := audit.ParseVerifierKeys(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return &audit.Notary{Store: store, Signer: signer, Origin: origin}, &audit.Verifier{Origin: origin, Keys: keys}
}
