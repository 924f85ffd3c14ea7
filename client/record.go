package client

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/countersign/countersign/review"
)

// This file holds what the client sees of their record: the signed entries
// of their own cases, in force, that the signer shared (review.DecideSharing),
// each with its provenance in plain words; for an entry withheld, only that
// something was written, when, and why it is not shown. Never a draft,
// never a note, never an entry of another person's case, never a
// correction still waiting for its second signature.

// Staff is a member of staff as the client's file names them.
type Staff struct {
	Name string `json:"name"`
	// Role is the staff member's role code ("worker", "supervisor", …).
	Role string `json:"role"`
}

// Provenance is who wrote an entry and how, for the client.
type Provenance struct {
	// AIDrafted: a computer program drafted the text, a person checked
	// and signed it. Edited: that person changed the draft.
	AIDrafted bool      `json:"ai_drafted"`
	Edited    bool      `json:"edited"`
	SignedBy  Staff     `json:"signed_by"`
	SignedAt  time.Time `json:"signed_at"`
	// CountersignedBy is the second signer, when the entry has one.
	CountersignedBy *Staff     `json:"countersigned_by,omitempty"`
	CountersignedAt *time.Time `json:"countersigned_at,omitempty"`
	// Corrects names the earlier version this entry replaced.
	Corrects string `json:"corrects,omitempty"`
	// Words is the provenance in plain words in the client's language.
	Words string `json:"words"`
}

// Withheld says why an entry is not shown.
type Withheld struct {
	// Reason is one of review.WithheldReasons, or "undecided" for an
	// entry signed before sharing was asked.
	Reason string `json:"reason"`
	// Words is the notice in plain words in the client's language.
	Words string `json:"words"`
}

// Entry is one entry of the client's record. A shared entry has Content
// and Provenance; a withheld one has Withheld and no text.
type Entry struct {
	ID       string    `json:"id"`
	CaseID   string    `json:"case_id"`
	Kind     string    `json:"kind"`
	SignedAt time.Time `json:"signed_at"`
	Shared   bool      `json:"shared"`
	Content  string    `json:"content,omitempty"`
	// Correction is the reason given for a correction, shared with it.
	Correction string      `json:"correction,omitempty"`
	Provenance *Provenance `json:"provenance,omitempty"`
	Withheld   *Withheld   `json:"withheld,omitempty"`
	// SupersededBy names the newer version, in the export's full history.
	SupersededBy string `json:"superseded_by,omitempty"`
}

// KindLetter is the kind of a letter to the client (a draft kind of its
// own): letters are listed apart from the other entries.
const KindLetter = "letter"

// Record is what the client reads of their record.
type Record struct {
	Language string `json:"language"`
	// Entries are the entries in force, oldest first, letters aside.
	Entries []Entry `json:"entries"`
	// Letters are the signed letters to the client.
	Letters []Entry `json:"letters"`
}

// Shared reports whether the client may read e: its signer shared it.
// An entry signed before sharing was asked is not shared.
func Shared(e *review.Entry) bool { return e.Sharing == review.SharingShared }

// Visible reports whether e belongs in p's record at all (shown or as a
// withheld notice): an entry of one of p's cases, signed (not a correction
// waiting for a countersignature), and in force unless history is asked
// for (the export lists every version).
func Visible(p Principal, e *review.Entry, history bool) bool {
	if _, ok := p.Party(e.CaseID); !ok {
		return false
	}
	if e.Pending {
		return false
	}
	return history || e.SupersededBy == ""
}

// View turns a signed entry into what the client sees of it, in lang.
// staff names the signers by user id. It does not check Visible.
func View(e *review.Entry, staff map[string]Staff, lang string) Entry {
	v := Entry{ID: e.ID, CaseID: e.CaseID, Kind: e.Kind, SignedAt: e.SignedAt, SupersededBy: e.SupersededBy}
	if !Shared(e) {
		reason := e.WithheldReason
		if e.Sharing == review.SharingUndecided || !review.ValidWithheldReason(reason) {
			reason = "undecided"
		}
		v.Withheld = &Withheld{Reason: reason, Words: Words(lang, "withheld", Date(lang, e.SignedAt), Words(lang, "withheld."+reason)) +
			" " + Words(lang, "withheld.ask")}
		return v
	}
	v.Shared, v.Content, v.Correction = true, e.Content, e.Correction
	pr := &Provenance{AIDrafted: e.AIDrafted, Edited: e.Edited, SignedBy: person(staff, e.SignedBy), SignedAt: e.SignedAt,
		Corrects: e.Supersedes, CountersignedAt: e.CountersignedAt}
	key := "provenance.written"
	switch {
	case e.Supersedes != "":
		key = "provenance.correction"
	case e.AIDrafted && e.Edited:
		key = "provenance.ai.edited"
	case e.AIDrafted:
		key = "provenance.ai"
	}
	words := []string{Words(lang, key, named(lang, pr.SignedBy), Date(lang, e.SignedAt))}
	if e.CountersignedBy != "" && e.CountersignedAt != nil {
		cs := person(staff, e.CountersignedBy)
		pr.CountersignedBy = &cs
		words = append(words, Words(lang, "provenance.countersigned", named(lang, cs), Date(lang, *e.CountersignedAt)))
	}
	if e.SupersededBy != "" {
		words = append(words, Words(lang, "provenance.replaced"))
	}
	pr.Words = strings.Join(words, " ")
	v.Provenance = pr
	return v
}

