package httpx

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestBearerToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		header, token string
		ok            bool
	}{
		{"Bearer cst_abc", "cst_abc", true},
		{"bearer cst_abc", "cst_abc", true},
		{"BEARER cst_abc", "cst_abc", true},
		{"Bearer   cst_abc  ", "cst_abc", true},
		{"  Bearer cst_abc", "cst_abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic cst_abc", "", false},
		{"Bearercst_abc", "", false},
		{"Bearer cst_abc extra", "", false},
		{"", "", false},
	} {
		got, ok := BearerToken(tc.header)
		if got != tc.token || ok != tc.ok {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tc.header, got, ok, tc.token, tc.ok)
		}
	}
}

func TestAllowed(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	nop := func(http.ResponseWriter, *http.Request) {}
	mux.HandleFunc("GET /cases/{id}", nop)
	mux.HandleFunc("POST /cases/{id}/notes", nop)
	mux.HandleFunc("GET /cases/{id}/notes", nop)
	mux.HandleFunc("/v1/", nop)
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/cases/1", []string{"GET", "HEAD"}},
		{"/cases/1/notes", []string{"GET", "HEAD", "POST"}},
		{"/nowhere", nil},
		{"/v1/nowhere", nil},
	} {
		got := Allowed(mux, httptest.NewRequest("DELETE", tc.path, nil), "/v1/")
		if !slices.Equal(got, tc.want) {
			t.Errorf("Allowed(%s) = %v, want %v", tc.path, got, tc.want)
		}
	}
}
