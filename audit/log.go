package audit

import (
	"context"
	"time"
)

// Actions recorded in the log. Append only; do not rename: the names are
// part of every leaf ever hashed.
const (
	ActionUserCreated      = "user.created"
	ActionTokenCreated     = "token.created"
	ActionTokenRevoked     = "token.revoked"
	ActionTeamCreated      = "team.created"
	ActionCaseCreated      = "case.created"
	ActionPartyAdded       = "party.added"
	ActionNoteAdded        = "note.added"
	ActionConsentRecorded  = "consent.recorded"
	ActionConsentWithdrawn = "consent.withdrawn"
	ActionDraftRequested   = "draft.requested"
	ActionDraftClaimed     = "draft.claimed"
	ActionDraftGenerated   = "draft.generated"
	ActionDraftFailed      = "draft.failed"
	ActionDraftRetry       = "draft.retry_scheduled"
	// A person asked for a failed draft to be generated again.
	ActionDraftRequeued    = "draft.requeued"
	ActionDraftOpened      = "draft.opened"
	ActionDraftApproved    = "draft.approved"
	ActionDraftRejected    = "draft.rejected"
	ActionDraftReassigned  = "draft.reassigned"
	ActionDraftSuperseded  = "draft.superseded"
	ActionDraftCountersign = "draft.countersigned"
	ActionDraftVigilance   = "draft.vigilance"
	ActionRecordSigned     = "record.signed"
	ActionRecordCorrected  = "record.corrected"
	// A correction that needs a second signature waits; a supervisor then
	// countersigns it (record.corrected) or refuses it.
	ActionRecordCorrectionPending = "record.correction_pending"
	ActionRecordCorrectionRefused = "record.correction_refused"
	ActionCheckpointSigned        = "checkpoint.signed"
)

// EventFilter selects events; nil fields are not applied.
type EventFilter struct {
	CaseID  *string
	ActorID *string
	Action  *string
	Since   *time.Time
	Until   *time.Time
	After   *uint64 // only events with Seq > After, for paging
	Limit   int
}

// Log is the read side of the audit log. It has no Update or Delete: events
// are appended by the stores, in the transaction of the change they record,
// and the database refuses to change them afterwards.
type Log interface {
	// FindEvents returns the sequenced events matching f in sequence order.
	FindEvents(ctx context.Context, f EventFilter) ([]*Event, error)
	// FindEventBySeq returns one event. Returns ENOTFOUND if seq is not yet in the log.
	FindEventBySeq(ctx context.Context, seq uint64) (*Event, error)
	// Sequence gives every pending event its place in the log now and
	// returns the new head size.
	Sequence(ctx context.Context) (uint64, error)
}
