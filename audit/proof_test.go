package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/transparency-dev/merkle/compact"
)

// mutations returns altered copies of a proof, each of which must be refused:
// the probes transparency-dev/merkle generates for its own verifier.
func mutations(p [][]byte, root []byte) map[string][][]byte {
	clone := func() [][]byte {
		c := make([][]byte, len(p))
		for i := range p {
			c[i] = bytes.Clone(p[i])
		}
		return c
	}
	m := map[string][][]byte{
		"ExtraElementAtEnd":   append(clone(), make([]byte, 32)),
		"ExtraElementAtStart": append([][]byte{make([]byte, 32)}, clone()...),
		"RootPrepended":       append([][]byte{bytes.Clone(root)}, clone()...),
	}
	if len(p) > 0 {
		m["LastElementMissing"] = clone()[:len(p)-1]
		m["FirstElementMissing"] = clone()[1:]
		m["Empty"] = [][]byte{}
	}
	for i := range p {
		for _, bit := range []byte{0x01, 0x80} {
			c := clone()
			c[i][i%32] ^= bit
			m[fmt.Sprintf("BitFlippedInElement%dMask%#x", i, bit)] = c
		}
	}
	return m
}

func TestInclusionProof(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := mustBuildLog(t, 40)

	t.Run("VerifiesEveryLeafInEveryTreeSize", func(t *testing.T) {
		t.Parallel()
		for size := uint64(1); size <= 37; size++ {
			for index := uint64(0); index < size; index++ {
				p, err := audit.InclusionProof(ctx, l.nodes, index, size)
				if err != nil {
					t.Fatalf("%d/%d: %v", index, size, err)
				}
				if err := audit.VerifyInclusion(index, size, l.events[index].LeafHash, p, l.roots[size]); err != nil {
					t.Fatalf("%d/%d: %v", index, size, err)
				}
			}
		}
	})

	t.Run("RefusesEveryMutatedProof", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ index, size uint64 }{{0, 1}, {0, 2}, {5, 8}, {6, 7}, {12, 37}, {36, 37}, {31, 32}, {32, 33}} {
			p, err := audit.InclusionProof(ctx, l.nodes, tc.index, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			leaf, root := l.events[tc.index].LeafHash, l.roots[tc.size]
			for name, bad := range mutations(p, root) {
				if err := audit.VerifyInclusion(tc.index, tc.size, leaf, bad, root); !errors.Is(err, audit.ErrBadProof) {
					t.Errorf("%d/%d %s: err = %v", tc.index, tc.size, name, err)
				}
			}
			wrong := map[string]func() error{
				"WrongIndexPlusOne": func() error { return audit.VerifyInclusion(tc.index+1, tc.size, leaf, p, root) },
				"WrongIndexXor1":    func() error { return audit.VerifyInclusion(tc.index^1, tc.size, leaf, p, root) },
				// A size comes with its root, both from one signed checkpoint:
				// the attack is presenting a proof against another checkpoint.
				// (Against its own root a proof may fit a neighbouring size,
				// since the shape of an RFC 6962 path does not always change.)
				"WrongSizePlusOne":  func() error { return audit.VerifyInclusion(tc.index, tc.size+1, leaf, p, l.roots[tc.size+1]) },
				"WrongSizeMinusOne": func() error { return audit.VerifyInclusion(tc.index, tc.size-1, leaf, p, l.roots[tc.size-1]) },
				"WrongLeaf":         func() error { return audit.VerifyInclusion(tc.index, tc.size, bytes.Repeat([]byte{0xaa}, 32), p, root) },
				"WrongRoot":         func() error { return audit.VerifyInclusion(tc.index, tc.size, leaf, p, l.roots[tc.size-1]) },
			}
			for name, f := range wrong {
				if err := f(); !errors.Is(err, audit.ErrBadProof) {
					t.Errorf("%d/%d %s: err = %v", tc.index, tc.size, name, err)
				}
			}
		}
	})

	t.Run("RefusesAnIndexOutsideTheTree", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ index, size uint64 }{{5, 5}, {6, 5}, {0, 0}} {
			_, err := audit.InclusionProof(ctx, l.nodes, tc.index, tc.size)
			if countersign.ErrorCode(err) != countersign.EINVALID {
				t.Errorf("%d/%d: err = %v", tc.index, tc.size, err)
			}
		}
	})

	t.Run("FailsWhenANodeIsMissing", func(t *testing.T) {
		t.Parallel()
		if _, err := audit.InclusionProof(ctx, l.nodes, 3, 64); err == nil || countersign.ErrorCode(err) == countersign.EINVALID {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("FailsWhenTheStoreMisbehaves", func(t *testing.T) {
		t.Parallel()
		for name, r := range map[string]audit.NodeReader{
			"TooFewHashes": readerFunc(func(ids []compact.NodeID) ([][]byte, error) { return make([][]byte, len(ids)-1), nil }),
			"ShortHash":    readerFunc(func(ids []compact.NodeID) ([][]byte, error) { return make([][]byte, len(ids)), nil }),
		} {
			if _, err := audit.InclusionProof(ctx, r, 3, 37); err == nil {
				t.Errorf("%s: no error", name)
			}
		}
	})
}

type readerFunc func(ids []compact.NodeID) ([][]byte, error)

func (f readerFunc) ReadNodes(_ context.Context, ids []compact.NodeID) ([][]byte, error) {
	return f(ids)
}

func TestConsistencyProof(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := mustBuildLog(t, 40)

	t.Run("VerifiesEveryPairOfSizes", func(t *testing.T) {
		t.Parallel()
		for size2 := uint64(0); size2 <= 37; size2++ {
			for size1 := uint64(0); size1 <= size2; size1++ {
				p, err := audit.ConsistencyProof(ctx, l.nodes, size1, size2)
				if err != nil {
					t.Fatalf("%d→%d: %v", size1, size2, err)
				}
				if err := audit.VerifyConsistency(size1, size2, p, l.roots[size1], l.roots[size2]); err != nil {
					t.Fatalf("%d→%d: %v", size1, size2, err)
				}
			}
		}
	})

	t.Run("RefusesEveryMutatedProof", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ size1, size2 uint64 }{{1, 2}, {3, 7}, {4, 8}, {5, 37}, {16, 33}, {31, 32}, {36, 37}, {7, 7}, {0, 5}} {
			p, err := audit.ConsistencyProof(ctx, l.nodes, tc.size1, tc.size2)
			if err != nil {
				t.Fatal(err)
			}
			r1, r2 := l.roots[tc.size1], l.roots[tc.size2]
			for name, bad := range mutations(p, r2) {
				if err := audit.VerifyConsistency(tc.size1, tc.size2, bad, r1, r2); !errors.Is(err, audit.ErrBadProof) {
					t.Errorf("%d→%d %s: err = %v", tc.size1, tc.size2, name, err)
				}
			}
			wrong := map[string]func() error{
				"WrongSecondSizePlusOne": func() error { return audit.VerifyConsistency(tc.size1, tc.size2+1, p, r1, l.roots[tc.size2+1]) },
				"WrongFirstRoot":         func() error { return audit.VerifyConsistency(tc.size1, tc.size2, p, l.roots[tc.size1+1], r2) },
				"WrongSecondRoot":        func() error { return audit.VerifyConsistency(tc.size1, tc.size2, p, r1, l.roots[tc.size2-1]) },
			}
			if tc.size1 > 1 {
				wrong["WrongFirstSizeMinusOne"] = func() error { return audit.VerifyConsistency(tc.size1-1, tc.size2, p, l.roots[tc.size1-1], r2) }
			}
			if tc.size1 > 0 && tc.size1 < tc.size2 {
				wrong["WrongFirstSizePlusOne"] = func() error { return audit.VerifyConsistency(tc.size1+1, tc.size2, p, l.roots[tc.size1+1], r2) }
			}
			for name, f := range wrong {
				if tc.size1 == 0 && name != "WrongFirstRoot" {
					continue // any tree extends the empty tree: only its root can be wrong
				}
				if err := f(); !errors.Is(err, audit.ErrBadProof) {
					t.Errorf("%d→%d %s: err = %v", tc.size1, tc.size2, name, err)
				}
			}
		}
	})

	t.Run("TreatsTheEmptyTreeAsItsOwnCase", func(t *testing.T) {
		t.Parallel()
		p, err := audit.ConsistencyProof(ctx, l.nodes, 0, 37)
		if err != nil || len(p) != 0 {
			t.Fatalf("proof %v, err %v", p, err)
		}
		if err := audit.VerifyConsistency(0, 37, nil, audit.Hasher.EmptyRoot(), l.roots[37]); err != nil {
			t.Fatal(err)
		}
		if err := audit.VerifyConsistency(0, 37, [][]byte{l.roots[1]}, audit.Hasher.EmptyRoot(), l.roots[37]); !errors.Is(err, audit.ErrBadProof) {
			t.Fatalf("non-empty proof from 0: %v", err)
		}
		if err := audit.VerifyConsistency(0, 37, nil, nil, l.roots[37]); !errors.Is(err, audit.ErrBadProof) {
			t.Fatalf("missing empty root: %v", err)
		}
	})

	t.Run("RefusesAFirstSizeLargerThanTheSecond", func(t *testing.T) {
		t.Parallel()
		_, err := audit.ConsistencyProof(ctx, l.nodes, 8, 7)
		if countersign.ErrorCode(err) != countersign.EINVALID {
			t.Fatalf("err = %v", err)
		}
		if err := audit.VerifyConsistency(8, 7, nil, l.roots[8], l.roots[7]); !errors.Is(err, audit.ErrBadProof) {
			t.Fatalf("verify: %v", err)
		}
	})
}

func TestRootAt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := mustBuildLog(t, 40)

	t.Run("MatchesTheHeadAtEverySize", func(t *testing.T) {
		t.Parallel()
		for size := uint64(0); size <= 37; size++ {
			root, err := audit.RootAt(ctx, l.nodes, size)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(root, l.roots[size]) {
				t.Fatalf("size %d: root differs", size)
			}
		}
	})

	t.Run("FailsBeyondTheStoredTree", func(t *testing.T) {
		t.Parallel()
		if _, err := audit.RootAt(ctx, l.nodes, 64); err == nil {
			t.Fatal("expected an error")
		}
	})
}
