package api_test

import (
	"testing"

	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestConsentOverHTTP checks the consent endpoints and the 409 of a draft
// request without consent against openapi.json, on both dialects.
func TestConsentOverHTTP(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		var c casefile.Case
		b.call(t, "worker", "POST", "/v1/cases", map[string]any{"reference": "C-" + b.f.Case.Reference, "title": "New"}, 201, &c)
		b.call(t, "worker", "POST", "/v1/cases/"+c.ID+"/notes", map[string]any{"body": "First visit."}, 201, nil)
		path := "/v1/cases/" + c.ID

		var p struct {
			Code, Detail string
		}
		b.call(t, "worker", "POST", path+"/drafts", map[string]any{"kind": "summary"}, 409, &p)
		if p.Code != "conflict" || p.Detail != casefile.ConsentRefusal {
			t.Fatalf("problem %+v", p)
		}
		var st casefile.ConsentState
		b.call(t, "supervisor", "GET", path+"/consent", nil, 200, &st)
		if !st.Required || st.Current != nil || st.DraftingAllowed {
			t.Fatalf("new case consent: %+v", st)
		}
		b.call(t, "ethics", "POST", path+"/consent", map[string]any{"given": true}, 403, nil)
		b.call(t, "admin", "GET", path+"/consent", nil, 403, nil)
		b.call(t, "other", "POST", path+"/consent", map[string]any{"given": true}, 403, nil)
		b.call(t, "othersup", "GET", path+"/consent", nil, 403, nil)
		b.call(t, "worker", "POST", "/v1/cases/case_missing/consent", map[string]any{"given": true}, 404, nil)
		b.call(t, "worker", "POST", path+"/consent", map[string]any{}, 422, nil)
		b.call(t, "worker", "POST", path+"/consent", map[string]any{"given": true, "by": "someone else"}, 422, nil)
		b.call(t, "worker", "POST", path+"/consent", `{"given": true}`, 201, &st)
		if !st.Given || !st.DraftingAllowed || st.Current == nil || st.Current.Seq != 1 {
			t.Fatalf("after consent: %+v", st)
		}
		b.call(t, "worker", "POST", path+"/drafts", map[string]any{"kind": "summary"}, 202, nil)
		b.call(t, "supervisor", "POST", path+"/consent", map[string]any{"given": false, "note": "Withdrawn at the office."}, 201, &st)
		if st.Given || len(st.History) != 2 || st.History[1].Note != "Withdrawn at the office." {
			t.Fatalf("after withdrawal: %+v", st)
		}
		b.call(t, "worker", "GET", path+"/consent", nil, 200, nil)
		b.call(t, "worker", "POST", path+"/drafts", map[string]any{"kind": "summary"}, 409, &p)
		if p.Detail != casefile.ConsentObjection {
			t.Fatalf("problem %+v", p)
		}
	})
}
