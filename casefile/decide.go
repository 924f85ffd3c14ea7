package casefile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
)

// The decisions of the case file. Each takes the state the store loaded,
// the command and the clock, and returns the completed record and the audit
// event to write, or a domain error; the store applies it in one
// transaction. The audit events carry ids, codes and digests, never the
// text of a note or the details of a person.

// Worker is the person a new case is assigned to, as the store found them.
type Worker struct {
	ID     string
	Role   countersign.Role
	TeamID string
}

// DefaultWorker assigns a case opened by a worker without a named worker to
// that worker; the store calls it before it looks the worker up.
func DefaultWorker(a countersign.Actor, c *Case) {
	if a.Role == countersign.RoleWorker && c.WorkerID == "" {
		c.WorkerID = a.UserID
	}
}

// DecideCase decides who may open c for whom: a worker opens cases
// assigned to themselves, a supervisor for a worker of their team, and the
// service's own actors (the demo, the command line) for anyone; the case is
// assigned to a worker or supervisor of a team. worker is nil when
// c.WorkerID names nobody. The case type must be one of caseTypes (nil:
// DefaultCaseTypes), "general" when none is given: it enters the log,
// which takes no free text.
func DecideCase(a countersign.Actor, c *Case, worker *Worker, caseTypes []string, now time.Time) (*audit.Record, error) {
	switch a.Role {
	case countersign.RoleWorker:
		if c.WorkerID != a.UserID {
			return nil, countersign.Errorf(countersign.EFORBIDDEN, "A worker can only open cases assigned to themselves.")
		}
	case countersign.RoleSupervisor, countersign.RoleSystem:
	default:
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only workers and supervisors can open cases.")
	}
	var fields []countersign.FieldError
	for _, in := range []struct {
		name, value string
		max         int
	}{{"reference", c.Reference, MaxReferenceLen}, {"title", c.Title, MaxTitleLen}} {
		switch n := utf8.RuneCountInString(in.value); {
		case strings.TrimSpace(in.value) == "":
			fields = append(fields, countersign.FieldError{Field: in.name, Message: "This field is required."})
		case n > in.max:
			fields = append(fields, countersign.FieldError{Field: in.name, Message: fmt.Sprintf("This is too long: at most %d characters.", in.max)})
		}
	}
	if len(fields) > 0 {
		return nil, countersign.InvalidFields("The case could not be opened.", fields...)
	}
	if caseTypes == nil {
		caseTypes = DefaultCaseTypes
	}
	if c.CaseType == "" {
		c.CaseType = GeneralCaseType
	}
	if !slices.Contains(caseTypes, c.CaseType) {
		return nil, countersign.InvalidFields("The case could not be opened.", countersign.FieldError{Field: "case_type",
			Message: "Choose one of your authority's case types: " + strings.Join(caseTypes, ", ") + "."})
	}
	bad := func(msg string) error {
		return countersign.InvalidFields("The case could not be opened.", countersign.FieldError{Field: "worker_id", Message: msg})
	}
	switch {
	case worker == nil:
		return nil, bad("There is no such worker.")
	case worker.Role != countersign.RoleWorker && worker.Role != countersign.RoleSupervisor || worker.TeamID == "":
		return nil, bad("A case must be assigned to a worker of a team.")
	case a.Role == countersign.RoleSupervisor && worker.TeamID != a.TeamID:
		return nil, bad("The worker is not in your team.")
	}
	c.ID, c.TeamID, c.CreatedBy, c.CreatedAt = countersign.NewID(countersign.PrefixCase), worker.TeamID, a.UserID, now
	c.Status = StatusOpen
	return &audit.Record{Actor: a, Action: audit.ActionCaseCreated, SubjectType: "case", SubjectID: c.ID, CaseID: c.ID,
		Payload: audit.Payload{"team": c.TeamID, "worker": c.WorkerID, "case_type": c.CaseType}}, nil
}

// MaxReferenceLen and MaxTitleLen bound a case's reference and title, in
// characters (DecideCase; the pages say them in the reader's language).
const (
	MaxReferenceLen = 64
	MaxTitleLen     = 200
)

// PartyRoles are the roles a person may have in a case: the client, or
// someone else. The role enters the log.
var PartyRoles = []string{"client", "other"}

// PartyLanguages are the languages a party's letters and own pages may be
// written in; the first is the default. The code enters the log.
var PartyLanguages = []string{"en", "fr", "nl", "de"}

// DefaultPartyLanguage is the language of a party added without one.
const DefaultPartyLanguage = "en"

// GeneralCaseType is the case type of a case opened without one.
const GeneralCaseType = "general"

// DefaultCaseTypes are the case types cases may have when the authority's
// policy names none; the web interface's catalogues name each of them in
// every language (a test keeps them so). A type is a code, never a
// sentence: it is written into the audit log, which is kept forever.
var DefaultCaseTypes = []string{GeneralCaseType, "adult_social_care", "child_protection", "child_in_need", "family_support",
	"capacity_assessment", "housing", "mental_health", "disability", "older_people"}

