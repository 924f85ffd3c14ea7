package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign/agenda"
	"github.com/countersign/countersign/sqlstore/storetest"
	"github.com/countersign/countersign/web"
)

// agendaSetup is uiSetup with the agenda's pages, on a clock at 1 December
// 2026, 10:00 in Brussels.
func agendaSetup(t *testing.T) (*uiBundle, *atomic.Pointer[time.Time]) {
	t.Helper()
	db := storetest.OpenSQLite(t)
	brussels, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		t.Fatal(err)
	}
	now := &atomic.Pointer[time.Time]{}
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, brussels)
	now.Store(&start)
	db.Now = func() time.Time { return *now.Load() }
	f := storetest.MustSeed(t, db)
	s := &web.Server{Identity: db, Cases: db, Review: db, Audit: db, Agenda: db, Clients: db}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	b := &uiBundle{srv: srv, db: db, f: f, tokens: map[string]string{}}
	for name, u := range map[string]string{"worker": f.Worker.ID, "supervisor": f.Supervisor.ID, "other": f.Other.ID} {
		_, secret, err := db.CreateToken(storetest.CLI(), u, "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		b.tokens[name] = secret
	}
	return b, now
}

func TestAgendaPages(t *testing.T) {
	t.Parallel()
	b, now := agendaSetup(t)
	w := b.signIn(t, "worker")
	casePath := "/cases/" + b.f.Case.ID + "/agenda"

	resp, body := w.get("/cases/" + b.f.Case.ID)
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, `href="`+casePath+`"`) {
		t.Fatal("the case page does not link to its agenda")
	}
	resp, body = w.get(casePath)
	wantStatus(t, resp, body, http.StatusOK)

	// A bad date is shown on the form, nothing written.
	resp, body = w.post(casePath, url.Values{"kind": {"hard_deadline"}, "date": {"15/12"}, "title": {"Appeal"}})
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, `aria-invalid="true"`) || !strings.Contains(body, `value="Appeal"`) {
		t.Fatalf("the form lost the input or the field:\n%s", body)
	}
	resp, _ = w.post(casePath, url.Values{"kind": {"hard_deadline"}, "date": {"2026-11-30"}, "title": {"Appeal to the housing court"}})
	wantRedirect(t, resp, casePath+"?done=agenda_added")
	resp, _ = w.post(casePath, url.Values{"kind": {"appointment"}, "date": {"2026-12-02"}, "time": {"18:00"}, "title": {"Job centre"}, "shared": {"yes"}})
	wantRedirect(t, resp, casePath)

	resp, body = w.get("/agenda")
	wantStatus(t, resp, body, http.StatusOK)
	over, rest, ok := strings.Cut(body, `id="h-today"`)
	if !ok || !strings.Contains(over, "Appeal to the housing court") || !strings.Contains(rest, "Job centre") {
		t.Fatalf("my agenda: the overdue deadline first, the appointment to come:\n%s", body)
	}

	// Closing as missed needs a reason; with one, it closes.
	es, err := b.db.FindCaseAgenda(storetest.As(t.Context(), b.f.Worker), b.f.Case.ID)
	if err != nil || len(es) != 2 {
		t.Fatalf("%v %d", err, len(es))
	}
	deadline := es[0]
	w.get(casePath)
	resp, body = w.post("/agenda/"+deadline.ID+"/close", url.Values{"outcome": {"missed"}})
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	resp, _ = w.post("/agenda/"+deadline.ID+"/close", url.Values{"outcome": {"missed"}, "reason": {"The client was in hospital."}})
	wantRedirect(t, resp, casePath+"?done=agenda_closed")
	e, err := b.db.FindEntryByID(storetest.As(t.Context(), b.f.Worker), deadline.ID)
	if err != nil || e.Outcome != agenda.OutcomeMissed {
		t.Fatalf("%+v %v", e, err)
	}

	// Someone of another team sees neither the page nor the form.
	o := b.signIn(t, "other")
	resp, body = o.get(casePath)
	wantStatus(t, resp, body, http.StatusForbidden)

	// A reminder shows in the header's counter and on the notifications page.
	resp, body = w.get("/agenda")
	if strings.Contains(body, `class="badge"`) {
		t.Fatalf("a counter before any reminder was due:\n%s", body)
	}
	later := time.Date(2026, 12, 1, 17, 30, 0, 0, time.UTC) // 18:30 in Brussels, within the session
	now.Store(&later)
	notes, err := b.db.DeliverReminders(t.Context(), 10)
	if err != nil || len(notes) != 1 {
		t.Fatalf("%d reminders delivered (%v), want the appointment's day before", len(notes), err)
	}
	resp, body = w.get("/agenda")
	if !strings.Contains(body, `<span class="badge">1 unread</span>`) {
		t.Fatalf("no counter:\n%s", body)
	}
	resp, body = w.get("/notifications")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, b.f.Case.Reference) || strings.Contains(body, "Job centre") {
		t.Fatalf("notifications page:\n%s", body)
	}
	resp, _ = w.post("/notifications/read", nil)
	wantRedirect(t, resp, "/notifications?done=notifications_read")
	_, body = w.get("/agenda")
	if strings.Contains(body, `class="badge"`) {
		t.Fatal("the counter stayed after marking all read")
	}
	resp, body = w.post("/agenda/feed", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "/ical/csc_") {
		t.Fatalf("no feed address:\n%s", body)
	}
}

