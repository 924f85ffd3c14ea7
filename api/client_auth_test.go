package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/httpx"
	"github.com/countersign/countersign/sqlstore/storetest"
)

type invitationBody struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Code      string `json:"code"`
	LetterURL string `json:"letter_url"`
}

type clientTokenBody struct {
	Token     string `json:"token"`
	AccountID string `json:"account_id"`
}

// clientCall is call with a client bearer token.
func (b *testBundle) clientCall(t *testing.T, token, method, path string, body any, wantStatus int, out any) {
	t.Helper()
	b.tokens["client:"+token] = token
	b.call(t, "client:"+token, method, path, body, wantStatus, out)
}

func TestClientInvitationsAndSignIn(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open, func(s *api.Server) {})
		invitations := "/v1/cases/" + b.f.Case.ID + "/parties/" + b.f.Client.ID + "/invitations"
		const pass = "the green door by the bakery"

		var inv invitationBody
		b.call(t, "worker", "POST", invitations, nil, http.StatusCreated, &inv)
		if inv.Code == "" || !strings.HasPrefix(inv.AccountID, "C-") || !strings.Contains(inv.LetterURL, "/letter?code=") {
			t.Fatalf("invitation %+v", inv)
		}
		// Only the case's worker and its team's supervisors invite.
		for _, role := range []string{"other", "othersup", "ethics", "admin"} {
			b.call(t, role, "POST", invitations, nil, http.StatusForbidden, nil)
		}
		b.call(t, "", "POST", invitations, nil, http.StatusUnauthorized, nil)

		// The first sign-in: the code and a passphrase; the passphrase rule is the domain's.
		b.call(t, "", "POST", "/v1/client/session", map[string]string{"code": inv.Code, "passphrase": "short"}, http.StatusUnprocessableEntity, nil)
		b.call(t, "", "POST", "/v1/client/session", map[string]string{"passphrase": pass}, http.StatusUnprocessableEntity, nil)
		var tok clientTokenBody
		b.call(t, "", "POST", "/v1/client/session", map[string]string{"code": inv.Code, "passphrase": pass}, http.StatusCreated, &tok)
		if !strings.HasPrefix(tok.Token, "ccl_") || tok.AccountID != inv.AccountID {
			t.Fatalf("token %+v", tok)
		}
		// Single use.
		b.call(t, "", "POST", "/v1/client/session", map[string]string{"code": inv.Code, "passphrase": pass}, http.StatusUnauthorized, nil)

		var me struct {
			AccountID string `json:"account_id"`
			Parties   []struct {
				CaseID string `json:"case_id"`
			} `json:"parties"`
		}
		b.clientCall(t, tok.Token, "GET", "/v1/client/me", nil, http.StatusOK, &me)
		if me.AccountID != inv.AccountID || len(me.Parties) != 1 || me.Parties[0].CaseID != b.f.Case.ID {
			t.Fatalf("me %+v", me)
		}
		// A client token opens no staff door, a staff token no client door.
		b.clientCall(t, tok.Token, "GET", "/v1/cases/"+b.f.Case.ID, nil, http.StatusUnauthorized, nil)
		b.clientCall(t, tok.Token, "GET", "/v1/me", nil, http.StatusUnauthorized, nil)
		b.call(t, "worker", "GET", "/v1/client/me", nil, http.StatusUnauthorized, nil)

		// Later: by account number or email.
		var tok2 clientTokenBody
		b.call(t, "", "POST", "/v1/client/session", map[string]string{"email_or_id": strings.ToLower(inv.AccountID), "passphrase": pass}, http.StatusCreated, &tok2)
		b.call(t, "", "POST", "/v1/client/session", map[string]string{"email_or_id": b.f.Client.Email, "passphrase": pass + "x"}, http.StatusUnauthorized, nil)
		b.clientCall(t, tok2.Token, "DELETE", "/v1/client/session", nil, http.StatusNoContent, nil)
		b.clientCall(t, tok2.Token, "GET", "/v1/client/me", nil, http.StatusUnauthorized, nil)

		// Revoking: a used invitation cannot be revoked; a new one can.
		b.call(t, "worker", "DELETE", invitations+"/"+inv.ID, nil, http.StatusConflict, nil)
		var inv2 invitationBody
		b.call(t, "supervisor", "POST", invitations, nil, http.StatusCreated, &inv2)
		b.call(t, "other", "DELETE", invitations+"/"+inv2.ID, nil, http.StatusForbidden, nil)
		b.call(t, "worker", "DELETE", invitations+"/"+inv2.ID, nil, http.StatusNoContent, nil)
		b.call(t, "worker", "DELETE", invitations+"/"+inv2.ID, nil, http.StatusConflict, nil)
		b.call(t, "worker", "DELETE", invitations+"/inv_nothing", nil, http.StatusNotFound, nil)
		b.call(t, "", "POST", "/v1/client/session", map[string]string{"code": inv2.Code, "passphrase": pass}, http.StatusUnauthorized, nil)
	})
}

func TestClientSignInIsLimitedPerCodeAndPerAddress(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		limits := &httpx.Limits{SignIns: &httpx.RateLimit{PerSecond: 1.0 / 3600, Burst: 3}}
		b := setup(t, open, func(s *api.Server) { s.Limits = limits })
		var inv invitationBody
		b.call(t, "worker", "POST", "/v1/cases/"+b.f.Case.ID+"/parties/"+b.f.Client.ID+"/invitations", nil, http.StatusCreated, &inv)
		for range 3 {
			b.call(t, "", "POST", "/v1/client/session", map[string]string{"code": "AAAA-BBBB-CCCC", "passphrase": "a long enough passphrase"}, http.StatusUnauthorized, nil)
		}
		// The address has used its failed sign-ins: even the right code waits.
		resp := b.call(t, "", "POST", "/v1/client/session", map[string]string{"code": inv.Code, "passphrase": "a long enough passphrase"}, http.StatusTooManyRequests, nil)
		if resp.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		// Per code, from any address: the same key is blocked after its failures.
		key := httpx.SignInKey("code", client.NormalizeCode("zzzz-zzzz-zzzz"))
		for range 3 {
			limits.SignInKeyFailed(key)
		}
		if err := limits.SignInKeyBlocked(httptestRecorder(), httpx.SignInKey("code", client.NormalizeCode("ZZZZ ZZZZ ZZZZ"))); err == nil {
			t.Fatal("a code's failures from several addresses are not limited")
		}
	})
}

func httptestRecorder() http.ResponseWriter { return httptest.NewRecorder() }

func TestPartiesHaveALanguage(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		parties := "/v1/cases/" + b.f.Case.ID + "/parties"
		var p struct {
			Language string `json:"language"`
		}
		b.call(t, "worker", "POST", parties, map[string]string{"role": "client", "full_name": "Anna Peeters", "language": "nl"}, http.StatusCreated, &p)
		if p.Language != "nl" {
			t.Fatalf("language %q", p.Language)
		}
		b.call(t, "worker", "POST", parties, map[string]string{"role": "other", "full_name": "Jan Peeters"}, http.StatusCreated, &p)
		if p.Language != "en" {
			t.Fatalf("default language %q", p.Language)
		}
		var problem struct {
			Errors []struct {
				Field string `json:"field"`
			} `json:"errors"`
		}
		b.call(t, "worker", "POST", parties, map[string]string{"role": "client", "full_name": "X", "language": "es"}, http.StatusUnprocessableEntity, &problem)
		if len(problem.Errors) != 1 || problem.Errors[0].Field != "language" {
			t.Fatalf("problem %+v", problem)
		}
	})
}
