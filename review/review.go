// Package review is the heart of Countersign: the lifecycle of a draft from
// request to decision, who may decide it, and the signed case record. Nothing
// drafted by a model enters a case until a named person has signed it.
package review

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
)

// Status is where a draft is in its lifecycle.
type Status string

// Draft statuses:
// queued → generating → pending_review → approved | rejected, and failed when
// the model could not produce a valid draft (a person may queue it again:
// failed → queued), superseded when a newer draft of the same kind over the
// same notes replaced it before a decision, or when its case closed before
// one (EndsWithCase: from queued, generating, pending_review or
// awaiting_countersign). When the
// policy asks for a countersignature, the reviewer's approval moves the draft
// to awaiting_countersign, and a supervisor's countersignature (or refusal)
// to approved (or rejected).
const (
	StatusQueued              Status = "queued"
	StatusGenerating          Status = "generating"
	StatusPendingReview       Status = "pending_review"
	StatusAwaitingCountersign Status = "awaiting_countersign"
	StatusApproved            Status = "approved"
	StatusRejected            Status = "rejected"
	StatusFailed              Status = "failed"
	StatusSuperseded          Status = "superseded"
)

var transitions = map[Status][]Status{
	StatusQueued:              {StatusGenerating, StatusFailed, StatusSuperseded},
	StatusGenerating:          {StatusPendingReview, StatusFailed, StatusQueued, StatusGenerating, StatusSuperseded},
	StatusPendingReview:       {StatusApproved, StatusAwaitingCountersign, StatusRejected, StatusSuperseded},
	StatusAwaitingCountersign: {StatusApproved, StatusRejected, StatusSuperseded},
	// A person may try a failed draft again (DecideRetry).
	StatusFailed: {StatusQueued},
}

// Statuses lists every status a draft can be in.
var Statuses = []Status{StatusQueued, StatusGenerating, StatusPendingReview, StatusAwaitingCountersign, StatusApproved,
	StatusRejected, StatusFailed, StatusSuperseded}

// Known reports whether s is one of Statuses.
func (s Status) Known() bool { return slices.Contains(Statuses, s) }

// Label is the status as words, for messages ("awaiting countersign").
func (s Status) Label() string { return strings.ReplaceAll(string(s), "_", " ") }

// CanTransition reports whether a draft may move from s to to. A generating
// draft may be queued again (a retry) or claimed again (a lease expired).
func (s Status) CanTransition(to Status) bool {
	for _, t := range transitions[s] {
		if t == to {
			return true
		}
	}
	return false
}

// Final reports whether no further change is possible. A failed draft is
// not final: it can be tried again.
func (s Status) Final() bool {
	return s == StatusApproved || s == StatusRejected || s == StatusSuperseded
}

// Draft is a model's proposal for a case, waiting for or past a decision.
type Draft struct {
	ID            string             `json:"id"`
	CaseID        string             `json:"case_id"`
	Kind          assistant.Kind     `json:"kind"`
	Status        Status             `json:"status"`
	RequestedBy   string             `json:"requested_by"`
	ReviewerID    string             `json:"reviewer_id"`
	TeamID        string             `json:"team_id"`
	NoteIDs       []string           `json:"note_ids"`
	Language      string             `json:"language,omitempty"`
	Content       *assistant.Content `json:"content,omitempty"`
	Model         string             `json:"model,omitempty"`
	Provider      string             `json:"provider,omitempty"`
	PromptVersion string             `json:"prompt_version,omitempty"`
	Pseudonymised bool               `json:"pseudonymised"`
	Masked        map[string]int     `json:"masked,omitempty"`
	Ungrounded    int                `json:"ungrounded"`
	FailureReason string             `json:"failure_reason,omitempty"`
	Attempts      int                `json:"attempts"`
	CreatedAt     time.Time          `json:"created_at"`
	UpdatedAt     time.Time          `json:"updated_at"`
	GeneratedAt   *time.Time         `json:"generated_at,omitempty"`
	OpenedAt      *time.Time         `json:"opened_at,omitempty"`
	DecidedAt     *time.Time         `json:"decided_at,omitempty"`
	Decision      *Decision          `json:"decision,omitempty"`
	// CountersignRequired says whether the policy asks a supervisor to
	// countersign this draft after its reviewer approves it.
	CountersignRequired bool `json:"countersign_required"`
	// Countersignature is the supervisor's verdict, once given.
	Countersignature *Countersignature `json:"countersignature,omitempty"`
	// Overdue is set in the queue when the draft has waited longer than
	// the policy allows.
	Overdue bool `json:"overdue,omitempty"`
	// Vigilance is the outcome of a vigilance check, shown only once the
	// draft has been decided.
	Vigilance *VigilanceResult `json:"vigilance,omitempty"`
	// DetectorVersion is the version of the service's high-stakes detector
	// that classified the content (assistant.DetectorVersion); "" before
	// the draft is generated.
	DetectorVersion string `json:"detector_version,omitempty"`
}

