package sqlstore

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/countersign/countersign/audit"
)

// BenchmarkProofsFromTiles builds the Merkle tree of COUNTERSIGN_BENCH_EVENTS
// leaves (default 1,000,000) in tiles directly, with no events behind them
// (a proof reads only tiles), moves the head to it, and measures proofs from
// the store and over HTTP, and a tile over HTTP (benchProofs). Ten million
// leaves build in a few minutes, not the hours of ten million appends:
//
//	COUNTERSIGN_BENCH_DIALECT=postgres COUNTERSIGN_BENCH_EVENTS=10000000 \
//	COUNTERSIGN_BENCH_KEEP_SCHEMA=tiles10m COUNTERSIGN_TEST_DATABASE_URL=postgres://… \
//	  go test -run '^$' -bench ProofsFromTiles -benchtime 3000x -timeout 60m ./sqlstore/
//
// With COUNTERSIGN_BENCH_KEEP_SCHEMA the tree is built once and kept; drop
// the schema when done.
func BenchmarkProofsFromTiles(b *testing.B) {
	db := scaleDB(b)
	ctx := context.Background()
	n := uint64(benchEvents())
	h, err := db.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if h.Size == 0 {
		buildTiles(b, db, n)
	} else if h.Size < n {
		b.Fatalf("the kept schema holds a log of %d entries, fewer than %d: drop it or name another", h.Size, n)
	}
	benchProofs(b, db)
}

// buildTiles writes the tiles of a tree of n synthetic leaves, a batch of
// leaves per transaction, and moves the head to it.
func buildTiles(b *testing.B, db *DB, n uint64) {
	ctx := context.Background()
	start := time.Now()
	r := (&compact.RangeFactory{Hash: audit.Hasher.HashChildren}).NewEmptyRange(0)
	var leaf [8]byte
	const batch = 1 << 16
	for done := uint64(0); done < n; {
		end := min(n, done+batch)
		var nodes []audit.Node
		for i := done; i < end; i++ {
			binary.BigEndian.PutUint64(leaf[:], i)
			if err := r.Append(audit.Hasher.HashLeaf(leaf[:]), func(id compact.NodeID, hash []byte) {
				if id.Level%audit.TileHeight == 0 {
					nodes = append(nodes, audit.Node{Level: id.Level, Index: id.Index, Hash: hash})
				}
			}); err != nil {
				b.Fatal(err)
			}
		}
		if err := db.withTx(ctx, func(tx *Tx) error { return writeTiles(ctx, tx, done, nodes) }); err != nil {
			b.Fatal(err)
		}
		done = end
	}
	head := &audit.Head{Size: n, Chain: make([]byte, 32), Range: r.Hashes()}
	if err := db.withTx(ctx, func(tx *Tx) error { return tx.writes(ctx, nil, headWrite(head)) }); err != nil {
		b.Fatal(err)
	}
	if db.Dialect() == "postgres" {
		for _, s := range []string{`VACUUM ANALYZE audit_tile`, `CHECKPOINT`} {
			if _, err := db.w.Exec(s); err != nil {
				b.Logf("%s: %v", s, err)
			}
		}
	}
	b.Logf("built the tiles of %d leaves on %s in %v", n, db.Dialect(), time.Since(start).Round(time.Millisecond))
}
