package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestAuditVerifyChecksTheCaseData changes a note's text, deletes a note
// and a record entry, edits a decision's final text, a draft's content and
// more directly in the database, triggers out of the way as a database
// administrator could: the log itself still verifies, but `countersign
// audit verify` names every changed row by table and id and exits 1.
func TestAuditVerifyChecksTheCaseData(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := dsn(t)
			b := newBoardBundle(t, d)
			db := storetest.MustOpen(t, d)
			w := storetest.MustCaseDataWorld(t, db)

			out := b.mustRun(t, 0, "audit", "verify", "--quiet")
			if !regexp.MustCompile(`(?m)^OK: case data: 13 rows of case data checked against the log \(consents 1, decisions 2, drafts 3, notes 3, parties 1, record_corrections 1, record_entries 2\)$`).MatchString(out) {
				t.Fatalf("verify of untouched data said %q", out)
			}

			want := storetest.MustTamperCaseData(t, db, w)
			out = b.mustRun(t, 1, "audit", "verify", "--quiet")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if !strings.HasPrefix(lines[0], "OK: ") || !strings.Contains(lines[0], "entries verified") {
				t.Fatalf("the log itself was not touched, yet verify said %q", lines[0])
			}
			for row, problem := range want {
				if !anyLine(lines, func(l string) bool {
					return (strings.HasPrefix(l, "FAILED: "+row+" ") || strings.HasPrefix(l, "FAILED: "+row+":")) && strings.Contains(l, problem)
				}) {
					t.Errorf("verify did not report %s (%s):\n%s", row, problem, out)
				}
			}
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "FAILED: case data: 9 problems; ") {
				t.Errorf("summary %q, want 9 problems", last)
			}
			// No case content in what verify prints.
			for _, text := range []string{"She paid the rent", "Jeanne", "Nothing to report", "Marie", "rent arrears"} {
				if strings.Contains(out, text) {
					t.Errorf("verify printed case content %q:\n%s", text, out)
				}
			}
		})
	}
}

func anyLine(lines []string, f func(string) bool) bool {
	for _, l := range lines {
		if f(l) {
			return true
		}
	}
	return false
}
