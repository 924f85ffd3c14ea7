package client

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
)

// This file holds the client's right to answer: on an entry of their file
// the client says "this is wrong" (a correction request) or adds their own
// view; the response reaches the case's worker, who answers it. A
// correction goes through the record's correction path and its policy
// (review.DecideCorrection), a decline carries a reason the client reads,
// an own view is attached to the entry for every later reader. The log
// holds ids, codes and commitments, never the client's words.

// PrefixResponse is the id prefix of a client response.
const PrefixResponse = "rsp"

// ResponseKind is what the client says about an entry.
type ResponseKind string

// Response kinds. Append only: they are stored and counted.
const (
	// ResponseCorrection: "this is wrong".
	ResponseCorrection ResponseKind = "correction"
	// ResponseOwnView: the client's own view, to be read beside the entry.
	ResponseOwnView ResponseKind = "own_view"
)

// ResponseKinds lists the kinds, for catalogues and validation.
var ResponseKinds = []ResponseKind{ResponseCorrection, ResponseOwnView}

// Valid reports whether k is one of ResponseKinds.
func (k ResponseKind) Valid() bool { return k == ResponseCorrection || k == ResponseOwnView }

// AnswerOutcome is how a worker answered a response.
type AnswerOutcome string

// Answer outcomes. Append only.
const (
	// OutcomeCorrected: the entry was corrected (through the correction path).
	OutcomeCorrected AnswerOutcome = "corrected"
	// OutcomeDeclined: the entry stays as it is; the reason is for the client.
	OutcomeDeclined AnswerOutcome = "declined"
	// OutcomeAttached: the client's words are attached to the entry and
	// shown with it to everyone who reads it.
	OutcomeAttached AnswerOutcome = "attached"
)

// AnswerOutcomes lists the outcomes.
var AnswerOutcomes = []AnswerOutcome{OutcomeCorrected, OutcomeDeclined, OutcomeAttached}

// Valid reports whether o is one of AnswerOutcomes.
func (o AnswerOutcome) Valid() bool {
	return o == OutcomeCorrected || o == OutcomeDeclined || o == OutcomeAttached
}

// Response statuses.
const (
	ResponseOpen     = "open"
	ResponseAnswered = "answered"
)

// Bounds of a response's text, in characters, and of an answer's reason.
const (
	MinResponseChars = 2
	MaxResponseChars = 4000
	MaxReasonChars   = 2000
	// MaxOpenResponses is how many unanswered responses one client may
	// have at a time: enough for anyone, and a bound on a flood.
	MaxOpenResponses = 50
	// MaxQueueResponses is how many waiting responses the review queue
	// lists at once, oldest first.
	MaxQueueResponses = 200
)

// Response is what a client said about an entry of their file, and the
// worker's answer once given.
type Response struct {
	ID        string       `json:"id"`
	CaseID    string       `json:"case_id"`
	PartyID   string       `json:"party_id"`
	AccountID string       `json:"-"`
	EntryID   string       `json:"entry_id"`
	Kind      ResponseKind `json:"kind"`
	Text      string       `json:"text"`
	CreatedAt time.Time    `json:"created_at"`
	Status    string       `json:"status"`
	// Outcome, Reason, AnsweredBy and AnsweredAt are set once answered.
	Outcome    AnswerOutcome `json:"outcome,omitempty"`
	Reason     string        `json:"reason,omitempty"`
	AnsweredBy string        `json:"answered_by,omitempty"`
	// AnsweredByName is the answering worker's name, for the client.
	AnsweredByName string     `json:"answered_by_name,omitempty"`
	AnsweredAt     *time.Time `json:"answered_at,omitempty"`
	// CorrectionID names the record entry (or the correction waiting for a
	// countersignature) that a "corrected" answer made.
	CorrectionID string `json:"correction_id,omitempty"`
	// CorrectionStatus is where that correction stands: CorrectionInForce,
	// CorrectionPending (waiting for a supervisor's countersignature) or
	// CorrectionRefused (the supervisor refused it; the entry stands).
	CorrectionStatus string `json:"correction_status,omitempty"`
	// Type is "client_response", to tell it from drafts in the review queue.
	Type string `json:"type"`
	// Salt keys the log's commitments to Text and Reason; erased with them.
	Salt string `json:"-"`
}

// Where the correction a "corrected" answer made stands.
const (
	CorrectionInForce = "in_force"
	CorrectionPending = "pending"
	CorrectionRefused = "refused"
)

// ResponseType is the Type of a response in the review queue.
const ResponseType = "client_response"

// ResponseInput is what a client's response is decided from.
type ResponseInput struct {
	Principal Principal
	// Entry is the entry answered, as the store found it; nil when there
	// is no such entry.
	Entry *review.Entry
	Kind  ResponseKind
	Text  string
	// Open counts the client's unanswered responses.
	Open int
	Now  time.Time
}

