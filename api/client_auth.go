package api

import (
	"context"
	"net/http"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/httpx"
)

// The client's own door to the JSON API: /v1/client/*, authenticated by a
// client bearer token (client.TokenPrefix), never by a staff token; and the
// staff endpoints that invite a client.

// clientAuthed registers a client endpoint on mux: only a signed-in client
// reaches h, with client.PrincipalFrom(ctx) and countersign.ActorFrom(ctx)
// set; staff tokens are refused (401).
func (s *Server) clientAuthed(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	mux.Handle(pattern, s.authenticateClient(h))
}

// clientRoutes adds the client's endpoints and the invitations to mux.
func (s *Server) clientRoutes(mux *http.ServeMux) {
	authed := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.authenticate(h)) }
	authed("POST /v1/cases/{id}/parties/{party_id}/invitations", s.handleInvitationCreate)
	authed("DELETE /v1/cases/{id}/parties/{party_id}/invitations/{invitation_id}", s.handleInvitationRevoke)

	public := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.anonymous(h)) }
	public("POST /v1/client/session", s.handleClientSession)
	s.clientAuthed(mux, "DELETE /v1/client/session", s.handleClientSignOut)
	s.clientAuthed(mux, "GET /v1/client/me", s.handleClientMe)
}

// authenticateClient resolves a client bearer token into the request's
// client principal (client.NewContext). A staff token is not a client's: it
// is refused like any unknown token, and counts as a failed sign-in.
func (s *Server) authenticateClient(next http.Handler) http.Handler {
	return s.bearer(bearerDoor{
		realm:   "countersign-client",
		missing: "Sign in to your file first: send your token as 'Authorization: Bearer <token>'.",
		closed: func() error {
			if s.Clients == nil {
				return client.ErrSessionEnded
			}
			return nil
		},
		resolve: func(ctx context.Context, secret string) (string, context.Context, error) {
			sess, p, err := s.Clients.AuthenticateClient(ctx, secret)
			if err != nil {
				return "", nil, err
			}
			return sess.ID, client.NewContext(ctx, p), nil
		},
	}, next)
}

// invitationResponse is an invitation as its worker gets it: the code,
// shown this once, and the letter to print.
type invitationResponse struct {
	ID        string    `json:"id"`
	AccountID string    `json:"account_id"`
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
	LetterURL string    `json:"letter_url"`
}

// handleInvitationCreate serves POST /v1/cases/{id}/parties/{party_id}/invitations.
func (s *Server) handleInvitationCreate(w http.ResponseWriter, r *http.Request) {
	if s.Clients == nil {
		Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "There is no such endpoint."))
		return
	}
	inv, code, err := s.Clients.CreateInvitation(r.Context(), r.PathValue("id"), r.PathValue("party_id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/cases/"+inv.CaseID+"/parties/"+inv.PartyID+"/invitations/"+inv.ID)
	JSON(w, http.StatusCreated, invitationResponse{ID: inv.ID, AccountID: inv.AccountID, Code: code, ExpiresAt: inv.ExpiresAt,
		LetterURL: client.LetterPath(inv, code)})
}

// handleInvitationRevoke serves DELETE /v1/cases/{id}/parties/{party_id}/invitations/{invitation_id}.
func (s *Server) handleInvitationRevoke(w http.ResponseWriter, r *http.Request) {
	if s.Clients == nil {
		Error(w, r, countersign.Errorf(countersign.ENOTFOUND, "There is no such endpoint."))
		return
	}
	if err := s.Clients.RevokeInvitation(r.Context(), r.PathValue("id"), r.PathValue("party_id"), r.PathValue("invitation_id")); err != nil {
		Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// clientSessionRequest is a first sign-in {code, passphrase} or a later
// one {email_or_id, passphrase}.
type clientSessionRequest struct {
	Code       string `json:"code" validate:"omitempty,max=64"`
	EmailOrID  string `json:"email_or_id" validate:"omitempty,max=320"`
	Passphrase string `json:"passphrase" validate:"required,max=1024"`
	Language   string `json:"language" validate:"omitempty,max=8"`
}

type clientSessionResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	AccountID string    `json:"account_id"`
}

// handleClientSession serves POST /v1/client/session: a client signs in
// with their letter's code (and sets their passphrase) or with their
// passphrase, and gets a client bearer token. Failures are limited per
// client address and per code or account, checked before anything is.
func (s *Server) handleClientSession(w http.ResponseWriter, r *http.Request) {
	var req clientSessionRequest
	if err := s.decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	if (req.Code == "") == (req.EmailOrID == "") {
		Error(w, r, countersign.InvalidFields("The request has mistakes; see the fields listed.", countersign.FieldError{Field: "code",
			Message: "Give either the code of your letter (first sign-in) or your account number or email (later sign-ins)."}))
		return
	}
	if s.Clients == nil {
		Error(w, r, client.ErrSignIn)
		return
	}
	key := httpx.SignInKey("code", client.NormalizeCode(req.Code))
	var f client.SignInFilter
	if req.Code == "" {
		var err error
		if f, err = client.ParseLogin(req.EmailOrID); err != nil {
			Error(w, r, err)
			return
		}
		key = httpx.SignInKey("login", f.AccountID+f.Email)
	}
	if err := s.Limits.SignInBlocked(w, r); err != nil {
		Error(w, r, err)
		return
	}
	if err := s.Limits.SignInKeyBlocked(w, key); err != nil {
		Error(w, r, err)
		return
	}
	var sess *client.Session
	var secret string
	var err error
	if req.Code != "" {
		sess, secret, err = s.Clients.Redeem(r.Context(), client.Redemption{Code: req.Code, Passphrase: req.Passphrase, Kind: client.KindToken, Language: req.Language})
	} else {
		sess, secret, err = s.Clients.SignInWithPassphrase(r.Context(), f, req.Passphrase, client.KindToken, req.Language)
	}
	if err != nil {
		if countersign.ErrorCode(err) == countersign.EUNAUTHORIZED {
			s.Limits.SignInFailed(r)
			s.Limits.SignInKeyFailed(key)
		}
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusCreated, clientSessionResponse{Token: secret, ExpiresAt: sess.ExpiresAt, AccountID: sess.AccountID})
}

// handleClientSignOut serves DELETE /v1/client/session: the token ends.
func (s *Server) handleClientSignOut(w http.ResponseWriter, r *http.Request) {
	secret, _ := httpx.BearerToken(r.Header.Get("Authorization"))
	if err := s.Clients.EndClientSession(r.Context(), secret); err != nil {
		Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleClientMe serves GET /v1/client/me: the signed-in client, their
// account id, language and the cases they may read.
func (s *Server) handleClientMe(w http.ResponseWriter, r *http.Request) {
	p, err := client.PrincipalFrom(r.Context())
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, p)
}
