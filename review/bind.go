package review

import (
	"github.com/countersign/countersign/audit"
)

// The rules of the case data check for drafts, decisions and the signed
// record (see audit.Witness): each holds a stored row against the events
// the log holds about it, in log order; a nil row means the log names a
// row that is gone.

// StoredDraft is what the check reads of a draft: the content exactly as
// stored (nil before generation) and the salt of its commitment.
type StoredDraft struct {
	ID, CaseID, RequestedBy string
	Content                 *string
	ContentSalt             string
}

// DraftEvents are the actions CheckDraft reads.
var DraftEvents = []string{audit.ActionDraftRequested, audit.ActionDraftGenerated}

// CheckDraft holds a draft against its draft.requested event (same case
// and requester) and its content against the latest draft.generated event.
// Drafts generated before keyed commitments have no commitment to their
// content, and their content is not checked.
func CheckDraft(d *StoredDraft, ws []audit.Witness) []audit.Mismatch {
	req := audit.First(ws, audit.ActionDraftRequested)
	switch {
	case d == nil && req == nil:
		return nil
	case d == nil:
		return []audit.Mismatch{audit.RowGone(*req, "draft")}
	case req == nil:
		return []audit.Mismatch{audit.NoEvent("draft")}
	}
	ms := audit.CheckValue(*req, "case", d.CaseID)
	ms = append(ms, audit.CheckValue(*req, "actor", d.RequestedBy)...)
	gen := audit.Last(ws, audit.ActionDraftGenerated)
	switch {
	case gen == nil && d.Content != nil:
		ms = append(ms, req.Problem("it has content but the log records no generation"))
	case gen != nil && d.Content == nil:
		if gen.Payload.Open("content", "", "") != audit.NotCommitted {
			ms = append(ms, gen.Problem("the log records generated content but the row has none"))
		}
	case gen != nil:
		ms = append(ms, audit.CheckText(*gen, "content", d.ContentSalt, *d.Content, false)...)
	}
	return ms
}

// DecisionEvents are the actions CheckDecision reads; the check is keyed
// by the decision's draft.
var DecisionEvents = []string{audit.ActionDraftApproved, audit.ActionDraftRejected}

// CheckDecision holds a reviewer's decision (nil: none stored for the
// draft) against the draft's draft.approved or draft.rejected event: the
// same decision id, outcome and reviewer, the final text the approval
// committed to, and the reason of a rejection. A supervisor's refusal to
// countersign is a draft.rejected event too, at stage countersign; it is
// not a decision.
func CheckDecision(dec *Decision, ws []audit.Witness) []audit.Mismatch {
	var w *audit.Witness
	for i := range ws {
		if ws[i].Action == audit.ActionDraftApproved || ws[i].Action == audit.ActionDraftRejected && ws[i].Payload["stage"] != "countersign" {
			w = &ws[i]
			break
		}
	}
	switch {
	case dec == nil && w == nil:
		return nil
	case dec == nil:
		m := audit.RowGone(*w, "decision")
		m.ID = w.Payload["decision"]
		return []audit.Mismatch{m}
	case w == nil:
		return []audit.Mismatch{{ID: dec.ID, Problem: audit.NoEvent("decision").Problem}}
	}
	ms := audit.CheckValue(*w, "actor", dec.DecidedBy)
	if _, ok := w.Payload["decision"]; ok { // events of old releases name no decision
		ms = append(ms, audit.CheckValue(*w, "decision", dec.ID)...)
	}
	if (w.Action == audit.ActionDraftApproved) != (dec.Outcome == OutcomeApproved) {
		ms = append(ms, w.Problem("its outcome is %s but the log records %s", dec.Outcome, w.Action))
	}
	if w.Action == audit.ActionDraftApproved {
		ms = append(ms, audit.CheckText(*w, "final", dec.Salt, dec.FinalText, true)...)
	} else {
		ms = append(ms, audit.CheckValue(*w, "reason", dec.Reason)...)
	}
	for i := range ms {
		ms[i].ID = dec.ID
	}
	return ms
}

// EntryEvents are the actions CheckEntry reads.
var EntryEvents = []string{audit.ActionRecordSigned, audit.ActionRecordCorrected}