// DraftRequest asks for a new draft of a case.
type DraftRequest struct {
	CaseID  string
	Kind    assistant.Kind
	NoteIDs []string // empty: every note of the case
	// Since and Until, when set, keep only the notes written in [Since, Until).
	Since, Until   *time.Time
	Language       string
	IdempotencyKey string
}

// Outcome is what a reviewer decided.
type Outcome string

// Outcomes.
const (
	OutcomeApproved Outcome = "approved"
	OutcomeRejected Outcome = "rejected"
)

// Rejection reasons: a small fixed list the statistics count. Append only.
var RejectReasons = []string{"inaccurate", "incomplete", "not_grounded", "inappropriate_tone", "privacy", "not_needed", "other"}

// ValidRejectReason reports whether r is one of RejectReasons.
func ValidRejectReason(r string) bool {
	for _, v := range RejectReasons {
		if v == r {
			return true
		}
	}
	return false
}

// Decision is a reviewer's verdict on a draft. For an approval, Diff is the
// word-level diff from the text as drafted to the text signed.
type Decision struct {
	ID                  string              `json:"id"`
	DraftID             string              `json:"draft_id"`
	Outcome             Outcome             `json:"outcome"`
	DecidedBy           string              `json:"decided_by"`
	FinalText           string              `json:"final_text,omitempty"`
	Edited              bool                `json:"edited"`
	EditRatio           float64             `json:"edit_ratio"`
	Diff                []DiffOp            `json:"diff,omitempty"`
	ReasonCode          string              `json:"reason_code,omitempty"`
	Items               []ItemDecision      `json:"items,omitempty"`
	Statements          []StatementDecision `json:"statements,omitempty"`
	CountersignRequired bool                `json:"countersign_required"`
	Reason              string              `json:"reason,omitempty"`
	Comment             string              `json:"comment,omitempty"`
	ReviewMS            int64               `json:"review_ms"`
	Fast                bool                `json:"fast_sign_off"`
	DecidedAt           time.Time           `json:"decided_at"`
	// Sharing and WithheldReason are the signer's choice of whether the
	// client may read the entry (DecideSharing), kept for the entry a
	// countersignature signs later.
	Sharing        string `json:"sharing,omitempty"`
	WithheldReason string `json:"withheld_reason,omitempty"`
	// Salt keys the log's commitment to FinalText (audit.Commit).
	Salt string `json:"-"`
}

// Approval is the reviewer's sign-off, optionally with edited text, a
// verdict per suggested item and per statement.
type Approval struct {
	// Content is the reviewer's edited text; "" keeps the text as drafted.
	// Either way the lines of removed statements and rejected items are
	// taken out (Finalize).
	Content    string
	ReasonCode string // why the text was edited, one of EditReasons
	Comment    string
	Items      []ItemDecision
	Statements []StatementDecision
	// IfMatch is the draft's ETag (DraftETag) as the reviewer read it; an
	// approval of a draft that changed since is refused (EPRECONDITION).
	// "" checks nothing, for clients that do not send If-Match.
	IfMatch string
	// Sharing is SharingShared or SharingWithheld (with WithheldReason, one
	// of WithheldReasons): may the client read the entry? "" applies
	// DecideSharing's default, unless SharingAsked says the door asked the
	// signer, who then must answer.
	Sharing        string
	WithheldReason string
	SharingAsked   bool
}

