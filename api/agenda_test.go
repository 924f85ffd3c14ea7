package api_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	ical "github.com/emersion/go-ical"

	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// withAgenda serves the agenda from the bundle's database.
func withAgenda(s *api.Server) { s.Agenda = s.Identity.(*sqlstore.DB) }

type entryJSON struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Date     string `json:"date"`
	Time     string `json:"time"`
	Status   string `json:"status"`
	UID      string `json:"uid"`
	Sequence int    `json:"sequence"`
	NextID   string `json:"next_id"`
}

type problemJSON struct {
	Code   string `json:"code"`
	Fields []struct {
		Field string `json:"field"`
	} `json:"errors"`
}

func TestAgendaAPI(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open, withAgenda)
		casePath := "/v1/cases/" + b.f.Case.ID + "/agenda"

		// Bad input names every field, and writes nothing.
		var prob problemJSON
		b.call(t, "worker", "POST", casePath, map[string]any{"kind": "meeting", "date": "15/12/2026", "title": "Hearing"}, http.StatusUnprocessableEntity, &prob)
		if prob.Code != "invalid" || len(prob.Fields) != 2 || prob.Fields[0].Field != "kind" || prob.Fields[1].Field != "date" {
			t.Fatalf("problem %+v", prob)
		}
		b.call(t, "worker", "POST", casePath, `{"kind":"appointment","date":"2026-12-15","title":"x","owner":"usr_1"}`, http.StatusUnprocessableEntity, nil)
		for _, role := range []string{"other", "othersup", "ethics", "admin"} {
			b.call(t, role, "POST", casePath, map[string]any{"kind": "appointment", "date": "2030-12-15", "title": "x"}, http.StatusForbidden, nil)
			b.call(t, role, "GET", casePath, nil, http.StatusForbidden, nil)
		}
		var list struct{ Entries []entryJSON }
		b.call(t, "worker", "GET", casePath, nil, http.StatusOK, &list)
		if len(list.Entries) != 0 {
			t.Fatalf("a refused entry was written: %+v", list.Entries)
		}

		var e entryJSON
		resp := b.call(t, "worker", "POST", casePath, map[string]any{"kind": "hard_deadline", "date": "2030-12-15", "title": "Appeal to the housing court"}, http.StatusCreated, &e)
		if resp.Header.Get("Location") != "/v1/agenda/"+e.ID || e.Status != "open" || e.Kind != "hard_deadline" {
			t.Fatalf("created %+v, Location %q", e, resp.Header.Get("Location"))
		}
		b.call(t, "supervisor", "PATCH", "/v1/agenda/"+e.ID, map[string]any{"time": "09:30"}, http.StatusOK, &e)
		if e.Time != "09:30" || e.Sequence != 1 {
			t.Fatalf("patched %+v", e)
		}
		b.call(t, "worker", "POST", "/v1/agenda/"+e.ID+"/close", map[string]any{"outcome": "missed"}, http.StatusUnprocessableEntity, &prob)
		if len(prob.Fields) != 1 || prob.Fields[0].Field != "reason" {
			t.Fatalf("problem %+v", prob)
		}
		var closed struct {
			Entry entryJSON
			Next  *entryJSON
		}
		b.call(t, "worker", "POST", "/v1/agenda/"+e.ID+"/close", map[string]any{"outcome": "moved", "new_date": "2030-12-20"}, http.StatusOK, &closed)
		if closed.Next == nil || closed.Next.UID != e.UID || closed.Entry.NextID != closed.Next.ID || closed.Next.Date != "2030-12-20" {
			t.Fatalf("closed %+v", closed)
		}
		b.call(t, "worker", "POST", "/v1/agenda/"+e.ID+"/close", map[string]any{"outcome": "done"}, http.StatusConflict, nil)
		b.call(t, "other", "GET", "/v1/agenda/"+closed.Next.ID, nil, http.StatusForbidden, nil)

		var mine struct {
			From, To, TimeZone string
			Upcoming           []entryJSON
		}
		b.call(t, "worker", "GET", "/v1/me/agenda?from=2030-12-01&to=2031-01-01", nil, http.StatusOK, &mine)
		if len(mine.Upcoming) != 1 || mine.Upcoming[0].ID != closed.Next.ID || mine.From != "2030-12-01" {
			t.Fatalf("my agenda %+v", mine)
		}
		b.call(t, "worker", "GET", "/v1/me/agenda?from=tomorrow", nil, http.StatusUnprocessableEntity, nil)
		b.call(t, "worker", "GET", "/v1/me/agenda?from=2030-12-01&to=2030-11-01", nil, http.StatusUnprocessableEntity, nil)
		b.call(t, "worker", "GET", "/v1/me/team-overdue", nil, http.StatusForbidden, nil)
		b.call(t, "supervisor", "GET", "/v1/me/team-overdue", nil, http.StatusOK, nil)

		var ns struct{ Unread int }
		b.call(t, "worker", "GET", "/v1/me/notifications", nil, http.StatusOK, &ns)
		b.call(t, "worker", "GET", "/v1/me/notifications?limit=0", nil, http.StatusUnprocessableEntity, nil)
		b.call(t, "worker", "POST", "/v1/me/notifications/read", map[string]any{}, http.StatusOK, nil)

		// The feed: a secret URL, replaced (and the old one revoked) by asking again.
		var feed struct{ URL string }
		b.call(t, "worker", "POST", "/v1/me/calendar-feed", nil, http.StatusCreated, &feed)
		b.call(t, "ethics", "POST", "/v1/me/calendar-feed", nil, http.StatusForbidden, nil)
		get := func(url string, want int) []byte {
			t.Helper()
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != want {
				t.Fatalf("GET feed: %d, want %d: %s", resp.StatusCode, want, body)
			}
			if want == http.StatusOK && (resp.Header.Get("Content-Type") != "text/calendar; charset=utf-8" || resp.Header.Get("Referrer-Policy") != "no-referrer") {
				t.Fatalf("feed headers %v", resp.Header)
			}
			return body
		}
		if !strings.HasPrefix(feed.URL, b.srv.URL+"/ical/") || !strings.HasSuffix(feed.URL, ".ics") {
			t.Fatalf("feed url %q", feed.URL)
		}
		body := get(feed.URL, http.StatusOK)
		cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
		if err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
		if len(cal.Events()) != 1 || strings.Contains(string(body), "housing") {
			t.Fatalf("feed:\n%s", body)
		}
		var again struct{ URL string }
		b.call(t, "worker", "POST", "/v1/me/calendar-feed", nil, http.StatusCreated, &again)
		get(feed.URL, http.StatusNotFound)
		get(again.URL, http.StatusOK)
		get(b.srv.URL+"/ical/csc_guess.ics", http.StatusNotFound)
		// A client's endpoints refuse staff tokens.
		b.call(t, "worker", "GET", "/v1/client/agenda", nil, http.StatusUnauthorized, nil)
	})
}
