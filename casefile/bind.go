package casefile

import (
	"strconv"
	"strings"

	"github.com/countersign/countersign/audit"
)

// The rules of the case data check for the case file (see audit.Witness):
// each holds a stored row against the events the log holds about it, in
// log order; a nil row means the log names a row that is gone.

// PartyDetails is the text the log commits to for a party: one line per
// detail, "name=value" with the value escaped as in the log's canonical
// encoding (AUDIT.md, section 2), each ended by LF.
func PartyDetails(p *Party) string {
	var b strings.Builder
	for _, f := range [...]struct{ name, value string }{
		{"full_name", p.FullName}, {"date_of_birth", p.DateOfBirth}, {"address", p.Address},
		{"phone", p.Phone}, {"email", p.Email}, {"national_id", p.NationalID},
	} {
		b.WriteString(f.name)
		b.WriteByte('=')
		b.WriteString(audit.Escape(f.value))
		b.WriteByte('\n')
	}
	return b.String()
}

// NoteEvents are the actions CheckNote reads.
var NoteEvents = []string{audit.ActionNoteAdded}

// CheckNote holds a note against its note.added event: same case, author
// and amended note, and the body (with its salt) the event committed to.
func CheckNote(n *Note, ws []audit.Witness) []audit.Mismatch {
	w := audit.First(ws, audit.ActionNoteAdded)
	switch {
	case n == nil && w == nil:
		return nil
	case n == nil:
		return []audit.Mismatch{audit.RowGone(*w, "note")}
	case w == nil:
		return []audit.Mismatch{audit.NoEvent("note")}
	}
	ms := audit.CheckValue(*w, "case", n.CaseID)
	ms = append(ms, audit.CheckValue(*w, "actor", n.AuthorID)...)
	ms = append(ms, audit.CheckValue(*w, "amends", n.Amends)...)
	return append(ms, audit.CheckText(*w, "body", n.Salt, n.Body, true)...)
}

// PartyEvents are the actions CheckParty reads.
var PartyEvents = []string{audit.ActionPartyAdded}

// CheckParty holds a party against its party.added event: same case and
// role and, for parties added since keyed commitments, the same details.
func CheckParty(p *Party, ws []audit.Witness) []audit.Mismatch {
	w := audit.First(ws, audit.ActionPartyAdded)
	switch {
	case p == nil && w == nil:
		return nil
	case p == nil:
		return []audit.Mismatch{audit.RowGone(*w, "party")}
	case w == nil:
		return []audit.Mismatch{audit.NoEvent("party")}
	}
	ms := audit.CheckValue(*w, "case", p.CaseID)
	ms = append(ms, audit.CheckValue(*w, "role", p.Role)...)
	return append(ms, audit.CheckText(*w, "details", p.Salt, PartyDetails(p), false)...)
}

// ConsentEvents are the actions CheckConsent reads.
var ConsentEvents = []string{audit.ActionConsentRecorded, audit.ActionConsentWithdrawn}

// CheckConsent holds a consent answer against its event: the action says
// yes or no as the row does, the same case, number and recorder, and the
// note the event committed to (none when the event commits to none).
func CheckConsent(c *Consent, ws []audit.Witness) []audit.Mismatch {
	w := audit.First(ws, ConsentEvents...)
	switch {
	case c == nil && w == nil:
		return nil
	case c == nil:
		return []audit.Mismatch{audit.RowGone(*w, "consent answer")}
	case w == nil:
		return []audit.Mismatch{audit.NoEvent("consent answer")}
	}
	ms := audit.CheckValue(*w, "case", c.CaseID)
	ms = append(ms, audit.CheckValue(*w, "actor", c.RecordedBy)...)
	ms = append(ms, audit.CheckValue(*w, "given", strconv.FormatBool(c.Given))...)
	ms = append(ms, audit.CheckValue(*w, "seq", strconv.Itoa(c.Seq))...)
	if (w.Action == audit.ActionConsentRecorded) != c.Given {
		ms = append(ms, w.Problem("the answer is %t but the log records %s", c.Given, w.Action))
	}
	ms = append(ms, audit.CheckText(*w, "note", c.Salt, c.Note, false)...)
	if w.Payload.Open("note", c.Salt, c.Note) == audit.NotCommitted && c.Note != "" {
		ms = append(ms, w.Problem("it has a note but the log records none"))
	}
	return ms
}