// Edit reason codes: why a reviewer changed what the model drafted. The
// statistics count them. Append only.
var EditReasons = []string{"factual_error", "missing_context", "tone", "privacy", "other"}

// ValidEditReason reports whether r is one of EditReasons.
func ValidEditReason(r string) bool {
	for _, v := range EditReasons {
		if v == r {
			return true
		}
	}
	return false
}

// ItemDecision accepts or rejects one suggested item. Items a reviewer does
// not list are accepted, except ungrounded ones, which must be listed:
// rejected, or accepted with a Comment saying why.
type ItemDecision struct {
	ID         string `json:"id"`
	Accepted   bool   `json:"accepted"`
	ReasonCode string `json:"reason_code,omitempty"`
	Comment    string `json:"comment,omitempty"`
}

// Statement verdicts.
const (
	StatementConfirmed = "confirmed"
	StatementRemoved   = "removed"
)

// StatementDecision confirms or removes one statement. High-stakes
// statements (risk, safeguarding, capacity, health) and ungrounded ones must
// each have one before the draft can be approved (NeedsDecision), and
// confirming an ungrounded statement takes a short Comment saying why.
type StatementDecision struct {
	ID         string `json:"id"`
	Action     string `json:"action"`
	ReasonCode string `json:"reason_code,omitempty"`
	Comment    string `json:"comment,omitempty"`
}

// Countersignature is a supervisor's verdict on a draft its reviewer approved.
type Countersignature struct {
	Outcome  Outcome   `json:"outcome"`
	SignedBy string    `json:"signed_by"`
	Reason   string    `json:"reason,omitempty"`
	Comment  string    `json:"comment,omitempty"`
	SignedAt time.Time `json:"signed_at"`
}

// SignOff is what an approval produced: the decided draft, the record entry
// when the draft was signed into the record (nil while it awaits a
// countersignature), and the outcome of a vigilance check if there was one.
type SignOff struct {
	Draft     *Draft
	Entry     *Entry
	Vigilance *VigilanceResult
}

// Correction replaces a signed record entry by a new one; both stay visible.
type Correction struct {
	Content string
	Reason  string
	// ConfirmHighStakes confirms the statements about risk, safeguarding,
	// capacity or health that the correction adds; without it such a
	// correction is refused, listing them.
	ConfirmHighStakes bool
}

// Countersign is a supervisor's second signature on a draft its reviewer
// approved.
type Countersign struct {
	Comment string
	// IfMatch is the draft's ETag as the supervisor read it (see Approval).
	IfMatch string
}

// Rejection turns a draft down with a reason from RejectReasons.
type Rejection struct {
	Reason  string
	Comment string
}

// Entry is a signed entry of the case record, with its provenance.
type Entry struct {
	ID            string     `json:"id"`
	CaseID        string     `json:"case_id"`
	DraftID       string     `json:"draft_id,omitempty"`
	Kind          string     `json:"kind"`
	Content       string     `json:"content"`
	AIDrafted     bool       `json:"ai_drafted"`
	Model         string     `json:"model,omitempty"`
	PromptVersion string     `json:"prompt_version,omitempty"`
	DraftedAt     *time.Time `json:"drafted_at,omitempty"`
	Edited        bool       `json:"edited"`
	EditedBy      string     `json:"edited_by,omitempty"`
	SignedBy      string     `json:"signed_by"`
	SignedAt      time.Time  `json:"signed_at"`
	Supersedes    string     `json:"supersedes,omitempty"`
	Correction    string     `json:"correction,omitempty"`
	// SupersededBy names the entry that corrected this one.
	SupersededBy string `json:"superseded_by,omitempty"`
	// Pending marks a correction waiting for a supervisor's countersignature:
	// until then the entry it corrects stays in force.
	Pending bool `json:"pending,omitempty"`
	// PendingCorrection names the correction of this entry that waits for a
	// countersignature.
	PendingCorrection string     `json:"pending_correction,omitempty"`
	CountersignedBy   string     `json:"countersigned_by,omitempty"`
	CountersignedAt   *time.Time `json:"countersigned_at,omitempty"`
	// EditRatio and Diff show what the signer changed from the AI draft:
	// equal runs are as the model drafted them.
	EditRatio float64  `json:"edit_ratio"`
	Diff      []DiffOp `json:"diff,omitempty"`
	// Vigilance is set only in the response to the approval that wrote
	// the entry, when the draft held a vigilance check.
	Vigilance *VigilanceResult `json:"vigilance,omitempty"`
	// Sharing says whether the client may read the entry in their own
	// file: SharingShared, SharingWithheld (with WithheldReason), or
	// SharingUndecided for an entry signed before sharing was asked.
	Sharing        string `json:"sharing"`
	WithheldReason string `json:"withheld_reason,omitempty"`
	// Salt keys the log's commitments to Content and Correction
	// (audit.Commit); it is erased with them.
	Salt string `json:"-"`
}

