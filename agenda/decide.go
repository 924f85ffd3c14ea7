package agenda

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
)

// The decisions of the agenda. Each takes what the store loaded, the
// command, the service's time zone and the clock, and returns the change
// and the audit events to write in the same transaction. Events carry ids,
// codes, dates and keyed commitments, never a title or a reason.

// Policy is the agenda's part of the authority's policy: the reminder
// offsets of each kind of entry (review.Policy holds it, from the
// agenda: section of the policy file).
type Policy struct {
	Reminders map[Kind][]time.Duration `json:"reminders"`
}

// DefaultPolicy reminds 7 days and 1 day before a hard deadline, 1 day
// before an appointment and 2 days before a soft deadline.
func DefaultPolicy() Policy {
	day := 24 * time.Hour
	return Policy{Reminders: map[Kind][]time.Duration{
		KindHardDeadline: {7 * day, day},
		KindAppointment:  {day},
		KindSoftDeadline: {2 * day},
	}}
}

// Offsets returns the reminder offsets of kind, longest first.
func (p Policy) Offsets(k Kind) []time.Duration {
	out := slices.Clone(p.Reminders[k])
	slices.SortFunc(out, func(a, b time.Duration) int { return int((b - a) / time.Minute) })
	return out
}

// ParsePolicy reads the reminders of an agenda: section ({kind: [7d, 1d]});
// kinds left out keep their default. It returns the field at fault with
// the error.
func ParsePolicy(reminders map[string][]string) (Policy, string, error) {
	p := DefaultPolicy()
	kinds := make([]string, 0, len(reminders))
	for k := range reminders {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		field := "agenda.reminders." + k
		if !Kind(k).Valid() {
			return Policy{}, field, fmt.Errorf("%q is not a kind of entry; choose %s", k, kindList())
		}
		var ds []time.Duration
		for i, s := range reminders[k] {
			d, err := ParseOffset(s)
			if err != nil {
				return Policy{}, fmt.Sprintf("%s[%d]", field, i), err
			}
			if slices.Contains(ds, d) {
				return Policy{}, fmt.Sprintf("%s[%d]", field, i), fmt.Errorf("%q is listed twice", s)
			}
			ds = append(ds, d)
		}
		p.Reminders[Kind(k)] = ds
	}
	return p, "", nil
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// MaxTitle bounds an entry's title, and MaxReason a closing reason, in characters.
const (
	MaxTitle  = 500
	MaxReason = 1000
)

// validText reports whether s is plain text: no control characters but
// line breaks and tabs.
func validText(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}

// checkWhen validates a date and an optional time of day and returns their instant.
func checkWhen(date, clock, dateField, timeField string, loc *time.Location, now time.Time) (time.Time, []countersign.FieldError) {
	var fields []countersign.FieldError
	d, err := time.ParseInLocation(time.DateOnly, date, loc)
	switch {
	case date == "":
		fields = append(fields, countersign.FieldError{Field: dateField, Message: "Give the date, such as 2026-12-15."})
	case err != nil:
		fields = append(fields, countersign.FieldError{Field: dateField, Message: fmt.Sprintf("%q is not a date; write it as YYYY-MM-DD, such as 2026-12-15.", date)})
	case d.Year() < now.In(loc).Year()-5 || d.After(now.AddDate(10, 0, 0)):
		fields = append(fields, countersign.FieldError{Field: dateField, Message: "Give a date within five years before and ten years after today."})
	}
	if clock != "" {
		if c, err := time.Parse("15:04", clock); err != nil || c.Format("15:04") != clock {
			fields = append(fields, countersign.FieldError{Field: timeField, Message: fmt.Sprintf("%q is not a time of day; write it as HH:MM, such as 09:30, or leave it out for the whole day.", clock)})
		}
	}
	if len(fields) > 0 {
		return time.Time{}, fields
	}
	at, _ := DueAt(date, clock, loc)
	return at, nil
}

func checkTitle(title string) (string, []countersign.FieldError) {
	title = strings.TrimSpace(title)
	switch {
	case title == "":
		return "", []countersign.FieldError{{Field: "title", Message: "Say in a few words what the date is for."}}
	case utf8.RuneCountInString(title) > MaxTitle || !validText(title):
		return "", []countersign.FieldError{{Field: "title", Message: fmt.Sprintf("Keep the title under %d characters of plain text.", MaxTitle)}}
	}
	return title, nil
}

// checkActor allows the case's worker, its team's supervisors and the
// service itself to change its agenda.
func checkActor(a countersign.Actor, c *casefile.Case) error {
	switch a.Role {
	case countersign.RoleWorker, countersign.RoleSupervisor, countersign.RoleSystem:
	default:
		return countersign.Errorf(countersign.EFORBIDDEN, "Only the case's worker or a supervisor of its team can change its agenda.")
	}
	return casefile.CheckWrite(a, c)
}

// DecideCreate decides adding an entry to case c: whoever may write the
// case. The entry belongs to the case's worker.
func DecideCreate(a countersign.Actor, c *casefile.Case, in Input, loc *time.Location, now time.Time) (*Entry, *audit.Record, error) {
	if err := checkActor(a, c); err != nil {
		return nil, nil, err
	}
	var fields []countersign.FieldError
	if !in.Kind.Valid() {
		fields = append(fields, countersign.FieldError{Field: "kind", Message: "Choose one of: " + kindList() + "."})
	}
	at, bad := checkWhen(in.Date, in.Time, "date", "time", loc, now)
	fields = append(fields, bad...)
	title, bad := checkTitle(in.Title)
	fields = append(fields, bad...)
	if len(fields) > 0 {
		return nil, nil, countersign.InvalidFields("The date could not be added to the agenda.", fields...)
	}
	shared := in.Kind == KindAppointment
	if in.Shared != nil {
		shared = *in.Shared
	}
	e := newEntry(a, c, in.Kind, in.Date, in.Time, at, title, shared, now)
	ev := createdEvent(a, e, "worker")
	return e, &ev, nil
}

func newEntry(a countersign.Actor, c *casefile.Case, k Kind, date, clock string, at time.Time, title string, shared bool, now time.Time) *Entry {
	id := newID(PrefixEntry)
	return &Entry{ID: id, CaseID: c.ID, CaseReference: c.Reference, TeamID: c.TeamID, OwnerID: c.WorkerID, Kind: k,
		Date: date, Time: clock, DueAt: at, Title: title, Shared: shared, Status: StatusOpen, UID: id,
		CreatedBy: a.UserID, CreatedAt: now, UpdatedAt: now, Salt: audit.NewSalt()}
}

func createdEvent(a countersign.Actor, e *Entry, source string) audit.Record {
	p := audit.Payload{"kind": string(e.Kind), "date": e.Date, "timed": strconv.FormatBool(e.Time != ""),
		"owner": e.OwnerID, "shared": strconv.FormatBool(e.Shared), "source": source}
	p.Commit("title", e.Salt, e.Title)
	if e.Source != nil {
		p["draft"], p["item"] = e.Source.DraftID, e.Source.ItemID
	}
	if e.PreviousID != "" {
		p["previous"] = e.PreviousID
	}
	return audit.Record{Actor: a, Action: ActionEntryCreated, SubjectType: "agenda_entry", SubjectID: e.ID, CaseID: e.CaseID, Payload: p}
}

// Signed is what a signed suggestions draft brings to the agenda: its
// content as drafted and which items the reviewer named, accepted or not.
type Signed struct {
	DraftID string
	Content *assistant.Content
	// Decided maps an item id to the reviewer's explicit verdict; items
	// not in it were accepted by default.
	Decided map[string]bool
}

// itemKinds maps suggestion item types to entry kinds. A deadline the
// notes name is a hard deadline: legal practice never lets one slip by as
// a soft reminder, and a worker can make it soft.
var itemKinds = map[string]Kind{assistant.ItemAppointment: KindAppointment, assistant.ItemDeadline: KindHardDeadline}

// FromSignOff decides the entries a signed suggestions draft brings to
// case c: each accepted appointment or deadline item with a due date the
// reviewer confirmed. A date the notes gave in full is confirmed by the
// sign-off; a date the service completed (the notes gave no year, see
// assistant.CompletedDate) is confirmed only when the reviewer accepted
// the item explicitly, having been shown the completed date. It returns the
// entries, one event each, and how many items were left out because their
// date was not confirmed. a is the signer.
func FromSignOff(a countersign.Actor, c *casefile.Case, s Signed, loc *time.Location, now time.Time) ([]*Entry, []audit.Record, int) {
	if s.Content == nil {
		return nil, nil, 0
	}
	var entries []*Entry
	var events []audit.Record
	unconfirmed := 0
	for _, it := range s.Content.Items {
		kind, ok := itemKinds[it.Type]
		if !ok || it.Due == "" {
			continue
		}
		accepted, explicit := s.Decided[it.ID]
		if explicit && !accepted {
			continue
		}
		completed := slices.ContainsFunc(it.CompletedDates, func(cd assistant.CompletedDate) bool { return cd.Date == it.Due })
		if completed && !explicit {
			unconfirmed++
			continue
		}
		at, err := DueAt(it.Due, "", loc)
		if err != nil {
			unconfirmed++
			continue
		}
		title := strings.Join(strings.Fields(it.Text), " ")
		if utf8.RuneCountInString(title) > MaxTitle {
			title = string([]rune(title)[:MaxTitle])
		}
		e := newEntry(a, c, kind, it.Due, "", at, title, kind == KindAppointment, now)
		src := &Source{DraftID: s.DraftID, ItemID: it.ID}
		for _, cit := range it.Citations {
			if cit.NoteID != "" && !slices.Contains(src.NoteIDs, cit.NoteID) {
				src.NoteIDs = append(src.NoteIDs, cit.NoteID)
			}
		}
		e.Source = src
		entries = append(entries, e)
		events = append(events, createdEvent(a, e, "draft"))
	}
	return entries, events, unconfirmed
}

// Change is what an update or a close decided: whether the entry's
// reminders must be scheduled again (its date or kind changed, or it was
// closed), the next entry of a move, and the events.
type Change struct {
	Reschedule bool
	Next       *Entry
	Events     []audit.Record
}

// DecideUpdate decides changing open entry e of case c, and applies upd to e.
func DecideUpdate(a countersign.Actor, c *casefile.Case, e *Entry, upd Update, loc *time.Location, now time.Time) (*Change, error) {
	if err := checkActor(a, c); err != nil {
		return nil, err
	}
	if e.Status != StatusOpen {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This date is closed; add a new one instead.")
	}
	next := *e
	var fields []countersign.FieldError
	var changed []string
	if upd.Kind != nil && *upd.Kind != e.Kind {
		if !upd.Kind.Valid() {
			fields = append(fields, countersign.FieldError{Field: "kind", Message: "Choose one of: " + kindList() + "."})
		}
		next.Kind, changed = *upd.Kind, append(changed, "kind")
	}
	if upd.Date != nil && *upd.Date != e.Date {
		next.Date, changed = *upd.Date, append(changed, "date")
	}
	if upd.Time != nil && *upd.Time != e.Time {
		next.Time, changed = *upd.Time, append(changed, "time")
	}
	if slices.Contains(changed, "date") || slices.Contains(changed, "time") {
		at, bad := checkWhen(next.Date, next.Time, "date", "time", loc, now)
		fields = append(fields, bad...)
		next.DueAt = at
	}
	if upd.Title != nil {
		title, bad := checkTitle(*upd.Title)
		fields = append(fields, bad...)
		if title != e.Title {
			next.Title, changed = title, append(changed, "title")
		}
	}
	if upd.Shared != nil && *upd.Shared != e.Shared {
		next.Shared, changed = *upd.Shared, append(changed, "shared")
	}
	if len(fields) > 0 {
		return nil, countersign.InvalidFields("The date could not be changed.", fields...)
	}
	if len(changed) == 0 {
		return &Change{}, nil
	}
	next.Sequence, next.UpdatedAt = e.Sequence+1, now
	*e = next
	p := updatedPayload(e, strings.Join(changed, ","))
	if slices.Contains(changed, "title") {
		p.Commit("title", e.Salt, e.Title)
	}
	resched := slices.ContainsFunc(changed, func(f string) bool { return f == "kind" || f == "date" || f == "time" })
	return &Change{Reschedule: resched, Events: []audit.Record{{Actor: a, Action: ActionEntryUpdated, SubjectType: "agenda_entry",
		SubjectID: e.ID, CaseID: e.CaseID, Payload: p}}}, nil
}

// updatedPayload is the payload of e's agenda.entry_updated event, e as
// changed: what changed (codes), and its kind, date, whether it has a time,
// and its new sequence, which staff calendars follow.
func updatedPayload(e *Entry, changed string) audit.Payload {
	return audit.Payload{"changed": changed, "kind": string(e.Kind), "date": e.Date,
		"timed": strconv.FormatBool(e.Time != ""), "sequence": strconv.Itoa(e.Sequence)}
}

// DecideClose decides closing open entry e of case c with cl.Outcome, and
// closes e: missed and not_relevant need a reason (kept in the case file,
// committed to in the log), moved needs the new date and creates the next
// entry, which keeps e's calendar UID so calendars show the same event moved.
func DecideClose(a countersign.Actor, c *casefile.Case, e *Entry, cl Close, loc *time.Location, now time.Time) (*Change, error) {
	if err := checkActor(a, c); err != nil {
		return nil, err
	}
	if e.Status != StatusOpen {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This date was already closed (%s).", strings.ReplaceAll(string(e.Outcome), "_", " "))
	}
	var fields []countersign.FieldError
	reason := strings.TrimSpace(cl.Reason)
	if !slices.Contains(Outcomes, cl.Outcome) {
		fields = append(fields, countersign.FieldError{Field: "outcome", Message: "Choose done, missed, moved or not_relevant."})
	}
	switch {
	case cl.Outcome.NeedsReason() && reason == "":
		fields = append(fields, countersign.FieldError{Field: "reason", Message: "Say why: a missed date, or one that no longer matters, is never closed without a reason."})
	case utf8.RuneCountInString(reason) > MaxReason || !validText(reason):
		fields = append(fields, countersign.FieldError{Field: "reason", Message: fmt.Sprintf("Keep the reason under %d characters of plain text.", MaxReason)})
	}
	var at time.Time
	if cl.Outcome == OutcomeMoved {
		var bad []countersign.FieldError
		at, bad = checkWhen(cl.NewDate, cl.NewTime, "new_date", "new_time", loc, now)
		if cl.NewDate == "" {
			bad = []countersign.FieldError{{Field: "new_date", Message: "Give the new date the appointment or deadline moved to."}}
		}
		fields = append(fields, bad...)
		if len(bad) == 0 && cl.NewDate == e.Date && cl.NewTime == e.Time {
			fields = append(fields, countersign.FieldError{Field: "new_date", Message: "The new date is the date it already has."})
		}
	} else if cl.NewDate != "" || cl.NewTime != "" {
		fields = append(fields, countersign.FieldError{Field: "new_date", Message: "A new date is given only when the date moved."})
	}
	if len(fields) > 0 {
		return nil, countersign.InvalidFields("The date could not be closed.", fields...)
	}
	closedAt := now
	e.Status, e.Outcome, e.Reason, e.ClosedBy, e.ClosedAt, e.UpdatedAt = StatusClosed, cl.Outcome, reason, a.UserID, &closedAt, now
	e.Sequence++
	p := audit.Payload{"outcome": string(cl.Outcome), "kind": string(e.Kind), "overdue": strconv.FormatBool(!now.Before(e.OverdueAt(loc)))}
	if reason != "" {
		p.Commit("reason", e.Salt, reason)
	}
	ch := &Change{Reschedule: true}
	if cl.Outcome == OutcomeMoved {
		n := newEntry(a, c, e.Kind, cl.NewDate, cl.NewTime, at, e.Title, e.Shared, now)
		n.OwnerID, n.Source, n.PreviousID, n.UID, n.Sequence = e.OwnerID, e.Source, e.ID, e.UID, e.Sequence+1
		e.NextID, ch.Next = n.ID, n
		p["next"] = n.ID
		ch.Events = append(ch.Events, audit.Record{Actor: a, Action: ActionEntryClosed, SubjectType: "agenda_entry", SubjectID: e.ID, CaseID: e.CaseID, Payload: p},
			createdEvent(a, n, "moved"))
		return ch, nil
	}
	ch.Events = []audit.Record{{Actor: a, Action: ActionEntryClosed, SubjectType: "agenda_entry", SubjectID: e.ID, CaseID: e.CaseID, Payload: p}}
	return ch, nil
}

// Deliver decides whom reminder r of entry e reaches at now: the owner for
// a reminder, the team's supervisors (or the owner when the team has none,
// so an escalation is never lost) for an escalation. An entry closed since
// gets nothing. The escalation's event, with the number of people told,
// is returned for the log; a reminder has none (the notification is its
// record).
func Deliver(e *Entry, r Reminder, supervisors []string, now time.Time, loc *time.Location) ([]*Notification, *audit.Record) {
	if e.Status != StatusOpen {
		return nil, nil
	}
	to := []string{e.OwnerID}
	var ev *audit.Record
	if r.Kind == NotifyEscalation {
		if e.Kind != KindHardDeadline || !e.IsOverdue(now, loc) {
			return nil, nil
		}
		if len(supervisors) > 0 {
			to = supervisors
		}
		ev = &audit.Record{Actor: countersign.System, Action: ActionDeadlineEscalated, SubjectType: "agenda_entry", SubjectID: e.ID,
			CaseID: e.CaseID, Payload: audit.Payload{"date": e.Date, "notified": strconv.Itoa(len(to)), "to_supervisors": strconv.FormatBool(len(supervisors) > 0)}}
	}
	out := make([]*Notification, len(to))
	for i, u := range to {
		out[i] = &Notification{ID: newID(PrefixNotification), UserID: u, Kind: r.Kind, EntryID: e.ID, CaseID: e.CaseID,
			CaseReference: e.CaseReference, EntryKind: e.Kind, Date: e.Date, Time: e.Time, Offset: r.Offset, CreatedAt: now}
	}
	return out, ev
}

// DecideFeed decides issuing a calendar feed for a staff actor: workers
// and supervisors have one; the previous one is revoked in the same
// transaction.
func DecideFeed(a countersign.Actor, feedID string, revoked int) (*audit.Record, error) {
	if a.Role != countersign.RoleWorker && a.Role != countersign.RoleSupervisor {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only workers and supervisors have a calendar feed.")
	}
	return &audit.Record{Actor: a, Action: ActionFeedIssued, SubjectType: "calendar_feed", SubjectID: feedID,
		Payload: audit.Payload{"owner": "staff", "revoked": strconv.Itoa(revoked)}}, nil
}

// DecideClientFeed decides a client's answer about a calendar feed of
// their appointments: given issues a feed (revoking any previous one);
// refused or withdrawn revokes it. The consent is recorded either way.
func DecideClientFeed(a countersign.Actor, c *FeedConsent, feedID string, revoked int) (*audit.Record, error) {
	if a.Role != countersign.RoleClient {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only the client can ask for their own calendar feed.")
	}
	p := audit.Payload{"given": strconv.FormatBool(c.Given), "revoked": strconv.Itoa(revoked), "consent": c.ID}
	if feedID != "" {
		p["feed"] = feedID
	}
	return &audit.Record{Actor: a, Action: ActionFeedConsent, SubjectType: "calendar_feed", SubjectID: c.ID, Payload: p}, nil
}

// CheckTeamOverdue reports whether a may see its team's overdue hard
// deadlines, across the team's cases: only the team's supervisors do.
func CheckTeamOverdue(a countersign.Actor) error {
	if a.Role != countersign.RoleSupervisor {
		return countersign.Errorf(countersign.EFORBIDDEN, "Only a team's supervisors see its overdue deadlines.")
	}
	return nil
}
