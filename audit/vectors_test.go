package audit_test

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/countersign/countersign/audit"
)

// TestAUDITmdVectors pins the worked example in AUDIT.md, which an ethics
// board can use to test its own verifier; the values were also reproduced
// independently with Python's hashlib.
func TestAUDITmdVectors(t *testing.T) {
	t.Parallel()
	h := audit.NewHead()
	for _, tc := range []struct {
		e                   *audit.Event
		canonical, leaf, ch string
	}{
		{
			e:         &audit.Event{At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ActorID: "usr_1", Role: "worker", Action: "note.added", SubjectType: "note", SubjectID: "note_1", CaseID: "case_1", Payload: audit.Payload{"sha256": "ab12"}},
			canonical: "countersign-audit/v1\nseq=0\nat=2026-01-02T03:04:05.000000000Z\nactor=usr_1\nrole=worker\naction=note.added\nsubject_type=note\nsubject_id=note_1\ncase=case_1\npayload.sha256=ab12\n",
			leaf:      "67a7900ce436d774ab7c9c76be05138c3fea687b99aa28ce8e470e62cf7429ac",
			ch:        "8c612732050b5203c396ceecf893c4c287e72cc8dceaaf76d5e186396a7ca3e8",
		},
		{
			e:         &audit.Event{At: time.Date(2026, 1, 2, 3, 4, 6, 120000000, time.UTC), ActorID: "usr_2", Role: "supervisor", Action: "draft.approved", SubjectType: "draft", SubjectID: "drf_1", Payload: audit.Payload{"z": "1", "a": "x\ny%é"}},
			canonical: "countersign-audit/v1\nseq=1\nat=2026-01-02T03:04:06.120000000Z\nactor=usr_2\nrole=supervisor\naction=draft.approved\nsubject_type=draft\nsubject_id=drf_1\ncase=\npayload.a=x%0Ay%25%C3%A9\npayload.z=1\n",
			leaf:      "159a8d5e071f69b25963f9f2dcc287f8e32b6a84c248a0e75f1d8e8f04e49ca4",
			ch:        "37260c67299d6254c950de4977456e375a353f9de946985c6596aaebe05f08e4",
		},
	} {
		if _, err := h.Append(tc.e); err != nil {
			t.Fatal(err)
		}
		if got := string(tc.e.Canonical()); got != tc.canonical {
			t.Fatalf("canonical %q", got)
		}
		if hex.EncodeToString(tc.e.LeafHash) != tc.leaf || hex.EncodeToString(tc.e.ChainHash) != tc.ch {
			t.Fatalf("event %d: leaf %x chain %x", tc.e.Seq, tc.e.LeafHash, tc.e.ChainHash)
		}
	}
	root, err := h.Root()
	if err != nil || hex.EncodeToString(root) != "8c16348f860e48635e0fd1bd62778d20ec80f6129fc1b5cee373052c32fee6af" {
		t.Fatalf("root %x %v", root, err)
	}
}
