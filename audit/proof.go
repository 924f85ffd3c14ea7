package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/countersign/countersign"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

// NodeReader reads stored perfect subtree roots, the nodes Head.Append
// reports, by their (level, index) IDs.
type NodeReader interface {
	// ReadNodes returns the hashes of ids in the same order. It returns an
	// error if any node is missing, never a nil hash.
	ReadNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error)
}

// readNodes calls r and checks that it kept its promise, so a faulty store
// yields an error rather than a wrong proof or a panic in Rehash.
func readNodes(ctx context.Context, r NodeReader, ids []compact.NodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return [][]byte{}, nil
	}
	hashes, err := r.ReadNodes(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read %d tree nodes: %w", len(ids), err)
	}
	if len(hashes) != len(ids) {
		return nil, fmt.Errorf("read tree nodes: got %d hashes for %d nodes", len(hashes), len(ids))
	}
	for i, h := range hashes {
		if len(h) != sha256.Size {
			return nil, fmt.Errorf("read tree node %d.%d: hash has %d bytes", ids[i].Level, ids[i].Index, len(h))
		}
	}
	return hashes, nil
}

// InclusionProof returns the RFC 6962 inclusion proof (audit path) of leaf
// index in the tree of the first size leaves. The caller must make sure size
// does not exceed the log's size. Returns EINVALID unless index < size.
func InclusionProof(ctx context.Context, r NodeReader, index, size uint64) ([][]byte, error) {
	if index >= size {
		return nil, countersign.Errorf(countersign.EINVALID, "The entry number (%d) must be smaller than the tree size (%d).", index, size)
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof %d/%d: %w", index, size, err)
	}
	hashes, err := readNodes(ctx, r, nodes.IDs)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof %d/%d: %w", index, size, err)
	}
	// Rehash folds the nodes right of the last perfect subtree into the one
	// "ephemeral" node an RFC 6962 proof uses there.
	p, err := nodes.Rehash(hashes, Hasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof %d/%d: %w", index, size, err)
	}
	return p, nil
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of the first size1 and the first size2 leaves. The caller must make sure
// size2 does not exceed the log's size. A proof from size1 = 0 is empty: the
// empty tree is a prefix of every tree, so there is nothing to prove (RFC
// 9162 leaves this case undefined and newer merkle releases refuse it).
// Returns EINVALID unless size1 <= size2.
func ConsistencyProof(ctx context.Context, r NodeReader, size1, size2 uint64) ([][]byte, error) {
	if size1 > size2 {
		return nil, countersign.Errorf(countersign.EINVALID, "The first tree size (%d) must not be larger than the second (%d).", size1, size2)
	}
	if size1 == 0 || size1 == size2 {
		return [][]byte{}, nil
	}
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("consistency proof %d→%d: %w", size1, size2, err)
	}
	hashes, err := readNodes(ctx, r, nodes.IDs)
	if err != nil {
		return nil, fmt.Errorf("consistency proof %d→%d: %w", size1, size2, err)
	}
	p, err := nodes.Rehash(hashes, Hasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("consistency proof %d→%d: %w", size1, size2, err)
	}
	return p, nil
}

// RootAt returns the root hash of the tree of the first size leaves, built
// from the at most 64 stored perfect subtrees that cover them. It lets a
// server answer for any past checkpoint size without replaying the log.
func RootAt(ctx context.Context, r NodeReader, size uint64) ([]byte, error) {
	if size == 0 {
		return Hasher.EmptyRoot(), nil
	}
	hashes, err := readNodes(ctx, r, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, fmt.Errorf("root at size %d: %w", size, err)
	}
	cr, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("root at size %d: %w", size, err)
	}
	root, err := cr.GetRootHash(nil)
	if err != nil {
		return nil, fmt.Errorf("root at size %d: %w", size, err)
	}
	return root, nil
}

// ErrBadProof is wrapped by every proof verification failure.
var ErrBadProof = errors.New("the proof does not verify")

// VerifyInclusion checks that leafHash is leaf index of the tree of size
// leaves whose root is root. Errors wrap ErrBadProof.
func VerifyInclusion(index, size uint64, leafHash []byte, p [][]byte, root []byte) error {
	if err := proof.VerifyInclusion(Hasher, index, size, leafHash, p, root); err != nil {
		return fmt.Errorf("%w: entry %d in a tree of %d entries: %w", ErrBadProof, index, size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree of size1 leaves with root root1 is
// a prefix of the tree of size2 leaves with root root2. When size1 is 0 the
// proof must be empty and root1 must be the empty root, SHA-256 of nothing;
// any tree extends the empty tree. Errors wrap ErrBadProof.
func VerifyConsistency(size1, size2 uint64, p [][]byte, root1, root2 []byte) error {
	if size1 == 0 {
		switch {
		case len(p) != 0:
			return fmt.Errorf("%w: a proof from the empty tree must be empty, got %d hashes", ErrBadProof, len(p))
		case !bytes.Equal(root1, Hasher.EmptyRoot()):
			return fmt.Errorf("%w: the root of the empty tree is not SHA-256 of nothing", ErrBadProof)
		case len(root2) != sha256.Size:
			return fmt.Errorf("%w: the second root has %d bytes", ErrBadProof, len(root2))
		case size2 == 0 && !bytes.Equal(root2, root1):
			return fmt.Errorf("%w: two empty trees with different roots", ErrBadProof)
		}
	}
	if err := proof.VerifyConsistency(Hasher, size1, size2, p, root1, root2); err != nil {
		return fmt.Errorf("%w: tree of %d entries to tree of %d entries: %w", ErrBadProof, size1, size2, err)
	}
	return nil
}
