package agenda

import (
	"fmt"

	"github.com/countersign/countersign"
	"sort"
	"strings"
	"time"
)

// DefaultTimeZone is the service's time zone when none is configured: the
// zone all-day dates are read in and entries are shown in.
const DefaultTimeZone = "Europe/Brussels"

// ReminderHour is the local hour at which a reminder of an all-day entry
// arrives: a reminder "1 day before" a deadline on the 15th arrives on the
// 14th at 09:00, not at midnight.
const ReminderHour = 9

// DueAt returns the instant of a local date (YYYY-MM-DD) and time of day
// (HH:MM, or "" for the start of the day) in loc, in UTC. A local time that
// a daylight-saving change skips is taken forward, as time.Date does.
func DueAt(date, clock string, loc *time.Location) (time.Time, error) {
	d, err := time.ParseInLocation(time.DateOnly, date, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q: %w", date, err)
	}
	if clock == "" {
		return d.UTC(), nil
	}
	c, err := time.Parse("15:04", clock)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", clock, err)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), c.Hour(), c.Minute(), 0, 0, loc).UTC(), nil
}

// OverdueAt returns when e becomes overdue: its time, or for an all-day
// entry the start of the next local day.
func (e *Entry) OverdueAt(loc *time.Location) time.Time {
	if e.Time != "" {
		return e.DueAt
	}
	d := e.DueAt.In(loc)
	return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc).UTC()
}

// IsOverdue reports whether e is open and past its time at now.
func (e *Entry) IsOverdue(now time.Time, loc *time.Location) bool {
	return e.Status == StatusOpen && !now.Before(e.OverdueAt(loc))
}

// Window reads the window of a person's agenda: from and to are local
// dates (YYYY-MM-DD), to excluded; "" means today and two weeks after from.
// The window is at most a year long.
func Window(from, to string, now time.Time, loc *time.Location) (time.Time, time.Time, error) {
	var fields []countersign.FieldError
	day := func(name, v string, def time.Time) time.Time {
		if v == "" {
			return def
		}
		t, err := time.ParseInLocation(time.DateOnly, v, loc)
		if err != nil {
			fields = append(fields, countersign.FieldError{Field: name, Message: "Give a date such as 2026-12-15."})
		}
		return t
	}
	today := now.In(loc)
	f := day("from", from, time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, loc))
	t := day("to", to, f.AddDate(0, 0, 14))
	if len(fields) == 0 && (!t.After(f) || t.After(f.AddDate(1, 0, 1))) {
		fields = append(fields, countersign.FieldError{Field: "to", Message: "Give a day after from, at most a year later."})
	}
	if len(fields) > 0 {
		return time.Time{}, time.Time{}, countersign.InvalidFields("The agenda could not be read.", fields...)
	}
	return f, t, nil
}

// Today returns the local date of now in loc (YYYY-MM-DD).
func Today(now time.Time, loc *time.Location) string { return now.In(loc).Format(time.DateOnly) }

// Sort sorts entries into an Agenda at now: the open overdue ones first
// (oldest first), then those of today, then those to come, each by time.
// Closed entries are left out.
func Sort(entries []*Entry, now time.Time, loc *time.Location) *Agenda {
	a := &Agenda{Overdue: []*Entry{}, Today: []*Entry{}, Upcoming: []*Entry{}}
	today := Today(now, loc)
	for _, e := range entries {
		if e.Status != StatusOpen {
			continue
		}
		e.Overdue = e.IsOverdue(now, loc)
		switch {
		case e.Overdue:
			a.Overdue = append(a.Overdue, e)
		case e.Date == today:
			a.Today = append(a.Today, e)
		default:
			a.Upcoming = append(a.Upcoming, e)
		}
	}
	for _, l := range [][]*Entry{a.Overdue, a.Today, a.Upcoming} {
		sort.SliceStable(l, func(i, j int) bool { return l[i].DueAt.Before(l[j].DueAt) })
	}
	return a
}

// Reminder is one reminder of an entry, delivered once: at FireAt, to the
// entry's owner (Kind NotifyReminder), or for an overdue hard deadline to
// the team's supervisors (Kind NotifyEscalation, Offset "overdue").
type Reminder struct {
	ID      string
	EntryID string
	Kind    string
	Offset  string
	FireAt  time.Time
}

// OffsetOverdue is the offset of an escalation.
const OffsetOverdue = "overdue"

// OffsetCode names an offset: "7d" for whole days, else Go's duration ("2h0m0s").
func OffsetCode(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// ParseOffset reads an offset as the policy writes it: "7d" for days, or a
// Go duration such as "2h" or "90m". It must be positive and at most a year.
func ParseOffset(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err != nil || fmt.Sprint(days) != n {
			return 0, fmt.Errorf("%q is not a number of days such as 7d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not an offset such as 7d or 2h", s)
		}
	}
	if d <= 0 || d > 366*24*time.Hour {
		return 0, fmt.Errorf("%q must be positive and at most 366d", s)
	}
	return d, nil
}

// remindAt returns when the reminder offset before e arrives. Whole days
// are counted on the local calendar, so a reminder a week before a date
// after a daylight-saving change arrives at the same local hour; an
// all-day entry is reminded at ReminderHour.
func remindAt(e *Entry, offset time.Duration, loc *time.Location) time.Time {
	anchor := e.DueAt.In(loc)
	if e.Time == "" {
		anchor = time.Date(anchor.Year(), anchor.Month(), anchor.Day(), ReminderHour, 0, 0, 0, loc)
	}
	if offset%(24*time.Hour) == 0 {
		return anchor.AddDate(0, 0, -int(offset/(24*time.Hour))).UTC()
	}
	return anchor.Add(-offset).UTC()
}

// Schedule returns the reminders of open entry e under offsets that are
// still to come at now, and for a hard deadline its escalation when it
// becomes overdue. Reminders already past are not sent late: an entry added
// two days before its date gets no "7 days before" reminder.
func Schedule(e *Entry, offsets []time.Duration, loc *time.Location, now time.Time) []Reminder {
	if e.Status != StatusOpen {
		return nil
	}
	var out []Reminder
	for _, o := range offsets {
		at := remindAt(e, o, loc)
		if at.After(now) {
			out = append(out, Reminder{ID: newID(PrefixReminder), EntryID: e.ID, Kind: NotifyReminder, Offset: OffsetCode(o), FireAt: at})
		}
	}
	if e.Kind == KindHardDeadline {
		out = append(out, Reminder{ID: newID(PrefixReminder), EntryID: e.ID, Kind: NotifyEscalation, Offset: OffsetOverdue, FireAt: e.OverdueAt(loc)})
	}
	return out
}
