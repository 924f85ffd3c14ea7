package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/internal/httpx"
	"github.com/countersign/countersign/sqlstore/storetest"
)

func TestLimits(t *testing.T) {
	t.Parallel()
	t.Run("TooManyRequestsGets429WithRetryAfter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, storetest.OpenSQLite, func(s *api.Server) { s.Limits = &httpx.Limits{Requests: &httpx.RateLimit{PerSecond: 0.01, Burst: 3}} })
		for range 3 {
			b.call(t, "worker", "GET", "/v1/cases", nil, 200, nil)
		}
		var p struct {
			Code string `json:"code"`
		}
		resp := b.call(t, "worker", "GET", "/v1/cases", nil, 429, &p)
		if p.Code != "rate_limited" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("code %q, Retry-After %q", p.Code, resp.Header.Get("Retry-After"))
		}
		// Another person is not slowed down by the first, nor are probes.
		b.call(t, "supervisor", "GET", "/v1/cases", nil, 200, nil)
		for range 5 {
			b.call(t, "", "GET", "/healthz", nil, 200, nil)
		}
	})
	t.Run("EveryResponseCarriesSecurityHeaders", func(t *testing.T) {
		t.Parallel()
		b := setup(t, storetest.OpenSQLite)
		for _, path := range []string{"/healthz", "/v1/cases", "/v1/nothing", "/openapi.json"} {
			req, _ := http.NewRequest("GET", b.srv.URL+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := resp.Header
			csp := h.Get("Content-Security-Policy")
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" ||
				!strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
				t.Fatalf("%s: headers %v", path, h)
			}
		}
	})
}
