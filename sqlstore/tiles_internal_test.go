package sqlstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
)

// forEachTileDialect runs fn on a fresh SQLite file and, when
// COUNTERSIGN_TEST_DATABASE_URL is set, on a fresh PostgreSQL schema.
func forEachTileDialect(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		db, err := Open(context.Background(), t.TempDir()+"/tiles.db")
		if err != nil {
			t.Fatal(err)
		}
		db.EventKey = audit.NewEventKey()
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		base := os.Getenv("COUNTERSIGN_TEST_DATABASE_URL")
		if base == "" {
			t.Skip("set COUNTERSIGN_TEST_DATABASE_URL")
		}
		admin, err := Open(context.Background(), base)
		if err != nil {
			t.Fatal(err)
		}
		schema := fmt.Sprintf("tiles_%d", rand.Int64())
		if _, err := admin.w.Exec(`CREATE SCHEMA ` + schema); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.w.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); admin.Close() })
		db, err := Open(context.Background(), base+"&search_path="+schema)
		if err != nil {
			t.Fatal(err)
		}
		db.EventKey = audit.NewEventKey()
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
}

// wantTree computes, from the leaf hashes in audit_event, every node of the
// tree and the tiles that must hold them.
func wantTree(t *testing.T, db *DB) (audit.NodeMap, map[audit.TileKey][]byte, uint64) {
	t.Helper()
	var leaves [][]byte
	if err := db.w.Select(&leaves, `SELECT leaf_hash FROM audit_event ORDER BY seq`); err != nil {
		t.Fatal(err)
	}
	nodes, tiles := audit.NodeMap{}, map[audit.TileKey][]byte{}
	r := (&compact.RangeFactory{Hash: audit.Hasher.HashChildren}).NewEmptyRange(0)
	for _, l := range leaves {
		if err := r.Append(l, func(id compact.NodeID, hash []byte) {
			nodes[id] = hash
			if id.Level%audit.TileHeight == 0 {
				k := audit.TileKey{Level: uint64(id.Level / audit.TileHeight), Index: id.Index / audit.TileWidth}
				tiles[k] = append(tiles[k], hash...)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	return nodes, tiles, uint64(len(leaves))
}

// mustHoldTheTree checks that the stored tiles are exactly those of the
// log's leaves, and that every proof and root read from them equals the one
// built from the whole tree in memory.
func mustHoldTheTree(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	nodes, want, size := wantTree(t, db)
	var rows []tileRow
	if err := db.w.Select(&rows, `SELECT level, idx, hashes FROM audit_tile`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(want) {
		t.Errorf("%d tiles stored, want %d", len(rows), len(want))
	}
	for _, r := range rows {
		if w := want[audit.TileKey{Level: uint64(r.Level), Index: uint64(r.Idx)}]; !bytes.Equal(r.Hashes, w) {
			t.Errorf("tile (%d, %d): %d bytes stored, want %d bytes, or they differ", r.Level, r.Idx, len(r.Hashes), len(w))
		}
	}
	if got, err := tiledSize(ctx, db.w); err != nil || got != size {
		t.Errorf("tiledSize = %d, %v; want %d", got, err, size)
	}
	sizes := []uint64{1, 2, 3, 255, 256, 257, 511, 512, 513, size - 1, size}
	for _, s := range sizes {
		if s == 0 || s > size {
			continue
		}
		root, err := audit.RootAt(ctx, db, s)
		if err != nil {
			t.Fatal(err)
		}
		if w, _ := audit.RootAt(ctx, nodes, s); !bytes.Equal(root, w) {
			t.Errorf("root at %d from the tiles differs from the tree's", s)
		}
		for _, i := range []uint64{0, 1, s / 2, s - 1, rand.Uint64N(s)} {
			if i >= s {
				continue
			}
			p, err := audit.InclusionProof(ctx, db, i, s)
			if err != nil {
				t.Fatalf("inclusion %d/%d: %v", i, s, err)
			}
			w, err := audit.InclusionProof(ctx, nodes, i, s)
			if err != nil {
				t.Fatal(err)
			}
			if !equalHashes(p, w) {
				t.Errorf("inclusion proof %d/%d from the tiles differs from the tree's", i, s)
			}
			if err := audit.VerifyInclusion(i, s, nodes[compact.NewNodeID(0, i)], p, root); err != nil {
				t.Error(err)
			}
			if i == 0 {
				continue
			}
			c, err := audit.ConsistencyProof(ctx, db, i, s)
			if err != nil {
				t.Fatalf("consistency %d→%d: %v", i, s, err)
			}
			if w, _ := audit.ConsistencyProof(ctx, nodes, i, s); !equalHashes(c, w) {
				t.Errorf("consistency proof %d→%d from the tiles differs from the tree's", i, s)
			}
		}
	}
}

func equalHashes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// addPending writes n events through the service's own path (MAC'd pending
// rows) and sequences them.
func addPending(t *testing.T, db *DB, n int) {
	t.Helper()
	ctx := context.Background()
	actor := countersign.Actor{UserID: "usr_0123456789abcdef01234567", Role: countersign.RoleWorker}
	if err := db.withTx(ctx, func(tx *Tx) error {
		for i := range n {
			if err := tx.record(ctx, actor, audit.ActionDraftApproved, "draft", fmt.Sprintf("drf_%024x", i), "case_0123456789abcdef01234567",
				audit.Payload{"kind": "summary", "edited": "false", "review_ms": "41000", "decision": fmt.Sprintf("dec_%024x", i)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Sequence(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestTilesHoldTheTree: the sequencer writes the tiles of each batch in its
// transaction; when the tiles are behind the log (a replica of the version
// before migration 0013 sequenced the last events) it first builds what is
// missing; and every proof read from the tiles equals the one built from the
// whole tree, on both databases.
func TestTilesHoldTheTree(t *testing.T) {
	t.Parallel()
	forEachTileDialect(t, func(t *testing.T, db *DB) {
		fillLog(t, db, 300)
		addPending(t, db, 7)
		mustHoldTheTree(t, db)
		fillLogTiles(t, db, 260, false) // sequenced without tiles
		addPending(t, db, 5)
		mustHoldTheTree(t, db)
	})
}

// TestTilesBackfilledOnMigrate: a log sequenced before migration 0013 has
// no tiles; migrating (which every start does) builds them all.
func TestTilesBackfilledOnMigrate(t *testing.T) {
	t.Parallel()
	forEachTileDialect(t, func(t *testing.T, db *DB) {
		fillLogTiles(t, db, 3*audit.TileWidth+17, false)
		if n, err := tiledSize(context.Background(), db.w); err != nil || n != 0 {
			t.Fatalf("tiles hold %d leaves before the backfill (%v), want 0", n, err)
		}
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		mustHoldTheTree(t, db)
		addPending(t, db, 3)
		mustHoldTheTree(t, db)
	})
}

// TestTilesOnlyGrow: the database refuses to shrink, rewrite, move or
// delete a tile; only an extension of its hashes is accepted.
func TestTilesOnlyGrow(t *testing.T) {
	t.Parallel()
	forEachTileDialect(t, func(t *testing.T, db *DB) {
		fillLog(t, db, 40)
		var old []byte
		if err := db.w.Get(&old, `SELECT hashes FROM audit_tile WHERE level = 0 AND idx = 0`); err != nil {
			t.Fatal(err)
		}
		changed := bytes.Clone(old)
		changed[5] ^= 1
		longer := append(bytes.Clone(changed), make([]byte, sha256.Size)...)
		refused := []struct {
			query string
			args  []any
		}{
			{`UPDATE audit_tile SET hashes = ? WHERE level = 0 AND idx = 0`, []any{old[:sha256.Size]}},
			{`UPDATE audit_tile SET hashes = ? WHERE level = 0 AND idx = 0`, []any{changed}},
			{`UPDATE audit_tile SET hashes = ? WHERE level = 0 AND idx = 0`, []any{longer}},
			{`UPDATE audit_tile SET idx = 5 WHERE level = 0 AND idx = 0`, nil},
			{`DELETE FROM audit_tile`, nil},
			{`INSERT INTO audit_tile (level, idx, hashes) VALUES (0, 9, ?)`, []any{[]byte("not a hash")}},
		}
		if db.Dialect() == "postgres" {
			refused = append(refused, struct {
				query string
				args  []any
			}{`TRUNCATE audit_tile`, nil})
		}
		for _, r := range refused {
			if _, err := db.w.Exec(db.w.Rebind(r.query), r.args...); err == nil {
				t.Errorf("%s: accepted, want refused", r.query)
			}
		}
		grown := append(bytes.Clone(old), make([]byte, sha256.Size)...)
		if _, err := db.w.Exec(db.w.Rebind(`UPDATE audit_tile SET hashes = ? WHERE level = 0 AND idx = 0`), grown); err != nil {
			t.Errorf("extending a tile: %v", err)
		}
	})
}

// countingQueryer counts the queries run through it.
type countingQueryer struct {
	queryer
	n int
}

func (c *countingQueryer) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	c.n++
	return c.queryer.SelectContext(ctx, dest, query, args...)
}

// TestTileCacheServesWhatTilesHeld: a proof's nodes come from the cache of
// tiles when the versions it holds have them, whatever the tree size, and
// from the database only for a tile the cache lacks or holds too short a
// version of (the log grew past it); every node equals the tree's, on both
// databases.
func TestTileCacheServesWhatTilesHeld(t *testing.T) {
	t.Parallel()
	forEachTileDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		fillLog(t, db, 3*audit.TileWidth+40)
		q := &countingQueryer{queryer: db.r}
		cache, _ := lru.New[audit.TileKey, [][]byte](tileCacheTiles)
		// prove reads the nodes of an inclusion proof of index in the
		// tree of size and of its root, and returns how many queries it took.
		prove := func(index, size uint64) int {
			t.Helper()
			p, err := proof.Inclusion(index, size)
			if err != nil {
				t.Fatal(err)
			}
			ids := append(p.IDs, compact.RangeNodes(0, size, nil)...)
			before := q.n
			got, err := readTileNodes(ctx, q, cache, ids)
			if err != nil {
				t.Fatalf("nodes of %d/%d: %v", index, size, err)
			}
			nodes, _, _ := wantTree(t, db)
			for i, id := range ids {
				if !bytes.Equal(got[i], nodes[id]) {
					t.Fatalf("node (%d, %d) of %d/%d differs from the tree's", id.Level, id.Index, index, size)
				}
			}
			return q.n - before
		}
		_, _, size := wantTree(t, db)
		if n := prove(5, size); n != 1 {
			t.Errorf("first proof: %d queries, want 1", n)
		}
		if n := prove(7, size); n != 0 {
			t.Errorf("same tiles again: %d queries, want 0", n)
		}
		if n := prove(2*audit.TileWidth+3, size); n != 1 {
			t.Errorf("a tile not read yet: %d queries, want 1", n)
		}
		addPending(t, db, 20) // the right edge's tiles grow
		_, _, grown := wantTree(t, db)
		if n := prove(6, size); n != 0 {
			t.Errorf("the old size after the log grew: %d queries, want 0 (its tiles' prefixes never change)", n)
		}
		if n := prove(6, grown); n != 1 {
			t.Errorf("the new size: %d queries, want 1 (the edge tiles are longer now)", n)
		}
		if n := prove(grown-1, grown); n != 0 {
			t.Errorf("the new size again: %d queries, want 0", n)
		}
		// The partial tile at the edge is cached at its longest version.
		l, ok := cache.Peek(audit.TileKey{Level: 0, Index: (grown - 1) / audit.TileWidth})
		if !ok || len(l[0]) != audit.TileWidthAt(0, (grown-1)/audit.TileWidth, grown)*sha256.Size {
			t.Errorf("the edge tile is not cached at its latest width")
		}
	})
}
