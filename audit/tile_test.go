package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/transparency-dev/merkle/compact"
)

// TestTileLevelsHoldTheSubtreesOfEveryPrefix: for a tile of every width,
// TileLevels holds the roots of exactly the complete subtrees the tree has
// above it, each equal to the one the compact range computes, and each row
// of a narrower version of the tile is a prefix of the wider one's: what
// lets a cache of a tile's longest version serve every older tree size.
func TestTileLevelsHoldTheSubtreesOfEveryPrefix(t *testing.T) {
	nodes := map[compact.NodeID][]byte{}
	var tile []byte
	r := rangeFactory.NewEmptyRange(0)
	var leaf [8]byte
	for i := range uint64(TileWidth) {
		binary.BigEndian.PutUint64(leaf[:], i)
		if err := r.Append(Hasher.HashLeaf(leaf[:]), func(id compact.NodeID, hash []byte) { nodes[id] = hash }); err != nil {
			t.Fatal(err)
		}
		tile = append(tile, nodes[compact.NewNodeID(0, i)]...)
	}
	full := TileLevels(tile)
	for w := 1; w <= TileWidth; w++ {
		levels := TileLevels(tile[:w*sha256.Size])
		if len(levels) > len(full) {
			t.Fatalf("width %d: %d rows, more than the full tile's %d", w, len(levels), len(full))
		}
		for k, row := range levels {
			if want := (w >> k) * sha256.Size; len(row) != want {
				t.Fatalf("width %d row %d: %d bytes, want %d", w, k, len(row), want)
			}
			if !bytes.HasPrefix(full[k], row) {
				t.Fatalf("width %d row %d is not a prefix of the full tile's", w, k)
			}
		}
		for level := uint(0); level < TileHeight; level++ {
			for i := uint64(0); i < uint64(TileWidth>>level); i++ {
				id := compact.NewNodeID(level, i)
				got, err := NodeFromLevels(id, levels)
				if exists := (i+1)<<level <= uint64(w); !exists {
					if err == nil {
						t.Fatalf("width %d: node (%d, %d) served though the tile does not hold it yet", w, level, i)
					}
					continue
				}
				if err != nil || !bytes.Equal(got, nodes[id]) {
					t.Fatalf("width %d: node (%d, %d) = %x, %v; want %x", w, level, i, got, err, nodes[id])
				}
			}
		}
	}
}

func BenchmarkTileLevels(b *testing.B) {
	tile := bytes.Repeat([]byte{7}, TileWidth*sha256.Size)
	b.ReportAllocs()
	for b.Loop() {
		TileLevels(tile)
	}
}
