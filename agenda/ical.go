package agenda

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"
)

//go:embed labels.json
var labelsJSON []byte

// labels is the catalogue of the few words a calendar feed carries, per
// language: the calendar's name and the name of each kind of entry.
var labels = func() map[string]map[string]string {
	var m map[string]map[string]string
	if err := json.Unmarshal(labelsJSON, &m); err != nil {
		panic(err) // the catalogue is embedded; a test reads it
	}
	return m
}()

// Languages lists the languages of the feed catalogue.
var Languages = []string{"en", "fr", "nl", "de"}

// Label returns the word for key (a kind, "calendar") in lang, or in
// English when lang has none.
func Label(lang, key string) string {
	if s, ok := labels[lang][key]; ok {
		return s
	}
	return labels["en"][key]
}

// FeedOptions say how a calendar feed is written.
type FeedOptions struct {
	// Client writes a client's feed: in Language, with the titles of the
	// entries shared with them. A staff feed names a case reference and a
	// kind only, never a name or a case's words, since calendars are
	// synchronised to phones and third-party services.
	Client   bool
	Language string
	Policy   Policy
	Location *time.Location
	Now      time.Time
}

// Calendar writes entries as an RFC 5545 calendar. Each event's UID is the
// entry's UID, stable across changes; SEQUENCE counts its changes; a closed
// entry shows its outcome (not_relevant as STATUS:CANCELLED), an entry that
// was moved is left out, since the entry it moved to carries its UID with a
// higher SEQUENCE. Open entries carry a VALARM per reminder offset of the
// policy.
func Calendar(entries []*Entry, o FeedOptions) ([]byte, error) {
	lang := "en"
	if o.Client && o.Language != "" {
		lang = o.Language
	}
	cal := ics.NewCalendarFor("Countersign")
	cal.SetMethod(ics.MethodPublish)
	cal.SetName(Label(lang, "calendar"))
	cal.SetXWRCalName(Label(lang, "calendar"))
	cal.SetRefreshInterval("PT1H")
	for _, e := range entries {
		if e.NextID != "" {
			continue
		}
		ev := cal.AddEvent(e.UID + "@countersign")
		ev.SetDtStampTime(o.Now)
		ev.SetModifiedAt(e.UpdatedAt)
		ev.SetSequence(e.Sequence)
		if e.Time == "" {
			d := e.DueAt.In(o.Location)
			ev.SetAllDayStartAt(d)
			ev.SetAllDayEndAt(d.AddDate(0, 0, 1))
		} else {
			ev.SetStartAt(e.DueAt)
			ev.SetEndAt(e.DueAt.Add(30 * time.Minute))
		}
		summary := e.CaseReference + " · " + Label(lang, string(e.Kind))
		if o.Client {
			summary = Label(lang, string(e.Kind))
			if e.Shared && e.Title != "" {
				summary += ": " + e.Title
			}
		}
		ev.SetSummary(summary, &ics.KeyValues{Key: string(ics.ParameterLanguage), Value: []string{lang}})
		ev.SetClass(ics.ClassificationPrivate)
		switch {
		case e.Status == StatusClosed && e.Outcome == OutcomeNotRelevant:
			ev.SetStatus(ics.ObjectStatusCancelled)
		default:
			ev.SetStatus(ics.ObjectStatusConfirmed)
		}
		if e.Status != StatusOpen {
			continue
		}
		for _, off := range o.Policy.Offsets(e.Kind) {
			al := ev.AddAlarm()
			al.SetAction(ics.ActionDisplay)
			al.SetTrigger(Trigger(e, off))
			al.SetProperty(ics.ComponentPropertyDescription, summary)
		}
	}
	var b strings.Builder
	if err := cal.SerializeTo(&b); err != nil {
		return nil, fmt.Errorf("write calendar: %w", err)
	}
	return []byte(b.String()), nil
}

// Trigger returns the VALARM trigger of a reminder offset before e, as an
// RFC 5545 duration relative to the event's start, matching the in-app
// reminder (remindAt): whole days are nominal days, which calendars count
// in local time across daylight-saving changes, and an all-day entry is
// reminded at ReminderHour of the day.
func Trigger(e *Entry, off time.Duration) string {
	day := 24 * time.Hour
	if e.Time == "" {
		// The event starts at local midnight; the reminder is at
		// ReminderHour so many days before.
		if off%day == 0 {
			days := int(off / day)
			return isoDuration(-(days - 1), -(24 - ReminderHour), 0)
		}
		return isoDuration(0, 0, -int((off-ReminderHour*time.Hour)/time.Minute))
	}
	if off%day == 0 {
		return isoDuration(-int(off/day), 0, 0)
	}
	return isoDuration(0, 0, -int(off/time.Minute))
}

// isoDuration writes days, hours and minutes, all of one sign, as an RFC
// 5545 duration such as -P6DT15H.
func isoDuration(days, hours, minutes int) string {
	sign := ""
	if days < 0 || hours < 0 || minutes < 0 {
		sign, days, hours, minutes = "-", -days, -hours, -minutes
	}
	hours += minutes / 60
	minutes %= 60
	s := sign + "P"
	if days > 0 {
		s += fmt.Sprintf("%dD", days)
	}
	if hours > 0 || minutes > 0 {
		s += "T"
		if hours > 0 {
			s += fmt.Sprintf("%dH", hours)
		}
		if minutes > 0 {
			s += fmt.Sprintf("%dM", minutes)
		}
	}
	if s == sign+"P" {
		s += "T0M"
	}
	return s
}
