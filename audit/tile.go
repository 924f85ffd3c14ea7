package audit

import (
	"context"
	"crypto/sha256"
	"fmt"

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
	_, start, end := TileSpan(id)
	if len(tile)%sha256.Size != 0 || len(tile) < end*sha256.Size {
		return nil, fmt.Errorf("audit tree node (%d, %d): its tile holds %d bytes, it needs hashes %d to %d", id.Level, id.Index, len(tile), start, end-1)
	}
	return subtreeHash(tile[start*sha256.Size : end*sha256.Size]), nil
}

// subtreeHash is the root of the perfect subtree whose bottom row of
// hashes (a power of two of them) is data.
func subtreeHash(data []byte) []byte {
	if len(data) == sha256.Size {
		return append([]byte(nil), data...)
	}
	half := len(data) / 2
	return Hasher.HashChildren(subtreeHash(data[:half]), subtreeHash(data[half:]))
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
