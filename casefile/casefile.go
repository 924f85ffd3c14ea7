// Package casefile holds the case file: cases, the parties named in them
// (whose personal details are pseudonymised before any text leaves the
// service), case notes, and the client's consent to AI-assisted drafting.
package casefile

import (
	"context"
	"time"

	"github.com/countersign/countersign"
)

// Case is a social-services case, assigned to one worker of one team.
type Case struct {
	ID        string    `json:"id"`
	Reference string    `json:"reference"`
	Title     string    `json:"title"`
	CaseType  string    `json:"case_type"`
	TeamID    string    `json:"team_id"`
	WorkerID  string    `json:"worker_id"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// Status is open, closed or erased (StatusOpen…; retention.go);
	// ClosedAt and CloseReason are set while the case is closed, ErasedAt
	// once it is erased (its title is then empty).
	Status      string     `json:"status"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
	CloseReason string     `json:"close_reason,omitempty"`
	ErasedAt    *time.Time `json:"erased_at,omitempty"`
}

// Party is a person named in a case: the client or someone else.
type Party struct {
	ID          string `json:"id"`
	CaseID      string `json:"case_id"`
	Role        string `json:"role"`
	FullName    string `json:"full_name"`
	DateOfBirth string `json:"date_of_birth,omitempty"`
	Address     string `json:"address,omitempty"`
	Phone       string `json:"phone,omitempty"`
	Email       string `json:"email,omitempty"`
	NationalID  string `json:"national_id,omitempty"`
	// Language is the language of the person's letters and of their own
	// pages (one of PartyLanguages); DefaultPartyLanguage when not given.
	Language  string    `json:"language"`
	CreatedAt time.Time `json:"created_at"`
	// Salt keys the log's commitment to the party's details
	// (audit.Commit); it is erased with them.
	Salt string `json:"-"`
	// ErasedAt is set once the party's details were erased (retention.go).
	ErasedAt *time.Time `json:"erased_at,omitempty"`
}

