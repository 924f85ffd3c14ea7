package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	ical "github.com/emersion/go-ical"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/agenda"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// fixedClock is a DB.Now that a test sets and moves by hand.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var agendaDSNs = map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN}

func TestAgenda(t *testing.T) {
	t.Parallel()
	brussels, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		t.Fatal(err)
	}
	for name, dsn := range agendaDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			must := func(t *testing.T, err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			code := func(t *testing.T, err error, want string) {
				t.Helper()
				if got := countersign.ErrorCode(err); got != want {
					t.Fatalf("error %v: code %q, want %q", err, got, want)
				}
			}
			// setup opens a database with a clock at 1 December 2026,
			// 10:00 in Brussels, and the fixture.
			setup := func(t *testing.T) (*sqlstore.DB, *storetest.Fixture, *fixedClock, string) {
				t.Helper()
				d := dsn(t)
				db := storetest.MustOpen(t, d)
				clk := &fixedClock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, brussels)}
				db.Now = clk.Now
				f := storetest.MustSeed(t, db)
				return db, f, clk, d
			}
			events := func(t *testing.T, db *sqlstore.DB, action string) []*audit.Event {
				t.Helper()
				ctx := storetest.CLI()
				_, err := db.Sequence(ctx)
				must(t, err)
				evs, err := db.FindEvents(ctx, audit.EventFilter{Action: &action})
				must(t, err)
				return evs
			}
			unsent := func(t *testing.T, db *sqlstore.DB, entryID string) []string {
				t.Helper()
				var offs []string
				must(t, db.Raw().Select(&offs, db.Raw().Rebind(`SELECT offset_code FROM agenda_reminders
					WHERE entry_id = ? AND sent_at IS NULL ORDER BY fire_at`), entryID))
				return offs
			}

			t.Run("ASignedSuggestionsDraftBringsItsDatesToTheAgenda", func(t *testing.T) {
				t.Parallel()
				db, f, _, _ := setup(t)
				wctx := storetest.As(context.Background(), f.Worker)
				d := storetest.MustDraft(t, db, f, assistant.KindSuggestions)
				want := map[agenda.Kind]string{}
				for _, it := range d.Content.Items {
					switch it.Type {
					case assistant.ItemAppointment:
						want[agenda.KindAppointment] = it.Due
					case assistant.ItemDeadline:
						want[agenda.KindHardDeadline] = it.Due
					}
				}
				if want[agenda.KindAppointment] != "2026-12-14" || want[agenda.KindHardDeadline] != "2026-12-15" {
					t.Fatalf("the drafter suggested %+v; the fixture's notes hold an appointment on 14 and a deadline on 15 December", d.Content.Items)
				}
				// Before the sign-off the agenda is empty: a draft is not the record.
				es, err := db.FindCaseAgenda(wctx, f.Case.ID)
				must(t, err)
				if len(es) != 0 {
					t.Fatalf("entries before the sign-off: %+v", es)
				}
				_, err = storetest.Approve(db, wctx, d.ID, review.Approval{})
				must(t, err)
				es, err = db.FindCaseAgenda(wctx, f.Case.ID)
				must(t, err)
				if len(es) != 2 {
					t.Fatalf("entries after the sign-off: %+v", es)
				}
				for _, e := range es {
					if want[e.Kind] != e.Date || e.OwnerID != f.Worker.ID || e.Source == nil || e.Source.DraftID != d.ID ||
						len(e.Source.NoteIDs) == 0 || e.CaseReference != f.Case.Reference || e.Status != agenda.StatusOpen {
						t.Fatalf("entry %+v (source %+v)", e, e.Source)
					}
					if e.Source.NoteIDs[0] != f.Notes[1].ID {
						t.Fatalf("entry %s cites %v, want the note with the dates %s", e.ID, e.Source.NoteIDs, f.Notes[1].ID)
					}
				}
				evs := events(t, db, agenda.ActionEntryCreated)
				if len(evs) != 2 {
					t.Fatalf("%d %s events", len(evs), agenda.ActionEntryCreated)
				}
				for _, ev := range evs {
					if ev.Payload["draft"] != d.ID || ev.Payload["source"] != "draft" || ev.ActorID != f.Worker.ID {
						t.Fatalf("event %+v", ev)
					}
					for k, v := range ev.Payload {
						if strings.Contains(v, "Marie") || strings.Contains(v, "job centre") || strings.Contains(v, "energy") {
							t.Fatalf("event field %s holds case prose: %q", k, v)
						}
					}
				}
			})

			t.Run("ARejectedItemStaysOutOfTheAgenda", func(t *testing.T) {
				t.Parallel()
				db, f, _, _ := setup(t)
				wctx := storetest.As(context.Background(), f.Worker)
				d := storetest.MustDraft(t, db, f, assistant.KindSuggestions)
				var decisions []review.ItemDecision
				for _, it := range d.Content.Items {
					if it.Type == assistant.ItemDeadline {
						decisions = append(decisions, review.ItemDecision{ID: it.ID, Accepted: false})
					}
				}
				_, err := storetest.Approve(db, wctx, d.ID, review.Approval{Items: decisions})
				must(t, err)
				es, err := db.FindCaseAgenda(wctx, f.Case.ID)
				must(t, err)
				if len(es) != 1 || es[0].Kind != agenda.KindAppointment {
					t.Fatalf("entries: %+v", es)
				}
			})

			t.Run("WorkersAddChangeAndCloseEntriesUnderTheCaseRules", func(t *testing.T) {
				t.Parallel()
				db, f, _, _ := setup(t)
				wctx := storetest.As(context.Background(), f.Worker)
				sctx := storetest.As(context.Background(), f.Supervisor)
				// Bad input: every field named, nothing written.
				_, err := db.CreateEntry(wctx, f.Case.ID, agenda.Input{Kind: "meeting", Date: "15/12/2026", Time: "25:00"})
				code(t, err, countersign.EINVALID)
				var ce *countersign.Error
				if !errors.As(err, &ce) || len(ce.Fields) != 4 {
					t.Fatalf("fields: %+v", err)
				}
				// Others are refused as the case refuses them.
				for _, u := range []*storetest.Fixture{f} {
					for _, other := range []context.Context{storetest.As(context.Background(), u.Other), storetest.As(context.Background(), u.OtherSupervisor), storetest.As(context.Background(), u.Ethics)} {
						_, err := db.CreateEntry(other, f.Case.ID, agenda.Input{Kind: agenda.KindHardDeadline, Date: "2026-12-20", Title: "Appeal"})
						code(t, err, countersign.EFORBIDDEN)
						_, err = db.FindCaseAgenda(other, f.Case.ID)
						code(t, err, countersign.EFORBIDDEN)
					}
				}
				es, err := db.FindCaseAgenda(wctx, f.Case.ID)
				must(t, err)
				if len(es) != 0 {
					t.Fatalf("a refused entry was written: %+v", es)
				}
				e, err := db.CreateEntry(wctx, f.Case.ID, agenda.Input{Kind: agenda.KindHardDeadline, Date: "2026-12-20", Title: "Appeal to the housing court"})
				must(t, err)
				if got := unsent(t, db, e.ID); strings.Join(got, ",") != "7d,1d,overdue" {
					t.Fatalf("reminders %v, want 7d, 1d and the escalation", got)
				}
				// The supervisor moves the date: the reminders follow it.
				date := "2026-12-04"
				e, err = db.UpdateEntry(sctx, e.ID, agenda.Update{Date: &date})
				must(t, err)
				if e.Date != date || e.Sequence != 1 {
					t.Fatalf("updated: %+v", e)
				}
				if got := unsent(t, db, e.ID); strings.Join(got, ",") != "1d,overdue" {
					t.Fatalf("reminders %v after the change, want 1d and the escalation (7 days before is past)", got)
				}
				// Closing takes an outcome; missed needs a reason.
				_, _, err = db.CloseEntry(wctx, e.ID, agenda.Close{Outcome: agenda.OutcomeMissed})
				code(t, err, countersign.EINVALID)
				_, _, err = db.CloseEntry(wctx, e.ID, agenda.Close{Outcome: agenda.OutcomeMoved})
				code(t, err, countersign.EINVALID)
				_, _, err = db.CloseEntry(storetest.As(context.Background(), f.Other), e.ID, agenda.Close{Outcome: agenda.OutcomeDone})
				code(t, err, countersign.EFORBIDDEN)
				closed, next, err := db.CloseEntry(wctx, e.ID, agenda.Close{Outcome: agenda.OutcomeMoved, NewDate: "2026-12-18", NewTime: "14:30"})
				must(t, err)
				if closed.Status != agenda.StatusClosed || closed.NextID != next.ID || next.UID != closed.UID || next.Sequence <= closed.Sequence ||
					next.PreviousID != closed.ID || next.Time != "14:30" || next.Title != e.Title {
					t.Fatalf("closed %+v, next %+v", closed, next)
				}
				if got := unsent(t, db, closed.ID); len(got) != 0 {
					t.Fatalf("a closed entry keeps reminders %v", got)
				}
				if got := unsent(t, db, next.ID); strings.Join(got, ",") != "7d,1d,overdue" {
					t.Fatalf("the next entry's reminders: %v", got)
				}
				_, _, err = db.CloseEntry(wctx, closed.ID, agenda.Close{Outcome: agenda.OutcomeDone})
				code(t, err, countersign.ECONFLICT)
				_, _, err = db.CloseEntry(wctx, next.ID, agenda.Close{Outcome: agenda.OutcomeNotRelevant, Reason: "The landlord withdrew the claim."})
				must(t, err)
				evs := events(t, db, agenda.ActionEntryClosed)
				if len(evs) != 2 || evs[0].Payload["outcome"] != "moved" || evs[1].Payload["outcome"] != "not_relevant" ||
					evs[1].Payload["reason_commitment"] == "" {
					t.Fatalf("close events: %+v", evs)
				}
				for _, ev := range evs {
					for k, v := range ev.Payload {
						if strings.Contains(v, "landlord") {
							t.Fatalf("event field %s holds the reason", k)
						}
					}
				}
			})

			t.Run("MyAgendaPutsOverdueFirstThenTodayThenWhatComes", func(t *testing.T) {
				t.Parallel()
				db, f, clk, _ := setup(t)
				wctx := storetest.As(context.Background(), f.Worker)
				add := func(kind agenda.Kind, date, tm string) *agenda.Entry {
					e, err := db.CreateEntry(wctx, f.Case.ID, agenda.Input{Kind: kind, Date: date, Time: tm, Title: "x"})
					must(t, err)
					return e
				}
				past := add(agenda.KindHardDeadline, "2026-11-30", "")
				earlier := add(agenda.KindAppointment, "2026-12-01", "09:00")
				today := add(agenda.KindSoftDeadline, "2026-12-01", "")
				later := add(agenda.KindAppointment, "2026-12-01", "15:00")
				soon := add(agenda.KindAppointment, "2026-12-05", "")
				add(agenda.KindAppointment, "2027-02-01", "") // beyond the window
				ag, err := db.FindMyAgenda(wctx, "2026-12-01", "")
				must(t, err)
				ids := func(es []*agenda.Entry) string {
					var s []string
					for _, e := range es {
						s = append(s, e.ID)
					}
					return strings.Join(s, ",")
				}
				if ids(ag.Overdue) != past.ID+","+earlier.ID || ids(ag.Today) != today.ID+","+later.ID || ids(ag.Upcoming) != soon.ID {
					t.Fatalf("overdue %s, today %s, upcoming %s", ids(ag.Overdue), ids(ag.Today), ids(ag.Upcoming))
				}
				// An all-day entry is overdue only once its day is over, in Brussels.
				clk.Set(time.Date(2026, 12, 1, 23, 59, 0, 0, brussels))
				ag, err = db.FindMyAgenda(wctx, "2026-12-01", "")
				must(t, err)
				if ids(ag.Today) != today.ID {
					t.Fatalf("today at 23:59: %s", ids(ag.Today))
				}
				clk.Set(time.Date(2026, 12, 2, 0, 0, 0, 0, brussels))
				ag, err = db.FindMyAgenda(wctx, "2026-12-01", "")
				must(t, err)
				if !strings.Contains(ids(ag.Overdue), today.ID) {
					t.Fatalf("overdue at midnight: %s", ids(ag.Overdue))
				}
				// The supervisor sees the team's overdue hard deadlines.
				over, err := db.FindTeamOverdue(storetest.As(context.Background(), f.Supervisor))
				must(t, err)
				if ids(over) != past.ID {
					t.Fatalf("team overdue: %s", ids(over))
				}
				_, err = db.FindTeamOverdue(wctx)
				code(t, err, countersign.EFORBIDDEN)
				over, err = db.FindTeamOverdue(storetest.As(context.Background(), f.OtherSupervisor))
				must(t, err)
				if len(over) != 0 {
					t.Fatalf("another team's supervisor sees %s", ids(over))
				}
			})

			t.Run("EachReminderArrivesOnceAcrossTwoReplicas", func(t *testing.T) {
				t.Parallel()
				db, f, clk, d := setup(t)
				replica := storetest.MustOpen(t, d)
				replica.Now = clk.Now
				wctx := storetest.As(context.Background(), f.Worker)
				const n = 12
				for i := range n {
					_, err := db.CreateEntry(wctx, f.Case.ID, agenda.Input{Kind: agenda.KindHardDeadline, Date: "2026-12-10", Time: "10:00", Title: "x" + string(rune('a'+i))})
					must(t, err)
				}
				// Every reminder and escalation is due: 7d, 1d and overdue for each.
				clk.Set(time.Date(2026, 12, 11, 10, 0, 0, 0, brussels))
				var mu sync.Mutex
				got := map[string]int{}
				var wg sync.WaitGroup
				for _, s := range []*sqlstore.DB{db, replica, db, replica} {
					wg.Go(func() {
						for {
							notes, err := s.DeliverReminders(context.Background(), 5)
							if err != nil {
								t.Error(err)
								return
							}
							if len(notes) == 0 {
								return
							}
							mu.Lock()
							for _, nt := range notes {
								got[nt.EntryID+"/"+nt.Offset+"/"+nt.UserID]++
							}
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				if len(got) != 3*n {
					t.Fatalf("%d distinct notifications, want %d", len(got), 3*n)
				}
				for k, c := range got {
					if c != 1 {
						t.Fatalf("%s delivered %d times", k, c)
					}
				}
				var rows int
				must(t, db.Raw().Get(&rows, `SELECT COUNT(*) FROM notifications`))
				if rows != 3*n {
					t.Fatalf("%d notification rows, want %d", rows, 3*n)
				}
				// A restart delivers nothing again.
				notes, err := storetest.MustOpen(t, d).DeliverReminders(context.Background(), 100)
				must(t, err)
				if len(notes) != 0 {
					t.Fatalf("delivered again after a restart: %d", len(notes))
				}
				// The escalations reached the supervisor, and the log says so once per entry.
				ns, err := db.FindNotifications(storetest.As(context.Background(), f.Supervisor), 100)
				must(t, err)
				if ns.Unread != n {
					t.Fatalf("the supervisor has %d unread, want %d escalations", ns.Unread, n)
				}
				if evs := events(t, db, agenda.ActionDeadlineEscalated); len(evs) != n {
					t.Fatalf("%d escalation events, want %d", len(evs), n)
				}
				ws, err := db.FindNotifications(wctx, 100)
				must(t, err)
				if ws.Unread != 2*n || ws.Items[0].CaseReference != f.Case.Reference {
					t.Fatalf("worker notifications: %d unread, first %+v", ws.Unread, ws.Items[0])
				}
				marked, err := db.MarkNotificationsRead(wctx, []string{ws.Items[0].ID, ns.Items[0].ID})
				must(t, err)
				if marked != 1 {
					t.Fatalf("marked %d: a worker marked a supervisor's notification", marked)
				}
				marked, err = db.MarkNotificationsRead(wctx, nil)
				must(t, err)
				if marked != 2*n-1 {
					t.Fatalf("marked %d, want the rest", marked)
				}
			})

			t.Run("AClosedEntryIsNotRemindedNorEscalated", func(t *testing.T) {
				t.Parallel()
				db, f, clk, _ := setup(t)
				wctx := storetest.As(context.Background(), f.Worker)
				e, err := db.CreateEntry(wctx, f.Case.ID, agenda.Input{Kind: agenda.KindHardDeadline, Date: "2026-12-03", Title: "Form"})
				must(t, err)
				_, _, err = db.CloseEntry(wctx, e.ID, agenda.Close{Outcome: agenda.OutcomeDone})
				must(t, err)
				clk.Set(time.Date(2026, 12, 20, 10, 0, 0, 0, brussels))
				notes, err := db.DeliverReminders(context.Background(), 100)
				must(t, err)
				if len(notes) != 0 {
					t.Fatalf("notified of a closed entry: %+v", notes)
				}
			})

			t.Run("AStaffFeedNamesNoOneAndIsRevokedWhenReplaced", func(t *testing.T) {
				t.Parallel()
				db, f, _, _ := setup(t)
				wctx := storetest.As(context.Background(), f.Worker)
				e, err := db.CreateEntry(wctx, f.Case.ID, agenda.Input{Kind: agenda.KindAppointment, Date: "2026-12-14", Time: "10:30", Title: "Marie Dubois at the job centre"})
				must(t, err)
				gone, err := db.CreateEntry(wctx, f.Case.ID, agenda.Input{Kind: agenda.KindHardDeadline, Date: "2026-12-15", Title: "Energy fund form"})
				must(t, err)
				_, _, err = db.CloseEntry(wctx, gone.ID, agenda.Close{Outcome: agenda.OutcomeNotRelevant, Reason: "Paid by the family."})
				must(t, err)
				_, _, err = db.CloseEntry(wctx, e.ID, agenda.Close{Outcome: agenda.OutcomeMoved, NewDate: "2026-12-16", NewTime: "11:00"})
				must(t, err)
				feed, err := db.IssueFeed(wctx)
				must(t, err)
				token := strings.TrimSuffix(strings.TrimPrefix(feed.Path, sqlstore.FeedPathPrefix), ".ics")
				body, err := db.RenderFeed(context.Background(), token)
				must(t, err)
				for _, word := range []string{"Marie", "Dubois", "job centre", "Energy", "family", f.Worker.Email} {
					if bytes.Contains(body, []byte(word)) {
						t.Fatalf("the staff feed holds %q:\n%s", word, body)
					}
				}
				cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
				must(t, err)
				evs := cal.Events()
				if len(evs) != 2 {
					t.Fatalf("%d events, want the moved appointment once and the cancelled deadline:\n%s", len(evs), body)
				}
				byUID := map[string]ical.Event{}
				for _, ev := range evs {
					uid, _ := ev.Props.Text(ical.PropUID)
					byUID[uid] = ev
				}
				moved, ok := byUID[e.UID+"@countersign"]
				if !ok {
					t.Fatalf("the moved appointment lost its UID:\n%s", body)
				}
				start, err := moved.DateTimeStart(time.UTC)
				must(t, err)
				if !start.Equal(time.Date(2026, 12, 16, 11, 0, 0, 0, brussels)) {
					t.Fatalf("moved start %v", start)
				}
				if seq := moved.Props.Get(ical.PropSequence); seq == nil || seq.Value != "2" {
					t.Fatalf("moved sequence %+v", seq)
				}
				if len(moved.Children) != 1 || moved.Children[0].Name != ical.CompAlarm {
					t.Fatalf("alarms %+v, want the appointment's 1 day before", moved.Children)
				}
				if tr := moved.Children[0].Props.Get(ical.PropTrigger); tr == nil || tr.Value != "-P1D" {
					t.Fatalf("trigger %+v", tr)
				}
				sum, _ := moved.Props.Text(ical.PropSummary)
				if sum != f.Case.Reference+" · Appointment" {
					t.Fatalf("summary %q", sum)
				}
				cancelled := byUID[gone.UID+"@countersign"]
				if st := cancelled.Props.Get(ical.PropStatus); st == nil || st.Value != "CANCELLED" || len(cancelled.Children) != 0 {
					t.Fatalf("cancelled event %+v", cancelled.Props)
				}
				// Issuing again revokes the old URL.
				again, err := db.IssueFeed(wctx)
				must(t, err)
				_, err = db.RenderFeed(context.Background(), token)
				code(t, err, countersign.ENOTFOUND)
				_, err = db.RenderFeed(context.Background(), strings.TrimSuffix(strings.TrimPrefix(again.Path, sqlstore.FeedPathPrefix), ".ics"))
				must(t, err)
				var hashes int
				must(t, db.Raw().Get(&hashes, db.Raw().Rebind(`SELECT COUNT(*) FROM calendar_feeds WHERE token_hash = ?`), []byte(token)))
				if hashes != 0 {
					t.Fatal("the feed's secret is stored in clear")
				}
				_, err = db.IssueFeed(storetest.As(context.Background(), f.Ethics))
				code(t, err, countersign.EFORBIDDEN)
			})

			t.Run("AClientsFeedNeedsTheirConsentAndSpeaksTheirLanguage", func(t *testing.T) {
				t.Parallel()
				db, f, _, _ := setup(t)
				wctx := storetest.As(context.Background(), f.Worker)
				shared, err := db.CreateEntry(wctx, f.Case.ID, agenda.Input{Kind: agenda.KindAppointment, Date: "2026-12-14", Title: "Rendez-vous au CPAS"})
				must(t, err)
				_, err = db.CreateEntry(wctx, f.Case.ID, agenda.Input{Kind: agenda.KindHardDeadline, Date: "2026-12-15", Title: "Internal review"})
				must(t, err)
				p := client.Principal{AccountID: "acc_1", Name: "Marie Dubois", Language: "fr", Parties: []client.PartyRef{{CaseID: f.Case.ID, PartyID: f.Client.ID}}}
				cctx := client.NewContext(context.Background(), p)
				_, err = db.IssueFeed(cctx)
				code(t, err, countersign.EFORBIDDEN)
				feed, err := db.IssueClientFeed(cctx, true)
				must(t, err)
				token := strings.TrimSuffix(strings.TrimPrefix(feed.Path, sqlstore.FeedPathPrefix), ".ics")
				body, err := db.RenderFeed(context.Background(), token)
				must(t, err)
				cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
				must(t, err)
				if len(cal.Events()) != 1 {
					t.Fatalf("client feed events: %s", body)
				}
				sum, _ := cal.Events()[0].Props.Text(ical.PropSummary)
				if sum != "Rendez-vous: Rendez-vous au CPAS" || strings.Contains(string(body), "Internal") {
					t.Fatalf("client summary %q:\n%s", sum, body)
				}
				if uid, _ := cal.Events()[0].Props.Text(ical.PropUID); uid != shared.UID+"@countersign" {
					t.Fatalf("uid %q", uid)
				}
				ag, err := db.FindClientAgenda(cctx)
				must(t, err)
				if len(ag) != 1 || ag[0].ID != shared.ID {
					t.Fatalf("client agenda %+v", ag)
				}
				// Withdrawing consent revokes the feed; both answers are kept.
				none, err := db.IssueClientFeed(cctx, false)
				must(t, err)
				if none != nil {
					t.Fatalf("a feed without consent: %+v", none)
				}
				_, err = db.RenderFeed(context.Background(), token)
				code(t, err, countersign.ENOTFOUND)
				if evs := events(t, db, agenda.ActionFeedConsent); len(evs) != 2 || evs[0].Payload["given"] != "true" || evs[1].Payload["revoked"] != "1" {
					t.Fatalf("consent events %+v", evs)
				}
				_, err = db.Raw().Exec(`UPDATE feed_consents SET given = true`)
				if err == nil {
					t.Fatal("a recorded feed consent was changed")
				}
			})
		})
	}
}
