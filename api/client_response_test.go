package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// The right to answer through the JSON API: the client answers an entry,
// the response waits in the worker's queue beside the drafts, the worker
// answers, the client reads the outcome, and an attached view is read
// with the record. Bad input is a problem with a plain sentence, never a
// write.
func TestClientResponsesAPI(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open, func(s *api.Server) { s.Clients = s.Cases.(*sqlstore.DB) })
		b.signInClient(t)
		shared := storetest.MustSignedEntry(t, b.db, b.f, assistant.KindSummary, review.SharingShared, "")
		withheld := storetest.MustSignedEntry(t, b.db, b.f, assistant.KindSuggestions, review.SharingWithheld, review.WithheldLegal)
		// A letter through the API: drafted offline from the shared entry,
		// in the client party's language, every statement grounded.
		var letter review.Draft
		b.call(t, "worker", "POST", "/v1/cases/"+b.f.Case.ID+"/drafts", map[string]any{"kind": "letter", "language": "fr"}, http.StatusAccepted, &letter)
		if err := b.runner.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.call(t, "worker", "GET", "/v1/drafts/"+letter.ID, nil, http.StatusOK, &letter)
		if letter.Status != review.StatusPendingReview || letter.Kind != assistant.KindLetter || letter.Language != "fr" ||
			letter.Ungrounded != 0 || len(letter.NoteIDs) != 1 || letter.NoteIDs[0] != shared.ID ||
			!strings.HasPrefix(letter.Content.Statements[0].Text, "Dans votre dossier : ") {
			t.Fatalf("letter %+v", letter)
		}
		b.call(t, "worker", "POST", "/v1/drafts/"+letter.ID+"/reject", map[string]any{"reason": "not_needed"}, http.StatusOK, nil)
		waiting := storetest.MustDraft(t, b.db, b.f, assistant.KindSummary)
		path := "/v1/client/record/" + shared.ID + "/responses"
		const wrong = "I paid the rent in November; the arrears are one month, not two."

		type problem struct {
			Detail string `json:"detail"`
			Errors []struct{ Field, Message string }
		}
		before := eventsNow(t, b.db)
		for name, c := range map[string]struct {
			body  any
			field string
		}{
			"unknown kind":  {map[string]any{"kind": "complaint", "text": wrong}, "kind"},
			"empty text":    {map[string]any{"kind": "own_view", "text": " "}, "text"},
			"too long":      {map[string]any{"kind": "own_view", "text": strings.Repeat("a", client.MaxResponseChars+1)}, "text"},
			"unknown field": {map[string]any{"kind": "own_view", "text": wrong, "urgent": true}, "urgent"},
		} {
			var p problem
			b.call(t, "client", "POST", path, c.body, http.StatusUnprocessableEntity, &p)
			if len(p.Errors) == 0 || p.Errors[0].Field != c.field || p.Errors[0].Message == "" {
				t.Errorf("%s: problem %+v", name, p)
			}
		}
		b.call(t, "client", "POST", "/v1/client/record/"+withheld.ID+"/responses", map[string]any{"kind": "own_view", "text": wrong}, http.StatusNotFound, nil)
		b.call(t, "client", "POST", "/v1/client/record/rec_nothing/responses", map[string]any{"kind": "own_view", "text": wrong}, http.StatusNotFound, nil)
		b.call(t, "worker", "POST", path, map[string]any{"kind": "own_view", "text": wrong}, http.StatusUnauthorized, nil)
		if got := eventsNow(t, b.db); got != before {
			t.Fatalf("refused responses wrote %d events", got-before)
		}

		var r client.Response
		b.call(t, "client", "POST", path, map[string]any{"kind": "correction", "text": wrong}, http.StatusCreated, &r)
		if r.Status != client.ResponseOpen || r.EntryID != shared.ID {
			t.Fatalf("response %+v", r)
		}

		// The queue lists the draft, typed, and the response beside it.
		var q struct {
			Drafts []struct {
				Type string
				ID   string
			}
			ClientResponses []client.Response `json:"client_responses"`
		}
		b.call(t, "worker", "GET", "/v1/review/queue", nil, http.StatusOK, &q)
		if len(q.Drafts) != 1 || q.Drafts[0].Type != "draft" || q.Drafts[0].ID != waiting.ID ||
			len(q.ClientResponses) != 1 || q.ClientResponses[0].ID != r.ID || q.ClientResponses[0].Type != "client_response" {
			t.Fatalf("queue %+v", q)
		}
		// Without the client's words: reading them is the logged read below.
		var listed struct {
			ClientResponses []map[string]any `json:"client_responses"`
		}
		events := eventsNow(t, b.db)
		b.call(t, "worker", "GET", "/v1/review/queue", nil, http.StatusOK, &listed)
		if _, has := listed.ClientResponses[0]["text"]; has {
			t.Fatalf("the queue lists the client's words: %v", listed.ClientResponses[0])
		}
		var read client.Response
		b.call(t, "worker", "GET", "/v1/client-responses/"+r.ID, nil, http.StatusOK, &read)
		if got := eventsNow(t, b.db) - events; read.Text != wrong || got != 1 {
			t.Fatalf("listing then reading the response: %q, %d events, want its words and the read's one", read.Text, got)
		}
		b.call(t, "other", "GET", "/v1/review/queue", nil, http.StatusOK, &q)
		if len(q.ClientResponses) != 0 {
			t.Fatalf("another team's worker sees %+v", q.ClientResponses)
		}
		b.call(t, "other", "GET", "/v1/client-responses/"+r.ID, nil, http.StatusForbidden, nil)
		b.call(t, "client", "GET", "/v1/client-responses/"+r.ID, nil, http.StatusUnauthorized, nil)
		b.call(t, "supervisor", "GET", "/v1/client-responses/"+r.ID, nil, http.StatusOK, nil)

		var p problem
		b.call(t, "worker", "POST", "/v1/client-responses/"+r.ID+"/answer", map[string]any{"outcome": "declined"}, http.StatusUnprocessableEntity, &p)
		if len(p.Errors) != 1 || p.Errors[0].Field != "reason" {
			t.Fatalf("a decline without a reason: %+v", p)
		}
		b.call(t, "worker", "POST", "/v1/client-responses/"+r.ID+"/answer", map[string]any{"outcome": "ignored"}, http.StatusUnprocessableEntity, nil)
		b.call(t, "other", "POST", "/v1/client-responses/"+r.ID+"/answer", map[string]any{"outcome": "attached"}, http.StatusForbidden, nil)

		corrected := "Marie has one month of rent arrears and the heating was cut off."
		var a client.Response
		b.call(t, "worker", "POST", "/v1/client-responses/"+r.ID+"/answer", map[string]any{"outcome": "corrected", "content": corrected,
			"reason": "You showed us the November receipt. Thank you."}, http.StatusOK, &a)
		if a.Outcome != client.OutcomeCorrected || a.CorrectionID == "" {
			t.Fatalf("answer %+v", a)
		}
		b.call(t, "worker", "POST", "/v1/client-responses/"+r.ID+"/answer", map[string]any{"outcome": "attached"}, http.StatusConflict, nil)

		var mine struct{ Responses []client.Response }
		b.call(t, "client", "GET", "/v1/client/responses", nil, http.StatusOK, &mine)
		if len(mine.Responses) != 1 || mine.Responses[0].Outcome != client.OutcomeCorrected || mine.Responses[0].AnsweredByName == "" {
			t.Fatalf("the client reads %+v", mine)
		}

		// An own view on the corrected entry, attached, is read with the record.
		view := "The heating was cut off while my son was ill."
		var v client.Response
		b.call(t, "client", "POST", "/v1/client/record/"+a.CorrectionID+"/responses", map[string]any{"kind": "own_view", "text": view}, http.StatusCreated, &v)
		b.call(t, "worker", "POST", "/v1/client-responses/"+v.ID+"/answer", map[string]any{"outcome": "attached"}, http.StatusOK, nil)
		var rec struct {
			ClientViews map[string][]client.Response `json:"client_views"`
		}
		b.call(t, "supervisor", "GET", "/v1/cases/"+b.f.Case.ID+"/record", nil, http.StatusOK, &rec)
		if vs := rec.ClientViews[a.CorrectionID]; len(vs) != 1 || vs[0].Text != view {
			t.Fatalf("record views %+v", rec.ClientViews)
		}

		// The log holds ids, codes and commitments, never the words.
		evs, err := b.db.FindEvents(storetest.CLI(), audit.EventFilter{CaseID: &b.f.Case.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			c := string(e.Canonical())
			for _, s := range []string{wrong, view, "November receipt", "one month of rent"} {
				if strings.Contains(c, s) {
					t.Fatalf("event %s holds %q", e.Action, s)
				}
			}
		}
	})
}

// eventsNow counts the audit events written so far, sequenced or not.
func eventsNow(t *testing.T, db *sqlstore.DB) int {
	t.Helper()
	var a, b int
	if err := db.Raw().Get(&a, `SELECT COUNT(*) FROM audit_pending`); err != nil {
		t.Fatal(err)
	}
	if err := db.Raw().Get(&b, `SELECT COUNT(*) FROM audit_event`); err != nil {
		t.Fatal(err)
	}
	return a + b
}
