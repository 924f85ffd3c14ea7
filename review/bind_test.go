package review_test

import (
	"strings"
	"testing"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
)

func w(seq uint64, actor, action, subject string, p audit.Payload) audit.Witness {
	return audit.Witness{Event: &audit.Event{Seq: seq, ActorID: actor, Action: action, SubjectID: subject, CaseID: "case_1", Payload: p}}
}

func has(t *testing.T, name string, ms []audit.Mismatch, want ...string) {
	t.Helper()
	if len(ms) != len(want) {
		t.Errorf("%s: %d problems %+v, want %q", name, len(ms), ms, want)
		return
	}
	for i := range want {
		if !strings.Contains(ms[i].Problem, want[i]) {
			t.Errorf("%s: %q, want %q", name, ms[i].Problem, want[i])
		}
	}
}

func TestCheckDecision(t *testing.T) {
	t.Parallel()
	salt := audit.NewSalt()
	dec := &review.Decision{ID: "dec_1", DraftID: "drf_1", Outcome: review.OutcomeApproved, DecidedBy: "usr_w", FinalText: "Rent paid.", Salt: salt}
	p := audit.Payload{"decision": "dec_1"}
	p.Commit("final", salt, "Rent paid.")
	approved := w(5, "usr_w", audit.ActionDraftApproved, "drf_1", p)
	// A supervisor's refusal to countersign names the first decision but is none.
	refusal := w(6, "usr_s", audit.ActionDraftRejected, "drf_1", audit.Payload{"stage": "countersign", "decision": "dec_1", "reason": "other"})
	has(t, "as decided", review.CheckDecision(dec, []audit.Witness{approved, refusal}))
	changed := *dec
	changed.FinalText = "Nothing to report."
	has(t, "final text changed", review.CheckDecision(&changed, []audit.Witness{approved}), "does not match the stored final text")
	has(t, "only a refusal to countersign", review.CheckDecision(dec, []audit.Witness{refusal}), "no event")
	ms := review.CheckDecision(nil, []audit.Witness{approved, refusal})
	has(t, "row gone", ms, "the row is gone")
	if len(ms) == 1 && ms[0].ID != "dec_1" {
		t.Errorf("a missing decision is named %q, want dec_1", ms[0].ID)
	}
	rejected := &review.Decision{ID: "dec_2", DraftID: "drf_2", Outcome: review.OutcomeRejected, DecidedBy: "usr_w", Reason: "inaccurate"}
	rw := w(7, "usr_w", audit.ActionDraftRejected, "drf_2", audit.Payload{"decision": "dec_2", "reason": "inaccurate"})
	has(t, "rejection", review.CheckDecision(rejected, []audit.Witness{rw}))
	turned := *rejected
	turned.Outcome, turned.Reason = review.OutcomeApproved, ""
	has(t, "rejection turned into approval", review.CheckDecision(&turned, []audit.Witness{rw}), "its outcome is approved", "its reason is")
}

func TestCheckEntryAndCorrection(t *testing.T) {
	t.Parallel()
	salt := audit.NewSalt()
	e := &review.Entry{ID: "ent_2", CaseID: "case_1", Content: "Corrected.", Supersedes: "ent_1", Correction: "Wrong date.", SignedBy: "usr_w", Salt: salt}
	p := audit.Payload{"supersedes": "ent_1"}
	p.Commit("content", salt, e.Content)
	p.Commit("reason", salt, e.Correction)
	pending := w(8, "usr_w", audit.ActionRecordCorrectionPending, "ent_2", p)
	corrected := w(9, "usr_s", audit.ActionRecordCorrected, "ent_2", p)
	refused := w(9, "usr_s", audit.ActionRecordCorrectionRefused, "ent_2", audit.Payload{"refusal_commitment": audit.Commit(salt, "No.")})

	has(t, "entry", review.CheckEntry(e, []audit.Witness{corrected}))
	other := *e
	other.Correction = "Another reason."
	has(t, "entry's reason changed", review.CheckEntry(&other, []audit.Witness{corrected}), "does not match the stored reason")
	has(t, "entry gone", review.CheckEntry(nil, []audit.Witness{corrected}), "the row is gone")

	c := func(status, refusal string) *review.StoredCorrection {
		return &review.StoredCorrection{Entry: e, Status: status, RefusalReason: refusal}
	}
	has(t, "pending", review.CheckCorrection(c("pending", ""), []audit.Witness{pending}))
	has(t, "countersigned", review.CheckCorrection(c("countersigned", ""), []audit.Witness{pending, corrected}))
	has(t, "refused", review.CheckCorrection(c("refused", "No."), []audit.Witness{pending, refused}))
	has(t, "refusal reason changed", review.CheckCorrection(c("refused", "Yes."), []audit.Witness{pending, refused}), "does not match the stored refusal reason")
	has(t, "refused turned pending", review.CheckCorrection(c("pending", ""), []audit.Witness{pending, refused}), "still pending")
	has(t, "pending turned countersigned", review.CheckCorrection(c("countersigned", ""), []audit.Witness{pending}), "no countersignature")
	// A correction signed at once has no row here; CheckEntry holds it.
	has(t, "direct correction", review.CheckCorrection(nil, []audit.Witness{corrected}))
	has(t, "correction gone", review.CheckCorrection(nil, []audit.Witness{pending}), "the row is gone")
}

func TestCheckDraft(t *testing.T) {
	t.Parallel()
	salt, content := audit.NewSalt(), `{"language":"en","statements":[]}`
	req := w(1, "usr_w", audit.ActionDraftRequested, "drf_1", audit.Payload{"kind": "summary"})
	gp := audit.Payload{"model": "extractive"}
	gp.Commit("content", salt, content)
	gen := w(3, "system", audit.ActionDraftGenerated, "drf_1", gp)
	d := &review.StoredDraft{ID: "drf_1", CaseID: "case_1", RequestedBy: "usr_w", Content: &content, ContentSalt: salt}
	has(t, "as generated", review.CheckDraft(d, []audit.Witness{req, gen}))
	changed := strings.Replace(content, "en", "fr", 1)
	has(t, "content changed", review.CheckDraft(&review.StoredDraft{ID: "drf_1", CaseID: "case_1", RequestedBy: "usr_w", Content: &changed, ContentSalt: salt},
		[]audit.Witness{req, gen}), "does not match the stored content")
	has(t, "content without generation", review.CheckDraft(d, []audit.Witness{req}), "no generation")
	has(t, "content removed", review.CheckDraft(&review.StoredDraft{ID: "drf_1", CaseID: "case_1", RequestedBy: "usr_w"},
		[]audit.Witness{req, gen}), "the row has none")
	// Generated before keyed commitments: the content cannot be checked.
	has(t, "old generation", review.CheckDraft(d, []audit.Witness{req, w(3, "system", audit.ActionDraftGenerated, "drf_1", audit.Payload{})}))
	has(t, "draft gone", review.CheckDraft(nil, []audit.Witness{req, gen}), "the row is gone")
}
