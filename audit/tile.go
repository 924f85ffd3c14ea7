package audit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"

	"github.com/transparency-dev/merkle/compact"
)

// The log's Merkle tree is stored in tiles, as the C2SP tlog-tiles layout
// (https://c2sp.org/tlog-tiles), Tessera and golang.org/x/mod/sumdb/tlog
// do: the tile at level L and index N holds the hashes of the tree nodes at
// level TileHeight*L with indexes N*TileWidth up to (N+1)*TileWidth-1, in
// order. Tile level 0 holds the leaf hashes; every node between two tile
// levels is hashed from the tile below it. A proof at ten million entries
// reads three to six tiles instead of two dozen single nodes.
const (
	TileHeight = 8
	TileWidth  = 1 << TileHeight
)

// ErrTileDiffers is what a store's refusal to sequence wraps when a stored
// tile differs from the events (sqlstore's tileDiffersError), or is
// missing or cut short where the events need hashes it no longer holds
// (sqlstore's tileShortError), so a caller can tell with errors.Is that
// the log refused because of a finding about the stored log, which `audit
// verify` and the board's "Verify the log" report as one, not an
// operational failure. TileDiffers and CheckTile give the finding's
// sentence.
var ErrTileDiffers = errors.New("a stored audit tile does not match the events")

// TileKey names a tile.
type TileKey struct {
	Level uint64
	Index uint64
}

// TileReader reads stored tiles: the hashes a tile holds so far (TileWidth
// of them once it is full, fewer while the log grows into it), 32 bytes
// each. A tile not stored yet is ENOTFOUND.
type TileReader interface {
	ReadTile(ctx context.Context, level, index uint64) ([]byte, error)
}

// TileSpan returns the tile that holds the hashes node id is built from,
// and which of its hashes (from start up to but not including end) those
// are: a node at a tile level is one hash of its tile, a node k levels
// above is built from 2^k of them.
func TileSpan(id compact.NodeID) (key TileKey, start, end int) {
	k := id.Level % TileHeight
	first := id.Index << k
	key = TileKey{Level: uint64(id.Level / TileHeight), Index: first >> TileHeight}
	start = int(first % TileWidth)
	return key, start, start + 1<<k
}

// NodeFromTile returns the hash of node id from the hashes of its tile (see
// TileSpan): a tile that does not hold them yet is an error, never a wrong
// hash.
func NodeFromTile(id compact.NodeID, tile []byte) ([]byte, error) {
	return NodeFromLevels(id, TileLevels(tile))
}

// TileLevels hashes a tile's subtrees bottom up: row 0 is the tile's own
// hashes, row k the roots of the complete subtrees k levels above them,
// 32 bytes each. A proof asks several nodes of one tile; hashing the tile
// once (at most 255 hashes) serves them all.
func TileLevels(tile []byte) [][]byte {
	n := len(tile) / sha256.Size
	// One allocation holds every row above the tile's own: n/2 + n/4 + ...
	// hashes, fewer than n.
	above := 0
	for w := n / 2; w > 0; w /= 2 {
		above += w
	}
	buf := make([]byte, 0, above*sha256.Size)
	rows := make([][]byte, 1, bits.Len(uint(n))+1)
	rows[0] = tile[:n*sha256.Size]
	var in [1 + 2*sha256.Size]byte
	in[0] = 1 // RFC 6962 interior node prefix
	for below := rows[0]; len(below) >= 2*sha256.Size; below = rows[len(rows)-1] {
		from := len(buf)
		for i := 0; i+2*sha256.Size <= len(below); i += 2 * sha256.Size {
			copy(in[1:], below[i:i+2*sha256.Size])
			sum := sha256.Sum256(in[:])
			buf = append(buf, sum[:]...)
		}
		rows = append(rows, buf[from:len(buf):len(buf)])
	}
	return rows
}

// NodeFromLevels returns the hash of node id from its tile's TileLevels.
func NodeFromLevels(id compact.NodeID, levels [][]byte) ([]byte, error) {
	_, start, end := TileSpan(id)
	k := int(id.Level % TileHeight)
	j := start >> k
	if k >= len(levels) || len(levels[k]) < (j+1)*sha256.Size {
		have := 0
		if len(levels) > 0 {
			have = len(levels[0]) / sha256.Size
		}
		return nil, fmt.Errorf("audit tree node (%d, %d): its tile holds %d hashes, it needs hashes %d to %d", id.Level, id.Index, have, start, end-1)
	}
	return append([]byte(nil), levels[k][j*sha256.Size:(j+1)*sha256.Size]...), nil
}

// TileNodes returns, of the nodes Head.Append reports, those a tile holds
// (the nodes at a tile level), in the order given.
func TileNodes(nodes []Node) []Node {
	var out []Node
	for _, n := range nodes {
		if n.Level%TileHeight == 0 {
			out = append(out, n)
		}
	}
	return out
}

// TileWidthAt returns how many hashes tile (level, index) holds in the tree
// of size leaves: TileWidth for a full tile, 0 for one not begun.
func TileWidthAt(level, index, size uint64) int {
	if level*TileHeight >= 64 {
		return 0
	}
	n := size >> (level * TileHeight) // nodes at the tile's level
	switch {
	case n >= (index+1)*TileWidth:
		return TileWidth
	case n <= index*TileWidth:
		return 0
	}
	return int(n - index*TileWidth)
}

// RangeAt restores the compact range of the first size leaves from the
// hashes of compact.RangeNodes(0, size), as a NodeReader reads them.
func RangeAt(ctx context.Context, r NodeReader, size uint64) (*compact.Range, error) {
	hashes, err := readNodes(ctx, r, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, fmt.Errorf("compact range at size %d: %w", size, err)
	}
	return rangeFactory.NewRange(0, size, hashes)
}
