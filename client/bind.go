package client

import "github.com/countersign/countersign/audit"

// ResponseEvents are the actions CheckResponse reads.
var ResponseEvents = []string{audit.ActionClientResponded, audit.ActionClientResponseAnswered}

// CheckResponse holds a stored client response against its events (the
// case-data check, AUDIT.md): it was written by its client on its case and
// entry, with the text committed to; once answered, the answer's outcome,
// the correction it names and its reason are the ones logged. A response
// never answered has no answer event; an answered one must have one.
func CheckResponse(r *Response, ws []audit.Witness) []audit.Mismatch {
	w := audit.First(ws, audit.ActionClientResponded)
	switch {
	case r == nil && w == nil:
		if a := audit.First(ws, audit.ActionClientResponseAnswered); a != nil {
			return []audit.Mismatch{audit.RowGone(*a, "client response")}
		}
		return nil
	case r == nil:
		return []audit.Mismatch{audit.RowGone(*w, "client response")}
	case w == nil:
		return []audit.Mismatch{audit.NoEvent("client response")}
	}
	ms := audit.CheckValue(*w, "case", r.CaseID)
	ms = append(ms, audit.CheckValue(*w, "actor", "client:"+r.AccountID)...)
	ms = append(ms, audit.CheckValue(*w, "entry", r.EntryID)...)
	ms = append(ms, audit.CheckValue(*w, "party", r.PartyID)...)
	ms = append(ms, audit.CheckValue(*w, "response_kind", string(r.Kind))...)
	ms = append(ms, audit.CheckText(*w, "text", r.Salt, r.Text, true)...)
	a := audit.Last(ws, audit.ActionClientResponseAnswered)
	switch {
	case a == nil && r.Status == ResponseAnswered:
		return append(ms, audit.NoEvent("answer to the client response"))
	case a == nil:
		return ms
	case r.Status != ResponseAnswered:
		return append(ms, a.Problem("the log records an answer but the response is %s", r.Status))
	}
	ms = append(ms, audit.CheckValue(*a, "actor", r.AnsweredBy)...)
	ms = append(ms, audit.CheckValue(*a, "answer", string(r.Outcome))...)
	ms = append(ms, audit.CheckValue(*a, "correction", r.CorrectionID)...)
	return append(ms, audit.CheckText(*a, "reason", r.Salt, r.Reason, r.Reason != "")...)
}