// ValidCaseTypeCode reports whether t can be a case type: lower-case ASCII
// letters, digits and underscores, starting with a letter, at most 64
// bytes. Policies are checked with it, so that no configured case type is
// free text.
func ValidCaseTypeCode(t string) bool {
	if t == "" || len(t) > 64 || t[0] < 'a' || t[0] > 'z' {
		return false
	}
	for _, r := range t {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// DecideParty decides adding p to c: whoever may write the case. The event
// names the party's id and role and commits to its details
// (PartyDetails), never the details themselves.
func DecideParty(a countersign.Actor, c *Case, p *Party, now time.Time) (*audit.Record, error) {
	if err := CheckWrite(a, c); err != nil {
		return nil, err
	}
	if !slices.Contains(PartyRoles, p.Role) {
		return nil, countersign.InvalidFields("The person could not be added.", countersign.FieldError{Field: "role",
			Message: "Choose one of: " + strings.Join(PartyRoles, ", ") + "."})
	}
	if p.Language == "" {
		p.Language = DefaultPartyLanguage
	}
	if !slices.Contains(PartyLanguages, p.Language) {
		return nil, countersign.InvalidFields("The person could not be added.", countersign.FieldError{Field: "language",
			Message: "Choose one of: " + strings.Join(PartyLanguages, ", ") + "."})
	}
	p.ID, p.CaseID, p.CreatedAt, p.Salt = countersign.NewID(countersign.PrefixParty), c.ID, now, audit.NewSalt()
	payload := audit.Payload{"role": p.Role, "language": p.Language}
	payload.Commit("details", p.Salt, PartyDetails(p))
	return &audit.Record{Actor: a, Action: audit.ActionPartyAdded, SubjectType: "party", SubjectID: p.ID, CaseID: c.ID,
		Payload: payload}, nil
}

// DecideNote decides adding n to c: whoever may write the case, amending
// (when n.Amends is set) only a note of the same case, whose case id the
// store found as amendedCase ("" when there is no such note). The note is
// completed as written by a at now, with a fresh salt; its event carries
// the keyed commitment to the body, never the body.
func DecideNote(a countersign.Actor, c *Case, n *Note, amendedCase string, now time.Time) (*audit.Record, error) {
	if err := CheckWrite(a, c); err != nil {
		return nil, err
	}
	if n.Amends != "" && amendedCase != c.ID {
		return nil, countersign.InvalidFields("The note could not be saved.", countersign.FieldError{Field: "amends", Message: "The note it corrects must be a note of the same case."})
	}
	return NoteEvent(a, n, now), nil
}

// NoteEvent completes n as written by a at now and returns its event. The
// store's one-statement path for notes calls it after its SQL has checked
// CanWrite, so the note and its event are the same on either path.
func NoteEvent(a countersign.Actor, n *Note, now time.Time) *audit.Record {
	n.ID, n.AuthorID, n.CreatedAt, n.Salt = countersign.NewID(countersign.PrefixNote), a.UserID, now, audit.NewSalt()
	if n.WrittenAt.IsZero() {
		n.WrittenAt = now
	}
	n.WrittenAt = n.WrittenAt.UTC().Truncate(time.Microsecond)
	p := audit.Payload{}
	p.Commit("body", n.Salt, n.Body)
	if n.Amends != "" {
		p["amends"] = n.Amends
	}
	return &audit.Record{Actor: a, Action: audit.ActionNoteAdded, SubjectType: "note", SubjectID: n.ID, CaseID: n.CaseID, Payload: p}
}

// ValidateConsent checks a consent answer before anything is read.
func ValidateConsent(c *Consent) error {
	c.Note = strings.TrimSpace(c.Note)
	if utf8.RuneCountInString(c.Note) > MaxConsentNote || strings.ContainsRune(c.Note, 0) {
		return countersign.InvalidFields("The consent could not be recorded.", countersign.FieldError{Field: "note",
			Message: fmt.Sprintf("Keep the note under %d characters of plain text.", MaxConsentNote)})
	}
	return nil
}

// ConsentDecision is what recording a consent answer changes.
type ConsentDecision struct {
	// StopDrafts is set when the answer is no: the case's drafts that no
	// model has answered yet must fail, in the same transaction.
	StopDrafts bool
	Event      *audit.Record
}

// DecideConsent decides recording c on case cs after prev (nil when none):
// the case's worker, a supervisor of its team, or the service itself. For
// a refusal the store fails the ungenerated drafts and adds their number
// to the event as drafts_stopped.
func DecideConsent(a countersign.Actor, cs *Case, c *Consent, prev *Consent, now time.Time) (*ConsentDecision, error) {
	if err := ValidateConsent(c); err != nil {
		return nil, err
	}
	switch a.Role {
	case countersign.RoleWorker, countersign.RoleSupervisor, countersign.RoleSystem:
	default:
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only the case's worker or a supervisor of its team can record the client's consent.")
	}
	if err := CheckWrite(a, cs); err != nil {
		return nil, err
	}
	c.ID, c.CaseID, c.Seq, c.RecordedBy, c.RecordedAt = countersign.NewID(countersign.PrefixConsent), cs.ID, 1, a.UserID, now
	c.Salt = audit.NewSalt()
	previous := "none"
	if prev != nil {
		c.Seq = prev.Seq + 1
		previous = map[bool]string{true: "given", false: "withdrawn"}[prev.Given]
	}
	p := audit.Payload{"given": strconv.FormatBool(c.Given), "seq": strconv.Itoa(c.Seq), "previous": previous}
	if c.Note != "" {
		p.Commit("note", c.Salt, c.Note)
	}
	action := audit.ActionConsentRecorded
	if !c.Given {
		action = audit.ActionConsentWithdrawn
	}
	return &ConsentDecision{StopDrafts: !c.Given, Event: &audit.Record{Actor: a, Action: action, SubjectType: "consent",
		SubjectID: c.ID, CaseID: cs.ID, Payload: p}}, nil
}
