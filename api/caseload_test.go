package api_test

import (
	"encoding/csv"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/countersign/countersign/sqlstore/storetest"
)

type caseloadJSON struct {
	TeamID        string `json:"team_id"`
	PolicyVersion string `json:"policy_version"`
	Pseudonymous  bool   `json:"pseudonymous"`
	Workers       []struct {
		WorkerID   string  `json:"worker_id"`
		Name       string  `json:"name"`
		LoadPerFTE float64 `json:"load_per_fte"`
		Band       string  `json:"band"`
	} `json:"workers"`
}

// getCSV asks for path as role with Accept: text/csv and returns the table.
func (b *testBundle) getCSV(t *testing.T, role, path string) [][]string {
	t.Helper()
	req, _ := http.NewRequest("GET", b.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+b.tokens[role])
	req.Header.Set("Accept", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("GET %s as CSV: %d %s: %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestCaseloadAPI: the team's figures by role (names for its supervisor,
// pseudonyms for the board, 403 for workers and other teams), as CSV, the
// recommendation, and the supervisor's assignment, with bad input named.
func TestCaseloadAPI(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		b.db.Policy = storetest.CaseloadPolicy(t, b.f.Worker.ID)
		team := "/v1/teams/" + b.f.Team.ID + "/caseload"

		var c caseloadJSON
		b.call(t, "supervisor", "GET", team, nil, http.StatusOK, &c)
		if c.PolicyVersion != "test-1" || c.Pseudonymous || len(c.Workers) != 1 || c.Workers[0].WorkerID != b.f.Worker.ID || c.Workers[0].Name != "worker" ||
			c.Workers[0].LoadPerFTE != 2 || c.Workers[0].Band != "within" {
			t.Fatalf("supervisor's view = %+v", c)
		}
		var board caseloadJSON
		b.call(t, "ethics", "GET", team, nil, http.StatusOK, &board)
		if !board.Pseudonymous || len(board.Workers) != 1 || !strings.HasPrefix(board.Workers[0].WorkerID, "w_") || board.Workers[0].Name != "" {
			t.Fatalf("board's view = %+v", board)
		}
		b.call(t, "admin", "GET", team, nil, http.StatusOK, nil)
		for _, role := range []string{"worker", "othersup"} {
			b.call(t, role, "GET", team, nil, http.StatusForbidden, nil)
			b.call(t, role, "GET", team+"/history", nil, http.StatusForbidden, nil)
		}
		b.call(t, "admin", "GET", "/v1/teams/team_nonesuch/caseload", nil, http.StatusNotFound, nil)
		rows := b.getCSV(t, "supervisor", team)
		if len(rows) != 3 || rows[0][1] != "worker_id" || rows[1][1] != b.f.Worker.ID || rows[2][1] != "total" {
			t.Fatalf("CSV = %v", rows)
		}
		if rows := b.getCSV(t, "ethics", team); rows[1][1] == b.f.Worker.ID {
			t.Errorf("the board's CSV shows a user id: %v", rows)
		}
		var hist struct {
			Weeks []struct {
				ActiveCases int `json:"active_cases"`
			} `json:"weeks"`
		}
		b.call(t, "supervisor", "GET", team+"/history?weeks=3", nil, http.StatusOK, &hist)
		if len(hist.Weeks) != 3 {
			t.Errorf("history = %+v", hist)
		}
		b.call(t, "supervisor", "GET", team+"/history?weeks=500", nil, http.StatusUnprocessableEntity, nil)

		var prob problemJSON
		b.call(t, "supervisor", "GET", team+"/recommendation?case_type=astrology", nil, http.StatusUnprocessableEntity, &prob)
		if len(prob.Fields) != 1 || prob.Fields[0].Field != "case_type" {
			t.Fatalf("problem = %+v", prob)
		}
		for _, role := range []string{"worker", "ethics", "admin", "othersup"} {
			b.call(t, role, "GET", team+"/recommendation?case_type=general", nil, http.StatusForbidden, nil)
		}
		var rec struct {
			ID         string `json:"id"`
			Candidates []struct {
				WorkerID string `json:"worker_id"`
				Reason   string `json:"reason"`
			} `json:"candidates"`
		}
		b.call(t, "supervisor", "GET", team+"/recommendation?case_type=general&case_id="+b.f.Case.ID, nil, http.StatusOK, &rec)
		if len(rec.Candidates) != 1 || rec.Candidates[0].WorkerID != b.f.Worker.ID || rec.Candidates[0].Reason == "" {
			t.Fatalf("recommendation = %+v", rec)
		}

		assign := "/v1/cases/" + b.f.Case.ID + "/assign"
		b.call(t, "supervisor", "POST", assign, map[string]any{"worker_id": b.f.Other.ID, "recommendation_id": rec.ID}, http.StatusUnprocessableEntity, &prob)
		if len(prob.Fields) != 1 || prob.Fields[0].Field != "worker_id" {
			t.Fatalf("problem = %+v", prob)
		}
		b.call(t, "supervisor", "POST", assign, map[string]any{"worker_id": b.f.Supervisor.ID, "recommendation_id": "rcm_nonesuch"}, http.StatusUnprocessableEntity, &prob)
		if len(prob.Fields) != 1 || prob.Fields[0].Field != "recommendation_id" {
			t.Fatalf("problem = %+v", prob)
		}
		b.call(t, "supervisor", "POST", assign, map[string]any{}, http.StatusUnprocessableEntity, nil)
		b.call(t, "worker", "POST", assign, map[string]any{"worker_id": b.f.Supervisor.ID}, http.StatusForbidden, nil)
		b.call(t, "supervisor", "POST", assign, map[string]any{"worker_id": b.f.Worker.ID}, http.StatusConflict, nil)
		// The supervisor may choose someone the recommendation did not list.
		var cs struct {
			WorkerID string `json:"worker_id"`
		}
		b.call(t, "supervisor", "POST", assign, map[string]any{"worker_id": b.f.Supervisor.ID, "recommendation_id": rec.ID}, http.StatusOK, &cs)
		if cs.WorkerID != b.f.Supervisor.ID {
			t.Fatalf("assigned = %+v", cs)
		}

		// A new case: POST /v1/cases names the recommendation for its type;
		// one of another type is refused naming recommendation_id.
		var fresh struct {
			ID string `json:"id"`
		}
		b.call(t, "supervisor", "GET", team+"/recommendation?case_type=housing", nil, http.StatusOK, &fresh)
		newCase := map[string]any{"reference": "REC-" + b.f.Team.ID, "title": "Housing", "case_type": "housing", "worker_id": b.f.Worker.ID}
		newCase["recommendation_id"] = rec.ID
		b.call(t, "supervisor", "POST", "/v1/cases", newCase, http.StatusUnprocessableEntity, &prob)
		if len(prob.Fields) != 1 || prob.Fields[0].Field != "recommendation_id" {
			t.Fatalf("problem = %+v", prob)
		}
		newCase["recommendation_id"] = fresh.ID
		b.call(t, "supervisor", "POST", "/v1/cases", newCase, http.StatusCreated, &cs)
		if cs.WorkerID != b.f.Worker.ID {
			t.Fatalf("created = %+v", cs)
		}
	})
}
