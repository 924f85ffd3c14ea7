package api_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// lockedBuffer is a log sink the server's goroutines share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type problemDetail struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Fields []struct {
		Field string `json:"field"`
	} `json:"errors"`
}

// TestRetentionAPI walks a case through closure, a legal hold and a
// four-eyes erasure over HTTP, with every refusal a social worker or an
// admin can meet on the way, and finds the erased note's text neither in
// the API's answers nor in the service's log.
func TestRetentionAPI(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		logs := &lockedBuffer{}
		b := setup(t, open, func(s *api.Server) {
			s.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		second := &identity.User{Name: "second admin", Email: countersign.NewID("adm") + "@example.org", Role: countersign.RoleAdmin}
		if err := b.db.CreateUser(storetest.CLI(), second); err != nil {
			t.Fatal(err)
		}
		_, secret, err := b.db.CreateToken(storetest.CLI(), second.ID, "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		b.tokens["admin2"] = secret
		id := b.f.Case.ID
		marker := "Retention" + strings.TrimPrefix(countersign.NewID("m"), "m_")
		b.call(t, "worker", "POST", "/v1/cases/"+id+"/notes", map[string]any{"body": "The client " + marker + " moved away."}, http.StatusCreated, nil)

		var prob problemDetail
		b.call(t, "supervisor", "POST", "/v1/cases/"+id+"/close", map[string]any{"reason_code": "tired"}, http.StatusUnprocessableEntity, &prob)
		if len(prob.Fields) != 1 || prob.Fields[0].Field != "reason_code" {
			t.Fatalf("problem %+v, want reason_code named", prob)
		}
		b.call(t, "supervisor", "POST", "/v1/cases/"+id+"/close", `{}`, http.StatusUnprocessableEntity, nil)
		b.call(t, "worker", "POST", "/v1/cases/"+id+"/close", map[string]any{"reason_code": "goals_met"}, http.StatusForbidden, nil)
		var c struct {
			Status   string `json:"status"`
			ClosedAt string `json:"closed_at"`
		}
		b.call(t, "supervisor", "POST", "/v1/cases/"+id+"/close", map[string]any{"reason_code": "goals_met"}, http.StatusOK, &c)
		if c.Status != "closed" || c.ClosedAt == "" {
			t.Fatalf("closed case %+v", c)
		}
		b.call(t, "worker", "POST", "/v1/cases/"+id+"/notes", map[string]any{"body": "One more."}, http.StatusConflict, &prob)
		if !strings.HasPrefix(prob.Detail, "This case is closed") {
			t.Fatalf("a note on a closed case: %+v", prob)
		}
		// Nor is the client invited to a closed case (problem+json, 409).
		b.call(t, "worker", "POST", "/v1/cases/"+id+"/parties/"+b.f.Client.ID+"/invitations", nil, http.StatusConflict, &prob)
		if !strings.HasPrefix(prob.Detail, "This case is closed") {
			t.Fatalf("an invitation to a closed case: %+v", prob)
		}
		b.call(t, "supervisor", "POST", "/v1/cases/"+id+"/reopen", nil, http.StatusOK, &c)
		b.call(t, "supervisor", "POST", "/v1/cases/"+id+"/close", map[string]any{"reason_code": "client_moved"}, http.StatusOK, &c)

		var hold struct{ ID string }
		b.call(t, "worker", "POST", "/v1/cases/"+id+"/holds", map[string]any{"reason_code": "litigation"}, http.StatusForbidden, nil)
		b.call(t, "supervisor", "POST", "/v1/cases/"+id+"/holds", map[string]any{"reason_code": "litigation"}, http.StatusCreated, &hold)
		b.call(t, "admin", "POST", "/v1/cases/"+id+"/erasure-requests", map[string]any{"reason_code": "data_subject_request"}, http.StatusConflict, &prob)
		if !strings.Contains(prob.Detail, "legal hold") {
			t.Fatalf("an erasure under a hold: %+v", prob)
		}
		b.call(t, "admin", "POST", "/v1/cases/"+id+"/holds/"+hold.ID+"/lift", map[string]any{"reason_code": "resolved"}, http.StatusOK, nil)
		var holds struct {
			Holds []struct {
				LiftedAt string `json:"lifted_at"`
			}
		}
		b.call(t, "ethics", "GET", "/v1/cases/"+id+"/holds", nil, http.StatusOK, &holds)
		if len(holds.Holds) != 1 || holds.Holds[0].LiftedAt == "" {
			t.Fatalf("holds %+v", holds)
		}

		b.call(t, "supervisor", "POST", "/v1/cases/"+id+"/erasure-requests", map[string]any{"reason_code": "data_subject_request"}, http.StatusForbidden, nil)
		b.call(t, "admin", "POST", "/v1/cases/"+id+"/erasure-requests", map[string]any{"reason_code": "bored"}, http.StatusUnprocessableEntity, &prob)
		if len(prob.Fields) != 1 || prob.Fields[0].Field != "reason_code" {
			t.Fatalf("problem %+v, want reason_code named", prob)
		}
		var req struct{ ID, Status string }
		b.call(t, "admin", "POST", "/v1/cases/"+id+"/erasure-requests", map[string]any{"reason_code": "data_subject_request"}, http.StatusCreated, &req)
		var pending struct{ Requests []struct{ ID string } }
		b.call(t, "admin2", "GET", "/v1/erasure-requests", nil, http.StatusOK, &pending)
		if len(pending.Requests) != 1 || pending.Requests[0].ID != req.ID {
			t.Fatalf("pending %+v", pending)
		}
		b.call(t, "supervisor", "GET", "/v1/erasure-requests", nil, http.StatusForbidden, nil)
		b.call(t, "admin", "POST", "/v1/erasure-requests/"+req.ID+"/confirm", nil, http.StatusForbidden, &prob)
		if !strings.Contains(prob.Detail, "second admin") {
			t.Fatalf("the same admin confirming: %+v", prob)
		}
		var erased struct {
			Rule   string         `json:"rule"`
			Counts map[string]int `json:"counts"`
		}
		b.call(t, "admin2", "POST", "/v1/erasure-requests/"+req.ID+"/confirm", nil, http.StatusOK, &erased)
		if erased.Rule != "request" || erased.Counts["notes"] != 4 {
			t.Fatalf("erasure %+v", erased)
		}
		b.call(t, "admin2", "POST", "/v1/erasure-requests/"+req.ID+"/confirm", nil, http.StatusConflict, nil)
		b.call(t, "supervisor", "GET", "/v1/cases/"+id, nil, http.StatusOK, &c)
		if c.Status != "erased" {
			t.Fatalf("the erased case reads %+v", c)
		}
		resp := b.call(t, "supervisor", "GET", "/v1/cases/"+id+"/notes", nil, http.StatusOK, nil)
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		if strings.Contains(body.String(), marker) {
			t.Fatal("the API still answers the erased note's text")
		}
		if strings.Contains(logs.String(), marker) {
			t.Fatal("the service's log holds the note's text")
		}
	})
}
