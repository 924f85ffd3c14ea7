package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestCaseGetLogsEachRead: GET /v1/cases/{id} answers the case as before
// (the OpenAPI document's schema, the same fields), writes one access
// event per answered read, including repeated ones, and none for a
// refused or unknown one.
func TestCaseGetLogsEachRead(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		reads := func() int {
			t.Helper()
			var a, e int
			x := b.db.Raw()
			for n, table := range map[*int]string{&a: "audit_pending", &e: "audit_event"} {
				if err := x.Get(n, x.Rebind(`SELECT COUNT(*) FROM `+table+` WHERE action = ? AND case_id = ?`), audit.ActionCaseRead, b.f.Case.ID); err != nil {
					t.Fatal(err)
				}
			}
			return a + e
		}
		for i, role := range []string{"worker", "worker", "supervisor", "worker"} {
			var c casefile.Case
			b.call(t, role, "GET", "/v1/cases/"+b.f.Case.ID, nil, http.StatusOK, &c)
			want := *b.f.Case
			want.CreatedAt = want.CreatedAt.UTC()
			c.CreatedAt = c.CreatedAt.UTC()
			if c.ID != want.ID || c.Reference != want.Reference || c.Title != want.Title || c.CaseType != want.CaseType ||
				c.TeamID != want.TeamID || c.WorkerID != want.WorkerID || c.CreatedBy != want.CreatedBy ||
				!c.CreatedAt.Truncate(time.Microsecond).Equal(want.CreatedAt.Truncate(time.Microsecond)) || c.Status != casefile.StatusOpen {
				t.Fatalf("read %d as %s: %+v, want %+v", i, role, c, want)
			}
			if n := reads(); n != i+1 {
				t.Fatalf("after %d reads: %d events", i+1, n)
			}
		}
		for _, role := range []string{"other", "othersup", "ethics", "admin"} {
			b.call(t, role, "GET", "/v1/cases/"+b.f.Case.ID, nil, http.StatusForbidden, nil)
		}
		b.call(t, "worker", "GET", "/v1/cases/cas_none", nil, http.StatusNotFound, nil)
		b.call(t, "", "GET", "/v1/cases/"+b.f.Case.ID, nil, http.StatusUnauthorized, nil)
		if n := reads(); n != 4 {
			t.Fatalf("refused reads wrote events: %d, want 4", n)
		}
	})
}
