package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestWrongMethod shows a known /v1 path asked with a method it does not
// take answering 405 problem+json with Allow, and an unknown path 404.
func TestWrongMethod(t *testing.T) {
	t.Parallel()
	b := setup(t, storetest.OpenSQLite)
	for _, tc := range []struct {
		method, path string
		status       int
		allow, code  string
	}{
		{"DELETE", "/v1/cases", 405, "GET, HEAD, POST", "method_not_allowed"},
		{"GET", "/v1/drafts/drf_1/approve", 405, "POST", "method_not_allowed"},
		{"PUT", "/v1/audit/stats", 405, "GET, HEAD", "method_not_allowed"},
		{"GET", "/v1/nowhere", 404, "", "not_found"},
	} {
		req, _ := http.NewRequest(tc.method, b.srv.URL+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+b.tokens["worker"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Status int    `json:"status"`
			Code   string `json:"code"`
			Detail string `json:"detail"`
		}
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow ||
			resp.Header.Get("Content-Type") != "application/problem+json" || p.Status != tc.status || p.Code != tc.code || p.Detail == "" {
			t.Errorf("%s %s: %d, Allow %q, %s %+v (%v); want %d, Allow %q, code %s", tc.method, tc.path, resp.StatusCode,
				resp.Header.Get("Allow"), resp.Header.Get("Content-Type"), p, err, tc.status, tc.allow, tc.code)
		}
	}
}

// TestBearerSchemeIgnoresCase shows the scheme matched without regard to
// case (RFC 9110 §11.1) and spaces around the token ignored.
func TestBearerSchemeIgnoresCase(t *testing.T) {
	t.Parallel()
	b := setup(t, storetest.OpenSQLite)
	for _, h := range []string{"Bearer %s", "bearer %s", "BEARER %s", "Bearer   %s  "} {
		req, _ := http.NewRequest("GET", b.srv.URL+"/v1/cases", nil)
		req.Header.Set("Authorization", fmt.Sprintf(h, b.tokens["worker"]))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("Authorization %q: %d, want 200", fmt.Sprintf(h, "TOKEN"), resp.StatusCode)
		}
	}
	for _, h := range []string{"Basic %s", "Bearer%s", "%s"} {
		req, _ := http.NewRequest("GET", b.srv.URL+"/v1/cases", nil)
		req.Header.Set("Authorization", fmt.Sprintf(h, b.tokens["worker"]))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("Authorization %q: %d, want 401", fmt.Sprintf(h, "TOKEN"), resp.StatusCode)
		}
	}
}