// Note is a case note. Notes are never changed: a correction is a new note
// whose Amends names the note it corrects.
type Note struct {
	ID        string    `json:"id"`
	CaseID    string    `json:"case_id"`
	AuthorID  string    `json:"author_id"`
	Body      string    `json:"body"`
	WrittenAt time.Time `json:"written_at"`
	Amends    string    `json:"amends,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Salt keys the log's commitment to the body (audit.Commit); it is
	// erased with the body.
	Salt string `json:"-"`
}

// Consent is one recorded answer of the client about AI-assisted drafting:
// given, or refused or withdrawn. Consent rows are never changed; a
// withdrawal is a new row, so the history shows who recorded what and when.
// Seq numbers the rows of a case from 1. Note is free text for the case
// file (how the client was asked); it never enters the audit log.
type Consent struct {
	ID         string    `json:"id"`
	CaseID     string    `json:"case_id"`
	Seq        int       `json:"seq"`
	Given      bool      `json:"given"`
	Note       string    `json:"note,omitempty"`
	RecordedBy string    `json:"recorded_by"`
	RecordedAt time.Time `json:"recorded_at"`
	// Salt keys the log's commitment to the note (audit.Commit).
	Salt string `json:"-"`
}

// ConsentState is where a case stands on AI-assisted drafting: the policy,
// the client's current answer (nil if never asked) and the history, oldest
// first.
type ConsentState struct {
	CaseID string `json:"case_id"`
	// Required says whether the authority's policy asks for the client's
	// consent before any draft is requested.
	Required bool `json:"required"`
	// Given says whether the client's latest answer is yes.
	Given bool `json:"given"`
	// DraftingAllowed applies the policy to the current answer.
	DraftingAllowed bool       `json:"drafting_allowed"`
	Current         *Consent   `json:"current"`
	History         []*Consent `json:"history"`
}

// DraftingAllowed applies the consent policy to the latest answer (nil when
// the client was never asked). Where consent is required, only a current
// yes allows drafting; where it is not, drafting is allowed unless the
// client refused or withdrew, because an explicit objection is always
// honoured.
func DraftingAllowed(required bool, current *Consent) bool {
	if current == nil {
		return !required
	}
	return current.Given
}

// CheckDrafting returns nil when the client's consent state allows a draft
// (DraftingAllowed), or the ECONFLICT that says why not.
func CheckDrafting(required bool, current *Consent) error {
	switch {
	case DraftingAllowed(required, current):
		return nil
	case current != nil:
		return countersign.Errorf(countersign.ECONFLICT, "%s", ConsentObjection)
	}
	return countersign.Errorf(countersign.ECONFLICT, "%s", ConsentRefusal)
}

// MaxConsentNote bounds the note recorded with a consent answer, in characters.
const MaxConsentNote = 2000

// ConsentRefusal is the reason a draft request is refused for want of consent.
const ConsentRefusal = "The client has not agreed to AI-assisted drafting; record their consent first."

// ConsentObjection is the reason a draft request is refused when the
// client's latest answer is no.
const ConsentObjection = "The client has refused or withdrawn AI-assisted drafting; a draft can be requested only if they agree again."

// ConsentWithdrawn is the failure reason of drafts still waiting to be
// generated when the client withdrew consent.
const ConsentWithdrawn = "The client withdrew their consent to AI-assisted drafting before the draft was generated."

// CaseFilter selects cases; nil fields are not applied. Visibility by role
// is applied by the store from the actor in the context.
type CaseFilter struct {
	WorkerID *string
	Limit    int
	Offset   int
}

// ReadScope is all of a case that decides who may read it (CanReadScope):
// its team and its assigned worker, ids only, never a title or a name. A
// store may keep a case's scope to predict whether a read will be allowed,
// and confirm it against the case's row as it reads it: a row whose scope
// is unchanged gives the same answer, whatever else changed.
type ReadScope struct {
	TeamID   string
	WorkerID string
}

// ScopeOf returns the read scope of c.
func ScopeOf(c *Case) ReadScope { return ReadScope{TeamID: c.TeamID, WorkerID: c.WorkerID} }

// CanRead reports whether actor may read the content of c: CanReadScope
// on c's scope.
func CanRead(actor countersign.Actor, c *Case) bool { return CanReadScope(actor, ScopeOf(c)) }

// CanReadScope reports whether actor may read the content of a case of
// scope s: the assigned worker, a supervisor of the case's team, and the
// service's own named actors (drafting workers, the command line).
// Ethics-board members and admins never read case content.
func CanReadScope(actor countersign.Actor, s ReadScope) bool {
	switch actor.Role {
	case countersign.RoleWorker:
		return s.WorkerID == actor.UserID
	case countersign.RoleSupervisor:
		return s.TeamID == actor.TeamID
	case countersign.RoleSystem:
		return actor.UserID != ""
	}
	return false
}

// CanWrite reports whether actor may add notes and parties to c and request
// drafts: the same people who may read it.
func CanWrite(actor countersign.Actor, c *Case) bool { return CanRead(actor, c) }

// CheckRead returns nil when actor may read c, or the EFORBIDDEN error that
// says why not.
func CheckRead(actor countersign.Actor, c *Case) error {
	if CanRead(actor, c) {
		return nil
	}
	return refusal(actor)
}

// CheckWrite returns nil when actor may change c, or the EFORBIDDEN error
// that says why not.
func CheckWrite(actor countersign.Actor, c *Case) error {
	if CanWrite(actor, c) {
		return nil
	}
	return refusal(actor)
}

func refusal(actor countersign.Actor) error {
	if actor.Role == countersign.RoleEthics || actor.Role == countersign.RoleAdmin {
		return countersign.Errorf(countersign.EFORBIDDEN, "Your role does not give access to case content.")
	}
	return countersign.Errorf(countersign.EFORBIDDEN, "This case is not assigned to you or your team.")
}

// Store persists case files. The acting user comes from the context; every
// method returns EFORBIDDEN when that user may not see the case, and every
// change appends an audit event in the same transaction.
type Store interface {
	// CreateCase saves a case. Returns EINVALID (unknown worker, or a
	// worker of another team) or ECONFLICT (reference taken).
	CreateCase(ctx context.Context, c *Case) error
	// FindCaseByID returns ENOTFOUND or EFORBIDDEN.
	FindCaseByID(ctx context.Context, id string) (*Case, error)
	// ReadCase is FindCaseByID for a staff read of the case's content:
	// it also writes the read's access event (client.ReadEvent) and
	// returns the case only once the event is durable. A refused read
	// (ENOTFOUND, EFORBIDDEN) writes no event; a read whose event cannot
	// be written fails.
	ReadCase(ctx context.Context, id string) (*Case, error)
	// FindCases returns the cases the actor may see, and their total.
	FindCases(ctx context.Context, f CaseFilter) ([]*Case, int, error)
	// AddParty saves a party of a case.
	AddParty(ctx context.Context, p *Party) error
	// FindParties returns the parties of a case.
	FindParties(ctx context.Context, caseID string) ([]*Party, error)
	// AddNote saves a note. Returns EINVALID if it amends a note of
	// another case.
	AddNote(ctx context.Context, n *Note) error
	// FindNotes returns the notes of a case in the order they were written.
	FindNotes(ctx context.Context, caseID string) ([]*Note, error)
	// RecordConsent appends the client's answer about AI-assisted drafting
	// (c.CaseID, c.Given, c.Note) and fills in the rest. A withdrawal also
	// fails the case's drafts not yet generated. Returns ENOTFOUND,
	// EFORBIDDEN (only the case's worker and team supervisors record it),
	// EINVALID (note too long).
	RecordConsent(ctx context.Context, c *Consent) error
	// FindConsent returns the consent state of a case and its history.
	// Returns ENOTFOUND or EFORBIDDEN.
	FindConsent(ctx context.Context, caseID string) (*ConsentState, error)
}
