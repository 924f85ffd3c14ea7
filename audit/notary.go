package audit

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"

	"github.com/countersign/countersign"
)

// LogStore is the storage a Notary needs: the sequenced log, its tree nodes,
// its head and the append-only table of signed checkpoints.
type LogStore interface {
	Log
	NodeReader
	// Head returns the head of the sequenced log.
	Head(ctx context.Context) (*Head, error)
	// LatestCheckpoint returns the largest stored checkpoint, ENOTFOUND if none.
	LatestCheckpoint(ctx context.Context) (*Checkpoint, error)
	// AddCheckpoint stores cp unless one of its size is already stored.
	AddCheckpoint(ctx context.Context, cp *Checkpoint) error
}

// Notary issues signed checkpoints of the log and serves proofs against them.
type Notary struct {
	Store  LogStore
	Signer note.Signer
	Origin string
	Logger *slog.Logger

	// known is the largest log size this notary has read from the head.
	// The log only grows, so a proof for a size up to it needs no fresh
	// read of the head: one round trip instead of two.
	known atomic.Uint64
}

// Inclusion proves that the leaf at Index is in the tree of Size leaves.
type Inclusion struct {
	Index    uint64   `json:"index"`
	Size     uint64   `json:"size"`
	LeafHash []byte   `json:"leaf_hash"`
	Hashes   [][]byte `json:"hashes"`
	Root     []byte   `json:"root"`
}

// Consistency proves that the tree of From leaves is a prefix of the tree of To leaves.
type Consistency struct {
	From     uint64   `json:"from"`
	To       uint64   `json:"to"`
	Hashes   [][]byte `json:"hashes"`
	FromRoot []byte   `json:"from_root"`
	Root     []byte   `json:"root"`
}

// Checkpoint sequences pending events, signs a checkpoint if the log grew
// since the last one, and returns the latest checkpoint.
func (n *Notary) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	if _, err := n.Store.Sequence(ctx); err != nil {
		return nil, fmt.Errorf("sequence before checkpoint: %w", err)
	}
	return n.checkpoint(ctx)
}

func (n *Notary) checkpoint(ctx context.Context) (*Checkpoint, error) {
	head, err := n.Store.Head(ctx)
	if err != nil {
		return nil, err
	}
	n.saw(head.Size)
	latest, err := n.Store.LatestCheckpoint(ctx)
	if err != nil && countersign.ErrorCode(err) != countersign.ENOTFOUND {
		return nil, err
	}
	if latest != nil && latest.Size >= head.Size {
		return latest, nil
	}
	cp, err := SignCheckpoint(n.Signer, n.Origin, head)
	if err != nil {
		return nil, err
	}
	if err := n.Store.AddCheckpoint(ctx, cp); err != nil {
		return nil, err
	}
	return n.Store.LatestCheckpoint(ctx)
}

// VerifyLog signs a checkpoint of the log as it is now and verifies every
// event against it with v, reading them in their stored form with each
// (sqlstore's AllStoredEvents). It is `countersign audit verify` on the
// live database, and the ethics board's "Verify the log" button.
func (n *Notary) VerifyLog(ctx context.Context, v *Verifier, each func(ctx context.Context, fn func(*StoredEvent) error) error) (*Report, error) {
	cp, err := n.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	if v.Progress != nil {
		v.Progress(0)
	}
	return v.VerifyStored(ctx, each, cp.Note)
}

// Run issues a checkpoint every interval when the log grew, until ctx ends.
func (n *Notary) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := n.checkpoint(ctx); err != nil && ctx.Err() == nil && n.Logger != nil {
				n.Logger.Error("sign audit checkpoint", "op", "audit.notary", "err", err)
			}
		}
	}
}

// InclusionProof proves entry index against the tree of size leaves; size 0
// means the latest checkpoint's size. It reads the head and then, in one
// round trip, every node the answer needs.
func (n *Notary) InclusionProof(ctx context.Context, index, size uint64) (*Inclusion, error) {
	head, size, err := n.checkSize(ctx, size, "size")
	if err != nil {
		return nil, err
	}
	if index >= size {
		return nil, countersign.InvalidFields("The proof cannot be made.", countersign.FieldError{Field: "index", Message: fmt.Sprintf("The entry number must be smaller than the tree size (%d).", size)})
	}
	p, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof %d/%d: %w", index, size, err)
	}
	leaf := compact.NewNodeID(0, index)
	nodes, err := n.prefetch(ctx, p.IDs, []compact.NodeID{leaf}, rootNodes(head, size))
	if err != nil {
		return nil, err
	}
	hashes, err := InclusionProof(ctx, nodes, index, size)
	if err != nil {
		return nil, err
	}
	root, err := rootAt(ctx, nodes, head, size)
	if err != nil {
		return nil, err
	}
	return &Inclusion{Index: index, Size: size, LeafHash: nodes[leaf], Hashes: hashes, Root: root}, nil
}

