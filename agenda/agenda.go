// Package agenda keeps the dates nobody may forget: appointments, hard
// deadlines (a court's, an authority's: missing one costs the person their
// right) and soft deadlines (the worker's own reminders). Entries come from
// signed suggestions drafts or are added by workers; each is closed with an
// outcome, never silently; reminders from the policy's offsets arrive once,
// overdue hard deadlines escalate to the team's supervisors, and calendar
// feeds carry them to the worker's and the client's own calendars.
//
// The package holds the types and the pure rules (decide.go); sqlstore
// applies them and api and web serve them. Events carry ids and codes only.
package agenda

import (
	"context"
	"slices"
	"time"

	"github.com/countersign/countersign"
)

// Kind is what an entry is.
type Kind string

// Kinds of entry. Append only: they enter the audit log.
const (
	KindAppointment  Kind = "appointment"
	KindHardDeadline Kind = "hard_deadline"
	KindSoftDeadline Kind = "soft_deadline"
)

// Kinds lists the kinds of entry.
var Kinds = []Kind{KindAppointment, KindHardDeadline, KindSoftDeadline}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// Status is whether an entry is still to be dealt with.
type Status string

// Statuses.
const (
	StatusOpen   Status = "open"
	StatusClosed Status = "closed"
)

// Outcome is how an entry was closed.
type Outcome string

// Outcomes of closing an entry. Append only: they enter the audit log.
const (
	OutcomeDone        Outcome = "done"
	OutcomeMissed      Outcome = "missed"
	OutcomeMoved       Outcome = "moved"
	OutcomeNotRelevant Outcome = "not_relevant"
)

// Outcomes lists the outcomes of closing an entry.
var Outcomes = []Outcome{OutcomeDone, OutcomeMissed, OutcomeMoved, OutcomeNotRelevant}

// NeedsReason reports whether closing with o takes a reason: a missed
// date and one that no longer matters are explained, never silent.
func (o Outcome) NeedsReason() bool { return o == OutcomeMissed || o == OutcomeNotRelevant }

// Source is where an entry came from: the signed draft and its item, and
// the notes the item cited. Empty for an entry a worker added.
type Source struct {
	DraftID string   `json:"draft_id,omitempty"`
	ItemID  string   `json:"item_id,omitempty"`
	NoteIDs []string `json:"note_ids,omitempty"`
}

// Entry is one appointment or deadline of a case. Date is the day in the
// service's time zone (YYYY-MM-DD) and Time the local time of day (HH:MM)
// when one is known, "" for an all-day entry; DueAt is the same instant in
// UTC: the local time, or the start of the local day for an all-day entry.
// Title is the worker's (or the signed item's) words and never enters the
// audit log or a staff calendar feed.
type Entry struct {
	ID            string    `json:"id"`
	CaseID        string    `json:"case_id"`
	CaseReference string    `json:"case_reference"`
	TeamID        string    `json:"team_id"`
	OwnerID       string    `json:"owner_id"`
	Kind          Kind      `json:"kind"`
	Date          string    `json:"date"`
	Time          string    `json:"time,omitempty"`
	DueAt         time.Time `json:"due_at"`
	Title         string    `json:"title"`
	// Shared puts the entry in the client's own calendar feed, with its
	// title, when the client asked for one.
	Shared bool    `json:"shared_with_client"`
	Source *Source `json:"source,omitempty"`
	Status Status  `json:"status"`
	// Outcome, Reason, ClosedBy and ClosedAt are set once the entry is closed.
	Outcome  Outcome    `json:"outcome,omitempty"`
	Reason   string     `json:"reason,omitempty"`
	ClosedBy string     `json:"closed_by,omitempty"`
	ClosedAt *time.Time `json:"closed_at,omitempty"`
	// NextID names the entry a move created; PreviousID the one it replaced.
	NextID     string `json:"next_id,omitempty"`
	PreviousID string `json:"previous_id,omitempty"`
	// UID is the entry's identity in calendar feeds: a moved entry's next
	// entry keeps it, so the calendar shows one event that moved.
	// Sequence counts the changes a calendar must pick up (RFC 5545 SEQUENCE).
	UID       string    `json:"uid"`
	Sequence  int       `json:"sequence"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Overdue is computed when the entry is read: open, and past its time
	// (an all-day entry, past its day).
	Overdue bool `json:"overdue"`
	// Salt keys the log's commitments to Title and Reason (audit.Commit).
	Salt string `json:"-"`
}

// Input is what a worker gives to add an entry, or to change one (nil
// fields of an Update are left as they are).
type Input struct {
	Kind   Kind   `json:"kind"`
	Date   string `json:"date"`
	Time   string `json:"time"`
	Title  string `json:"title"`
	Shared *bool  `json:"shared_with_client"`
}

// Update changes an open entry; nil fields are left as they are.
type Update struct {
	Kind   *Kind   `json:"kind"`
	Date   *string `json:"date"`
	Time   *string `json:"time"`
	Title  *string `json:"title"`
	Shared *bool   `json:"shared_with_client"`
}

// Close closes an entry with an outcome: missed and not_relevant need a
// Reason, moved needs NewDate (and NewTime when the new one has a time)
// and creates the next entry.
type Close struct {
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason"`
	NewDate string  `json:"new_date"`
	NewTime string  `json:"new_time"`
}

// Filter selects entries; nil fields are not applied.
type Filter struct {
	CaseID  *string
	OwnerID *string
	// TeamID with Overdue and Kind: a supervisor's view of the team's
	// overdue hard deadlines.
	TeamID *string
	Kind   *Kind
	Status *Status
	// From and To bound DueAt: [From, To).
	From, To *time.Time
	// Overdue keeps open entries past their time.
	Overdue bool
	Limit   int
}