func TestClientAgendaPage(t *testing.T) {
	t.Parallel()
	b, now := agendaSetup(t)
	// The client's cookies expire by the wall clock, which the jar reads.
	real := time.Now()
	now.Store(&real)
	day := func(n int) string { return real.AddDate(0, 0, n).Format(time.DateOnly) }
	wctx := storetest.As(t.Context(), b.f.Worker)
	if _, err := b.db.CreateEntry(wctx, b.f.Case.ID, agenda.Input{Kind: agenda.KindAppointment, Date: day(3), Time: "09:30", Title: "Job centre desk 3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.CreateEntry(wctx, b.f.Case.ID, agenda.Input{Kind: agenda.KindHardDeadline, Date: day(4), Title: "Internal review"}); err != nil {
		t.Fatal(err)
	}
	code, _ := b.invite(t)
	cb := newClientBrowser(t, b.srv.URL)
	cb.signUp(code)
	status, _, body := cb.get("/client/agenda")
	if status != http.StatusOK || !strings.Contains(body, "Job centre desk 3") || strings.Contains(body, "Internal review") {
		t.Fatalf("client agenda %d:\n%s", status, body)
	}
	_, _, home := cb.get("/client")
	if !strings.Contains(home, `href="/client/agenda"`) {
		t.Fatal("the client's menu does not lead to their appointments")
	}
	resp, body := cb.post("/client/agenda", "/client/agenda/feed", url.Values{"consent": {"yes"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("feed: %d\n%s", resp.StatusCode, body)
	}
	i := strings.Index(body, "/ical/csc_")
	if i < 0 {
		t.Fatalf("no calendar address:\n%s", body)
	}
	path := body[i : i+strings.Index(body[i:], `"`)]
	feed, err := http.Get(b.srv.URL + path)
	if err != nil || feed.StatusCode != http.StatusNotFound {
		// web.Server alone does not serve /ical (the API does); the
		// store renders it.
		t.Logf("GET %s through the web server: %v %v", path, feed.StatusCode, err)
	}
	token := strings.TrimSuffix(strings.TrimPrefix(path, "/ical/"), ".ics")
	cal, err := b.db.RenderFeed(t.Context(), token)
	if err != nil || !strings.Contains(string(cal), "Job centre desk 3") {
		t.Fatalf("%v\n%s", err, cal)
	}
	resp, body = cb.post("/client/agenda", "/client/agenda/feed", url.Values{"consent": {"no"}})
	if resp.StatusCode != http.StatusOK || strings.Contains(body, "/ical/") {
		t.Fatalf("stop: %d\n%s", resp.StatusCode, body)
	}
	if _, err := b.db.RenderFeed(t.Context(), token); err == nil {
		t.Fatal("the feed still works after the client stopped it")
	}
	// A staff session is no client's.
	w := b.signIn(t, "worker")
	resp2, _ := w.get("/client/agenda")
	if resp2.StatusCode == http.StatusOK {
		t.Fatal("a staff session read the client's agenda page")
	}
}