// errNoEntry is the one answer for an entry the client may not see, so a
// client can never learn whether another case's entry exists.
var errNoEntry = countersign.Errorf(countersign.ENOTFOUND, "There is no such entry in your file.")

// DecideResponse decides a client's response on an entry of their file: a
// known kind, a text of sensible length, an entry they can read (Visible
// and Shared, the rules of their record) and that is still in force. It returns the response to store and its event, which
// commits to the text without holding it.
func DecideResponse(in ResponseInput) (*Response, []audit.Record, error) {
	var fields []countersign.FieldError
	if !in.Kind.Valid() {
		fields = append(fields, countersign.FieldError{Field: "kind",
			Message: `Choose "correction" to say something is wrong, or "own_view" to add your own view.`})
	}
	text := strings.TrimSpace(in.Text)
	switch n := utf8.RuneCountInString(text); {
	case !review.ValidText(in.Text):
		fields = append(fields, countersign.FieldError{Field: "text", Message: "The text has characters that cannot be read. Please type it again."})
	case n < MinResponseChars:
		fields = append(fields, countersign.FieldError{Field: "text", Message: "Please write what you want to say."})
	case n > MaxResponseChars:
		fields = append(fields, countersign.FieldError{Field: "text",
			Message: fmt.Sprintf("Your text is too long. Please use at most %d characters.", MaxResponseChars)})
	}
	if len(fields) > 0 {
		return nil, nil, countersign.InvalidFields("Your answer could not be sent.", fields...)
	}
	p := in.Principal
	if p.AccountID == "" {
		return nil, nil, countersign.Errorf(countersign.EUNAUTHORIZED, "Sign in to your file first.")
	}
	e := in.Entry
	// The client answers what they can read: an entry of their file
	// (Visible, with its history, so that an entry corrected since is
	// told apart) that its signer shared with them (Shared).
	if e == nil || !Visible(p, e, true) || !Shared(e) {
		return nil, nil, errNoEntry
	}
	if e.SupersededBy != "" {
		return nil, nil, countersign.Errorf(countersign.ECONFLICT, "This entry has been corrected since. Please answer the new version.")
	}
	if in.Open >= MaxOpenResponses {
		return nil, nil, countersign.Errorf(countersign.ECONFLICT,
			"You have %d answers waiting for your social worker. Please wait until they have replied.", in.Open)
	}
	party, _ := p.Party(e.CaseID)
	r := &Response{ID: countersign.NewID(PrefixResponse), CaseID: e.CaseID, PartyID: party.PartyID, AccountID: p.AccountID,
		EntryID: e.ID, Kind: in.Kind, Text: text, CreatedAt: in.Now, Status: ResponseOpen, Type: ResponseType, Salt: audit.NewSalt()}
	pl := audit.Payload{"entry": e.ID, "party": party.PartyID, "response_kind": string(in.Kind)}
	pl.Commit("text", r.Salt, r.Text)
	return r, []audit.Record{{Actor: p.Actor(), Action: audit.ActionClientResponded, SubjectType: "client_response",
		SubjectID: r.ID, CaseID: r.CaseID, Payload: pl}}, nil
}

// Answer is a worker's answer to a client's response.
type Answer struct {
	Outcome AnswerOutcome
	// Reason is for the client: required when declining, optional
	// otherwise. With a correction it is also the correction's reason.
	Reason string
	// Content is the corrected text of the entry, for OutcomeCorrected.
	Content string
	// ConfirmHighStakes confirms the statements about risk, safeguarding,
	// capacity or health a correction adds (review.Correction).
	ConfirmHighStakes bool
}

// AnswerInput is what an answer is decided from.
type AnswerInput struct {
	Actor    countersign.Actor
	Case     *casefile.Case
	Response *Response
	// Entry is the entry answered, with SupersededBy and PendingCorrection
	// as the store found them under the case's lock.
	Entry  *review.Entry
	Answer Answer
	Policy *review.Policy
	Now    time.Time
}

// AnswerResult is what an answer changes: the response, answered; the
// correction to apply for OutcomeCorrected (nil otherwise); the events.
type AnswerResult struct {
	Response   *Response
	Correction *review.CorrectionResult
	Events     []audit.Record
}

// defaultCorrectionReason is the correction's reason when the worker gave
// none: the record says why it changed.
const defaultCorrectionReason = "Corrected after the client said this was wrong."

