package agenda_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	ical "github.com/emersion/go-ical"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/agenda"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
)

var brussels = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		panic(err)
	}
	return loc
}()

var (
	worker = countersign.Actor{UserID: "usr_w", Role: countersign.RoleWorker, TeamID: "team_1"}
	kase   = &casefile.Case{ID: "case_1", Reference: "REF-1", TeamID: "team_1", WorkerID: "usr_w"}
	now    = time.Date(2026, 12, 1, 10, 0, 0, 0, brussels)
)

func open(t *testing.T, k agenda.Kind, date, clock string) *agenda.Entry {
	t.Helper()
	e, _, err := agenda.DecideCreate(worker, kase, agenda.Input{Kind: k, Date: date, Time: clock, Title: "Hearing"}, brussels, now)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDecideClose(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		close  agenda.Close
		fields []string
	}{
		{"DoneNeedsNothing", agenda.Close{Outcome: agenda.OutcomeDone}, nil},
		{"MissedNeedsAReason", agenda.Close{Outcome: agenda.OutcomeMissed}, []string{"reason"}},
		{"MissedWithAReason", agenda.Close{Outcome: agenda.OutcomeMissed, Reason: "The client was in hospital."}, nil},
		{"NotRelevantNeedsAReason", agenda.Close{Outcome: agenda.OutcomeNotRelevant, Reason: "  "}, []string{"reason"}},
		{"MovedNeedsTheNewDate", agenda.Close{Outcome: agenda.OutcomeMoved}, []string{"new_date"}},
		{"MovedToTheSameDateIsNoMove", agenda.Close{Outcome: agenda.OutcomeMoved, NewDate: "2026-12-15"}, []string{"new_date"}},
		{"MovedWithABadTime", agenda.Close{Outcome: agenda.OutcomeMoved, NewDate: "2026-12-16", NewTime: "9h"}, []string{"new_time"}},
		{"ANewDateOnlyWhenMoved", agenda.Close{Outcome: agenda.OutcomeDone, NewDate: "2026-12-16"}, []string{"new_date"}},
		{"AnUnknownOutcome", agenda.Close{Outcome: "forgotten"}, []string{"outcome"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := open(t, agenda.KindHardDeadline, "2026-12-15", "")
			ch, err := agenda.DecideClose(worker, kase, e, tc.close, brussels, now)
			if tc.fields != nil {
				ce, ok := err.(*countersign.Error)
				if !ok || ce.Code != countersign.EINVALID || len(ce.Fields) != len(tc.fields) || ce.Fields[0].Field != tc.fields[0] {
					t.Fatalf("error %#v, want EINVALID on %v", err, tc.fields)
				}
				if e.Status != agenda.StatusOpen {
					t.Fatal("a refused close changed the entry")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Status != agenda.StatusClosed || e.Outcome != tc.close.Outcome || e.Sequence != 1 || ch.Events[0].Action != agenda.ActionEntryClosed {
				t.Fatalf("closed %+v, change %+v", e, ch)
			}
			if _, err := agenda.DecideClose(worker, kase, e, tc.close, brussels, now); countersign.ErrorCode(err) != countersign.ECONFLICT {
				t.Fatalf("closing twice: %v", err)
			}
		})
	}
	t.Run("AMoveCreatesTheNextEntryWithTheSameUID", func(t *testing.T) {
		t.Parallel()
		e := open(t, agenda.KindAppointment, "2026-12-15", "10:00")
		ch, err := agenda.DecideClose(worker, kase, e, agenda.Close{Outcome: agenda.OutcomeMoved, NewDate: "2026-12-22", NewTime: "11:00"}, brussels, now)
		if err != nil {
			t.Fatal(err)
		}
		n := ch.Next
		if n == nil || n.UID != e.UID || n.ID == e.ID || n.Sequence != e.Sequence+1 || e.NextID != n.ID || n.PreviousID != e.ID ||
			!n.DueAt.Equal(time.Date(2026, 12, 22, 11, 0, 0, 0, brussels)) || len(ch.Events) != 2 || ch.Events[1].Payload["previous"] != e.ID {
			t.Fatalf("next %+v, events %+v", n, ch.Events)
		}
	})
	t.Run("OnlyThoseWhoMayWriteTheCase", func(t *testing.T) {
		t.Parallel()
		for _, a := range []countersign.Actor{
			{UserID: "usr_o", Role: countersign.RoleWorker, TeamID: "team_1"},
			{UserID: "usr_s", Role: countersign.RoleSupervisor, TeamID: "team_2"},
			{UserID: "usr_e", Role: countersign.RoleEthics},
			{UserID: "client:acc", Role: countersign.RoleClient},
		} {
			e := open(t, agenda.KindHardDeadline, "2026-12-15", "")
			if _, err := agenda.DecideClose(a, kase, e, agenda.Close{Outcome: agenda.OutcomeDone}, brussels, now); countersign.ErrorCode(err) != countersign.EFORBIDDEN {
				t.Fatalf("%s: %v", a.Role, err)
			}
		}
	})
}

func TestFromSignOff(t *testing.T) {
	t.Parallel()
	cit := []assistant.Citation{{NoteID: "note_1", Quote: "q"}}
	content := &assistant.Content{Items: []assistant.Item{
		{ID: "i1", Type: assistant.ItemAppointment, Text: "Job centre", Due: "2026-12-14", Citations: cit},
		{ID: "i2", Type: assistant.ItemDeadline, Text: "Energy form", Due: "2026-12-15", Citations: cit},
		{ID: "i3", Type: assistant.ItemDeadline, Text: "Hearing", Due: "2026-01-20", Citations: cit,
			CompletedDates: []assistant.CompletedDate{{Written: "20 January", Date: "2026-01-20"}}},
		{ID: "i4", Type: assistant.ItemAction, Text: "Call", Due: "2026-12-10", Citations: cit},
		{ID: "i5", Type: assistant.ItemDeadline, Text: "No date", Citations: cit},
		{ID: "i6", Type: assistant.ItemAppointment, Text: "Rejected", Due: "2026-12-18", Citations: cit},
	}}
	kinds := func(es []*agenda.Entry) string {
		var s []string
		for _, e := range es {
			s = append(s, e.Source.ItemID+":"+string(e.Kind))
		}
		return strings.Join(s, ",")
	}
	es, evs, unconfirmed := agenda.FromSignOff(worker, kase, agenda.Signed{DraftID: "drf_1", Content: content, Decided: map[string]bool{"i6": false}}, brussels, now)
	if kinds(es) != "i1:appointment,i2:hard_deadline" || len(evs) != 2 || unconfirmed != 1 {
		t.Fatalf("entries %s, %d events, %d unconfirmed", kinds(es), len(evs), unconfirmed)
	}
	if !es[0].Shared || es[1].Shared || es[0].Source.NoteIDs[0] != "note_1" || es[0].OwnerID != "usr_w" {
		t.Fatalf("entry %+v", es[0])
	}
	// A completed date counts once the reviewer accepted its item by name.
	es, _, unconfirmed = agenda.FromSignOff(worker, kase, agenda.Signed{DraftID: "drf_1", Content: content, Decided: map[string]bool{"i3": true, "i6": false}}, brussels, now)
	if kinds(es) != "i1:appointment,i2:hard_deadline,i3:hard_deadline" || unconfirmed != 0 {
		t.Fatalf("entries %s, %d unconfirmed", kinds(es), unconfirmed)
	}
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	p := agenda.DefaultPolicy()
	fires := func(e *agenda.Entry, at time.Time) []string {
		var s []string
		for _, r := range agenda.Schedule(e, p.Offsets(e.Kind), brussels, at) {
			s = append(s, r.Offset+"@"+r.FireAt.In(brussels).Format("2006-01-02 15:04 MST"))
		}
		return s
	}
	t.Run("AllDayRemindersArriveAtNineLocalAcrossTheDaylightSavingChange", func(t *testing.T) {
		t.Parallel()
		// Summer time ends on 25 October 2026 in Brussels: a week before
		// a deadline on 30 October is in summer time, the deadline not.
		e := open(t, agenda.KindHardDeadline, "2026-10-30", "")
		got := fires(e, time.Date(2026, 10, 1, 0, 0, 0, 0, brussels))
		want := []string{"7d@2026-10-23 09:00 CEST", "1d@2026-10-29 09:00 CET", "overdue@2026-10-31 00:00 CET"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("TimedRemindersKeepTheLocalHourInSpring", func(t *testing.T) {
		t.Parallel()
		// Summer time starts on 29 March 2026.
		e := open(t, agenda.KindHardDeadline, "2026-04-01", "14:30")
		if !e.DueAt.Equal(time.Date(2026, 4, 1, 12, 30, 0, 0, time.UTC)) {
			t.Fatalf("due at %v, want 12:30 UTC (CEST)", e.DueAt)
		}
		got := fires(e, time.Date(2026, 3, 1, 0, 0, 0, 0, brussels))
		want := []string{"7d@2026-03-25 14:30 CET", "1d@2026-03-31 14:30 CEST", "overdue@2026-04-01 14:30 CEST"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("PastRemindersAreNotSentLate", func(t *testing.T) {
		t.Parallel()
		e := open(t, agenda.KindAppointment, "2026-12-02", "")
		if got := fires(e, time.Date(2026, 12, 1, 12, 0, 0, 0, brussels)); len(got) != 0 {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("ASkippedLocalTimeMovesForward", func(t *testing.T) {
		t.Parallel()
		at, err := agenda.DueAt("2026-03-29", "02:30", brussels)
		if err != nil || !at.Equal(time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)) {
			t.Fatalf("%v %v", at, err)
		}
	})
}

func TestParsePolicy(t *testing.T) {
	t.Parallel()
	p, _, err := agenda.ParsePolicy(map[string][]string{"appointment": {"2h", "2d"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Offsets(agenda.KindAppointment); len(got) != 2 || got[0] != 48*time.Hour || got[1] != 2*time.Hour {
		t.Fatalf("offsets %v", got)
	}
	if got := p.Offsets(agenda.KindHardDeadline); len(got) != 2 {
		t.Fatalf("the default hard deadline offsets were lost: %v", got)
	}
	for in, field := range map[string]string{"meeting": "agenda.reminders.meeting", "appointment": "agenda.reminders.appointment[0]"} {
		_, f, err := agenda.ParsePolicy(map[string][]string{in: {"-1d"}})
		if err == nil || f != field {
			t.Fatalf("%s: field %q, err %v", in, f, err)
		}
	}
}

func TestCalendar(t *testing.T) {
	t.Parallel()
	timed := open(t, agenda.KindAppointment, "2026-12-14", "10:30")
	allDay := open(t, agenda.KindHardDeadline, "2026-12-15", "")
	allDay.Title = "Marie's energy form"
	body, err := agenda.Calendar([]*agenda.Entry{timed, allDay}, agenda.FeedOptions{Policy: agenda.DefaultPolicy(), Location: brussels, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if strings.Contains(string(body), "Marie") || strings.Contains(string(body), "Hearing") {
		t.Fatalf("a staff feed holds the title:\n%s", body)
	}
	evs := cal.Events()
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	d := evs[1]
	if p := d.Props.Get(ical.PropDateTimeStart); p == nil || p.Value != "20261215" || p.ValueType() != ical.ValueDate {
		t.Fatalf("all-day start %+v", p)
	}
	var triggers []string
	for _, c := range d.Children {
		triggers = append(triggers, c.Props.Get(ical.PropTrigger).Value)
	}
	if strings.Join(triggers, ",") != "-P6DT15H,-PT15H" {
		t.Fatalf("triggers %v: 7 and 1 days before at 09:00", triggers)
	}
	// The client's feed is in their language and may carry the title.
	timed.Shared = true
	body, err = agenda.Calendar([]*agenda.Entry{timed}, agenda.FeedOptions{Client: true, Language: "nl", Policy: agenda.DefaultPolicy(), Location: brussels, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	cal, err = ical.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := cal.Events()[0].Props.Text(ical.PropSummary); s != "Afspraak: Hearing" {
		t.Fatalf("client summary %q", s)
	}
	for _, lang := range agenda.Languages {
		for _, k := range append([]agenda.Kind{"calendar"}, agenda.Kinds...) {
			if agenda.Label(lang, string(k)) == "" {
				t.Fatalf("no %s label for %s", lang, k)
			}
		}
	}
}