func person(staff map[string]Staff, id string) Staff {
	if s, ok := staff[id]; ok {
		return s
	}
	return Staff{}
}

// named is a staff member's name, or "someone at the service" when the
// name is unknown (an erased or missing user).
func named(lang string, s Staff) string {
	if s.Name == "" {
		return Words(lang, "someone")
	}
	return s.Name
}

// BuildRecord returns p's record from the signed entries of p's cases as
// the store read them (any order; entries of other cases are left out),
// in p's language. With history, superseded versions are kept (the
// export); otherwise only the entries in force.
func BuildRecord(p Principal, entries []*review.Entry, staff map[string]Staff, history bool) *Record {
	lang := p.Language
	if !ValidLanguage(lang) {
		lang = DefaultLanguage
	}
	rec := &Record{Language: lang, Entries: []Entry{}, Letters: []Entry{}}
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b *review.Entry) int {
		if c := a.SignedAt.Compare(b.SignedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, e := range sorted {
		if !Visible(p, e, history) {
			continue
		}
		v := View(e, staff, lang)
		if e.Kind == KindLetter {
			rec.Letters = append(rec.Letters, v)
		} else {
			rec.Entries = append(rec.Entries, v)
		}
	}
	return rec
}

// FileStore reads the client's own file and writes the log of staff reads.
// The client's methods take the principal from the context
// (PrincipalFrom) and read only the principal's cases.
type FileStore interface {
	// FindClientRecord returns the principal's record: entries in force,
	// or every version with history. Returns EUNAUTHORIZED without a
	// principal.
	FindClientRecord(ctx context.Context, history bool) (*Record, error)
	// FindAccessLog returns the staff reads of the principal's cases,
	// newest first, at most limit of them (those not yet sequenced
	// first, as being recorded), without proofs (see Prove).
	FindAccessLog(ctx context.Context, limit int) (*AccessLog, error)
	// RecordRead writes the audit event of the actor's read of a case's
	// content (ReadEvent) and returns only once it is durable; a read
	// whose event cannot be written must fail. Returns EINVALID for an
	// unknown kind of read.
	RecordRead(ctx context.Context, r Read) error
	// PartyPrincipal returns the principal a client party of a case would
	// be, for a worker's export on the person's behalf, after checking
	// that the actor may read the case. Returns ENOTFOUND when the case
	// has no client party of that id, EFORBIDDEN as FindCaseByID does.
	PartyPrincipal(ctx context.Context, caseID, partyID string) (Principal, error)
}

// Bundle is everything about the client, for a subject access request:
// their record with every version, their letters, their responses and
// the answers, the log of who looked with its proofs.
type Bundle struct {
	GeneratedAt time.Time  `json:"generated_at"`
	Name        string     `json:"name"`
	Language    string     `json:"language"`
	Cases       []PartyRef `json:"cases"`
	Record      *Record    `json:"record"`
	// Responses are the client's answers to entries and the outcomes,
	// when the service holds responses (ResponseLister).
	Responses []*Response `json:"responses"`
	AccessLog *AccessLog  `json:"access_log"`
	// Erased lists what was erased from the client's file, when and
	// under which rule (Erasures), when the store keeps erasures
	// (ErasureLister).
	Erased []Erased `json:"erased"`
}

// ResponseLister lists the principal's responses and their outcomes, for
// the export.
type ResponseLister interface {
	FindMyResponses(ctx context.Context) ([]*Response, error)
}

// Export gathers the bundle of the principal of ctx. responses may be nil
// (the export then lists none); proofs may be nil (no proofs).
func Export(ctx context.Context, files FileStore, responses ResponseLister, proofs Prover, now time.Time) (*Bundle, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	rec, err := files.FindClientRecord(ctx, true)
	if err != nil {
		return nil, err
	}
	b := &Bundle{GeneratedAt: now.UTC(), Name: p.Name, Language: rec.Language, Cases: nonNil(p.Parties), Record: rec, Responses: []*Response{}}
	if responses != nil {
		rs, err := responses.FindMyResponses(ctx)
		if err != nil {
			return nil, err
		}
		b.Responses = nonNil(rs)
	}
	b.Erased = []Erased{}
	if l, ok := files.(ErasureLister); ok {
		if b.Erased, err = Erasures(ctx, l, p, rec.Language); err != nil {
			return nil, err
		}
	}
	if b.AccessLog, err = ProvedAccessLog(ctx, files, proofs, MaxAccessLog); err != nil {
		return nil, err
	}
	return b, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
