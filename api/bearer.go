package api

import (
	"context"
	"net/http"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/internal/httpx"
)

// bearerDoor is the one bearer-token check behind both doors of the API,
// the staff one (authenticate) and the client's (authenticateClient): a
// missing token is limited per client address and refused; a blocked
// address is refused before the token is looked at; a wrong token counts
// as a failed sign-in; a good one is limited by the token's id.
type bearerDoor struct {
	realm   string // the WWW-Authenticate realm
	missing string // the sentence when no token is sent
	// closed, when set and not nil, refuses every token with its error
	// before it is resolved (a door the server has no service for).
	closed func() error
	// resolve turns the secret into the token's id and the request's
	// context carrying who it is.
	resolve func(ctx context.Context, secret string) (tokenID string, authed context.Context, err error)
}

// bearer wraps next in the door d.
func (s *Server) bearer(d bearerDoor, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := httpx.BearerToken(r.Header.Get("Authorization"))
		if !ok {
			if err := s.Limits.Request(w, httpx.AddrKey(r)); err != nil {
				Error(w, r, err)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+d.realm+`"`)
			Error(w, r, countersign.Errorf(countersign.EUNAUTHORIZED, "%s", d.missing))
			return
		}
		if err := s.Limits.SignInBlocked(w, r); err != nil {
			Error(w, r, err)
			return
		}
		if d.closed != nil {
			if err := d.closed(); err != nil {
				Error(w, r, err)
				return
			}
		}
		tokenID, ctx, err := d.resolve(r.Context(), secret)
		if err != nil {
			if countersign.ErrorCode(err) == countersign.EUNAUTHORIZED {
				s.Limits.SignInFailed(r)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+d.realm+`", error="invalid_token"`)
			Error(w, r, err)
			return
		}
		if err := s.Limits.Request(w, httpx.TokenKey(tokenID)); err != nil {
			Error(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
