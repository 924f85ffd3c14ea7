package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// httpTiles is a tlog.TileReader over GET /v1/audit/tile/…: what a board's
// mirror does with standard tooling.
type httpTiles struct {
	t     *testing.T
	b     *testBundle
	reads int
}

func (h *httpTiles) Height() int { return audit.TileHeight }

func (h *httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, status, err := h.b.getTile(strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", audit.TileHeight)), "ethics")
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("GET tile %s: %d: %s", t.Path(), status, data)
		}
		h.reads++
		out[i] = data
	}
	return out, nil
}

func (h *httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// getTile fetches /v1/audit/tile/{path} as role.
func (b *testBundle) getTile(path, role string) ([]byte, int, error) {
	req, _ := http.NewRequest("GET", b.srv.URL+"/v1/audit/tile/"+path, nil)
	req.Header.Set("Authorization", "Bearer "+b.tokens[role])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return data, resp.StatusCode, err
}

// TestAuditTilesServeTheSignedTree computes inclusion and consistency
// proofs with golang.org/x/mod/sumdb/tlog from the tiles the API serves,
// checks them against the signed checkpoint, and checks that they are the
// proofs the JSON endpoints give, on both databases.
func TestAuditTilesServeTheSignedTree(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := storetest.As(t.Context(), b.f.Worker)
		// Past one full tile of leaves, so proofs span two tile levels.
		for i := range audit.TileWidth + 40 {
			if err := b.db.AddNote(ctx, &casefile.Note{CaseID: b.f.Case.ID, Body: fmt.Sprintf("Visit %d.", i)}); err != nil {
				t.Fatal(err)
			}
		}
		old, err := b.checkpoint(t)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 30 {
			if err := b.db.AddNote(ctx, &casefile.Note{CaseID: b.f.Case.ID, Body: fmt.Sprintf("Call %d.", i)}); err != nil {
				t.Fatal(err)
			}
		}
		cp, err := b.checkpoint(t)
		if err != nil {
			t.Fatal(err)
		}
		size, root := int64(cp.Size), tlog.Hash(cp.Root)
		tr := &httpTiles{t: t, b: b}
		hr := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, tr)
		for _, n := range []int64{0, 1, 255, 256, int64(old.Size) - 1, size - 1} {
			leaf, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, n)})
			if err != nil {
				t.Fatalf("leaf %d from the tiles: %v", n, err)
			}
			p, err := tlog.ProveRecord(size, n, hr)
			if err != nil {
				t.Fatalf("prove entry %d from the tiles: %v", n, err)
			}
			if err := tlog.CheckRecord(p, size, root, n, leaf[0]); err != nil {
				t.Fatalf("entry %d: the proof from the tiles does not verify against the signed checkpoint: %v", n, err)
			}
			var inc audit.Inclusion
			b.call(t, "ethics", "GET", fmt.Sprintf("/v1/audit/proof/inclusion?index=%d&size=%d", n, size), nil, 200, &inc)
			if !bytes.Equal(inc.LeafHash, leaf[0][:]) || len(inc.Hashes) != len(p) {
				t.Fatalf("entry %d: the JSON proof has leaf %x and %d hashes, the tiles give %x and %d", n, inc.LeafHash, len(inc.Hashes), leaf[0], len(p))
			}
			for i := range p {
				if !bytes.Equal(inc.Hashes[i], p[i][:]) {
					t.Fatalf("entry %d: hash %d of the JSON proof differs from the tiles'", n, i)
				}
			}
		}
		tp, err := tlog.ProveTree(size, int64(old.Size), hr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(tp, size, root, int64(old.Size), tlog.Hash(old.Root)); err != nil {
			t.Fatalf("the consistency proof from the tiles does not verify between the two signed checkpoints: %v", err)
		}
		var con audit.Consistency
		b.call(t, "ethics", "GET", fmt.Sprintf("/v1/audit/proof/consistency?from=%d&to=%d", old.Size, size), nil, 200, &con)
		if len(con.Hashes) != len(tp) {
			t.Fatalf("the JSON consistency proof has %d hashes, the tiles give %d", len(con.Hashes), len(tp))
		}
		for i := range tp {
			if !bytes.Equal(con.Hashes[i], tp[i][:]) {
				t.Fatalf("hash %d of the JSON consistency proof differs from the tiles'", i)
			}
		}
		if tr.reads == 0 {
			t.Fatal("no tile was read")
		}

		// The API's answers on the edges.
		if data, status, _ := b.getTile("0/000", "ethics"); status != 200 || len(data) != audit.TileWidth*32 {
			t.Errorf("the first full tile: %d, %d bytes", status, len(data))
		}
		for _, c := range []struct {
			path, role string
			status     int
		}{
			{"0/000", "worker", 403},
			{"0/001.p/5", "", 401},
			{"0/x001/000", "ethics", 404},  // a tile the log has not reached
			{"1/000", "ethics", 404},       // level 1 holds one hash so far
			{"0/001.p/255", "ethics", 404}, // more hashes than the tile holds yet
			{"9/000", "ethics", 404},
			{"0/abc", "ethics", 422},
			{"0/1", "ethics", 422},
			{"entries/000", "ethics", 422},
		} {
			if _, status, err := b.getTile(c.path, c.role); err != nil || status != c.status {
				t.Errorf("GET /v1/audit/tile/%s as %q: %d (%v), want %d", c.path, c.role, status, err, c.status)
			}
		}
		if data, status, _ := b.getTile("1/000.p/1", "ethics"); status != 200 || len(data) != 32 {
			t.Errorf("the level-1 tile of one hash: %d, %d bytes", status, len(data))
		}
	})
}