// ConsistencyProof proves that the tree of from leaves is a prefix of the
// tree of to leaves.
func (n *Notary) ConsistencyProof(ctx context.Context, from, to uint64) (*Consistency, error) {
	head, to, err := n.checkSize(ctx, to, "to")
	if err != nil {
		return nil, err
	}
	if from > to {
		return nil, countersign.InvalidFields("The proof cannot be made.", countersign.FieldError{Field: "from", Message: "The first size must not be larger than the second."})
	}
	var ids []compact.NodeID
	if from > 0 {
		p, err := proof.Consistency(from, to)
		if err != nil {
			return nil, fmt.Errorf("consistency proof %d/%d: %w", from, to, err)
		}
		ids = p.IDs
	}
	nodes, err := n.prefetch(ctx, ids, rootNodes(head, from), rootNodes(head, to))
	if err != nil {
		return nil, err
	}
	hashes, err := ConsistencyProof(ctx, nodes, from, to)
	if err != nil {
		return nil, err
	}
	fromRoot, err := rootAt(ctx, nodes, head, from)
	if err != nil {
		return nil, err
	}
	root, err := rootAt(ctx, nodes, head, to)
	if err != nil {
		return nil, err
	}
	return &Consistency{From: from, To: to, Hashes: hashes, FromRoot: fromRoot, Root: root}, nil
}

// saw records that the log has reached size.
func (n *Notary) saw(size uint64) {
	for k := n.known.Load(); size > k; k = n.known.Load() {
		if n.known.CompareAndSwap(k, size) {
			return
		}
	}
}

// checkSize resolves size 0 to the latest checkpoint and refuses sizes the
// log has not reached. It returns the head it checked against, or nil when
// the log was already known to be that long. field names the parameter a
// refusal is about.
func (n *Notary) checkSize(ctx context.Context, size uint64, field string) (*Head, uint64, error) {
	if size == 0 {
		cp, err := n.checkpoint(ctx)
		if err != nil {
			return nil, 0, err
		}
		size = cp.Size
	}
	if size <= n.known.Load() {
		return nil, size, nil // every node of a tree this size is stored
	}
	// Read the head after the checkpoint: the sequencer may have grown the
	// log in between, and the checkpoint must never exceed the head read.
	head, err := n.Store.Head(ctx)
	if err != nil {
		return nil, 0, err
	}
	n.saw(head.Size)
	if size > head.Size {
		return nil, 0, countersign.InvalidFields("The proof cannot be made.", countersign.FieldError{Field: field, Message: fmt.Sprintf("The log has only %d entries so far.", head.Size)})
	}
	return head, size, nil
}

// rootNodes lists the stored nodes the root of the first size leaves is
// built from; none when it is the head's own root, which the head's compact
// range gives without reading anything.
func rootNodes(head *Head, size uint64) []compact.NodeID {
	if size == 0 || (head != nil && size == head.Size) {
		return nil
	}
	return compact.RangeNodes(0, size, nil)
}

// rootAt is RootAt, using the head's compact range when size is the head's.
func rootAt(ctx context.Context, nodes NodeMap, head *Head, size uint64) ([]byte, error) {
	if head != nil && size == head.Size {
		return head.Root()
	}
	return RootAt(ctx, nodes, size)
}

// NodeMap is a NodeReader over nodes already read, keyed by their IDs.
type NodeMap map[compact.NodeID][]byte

// ReadNodes implements NodeReader; a node not in the map is an error.
func (m NodeMap) ReadNodes(_ context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := m[id]
		if !ok {
			return nil, fmt.Errorf("audit tree node (%d, %d) is missing", id.Level, id.Index)
		}
		out[i] = h
	}
	return out, nil
}

// prefetch reads the union of the node lists in one call to the store, so
// a proof costs the same two queries (head, nodes) at any tree size.
func (n *Notary) prefetch(ctx context.Context, lists ...[]compact.NodeID) (NodeMap, error) {
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	seen := make(map[compact.NodeID]bool, total)
	ids := make([]compact.NodeID, 0, total)
	for _, l := range lists {
		for _, id := range l {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	hashes, err := readNodes(ctx, n.Store, ids)
	if err != nil {
		return nil, err
	}
	m := make(NodeMap, len(ids))
	for i, id := range ids {
		m[id] = hashes[i]
	}
	return m, nil
}

// pseudonymLabel is the message whose signature seeds PseudonymKey.
const pseudonymLabel = "countersign/stats-pseudonym-key/v1"

// PseudonymKey returns a secret derived from the log's signing key:
// SHA-256 of the key's Ed25519 signature over a fixed label. Ed25519
// signatures are deterministic, so the key is the same on every replica and
// after every restart, and nobody without the signing key can compute it.
// The statistics use it to show workers by pseudonyms.
func (n *Notary) PseudonymKey() ([]byte, error) {
	sig, err := n.Signer.Sign([]byte(pseudonymLabel))
	if err != nil {
		return nil, fmt.Errorf("derive pseudonym key: %w", err)
	}
	sum := sha256.Sum256(sig)
	return sum[:], nil
}
