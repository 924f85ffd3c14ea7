package httpx

import (
	"net/http"
	"strings"
)

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header. The scheme is matched without regard to case (RFC 9110 §11.1:
// "bearer" and "BEARER" are the same scheme), and spaces around the token
// are not part of it.
func BearerToken(header string) (string, bool) {
	header = strings.TrimSpace(header)
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// methods are the methods Allowed tries, in the order Allow lists them.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Allowed returns the methods mux serves r's path with, other than through
// the catch-all pattern except (the handler asking): the value of Allow in a
// 405 answer. An empty list means the path is unknown (404).
func Allowed(mux *http.ServeMux, r *http.Request, except string) []string {
	var allow []string
	for _, m := range methods {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != except {
			allow = append(allow, m)
		}
	}
	return allow
}
