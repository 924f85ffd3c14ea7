package httpx_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/internal/httpx"
)

func TestStatus(t *testing.T) {
	t.Parallel()

	t.Run("GivesEveryErrorCodeAStatusAndATitle", func(t *testing.T) {
		t.Parallel()
		// Every code error.go declares, read from its source, so that a
		// new code without a status fails here rather than answer 500.
		src, err := os.ReadFile("../../error.go")
		if err != nil {
			t.Fatal(err)
		}
		codes := regexp.MustCompile(`(?m)^\s*E[A-Z]+\s*=\s*"([a-z_]+)"`).FindAllStringSubmatch(string(src), -1)
		if len(codes) < 9 {
			t.Fatalf("found %d codes in error.go; the pattern is broken", len(codes))
		}
		table := httpx.Statuses()
		for _, m := range codes {
			code := m[1]
			if _, ok := table[code]; !ok {
				t.Errorf("code %q has no HTTP status", code)
			}
			rec := httptest.NewRecorder()
			httpx.Error(rec, httptest.NewRequest("GET", "/x", nil), countersign.Errorf(code, "Words."))
			var p httpx.Problem
			if err := json.NewDecoder(rec.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if p.Code != code || p.Status != table[code] || rec.Code != table[code] || p.Title == "" || p.Detail != "Words." {
				t.Errorf("%s: status %d, problem %+v", code, rec.Code, p)
			}
		}
	})

	t.Run("CountsAnyOtherErrorAsInternalAndHidesIt", func(t *testing.T) {
		t.Parallel()
		for _, err := range []error{errors.New("pq: connection refused"), countersign.Errorf("no_such_code", "x")} {
			if code, status := httpx.Status(err); code != countersign.EINTERNAL || status != http.StatusInternalServerError {
				t.Errorf("Status(%v) = %s, %d", err, code, status)
			}
		}
		rec := httptest.NewRecorder()
		httpx.Error(rec, httptest.NewRequest("GET", "/x", nil), errors.New("pq: secret detail"))
		if rec.Code != http.StatusInternalServerError || regexp.MustCompile(`secret`).MatchString(rec.Body.String()) {
			t.Fatalf("status %d, body %s", rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("Content-Type %q", ct)
		}
	})
}