// QueueFilter selects the review queue; nil fields are not applied.
type QueueFilter struct {
	Kind    *assistant.Kind
	CaseID  *string
	Status  *Status    // pending_review or awaiting_countersign (supervisors)
	Before  *time.Time // only drafts created before this (older than an age)
	Overdue bool       // only drafts waiting longer than the policy's MaxWait
	After   string     // opaque cursor from the previous page
	Limit   int
}

// CanDecide reports whether actor may decide d: its reviewer, or a
// supervisor of its team.
func CanDecide(actor countersign.Actor, d *Draft) bool {
	switch actor.Role {
	case countersign.RoleWorker:
		return d.ReviewerID == actor.UserID
	case countersign.RoleSupervisor:
		return d.TeamID == actor.TeamID
	}
	return false
}

// IsReviewer reports whether actor is d's reviewer, a worker of its team.
// A worker a supervisor reassigned a draft to is its reviewer without being
// the case's worker: the draft, and signing it into the record, is open to
// them; the rest of the case is not.
func IsReviewer(actor countersign.Actor, d *Draft) bool {
	return actor.Role == countersign.RoleWorker && actor.UserID == d.ReviewerID && actor.TeamID == d.TeamID
}

// CanReadDraft is the rule of who may read d: its reviewer (IsReviewer),
// or whoever may read its case, whose read scope scope gives
// (casefile.CanReadScope). scope is asked only when the reviewer's rule
// does not decide, so a store reads the case only then; its error (no
// such case, a refusal the store already decided) is returned as is. The
// store's check of a read and its prediction of one (sqlstore) both ask
// this function.
func CanReadDraft(actor countersign.Actor, d *Draft, scope func() (casefile.ReadScope, error)) (bool, error) {
	if IsReviewer(actor, d) {
		return true, nil
	}
	s, err := scope()
	if err != nil {
		return false, err
	}
	return casefile.CanReadScope(actor, s), nil
}

// CanCountersign says whether actor may countersign (or refuse) d, which
// firstSigner approved: a supervisor of the draft's team who is neither the
// first signer nor the person who requested the draft. Returns nil or an
// EFORBIDDEN error saying why not.
func CanCountersign(actor countersign.Actor, d *Draft, firstSigner string) error {
	switch {
	case actor.Role != countersign.RoleSupervisor || actor.TeamID != d.TeamID:
		return countersign.Errorf(countersign.EFORBIDDEN, "Only a supervisor of the draft's team can countersign it.")
	case actor.UserID == firstSigner:
		return countersign.Errorf(countersign.EFORBIDDEN, "You signed this draft first; a different supervisor must countersign it.")
	case actor.UserID == d.RequestedBy:
		return countersign.Errorf(countersign.EFORBIDDEN, "You requested this draft; a different supervisor must countersign it.")
	}
	return nil
}

// Job is a queued draft claimed by a drafting worker, with what the model needs.
type Job struct {
	DraftID  string
	CaseID   string
	Attempt  int
	Owner    string
	Request  assistant.Request
	LeaseEnd time.Time
}

