package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/caseload"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestCaseloadFromExport: `countersign caseload` recomputes, from an audit
// export and the policy file alone, the same table the API answers as CSV
// for the same data, after a reassignment; and refuses what it cannot read.
func TestCaseloadFromExport(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := dsn(t)
			b := newBoardBundle(t, d)
			dir := b.dir
			db := storetest.MustOpen(t, d)
			ct := storetest.MustSeedCaseload(t, db)
			sup := storetest.As(context.Background(), ct.Supervisor)
			if _, err := db.AssignCase(sup, ct.HousingCase.ID, caseload.Assignment{WorkerID: ct.Worker.ID}); err != nil {
				t.Fatal(err)
			}
			at := time.Now().UTC().Add(time.Minute).Truncate(time.Microsecond)
			db.Now = func() time.Time { return at }

			_, secret, err := db.CreateToken(storetest.CLI(), ct.Supervisor.ID, "test", nil)
			if err != nil {
				t.Fatal(err)
			}
			s := api.NewServer()
			s.Identity, s.Cases, s.Review, s.Audit = db, db, db, db
			req := httptest.NewRequest("GET", "/v1/teams/"+ct.Team.ID+"/caseload", nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			req.Header.Set("Accept", "text/csv")
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				t.Fatalf("API: %d %s", w.Code, w.Body)
			}
			fromAPI := w.Body.String()
			if !strings.Contains(fromAPI, ct.Worker.ID+",true,0.50,2,") {
				t.Fatalf("API table lacks the worker's two cases:\n%s", fromAPI)
			}

			if _, err := db.Sequence(storetest.CLI()); err != nil {
				t.Fatal(err)
			}
			export := b.file(t, "export.ndjson", b.mustRun(t, 0, "audit", "export"))
			policy := b.file(t, "policy.yaml", storetest.CaseloadPolicyYAML(ct.Worker.ID))
			fromCLI := b.mustRun(t, 0, "caseload", "--file", export, "--policy", policy, "--team", ct.Team.ID, "--at", at.Format(time.RFC3339Nano))
			if fromCLI != fromAPI {
				t.Errorf("countersign caseload:\n%s\nGET /v1/teams/{id}/caseload (text/csv):\n%s", fromCLI, fromAPI)
			}
			// The board's view: the API's pseudonyms under the key derived
			// from the log's signing key, which the command derives alike
			// from the key file or takes in hex.
			keyPath := filepath.Join(dir, "audit.key")
			raw, err := os.ReadFile(keyPath)
			if err != nil {
				t.Fatal(err)
			}
			signer, _, err := audit.SignerFromKey(string(raw))
			if err != nil {
				t.Fatal(err)
			}
			s.AuditProofs = &audit.Notary{Store: db, Signer: signer, Origin: "test"}
			_, boardSecret, err := db.CreateToken(storetest.CLI(), ct.Ethics.ID, "test", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+boardSecret)
			w = httptest.NewRecorder()
			s.Handler().ServeHTTP(w, req)
			boardAPI := w.Body.String()
			if w.Code != http.StatusOK || strings.Contains(boardAPI, ct.Worker.ID) || !strings.Contains(boardAPI, ",w_") {
				t.Fatalf("the board's API table: %d\n%s", w.Code, boardAPI)
			}
			args := []string{"caseload", "--file", export, "--policy", policy, "--team", ct.Team.ID, "--at", at.Format(time.RFC3339Nano), "--pseudonyms"}
			if got := b.mustRun(t, 0, append(args, "--signing-key", keyPath)...); got != boardAPI {
				t.Errorf("countersign caseload --pseudonyms --signing-key:\n%s\nthe board's GET /v1/teams/{id}/caseload:\n%s", got, boardAPI)
			}
			hexKey := strings.TrimSpace(b.mustRun(t, 0, "caseload", "--show-pseudonym-key", "--signing-key", keyPath))
			if got := b.mustRun(t, 0, append(args, "--pseudonym-key", hexKey)...); got != boardAPI {
				t.Errorf("countersign caseload --pseudonyms --pseudonym-key:\n%s\nwant:\n%s", got, boardAPI)
			}

			table := b.mustRun(t, 0, "caseload", "--file", export, "--policy", policy, "--format", "table")
			if !strings.Contains(table, ct.Team.ID) || !strings.Contains(table, "load_per_fte") {
				t.Errorf("table:\n%s", table)
			}

			var stdout, stderr bytes.Buffer
			for _, args := range [][]string{
				{"caseload"},
				{"caseload", "--file", filepath.Join(dir, "nonesuch")},
				{"caseload", "--file", policy},
				{"caseload", "--file", export, "--team", "team_nonesuch"},
				{"caseload", "--file", export, "--format", "xml"},
				{"caseload", "--file", export, "--pseudonyms"},
				{"caseload", "--file", export, "--pseudonyms", "--pseudonym-key", "abc"},
				{"caseload", "--file", export, "--pseudonyms", "--signing-key", policy},
				{"caseload", "--file", export, "--signing-key", filepath.Join(dir, "audit.key")},
			} {
				stdout.Reset()
				stderr.Reset()
				if code := run(context.Background(), args, &stdout, &stderr, b.env); code != 2 || !strings.HasPrefix(stderr.String(), "countersign caseload: ") {
					t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
				}
			}
			stdout.Reset()
			if code := run(context.Background(), []string{"caseload", "--help"}, &stdout, &stderr, b.env); code != 0 ||
				!strings.Contains(stdout.String(), "Usage: countersign caseload") || !strings.Contains(stdout.String(), "-policy") ||
				!strings.Contains(stdout.String(), "-pseudonym-key") || !strings.Contains(stdout.String(), "ethics board sees them") {
				t.Errorf("--help: exit %d\n%s", code, stdout.String())
			}
		})
	}
}
