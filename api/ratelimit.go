package api

import (
	"net/http"

	"github.com/countersign/countersign/internal/httpx"
)

// Every route but the probes and the metrics is limited once, by the
// wrapper it is registered with (Routes): a public route per client
// address (anonymous), an authenticated one per token id once the token is
// checked (authenticate). The key is never the header itself, so spelling
// it differently (spaces, the scheme's case) does not make a new one; and a
// token that fails counts against the client address's failed sign-ins,
// which are checked before any token is, so guessing tokens is as slow as
// guessing passwords.

// anonymous limits a public route per client address.
func (s *Server) anonymous(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.Limits.Request(w, httpx.AddrKey(r)); err != nil {
			Error(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}