// Store persists drafts, decisions and the record. The acting user comes
// from the context; every change appends an audit event in the same
// transaction.
type Store interface {
	// RequestDraft queues a draft. Returns EFORBIDDEN, ENOTFOUND (case or
	// note), EINVALID. With an idempotency key already used by the same
	// person, returns the draft made then.
	RequestDraft(ctx context.Context, req DraftRequest) (*Draft, error)
	// FindDraftByID returns ENOTFOUND or EFORBIDDEN.
	FindDraftByID(ctx context.Context, id string) (*Draft, error)
	// OpenDraft returns a draft as a staff read of its content: it writes
	// the read's access event (client.ReadEvent), durable before it
	// returns, and records the first time someone who may decide the draft
	// opens it (review time is measured from then) in the same
	// transaction. A refused read writes nothing. Returns ENOTFOUND or
	// EFORBIDDEN.
	OpenDraft(ctx context.Context, id string) (*Draft, error)
	// FindQueue returns the drafts awaiting the actor's decision (a
	// supervisor: the team's) and the cursor of the next page.
	FindQueue(ctx context.Context, f QueueFilter) ([]*Draft, string, error)
	// SignOffDraft approves a pending draft: it signs it into the case
	// record, or moves it to awaiting_countersign when the policy asks for
	// a countersignature. Returns EFORBIDDEN when the draft is not the
	// actor's to decide, ECONFLICT when it is not pending, EINVALID for an
	// empty or too long edit, an unknown item or statement id, an unknown
	// reason code, or high-stakes statements neither confirmed nor removed.
	SignOffDraft(ctx context.Context, id string, a Approval) (*SignOff, error)
	// ApproveDraft is SignOffDraft returning only the record entry, which
	// is nil when the draft now awaits a countersignature.
	ApproveDraft(ctx context.Context, id string, a Approval) (*Entry, error)
	// RejectDraft turns a pending draft down, or, by an eligible
	// supervisor, refuses to countersign one. Same errors as SignOffDraft.
	RejectDraft(ctx context.Context, id string, r Rejection) (*Draft, error)
	// CountersignDraft signs a draft awaiting countersignature into the
	// record with both signers. Returns EFORBIDDEN (see CanCountersign),
	// ECONFLICT when the draft is not awaiting a countersignature.
	CountersignDraft(ctx context.Context, id string, c Countersign) (*Entry, error)
	// RetryDraft queues a failed draft again (DecideRetry). Returns
	// ENOTFOUND, EFORBIDDEN, ECONFLICT when it has not failed or the
	// client's consent no longer allows drafting.
	RetryDraft(ctx context.Context, id string) (*Draft, error)
	// ReassignDraft gives a pending draft to another worker of its team;
	// supervisors only. Returns EFORBIDDEN, ECONFLICT, EINVALID (worker).
	ReassignDraft(ctx context.Context, id, workerID string) (*Draft, error)
	// FindRecord returns the signed entries of a case, corrected ones
	// included, each naming the entry it supersedes or is superseded by.
	FindRecord(ctx context.Context, caseID string) ([]*Entry, error)
	// CorrectEntry signs a new entry that supersedes entryID with a reason,
	// or, when the correction needs a countersignature (DecideCorrection),
	// stores it pending. Returns ENOTFOUND, EFORBIDDEN, ECONFLICT when the
	// entry was already corrected or a correction of it waits, EINVALID.
	CorrectEntry(ctx context.Context, caseID, entryID string, c Correction) (*Entry, error)
	// CountersignCorrection signs a pending correction into the record
	// with both signers; RefuseCorrection turns it down with a reason and
	// the corrected entry stays in force. Both return ENOTFOUND, EFORBIDDEN
	// (see DecideCorrectionVerdict), ECONFLICT when it no longer waits.
	CountersignCorrection(ctx context.Context, caseID, correctionID, comment string) (*Entry, error)
	RefuseCorrection(ctx context.Context, caseID, correctionID, reason string) (*Entry, error)

	// ClaimJob leases the next queued draft (or one whose lease expired)
	// to owner. Returns ENOTFOUND when there is none.
	ClaimJob(ctx context.Context, owner string, lease time.Duration) (*Job, error)
	// CompleteJob stores a generated draft and puts it up for review.
	// Returns ECONFLICT if the lease was lost.
	CompleteJob(ctx context.Context, job *Job, res *assistant.Result) error
	// FailJob retries the job at retryAt, or marks the draft failed with
	// reason when retryAt is nil. Returns ECONFLICT if the lease was lost.
	FailJob(ctx context.Context, job *Job, reason string, retryAt *time.Time) error
}
