package audit_test

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/countersign/countersign/audit"
	"github.com/transparency-dev/merkle/proof"
)

func TestHeadAppend(t *testing.T) {
	t.Parallel()

	t.Run("KnownAnswerVectors", func(t *testing.T) {
		t.Parallel()
		if got := hex.EncodeToString(audit.Hasher.EmptyRoot()); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
			t.Fatalf("empty root = %s", got)
		}
		if got := hex.EncodeToString(audit.Hasher.HashLeaf([]byte("L123456"))); got != "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56" {
			t.Fatalf("HashLeaf(L123456) = %s", got)
		}
	})

	t.Run("RootMatchesProofsAndRestoredRange", func(t *testing.T) {
		t.Parallel()
		h := audit.NewHead()
		var leaves [][]byte
		nodes := map[[2]uint64][]byte{}
		at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
		for i := 0; i < 37; i++ {
			e := &audit.Event{At: at, ActorID: "usr_1", Role: "worker", Action: audit.ActionNoteAdded, SubjectType: "note", SubjectID: "note_x", Payload: audit.Payload{"n": "1"}}
			ns, err := h.Append(e)
			if err != nil {
				t.Fatal(err)
			}
			if e.Seq != uint64(i) {
				t.Fatalf("seq = %d, want %d", e.Seq, i)
			}
			for _, n := range ns {
				nodes[[2]uint64{uint64(n.Level), n.Index}] = n.Hash
			}
			leaves = append(leaves, e.LeafHash)
			// A head restored from its packed range must continue identically.
			var h2 audit.Head
			if err := h2.UnmarshalRange(h.MarshalRange()); err != nil {
				t.Fatal(err)
			}
			h2.Size, h2.Chain = h.Size, h.Chain
			r1, _ := h.Root()
			r2, err := h2.Root()
			if err != nil || string(r1) != string(r2) {
				t.Fatalf("restored root differs: %v", err)
			}
		}
		root, err := h.Root()
		if err != nil {
			t.Fatal(err)
		}
		for i := range leaves {
			p, err := proof.Inclusion(uint64(i), h.Size)
			if err != nil {
				t.Fatal(err)
			}
			hashes := make([][]byte, len(p.IDs))
			for j, id := range p.IDs {
				hashes[j] = nodes[[2]uint64{uint64(id.Level), id.Index}]
				if hashes[j] == nil {
					t.Fatalf("node %v missing", id)
				}
			}
			path, err := p.Rehash(hashes, audit.Hasher.HashChildren)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyInclusion(audit.Hasher, uint64(i), h.Size, leaves[i], path, root); err != nil {
				t.Fatalf("leaf %d: %v", i, err)
			}
		}
	})

	t.Run("CanonicalEscapesAndSortsPayload", func(t *testing.T) {
		t.Parallel()
		e := &audit.Event{Seq: 7, At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ActorID: "usr_1", Role: "worker", Action: "draft.approved", SubjectType: "draft", SubjectID: "drf_1", Payload: audit.Payload{"z": "1", "a": "x\ny%é"}}
		want := "countersign-audit/v1\nseq=7\nat=2026-01-02T03:04:05.000000000Z\nactor=usr_1\nrole=worker\naction=draft.approved\nsubject_type=draft\nsubject_id=drf_1\ncase=\npayload.a=x%0Ay%25%C3%A9\npayload.z=1\n"
		if got := string(e.Canonical()); got != want {
			t.Fatalf("canonical:\n%q\nwant\n%q", got, want)
		}
	})

	t.Run("RejectsEventWithoutActor", func(t *testing.T) {
		t.Parallel()
		if _, err := audit.NewHead().Append(&audit.Event{Action: "x", SubjectType: "y", At: time.Now()}); err == nil {
			t.Fatal("expected an error")
		}
	})
}
