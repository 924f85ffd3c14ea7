package audit_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync"
	"testing"

	"github.com/countersign/countersign/audit"
	"github.com/transparency-dev/merkle/compact"
)

const benchLeaves = 1_000_000

var (
	offlineOnce sync.Once
	offlineData []byte
	offlineLog  *testLog // holds the key only
)

// mustOfflineExport generates, once, an export of a million events signed
// by a checkpoint over all of them (about 330 MB, held in memory so the
// benchmark measures verification, not disk reads).
func mustOfflineExport(b *testing.B) ([]byte, *testLog) {
	b.Helper()
	offlineOnce.Do(func() {
		l := mustBuildLog(b, 0)
		var events bytes.Buffer
		w := audit.NewWriter(&events)
		if err := w.WriteHeader(audit.Header{}); err != nil { // replaced below
			b.Fatal(err)
		}
		h := audit.NewHead()
		for i := 0; i < benchLeaves; i++ {
			e := testEvent(i)
			if _, err := h.Append(e); err != nil {
				b.Fatal(err)
			}
			if err := w.WriteEvent(e); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		cp, err := audit.SignCheckpoint(l.signer, testOrigin, h)
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		hw := audit.NewWriter(&out)
		if err := hw.WriteHeader(audit.Header{Origin: testOrigin, Size: h.Size, Checkpoint: string(cp.Note)}); err != nil {
			b.Fatal(err)
		}
		if err := hw.Flush(); err != nil {
			b.Fatal(err)
		}
		body := events.Bytes()
		out.Write(body[bytes.IndexByte(body, '\n')+1:])
		offlineData, offlineLog = out.Bytes(), l
	})
	if offlineData == nil {
		b.Fatal("export generation failed")
	}
	return offlineData, offlineLog
}

// BenchmarkVerifyOffline measures `countersign audit verify --file`: read a
// million-event export, recompute every leaf, the chain and the root, and
// check the checkpoint. One op is the whole export.
func BenchmarkVerifyOffline(b *testing.B) {
	data, l := mustOfflineExport(b)
	v := &audit.Verifier{Origin: testOrigin, Keys: l.keys}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var events uint64
	for b.Loop() {
		rep, err := v.VerifyExport(context.Background(), bytes.NewReader(data))
		if err != nil || !rep.OK {
			b.Fatalf("%+v %v", rep, err)
		}
		events += rep.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

var (
	treeOnce  sync.Once
	treeNodes *memNodes
	treeRoot  []byte
)

// mustTree builds, once, the stored nodes of a tree of a million leaves.
func mustTree(b *testing.B) (*memNodes, []byte) {
	b.Helper()
	treeOnce.Do(func() {
		nodes := &memNodes{}
		rf := &compact.RangeFactory{Hash: audit.Hasher.HashChildren}
		r := rf.NewEmptyRange(0)
		var buf [8]byte
		for i := uint64(0); i < benchLeaves; i++ {
			binary.BigEndian.PutUint64(buf[:], i)
			leaf := audit.Hasher.HashLeaf(buf[:])
			if err := r.Append(leaf, func(id compact.NodeID, h []byte) { nodes.add(id.Level, id.Index, h) }); err != nil {
				b.Fatal(err)
			}
		}
		root, err := r.GetRootHash(nil)
		if err != nil {
			b.Fatal(err)
		}
		treeNodes, treeRoot = nodes, root
	})
	return treeNodes, treeRoot
}

// BenchmarkInclusionProof measures building one inclusion proof in a tree
// of a million leaves from an in-memory NodeReader: the cost of
// GET /v1/audit/proof/inclusion without the database round trip.
func BenchmarkInclusionProof(b *testing.B) {
	nodes, root := mustTree(b)
	ctx := context.Background()
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		index := (i * 7919) % benchLeaves
		i++
		if _, err := audit.InclusionProof(ctx, nodes, index, benchLeaves); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// Check that the proofs benchmarked are real ones.
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], 12345)
	p, err := audit.InclusionProof(ctx, nodes, 12345, benchLeaves)
	if err != nil {
		b.Fatal(err)
	}
	if err := audit.VerifyInclusion(12345, benchLeaves, audit.Hasher.HashLeaf(buf[:]), p, root); err != nil {
		b.Fatal(err)
	}
}
