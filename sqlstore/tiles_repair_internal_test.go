package sqlstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/countersign/countersign/audit"
)

// TestWriteTilesHoldsStoredHashesAgainstTheEvents: writeTiles given nodes
// a stored tile holds already (what catchUpTiles rebuilding a deleted full
// level-0 tile gives: the level-1 tile has its hash, and at 65,536 entries
// the level-2 tile, whose run then begins at position 0) writes nothing
// when they are equal, and refuses, naming the tile and the hash, when one
// differs; a tile begun by the nodes that is stored already is read and
// compared too, not written over. On both databases.
func TestWriteTilesHoldsStoredHashesAgainstTheEvents(t *testing.T) {
	t.Parallel()
	forEachTileDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		fillLog(t, db, 2*audit.TileWidth) // tiles (0, 0) and (0, 1) full, (1, 0) with 2 hashes
		_, want, _ := wantTree(t, db)
		// nodes are those of the second level-0 tile and the level-1 node
		// above it, as catchUpTiles from 256 leaves gives them; the level-0
		// run begins tile (0, 1), which is stored, at position 0.
		nodes := func(change audit.TileKey, at int) []audit.Node {
			var ns []audit.Node
			for i := range audit.TileWidth {
				ns = append(ns, audit.Node{Level: 0, Index: uint64(audit.TileWidth + i), Hash: bytes.Clone(want[audit.TileKey{Level: 0, Index: 1}][i*sha256.Size : (i+1)*sha256.Size])})
			}
			ns = append(ns, audit.Node{Level: audit.TileHeight, Index: 1, Hash: bytes.Clone(want[audit.TileKey{Level: 1, Index: 0}][sha256.Size:])})
			for i := range ns {
				k := audit.TileKey{Level: uint64(ns[i].Level / audit.TileHeight), Index: ns[i].Index / audit.TileWidth}
				if k == change && int(ns[i].Index%audit.TileWidth) == at {
					ns[i].Hash[3] ^= 1
				}
			}
			return ns
		}
		write := func(ns []audit.Node) error {
			return db.withTx(ctx, func(tx *Tx) error { return writeTiles(ctx, tx, audit.TileWidth, ns) })
		}
		if err := write(nodes(audit.TileKey{Level: 7}, -1)); err != nil {
			t.Fatalf("nodes the tiles hold, equal: %v", err)
		}
		mustHoldTheTree(t, db)
		for _, c := range []struct {
			key audit.TileKey
			at  int
		}{{audit.TileKey{Level: 0, Index: 1}, 200}, {audit.TileKey{Level: 1, Index: 0}, 1}} {
			err := write(nodes(c.key, c.at))
			var d *tileDiffersError
			if !errors.As(err, &d) || d.key != c.key || d.hash != c.at {
				t.Fatalf("hash %d of tile (%d, %d) changed: %v, want it refused naming them", c.at, c.key.Level, c.key.Index, err)
			}
			if errors.Is(err, errTilesBehind) {
				t.Fatal("a tile that differs is reported as behind, which the sequencer answers by rebuilding")
			}
		}
		mustHoldTheTree(t, db)
	})
}