// CheckEntry holds a signed record entry against the event that signed it
// (record.signed, or record.corrected for a correction): the same case,
// draft or corrected entry, the content and correction reason the event
// committed to, and whether the client may read it (sharing and reason).
func CheckEntry(e *Entry, ws []audit.Witness) []audit.Mismatch {
	w := audit.First(ws, EntryEvents...)
	switch {
	case e == nil && w == nil:
		return nil
	case e == nil:
		return []audit.Mismatch{audit.RowGone(*w, "record entry")}
	case w == nil:
		return []audit.Mismatch{audit.NoEvent("record entry")}
	}
	ms := audit.CheckValue(*w, "case", e.CaseID)
	ms = append(ms, audit.CheckText(*w, "content", e.Salt, e.Content, true)...)
	ms = append(ms, audit.CheckValue(*w, "sharing", e.Sharing)...)
	ms = append(ms, audit.CheckValue(*w, "withheld_reason", e.WithheldReason)...)
	if w.Action == audit.ActionRecordSigned {
		ms = append(ms, audit.CheckValue(*w, "draft", e.DraftID)...)
		if e.Supersedes != "" {
			ms = append(ms, w.Problem("it corrects %s but the log records a first signature", e.Supersedes))
		}
		return ms
	}
	ms = append(ms, audit.CheckValue(*w, "supersedes", e.Supersedes)...)
	return append(ms, audit.CheckText(*w, "reason", e.Salt, e.Correction, true)...)
}

// StoredCorrection is what the check reads of a correction that waited for
// a countersignature: the correction as an entry, its status (pending,
// countersigned or refused) and the supervisor's refusal reason.
type StoredCorrection struct {
	Entry         *Entry
	Status        string
	RefusalReason string
}

// CorrectionEvents are the actions CheckCorrection reads.
var CorrectionEvents = []string{audit.ActionRecordCorrectionPending, audit.ActionRecordCorrected, audit.ActionRecordCorrectionRefused}

// CheckCorrection holds a correction that waited for a countersignature
// against its record.correction_pending event (same case, corrected entry,
// content and reason) and its status against the supervisor's verdict in
// the log: none while pending, record.corrected when countersigned,
// record.correction_refused (with the refusal reason committed) when
// refused. A record.corrected event alone is a correction signed at once,
// which CheckEntry holds against its entry.
func CheckCorrection(c *StoredCorrection, ws []audit.Witness) []audit.Mismatch {
	w := audit.First(ws, audit.ActionRecordCorrectionPending)
	switch {
	case c == nil && w == nil:
		return nil
	case c == nil:
		return []audit.Mismatch{audit.RowGone(*w, "correction")}
	case w == nil:
		return []audit.Mismatch{audit.NoEvent("correction")}
	}
	e := c.Entry
	ms := audit.CheckValue(*w, "case", e.CaseID)
	ms = append(ms, audit.CheckValue(*w, "supersedes", e.Supersedes)...)
	ms = append(ms, audit.CheckValue(*w, "actor", e.SignedBy)...)
	ms = append(ms, audit.CheckText(*w, "content", e.Salt, e.Content, true)...)
	ms = append(ms, audit.CheckText(*w, "reason", e.Salt, e.Correction, true)...)
	verdict := audit.Last(ws, audit.ActionRecordCorrected, audit.ActionRecordCorrectionRefused)
	switch {
	case c.Status == "pending" && verdict != nil:
		ms = append(ms, verdict.Problem("it is still pending but the log records %s", verdict.Action))
	case c.Status == "countersigned" && (verdict == nil || verdict.Action != audit.ActionRecordCorrected):
		ms = append(ms, w.Problem("it is countersigned but the log records no countersignature"))
	case c.Status == "refused" && (verdict == nil || verdict.Action != audit.ActionRecordCorrectionRefused):
		ms = append(ms, w.Problem("it is refused but the log records no refusal"))
	case c.Status == "refused":
		ms = append(ms, audit.CheckText(*verdict, "refusal", e.Salt, c.RefusalReason, false)...)
	}
	return ms
}