// DecideAnswer decides a worker's answer: the case's worker or a
// supervisor of its team, on an open response; a decline needs a reason
// the client will read; a correction is decided by review.DecideCorrection
// under the same policy as any correction of the record, and the answer
// names the entry it made.
func DecideAnswer(in AnswerInput) (*AnswerResult, error) {
	a, ans, r := in.Actor, in.Answer, in.Response
	var fields []countersign.FieldError
	if !ans.Outcome.Valid() {
		fields = append(fields, countersign.FieldError{Field: "outcome", Message: "Choose corrected, declined or attached."})
	}
	reason := strings.TrimSpace(ans.Reason)
	switch {
	case !review.ValidText(ans.Reason) || utf8.RuneCountInString(reason) > MaxReasonChars:
		fields = append(fields, countersign.FieldError{Field: "reason", Message: fmt.Sprintf("The reason must be text of at most %d characters.", MaxReasonChars)})
	case ans.Outcome == OutcomeDeclined && reason == "":
		fields = append(fields, countersign.FieldError{Field: "reason", Message: "Say why the entry stays as it is; the client will read this."})
	}
	if ans.Outcome != OutcomeCorrected && strings.TrimSpace(ans.Content) != "" {
		fields = append(fields, countersign.FieldError{Field: "content", Message: "Corrected text goes only with the outcome corrected."})
	}
	if len(fields) > 0 {
		return nil, countersign.InvalidFields("The answer could not be saved.", fields...)
	}
	if a.Role != countersign.RoleWorker && a.Role != countersign.RoleSupervisor {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only the case's worker or a supervisor of its team can answer the client.")
	}
	if err := casefile.CheckWrite(a, in.Case); err != nil {
		return nil, err
	}
	if r.Status != ResponseOpen {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This response has already been answered.")
	}
	out := *r
	now := in.Now
	out.Status, out.Outcome, out.Reason, out.AnsweredBy, out.AnsweredByName, out.AnsweredAt = ResponseAnswered, ans.Outcome, reason, a.UserID, a.Name, &now
	res := &AnswerResult{Response: &out}
	pl := audit.Payload{"entry": r.EntryID, "response_kind": string(r.Kind), "answer": string(ans.Outcome)}
	if reason != "" {
		pl.Commit("reason", r.Salt, reason)
	}
	if ans.Outcome == OutcomeCorrected {
		why := reason
		if why == "" {
			why = defaultCorrectionReason
		}
		cr, err := review.DecideCorrection(review.CorrectionInput{Actor: a, Case: in.Case, Old: in.Entry,
			Correction: review.Correction{Content: ans.Content, Reason: why, ConfirmHighStakes: ans.ConfirmHighStakes},
			Policy:     in.Policy, Now: in.Now})
		if err != nil {
			return nil, err
		}
		res.Correction = cr
		out.CorrectionID, out.CorrectionStatus = cr.Entry.ID, CorrectionInForce
		if cr.Entry.Pending {
			out.CorrectionStatus = CorrectionPending
		}
		pl["correction"] = cr.Entry.ID
		res.Events = append(res.Events, cr.Events...)
	}
	res.Events = append(res.Events, audit.Record{Actor: a, Action: audit.ActionClientResponseAnswered, SubjectType: "client_response",
		SubjectID: r.ID, CaseID: r.CaseID, Payload: pl})
	return res, nil
}

// ResponseStore keeps the client's responses and the workers' answers. The
// client's methods read the principal from the context (PrincipalFrom);
// the staff ones the actor (countersign.ActorFrom).
type ResponseStore interface {
	// Respond stores the signed-in client's response on an entry of their
	// file (DecideResponse). Returns EUNAUTHORIZED, EINVALID, ENOTFOUND
	// for an entry the client cannot see (whether it exists or not),
	// ECONFLICT when the entry was corrected since or too many wait.
	Respond(ctx context.Context, entryID string, kind ResponseKind, text string) (*Response, error)
	// FindMyResponses returns the signed-in client's responses with their
	// answers, newest first.
	FindMyResponses(ctx context.Context) ([]*Response, error)
	// FindOpenResponses returns the responses waiting for the actor's
	// answer, oldest first, at most MaxQueueResponses: a worker's cases,
	// a supervisor's team's.
	FindOpenResponses(ctx context.Context) ([]*Response, error)
	// FindResponse returns one response of a case the actor may read.
	FindResponse(ctx context.Context, id string) (*Response, error)
	// AnswerResponse answers an open response (DecideAnswer); a
	// correction is applied with it in one transaction. Returns
	// ENOTFOUND, EFORBIDDEN, ECONFLICT (answered already, or the entry
	// cannot be corrected now), EINVALID.
	AnswerResponse(ctx context.Context, id string, a Answer) (*Response, error)
	// FindCaseResponses returns every response of a case, oldest first:
	// for a staff actor who may read the case, or for the signed-in
	// client, their own on that case. partyID, when set, keeps one party's.
	// The export bundle and the record views read it.
	FindCaseResponses(ctx context.Context, caseID, partyID string) ([]*Response, error)
	// FindAttachedViews returns, by entry id, the own views attached to
	// the entries of a case, for every reader of its record.
	FindAttachedViews(ctx context.Context, caseID string) (map[string][]*Response, error)
}
