// Package review is the heart of Countersign: the lifecycle of a draft from
// request to decision, who may decide it, and the signed case record. Nothing
// drafted by a model enters a case until a named person has signed it.
package review

import (
	"context"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
)

// Status is where a draft is in its lifecycle.
type Status string

// Draft statuses:
// queued → generating → pending_review → approved | rejected, and failed when
// the model could not produce a valid draft, superseded when a newer draft of
// the same kind over the same notes replaced it before a decision.
const (
	StatusQueued        Status = "queued"
	StatusGenerating    Status = "generating"
	StatusPendingReview Status = "pending_review"
	StatusApproved      Status = "approved"
	StatusRejected      Status = "rejected"
	StatusFailed        Status = "failed"
	StatusSuperseded    Status = "superseded"
)

var transitions = map[Status][]Status{
	StatusQueued:        {StatusGenerating, StatusFailed},
	StatusGenerating:    {StatusPendingReview, StatusFailed, StatusQueued, StatusGenerating},
	StatusPendingReview: {StatusApproved, StatusRejected, StatusSuperseded},
}

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

// Final reports whether no further change is possible.
func (s Status) Final() bool {
	return s == StatusApproved || s == StatusRejected || s == StatusFailed || s == StatusSuperseded
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
}

// DraftRequest asks for a new draft of a case.
type DraftRequest struct {
	CaseID         string
	Kind           assistant.Kind
	NoteIDs        []string // empty: every note of the case
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

// Decision is a reviewer's verdict on a draft.
type Decision struct {
	ID        string    `json:"id"`
	DraftID   string    `json:"draft_id"`
	Outcome   Outcome   `json:"outcome"`
	DecidedBy string    `json:"decided_by"`
	FinalText string    `json:"final_text,omitempty"`
	Edited    bool      `json:"edited"`
	EditRatio float64   `json:"edit_ratio"`
	Reason    string    `json:"reason,omitempty"`
	Comment   string    `json:"comment,omitempty"`
	ReviewMS  int64     `json:"review_ms"`
	Fast      bool      `json:"fast_sign_off"`
	DecidedAt time.Time `json:"decided_at"`
}

// Approval is the reviewer's sign-off, optionally with edited text.
type Approval struct {
	Content string // "" keeps the text as drafted
	Comment string
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
}

// QueueFilter selects the review queue; nil fields are not applied.
type QueueFilter struct {
	Kind   *assistant.Kind
	CaseID *string
	Before *time.Time // only drafts created before this (older than an age)
	After  string     // opaque cursor from the previous page
	Limit  int
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
	// OpenDraft records the first time the reviewer opens a pending draft
	// (review time is measured from then) and returns it.
	OpenDraft(ctx context.Context, id string) (*Draft, error)
	// FindQueue returns the drafts awaiting the actor's decision (a
	// supervisor: the team's) and the cursor of the next page.
	FindQueue(ctx context.Context, f QueueFilter) ([]*Draft, string, error)
	// ApproveDraft signs a pending draft into the case record. Returns
	// EFORBIDDEN, ECONFLICT when the draft is not pending, EINVALID.
	ApproveDraft(ctx context.Context, id string, a Approval) (*Entry, error)
	// RejectDraft turns a pending draft down. Same errors as ApproveDraft.
	RejectDraft(ctx context.Context, id string, r Rejection) (*Draft, error)
	// FindRecord returns the signed entries of a case.
	FindRecord(ctx context.Context, caseID string) ([]*Entry, error)

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