// Agenda is a person's entries sorted into what is overdue, due today and
// coming.
type Agenda struct {
	// From and To are the window's local dates, To excluded, and
	// TimeZone the zone they are in.
	From     string   `json:"from"`
	To       string   `json:"to"`
	TimeZone string   `json:"time_zone"`
	Overdue  []*Entry `json:"overdue"`
	Today    []*Entry `json:"today"`
	Upcoming []*Entry `json:"upcoming"`
}

// Notification is an in-app message to one user: a reminder of an entry,
// or the escalation of an overdue hard deadline. It names the entry, never
// its title.
type Notification struct {
	ID            string     `json:"id"`
	UserID        string     `json:"user_id"`
	Kind          string     `json:"kind"`
	EntryID       string     `json:"entry_id"`
	CaseID        string     `json:"case_id"`
	CaseReference string     `json:"case_reference"`
	EntryKind     Kind       `json:"entry_kind"`
	Date          string     `json:"date"`
	Time          string     `json:"time,omitempty"`
	Offset        string     `json:"offset,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	ReadAt        *time.Time `json:"read_at,omitempty"`
}

// Notification kinds.
const (
	NotifyReminder   = "reminder"
	NotifyEscalation = "escalation"
)

// Notifications is a page of a user's notifications and how many are unread.
type Notifications struct {
	Unread int             `json:"unread"`
	Items  []*Notification `json:"items"`
}

// Feed is a calendar feed as issued: its secret URL path, shown once.
type Feed struct {
	ID   string `json:"id"`
	Path string `json:"-"`
	URL  string `json:"url"`
}

// FeedConsent is a client's recorded answer about a calendar feed of their
// appointments, kept like the consent records of casefile: rows are never
// changed, a withdrawal is a new row.
type FeedConsent struct {
	ID         string    `json:"id"`
	AccountID  string    `json:"account_id"`
	Given      bool      `json:"given"`
	RecordedAt time.Time `json:"recorded_at"`
}

// Store persists the agenda. The acting user comes from the context; case
// access follows casefile.CheckRead and CheckWrite.
type Store interface {
	// CreateEntry adds an entry to a case. Returns ENOTFOUND, EFORBIDDEN, EINVALID.
	CreateEntry(ctx context.Context, caseID string, in Input) (*Entry, error)
	// UpdateEntry changes an open entry. Returns ENOTFOUND, EFORBIDDEN,
	// EINVALID, ECONFLICT (closed).
	UpdateEntry(ctx context.Context, id string, upd Update) (*Entry, error)
	// CloseEntry closes an open entry with an outcome, and returns it with
	// the next entry when it was moved. Returns ENOTFOUND, EFORBIDDEN,
	// EINVALID, ECONFLICT (already closed).
	CloseEntry(ctx context.Context, id string, c Close) (*Entry, *Entry, error)
	// FindEntryByID returns ENOTFOUND or EFORBIDDEN.
	FindEntryByID(ctx context.Context, id string) (*Entry, error)
	// FindCaseAgenda returns a case's entries by date. Returns ENOTFOUND or EFORBIDDEN.
	FindCaseAgenda(ctx context.Context, caseID string) ([]*Entry, error)
	// FindMyAgenda returns the actor's open entries from the day from to
	// the day before to (local dates, "" for today and two weeks on; see
	// Window) and every overdue one, sorted into overdue, today and
	// upcoming. Returns EINVALID for a bad window.
	FindMyAgenda(ctx context.Context, from, to string) (*Agenda, error)
	// FindTeamOverdue returns the open, overdue hard deadlines of the
	// supervisor's team. Returns EFORBIDDEN for anyone else.
	FindTeamOverdue(ctx context.Context) ([]*Entry, error)
	// FindNotifications returns the actor's latest notifications.
	FindNotifications(ctx context.Context, limit int) (*Notifications, error)
	// MarkNotificationsRead marks the actor's notifications read: those
	// named, or all when ids is empty. It returns how many it marked.
	MarkNotificationsRead(ctx context.Context, ids []string) (int, error)
	// IssueFeed issues the actor's calendar feed, revoking the previous one.
	IssueFeed(ctx context.Context) (*Feed, error)
	// RenderFeed returns the calendar of the feed whose secret is token.
	// Returns ENOTFOUND for an unknown or revoked token.
	RenderFeed(ctx context.Context, token string) ([]byte, error)
	// CountUnread returns how many of the actor's notifications are unread.
	CountUnread(ctx context.Context) (int, error)
	// IssueClientFeed records the signed-in client's consent to a feed of
	// their appointments and issues it (given), or revokes it (not
	// given, returning nil). Returns EUNAUTHORIZED without a client.
	IssueClientFeed(ctx context.Context, given bool) (*Feed, error)
	// FindClientAgenda returns the signed-in client's open entries shared
	// with them, from today on.
	FindClientAgenda(ctx context.Context) ([]*Entry, error)
}

// Prefixes of the agenda's ids.
const (
	PrefixEntry        = "agd"
	PrefixReminder     = "rmd"
	PrefixNotification = "ntf"
	PrefixFeed         = "feed"
	PrefixFeedConsent  = "fcn"
)

// Audit actions of the agenda. Append only; do not rename.
const (
	ActionEntryCreated      = "agenda.entry_created"
	ActionEntryUpdated      = "agenda.entry_updated"
	ActionEntryClosed       = "agenda.entry_closed"
	ActionDeadlineEscalated = "agenda.deadline_escalated"
	ActionFeedIssued        = "agenda.feed_issued"
	ActionFeedConsent       = "agenda.feed_consent"
)

// newID returns an id with prefix.
func newID(prefix string) string { return countersign.NewID(prefix) }
