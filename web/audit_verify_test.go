package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/sqlstore/storetest"
	"github.com/countersign/countersign/web"
)

// TestVerifyPageShowsTheTiles: the board's "Verify the log" page says how
// many stored tiles, which proofs are served from, matched the events, as
// `countersign audit verify` does, and shows a tile's finding in its own
// sentence when one does not, from the same audit.Report, on both
// databases.
func TestVerifyPageShowsTheTiles(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t.Run("TheCountWhenEveryTileMatches", func(t *testing.T) {
				t.Parallel()
				b, tiles := verifySetup(t, dsn(t))
				c := b.signIn(t, "ethics")
				resp, body := c.post("/audit/verify", nil)
				wantStatus(t, resp, body, http.StatusOK)
				want := fmt.Sprintf("All %d stored tiles of the tree match the events, so the proofs served from them are right.", tiles)
				if !strings.Contains(body, "The log is intact") || !strings.Contains(body, want) {
					t.Fatalf("the verify page does not say %q:\n%s", want, body)
				}
			})
			t.Run("TheFindingWhenATileDiffers", func(t *testing.T) {
				t.Parallel()
				b, _ := verifySetup(t, dsn(t))
				h, err := b.db.ReadTile(context.Background(), 0, 1)
				if err != nil {
					t.Fatal(err)
				}
				h = bytes.Clone(h)
				h[37*sha256.Size+17] ^= 0x40
				storetest.MustTamperTile(t, b.db, 0, 1, h)
				c := b.signIn(t, "ethics")
				resp, body := c.post("/audit/verify", nil)
				wantStatus(t, resp, body, http.StatusOK)
				const want = "The stored tile at level 0, index 1 does not match the events: hash 37 differs. Proofs served from it would be wrong."
				if !strings.Contains(body, "The log failed verification") || !strings.Contains(body, want) {
					t.Fatalf("the verify page does not say %q:\n%s", want, body)
				}
				if strings.Contains(body, "stored tiles of the tree match") {
					t.Fatalf("the verify page says the tiles match:\n%s", body)
				}
			})
		})
	}
}

// verifySetup is uiSetup on the database dsn, with a log of more than 600
// entries (level-0 tiles 0 to 2 at least, and a level-1 tile) and the
// verification main.go gives the board (verifyStoredLog): sequenced first,
// then every event and every stored tile against a checkpoint signed now.
// It returns how many tiles the log has. Each of with changes the server
// before it serves.
func verifySetup(t *testing.T, dsn string, with ...func(*web.Server)) (*uiBundle, uint64) {
	t.Helper()
	db := storetest.MustOpen(t, dsn)
	f := storetest.MustSeed(t, db)
	storetest.MustFillLog(t, db, 600)
	const origin = "test.local/audit"
	keyPath := filepath.Join(t.TempDir(), "key")
	signer, vkey, err := audit.LoadOrCreateSigner(keyPath, origin)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := audit.ParseVerifierKeys(vkey)
	if err != nil {
		t.Fatal(err)
	}
	notary := &audit.Notary{Store: db, Signer: signer, Origin: origin}
	s := &web.Server{Identity: db, Cases: db, Review: db, Audit: db, Checkpoints: notary, Clients: db}
	s.VerifyLog = func(ctx context.Context) (*audit.Report, error) {
		tiled, err := db.Sequence(ctx)
		if err != nil {
			return nil, err
		}
		return notary.VerifyLog(ctx, &audit.Verifier{Origin: origin, Keys: keys, Tiles: db, TiledSize: tiled}, db.AllStoredEvents)
	}
	for _, w := range with {
		w(s)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	b := &uiBundle{srv: srv, db: db, f: f, tokens: map[string]string{}}
	_, secret, err := db.CreateToken(storetest.CLI(), f.Ethics.ID, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	b.tokens["ethics"] = secret
	head, err := db.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Under 65,536 entries: a level-0 tile per 256, begun or full, and
	// the one level-1 tile.
	return b, (head.Size+audit.TileWidth-1)/audit.TileWidth + 1
}
