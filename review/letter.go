package review

import (
	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
)

// A letter (assistant.KindLetter) is drafted from the case's signed record,
// not from its notes: what the client reads restates only what a person
// has signed and shared with them. The rules of which entries a letter may
// rest on and in which language it is written are here; the store loads
// the entries and the client's language and asks.

// LetterSources returns the entries a letter may be drafted from, oldest
// first as given: entries in force (not corrected since, not a correction
// waiting for its countersignature), shared with the client by their
// signer, and not letters themselves. A withheld entry never reaches a
// letter, so the letter cannot tell the client what was kept from them.
func LetterSources(entries []*Entry) []*Entry {
	var out []*Entry
	for _, e := range entries {
		if e.SupersededBy == "" && !e.Pending && e.Sharing == SharingShared && e.Kind != string(assistant.KindLetter) {
			out = append(out, e)
		}
	}
	return out
}

// EntriesAsNotes gives entries the shape of notes, which is what a draft is
// made from: the entry's id, its signed text and when it was signed. A
// letter's citations then name entries, and its grounding is checked
// against their signed text.
func EntriesAsNotes(entries []*Entry) []*casefile.Note {
	out := make([]*casefile.Note, len(entries))
	for i, e := range entries {
		out[i] = &casefile.Note{ID: e.ID, CaseID: e.CaseID, AuthorID: e.SignedBy, Body: e.Content, WrittenAt: e.SignedAt, CreatedAt: e.SignedAt}
	}
	return out
}

// DecideLetterRequest decides a request for a letter: in.Notes are the
// case's LetterSources as notes (among Request.NoteIDs when it names
// entries). The letter is written in the language the request names, or
// else in the client's preferred language (clientLanguage, the client
// party's), or else in English. Everything else is DecideRequest's.
func DecideLetterRequest(in RequestInput, clientLanguage string) (*Draft, *audit.Record, error) {
	if len(in.Notes) == 0 && len(in.Request.NoteIDs) == 0 {
		if err := casefile.CheckWrite(in.Actor, in.Case); err != nil {
			return nil, nil, err
		}
		return nil, nil, countersign.InvalidFields("The letter could not be requested.", countersign.FieldError{Field: "kind",
			Message: "A letter restates signed entries that the client may read; this case has none yet."})
	}
	if len(in.Request.NoteIDs) > 0 && len(in.Notes) != len(distinct(in.Request.NoteIDs)) {
		return nil, nil, countersign.InvalidFields("The letter could not be requested.", countersign.FieldError{Field: "note_ids",
			Message: "A letter can only rest on signed entries of this case that the client may read, in force."})
	}
	if in.Request.Language == "" {
		in.Request.Language = assistant.LetterLanguage(clientLanguage)
	}
	return DecideRequest(in)
}
