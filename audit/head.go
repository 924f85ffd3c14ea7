package audit

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Hasher is the RFC 6962 SHA-256 hasher every tree of the log uses.
var Hasher = rfc6962.DefaultHasher

var rangeFactory = &compact.RangeFactory{Hash: Hasher.HashChildren}

// Node is a perfect subtree root of the Merkle tree, stored so that proofs
// can be built with O(log n) point reads.
type Node struct {
	Level uint
	Index uint64
	Hash  []byte
}

// Head is the state a sequencer needs to extend the log: its size, the last
// chain hash and the compact range covering [0, Size) (at most 64 hashes).
type Head struct {
	Size  uint64
	Chain []byte
	Range [][]byte
}

// NewHead returns the head of an empty log.
func NewHead() *Head {
	return &Head{Chain: append([]byte(nil), ZeroChain...)}
}

// Append gives e the next sequence number, computes its leaf and chain
// hashes, extends the tree, and returns the tree nodes completed by it.
func (h *Head) Append(e *Event) ([]Node, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	r, err := rangeFactory.NewRange(0, h.Size, h.Range)
	if err != nil {
		return nil, fmt.Errorf("restore compact range at size %d: %w", h.Size, err)
	}
	e.Seq = h.Size
	e.LeafHash = Hasher.HashLeaf(e.Canonical())
	e.ChainHash = ChainHash(h.Chain, e.LeafHash)
	var nodes []Node
	if err := r.Append(e.LeafHash, func(id compact.NodeID, hash []byte) {
		nodes = append(nodes, Node{Level: id.Level, Index: id.Index, Hash: hash})
	}); err != nil {
		return nil, fmt.Errorf("append leaf %d: %w", e.Seq, err)
	}
	h.Size = r.End()
	h.Chain = e.ChainHash
	h.Range = r.Hashes()
	return nodes, nil
}

// Root returns the RFC 6962 root hash of the tree of h.Size leaves.
func (h *Head) Root() ([]byte, error) {
	if h.Size == 0 {
		return Hasher.EmptyRoot(), nil
	}
	r, err := rangeFactory.NewRange(0, h.Size, h.Range)
	if err != nil {
		return nil, fmt.Errorf("restore compact range at size %d: %w", h.Size, err)
	}
	return r.GetRootHash(nil)
}

// MarshalRange packs the compact range hashes into one byte string for storage.
func (h *Head) MarshalRange() []byte {
	return bytes.Join(h.Range, nil)
}

// UnmarshalRange restores the compact range hashes packed by MarshalRange.
func (h *Head) UnmarshalRange(b []byte) error {
	if len(b)%sha256.Size != 0 {
		return fmt.Errorf("compact range of %d bytes is not a multiple of %d", len(b), sha256.Size)
	}
	h.Range = nil
	for i := 0; i < len(b); i += sha256.Size {
		h.Range = append(h.Range, append([]byte(nil), b[i:i+sha256.Size]...))
	}
	return nil
}
