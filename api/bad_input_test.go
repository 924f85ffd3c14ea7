package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestBadInput sends every kind of bad request and checks the status, the
// problem code, the fields named, and that nothing was written.
func TestBadInput(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		c := "/v1/cases/" + b.f.Case.ID
		big := strings.Repeat("a", 70<<10)
		for _, tc := range []struct {
			name, role, method, path string
			body                     any
			status                   int
			code                     string
			field                    string
		}{
			{"NoToken", "", "GET", "/v1/cases", nil, 401, "unauthorized", ""},
			{"BadToken", "bogus", "GET", "/v1/cases", nil, 401, "unauthorized", ""},
			{"MalformedJSON", "worker", "POST", c + "/notes", `{"body": "x"`, 422, "invalid", ""},
			{"NotAnObject", "worker", "POST", c + "/notes", `[1,2]`, 422, "invalid", ""},
			{"EmptyBody", "worker", "POST", c + "/notes", ``, 422, "invalid", ""},
			{"TrailingData", "worker", "POST", c + "/notes", `{"body":"x"} {}`, 422, "invalid", ""},
			{"UnknownField", "worker", "POST", c + "/notes", map[string]any{"body": "x", "author_id": "usr_x"}, 422, "invalid", "author_id"},
			{"MissingBody", "worker", "POST", c + "/notes", map[string]any{}, 422, "invalid", "body"},
			{"BlankBody", "worker", "POST", c + "/notes", map[string]any{"body": "   "}, 422, "invalid", "body"},
			{"WrongType", "worker", "POST", c + "/notes", map[string]any{"body": 12}, 422, "invalid", "body"},
			{"FutureNote", "worker", "POST", c + "/notes", map[string]any{"body": "x", "written_at": "2999-01-01T00:00:00Z"}, 422, "invalid", "written_at"},
			{"NulInNote", "worker", "POST", c + "/notes", map[string]any{"body": "a\x00b"}, 422, "invalid", "body"},
			{"InvalidUTF8", "worker", "POST", c + "/notes", "{\"body\": \"\xff\xfe\"}", 422, "invalid", ""},
			{"TooLarge", "worker", "POST", c + "/notes", map[string]any{"body": big}, 413, "too_large", ""},
			{"UnknownCase", "worker", "POST", "/v1/cases/case_nope/notes", map[string]any{"body": "x"}, 404, "not_found", ""},
			{"OtherTeamsCase", "other", "POST", c + "/notes", map[string]any{"body": "x"}, 403, "forbidden", ""},
			{"EthicsWritesNote", "ethics", "POST", c + "/notes", map[string]any{"body": "x"}, 403, "forbidden", ""},
			{"UnknownDraftKind", "worker", "POST", c + "/drafts", map[string]any{"kind": "poem"}, 422, "invalid", "kind"},
			{"UnknownLanguage", "worker", "POST", c + "/drafts", map[string]any{"kind": "summary", "language": "xx"}, 422, "invalid", "language"},
			{"BackwardsPeriod", "worker", "POST", c + "/drafts", map[string]any{"kind": "summary", "since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, 422, "invalid", "until"},
			{"EmptyPeriod", "worker", "POST", c + "/drafts", map[string]any{"kind": "summary", "until": "2001-01-01T00:00:00Z"}, 422, "invalid", "since"},
			{"ForeignNote", "worker", "POST", c + "/drafts", map[string]any{"kind": "summary", "note_ids": []string{"note_nope"}}, 422, "invalid", "note_ids"},
			{"UnknownDraft", "worker", "POST", "/v1/drafts/drf_nope/approve", map[string]any{}, 404, "not_found", ""},
			{"BadReject", "worker", "POST", "/v1/drafts/drf_nope/reject", map[string]any{}, 422, "invalid", "reason"},
			{"BadParty", "worker", "POST", c + "/parties", map[string]any{"role": "boss", "full_name": "", "email": "nope"}, 422, "invalid", "role"},
			{"BadCase", "worker", "POST", "/v1/cases", map[string]any{"title": strings.Repeat("t", 300)}, 422, "invalid", "reference"},
			{"BadQueueKind", "worker", "GET", "/v1/review/queue?kind=poem", nil, 422, "invalid", "kind"},
			{"BadQueueAge", "worker", "GET", "/v1/review/queue?older_than=soon", nil, 422, "invalid", "older_than"},
			{"BadAuditDate", "ethics", "GET", "/v1/audit/entries?since=yesterday", nil, 422, "invalid", "since"},
			{"UnknownEndpoint", "worker", "GET", "/v1/nothing", nil, 404, "not_found", ""},
			{"EthicsQueue", "ethics", "GET", "/v1/review/queue", nil, 403, "forbidden", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := b.footprint(t)
				var p struct {
					Code   string `json:"code"`
					Detail string `json:"detail"`
					Errors []struct {
						Field   string `json:"field"`
						Message string `json:"message"`
					} `json:"errors"`
				}
				role := tc.role
				if role == "bogus" {
					b.tokens["bogus"] = "cst_not-a-real-token"
				}
				if tc.path == "/v1/nothing" {
					resp := rawCall(t, b, role, tc.method, tc.path, nil)
					if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" {
						t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
					}
					return
				}
				b.call(t, role, tc.method, tc.path, tc.body, tc.status, &p)
				if p.Code != tc.code || p.Detail == "" {
					t.Fatalf("problem %+v, want code %s", p, tc.code)
				}
				if tc.field != "" {
					found := false
					for _, f := range p.Errors {
						found = found || f.Field == tc.field && f.Message != ""
					}
					if !found {
						t.Fatalf("field %q not named: %+v", tc.field, p.Errors)
					}
				}
				if after := b.footprint(t); after != before {
					t.Fatalf("a refused request wrote: %s -> %s", before, after)
				}
			})
		}
	})
}

func rawCall(t *testing.T, b *testBundle, role, method, path string, body any) *http.Response {
	buf, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, b.srv.URL+path, strings.NewReader(string(buf)))
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+b.tokens[role])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
