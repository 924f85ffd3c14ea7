package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/httpx"
)

// Signing in to the client's own file: with the letter's code first, then
// a passkey (WebAuthn, github.com/go-webauthn/webauthn) or a passphrase.
// Every client cookie is scoped to /client, so the browser never sends it
// to a staff page; the client pages never read the staff session cookie,
// so a staff session is no client's.

const (
	// clientSessionCookie holds the client's session secret.
	clientSessionCookie = "countersign_client"
	// clientCeremonyCookie holds the secret of a sign-up or passkey
	// sign-in in progress (client.Ceremony).
	clientCeremonyCookie = "countersign_client_ceremony"
	// clientFormCookie holds the CSRF token of the forms shown before
	// signing in (double submit, like the staff sign-in's).
	clientFormCookie = "countersign_client_form"
	// clientLangCookie holds the language chosen before signing in.
	clientLangCookie = "countersign_client_lang"
	// clientPath is the path every client cookie is scoped to.
	clientPath = "/client"
	// maxClientJSON bounds a WebAuthn answer.
	maxClientJSON = 64 << 10
)

type clientKey struct{}
type clientSessionKey struct{}

// clientFrom returns the signed-in client of r.
func clientFrom(r *http.Request) (client.Principal, bool) {
	p, err := client.PrincipalFrom(r.Context())
	return p, err == nil
}

func clientSessionFrom(r *http.Request) *client.Session {
	s, _ := r.Context().Value(clientSessionKey{}).(*client.Session)
	return s
}

func (s *Server) setClientCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: clientPath, MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: s.secureCookies(r), SameSite: http.SameSiteLaxMode})
}

func (s *Server) clearClientCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: clientPath, MaxAge: -1,
		HttpOnly: true, Secure: s.secureCookies(r), SameSite: http.SameSiteLaxMode})
}

// clientRoutes adds the client's pages to mux.
func (s *Server) clientRoutes(mux *http.ServeMux) {
	public := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.anonymous(h)) }
	public("GET /client/signin", s.handleClientSignInPage)
	public("POST /client/signin", s.handleClientSignIn)
	public("POST /client/code", s.handleClientCode)
	public("GET /client/welcome", s.handleClientWelcome)
	public("POST /client/passphrase", s.handleClientPassphrase)
	public("POST /client/passkey/register/begin", s.handleClientPasskeyRegisterBegin)
	public("POST /client/passkey/register/finish", s.handleClientPasskeyRegisterFinish)
	public("POST /client/passkey/signin/begin", s.handleClientPasskeySignInBegin)
	public("POST /client/passkey/signin/finish", s.handleClientPasskeySignInFinish)
	public("GET /client/lang/{lang}", s.handleClientLang)
	public("GET /client/{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/client", http.StatusSeeOther) })
	s.clientPage(mux, "GET /client", s.handleClientHome)
	s.clientPage(mux, "POST /client/signout", s.handleClientSignOut)
	// The worker's side: inviting a client prints a letter.
	page := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.session(h)) }
	page("POST /cases/{id}/parties/{party_id}/invitations", s.handleInvite)
	page("GET /cases/{id}/parties/{party_id}/invitations/{invitation_id}/letter", s.handleLetter)
}

// clientPage registers a client page on mux: only a signed-in client
// reaches h, with client.PrincipalFrom(ctx) and countersign.ActorFrom(ctx)
// set; anyone else (a staff session included) goes to the client sign-in.
// A POST must carry the session's CSRF token.
func (s *Server) clientPage(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	mux.Handle(pattern, s.clientSession(h))
}

// clientSession resolves the client cookie into the request's client.
func (s *Server) clientSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		c, err := r.Cookie(clientSessionCookie)
		if err != nil || c.Value == "" || s.Clients == nil {
			s.anonymous(http.HandlerFunc(s.toClientSignIn)).ServeHTTP(w, r)
			return
		}
		sess, p, err := s.Clients.FindClientSession(r.Context(), c.Value)
		if countersign.ErrorCode(err) == countersign.EUNAUTHORIZED {
			s.clearClientCookie(w, r, clientSessionCookie)
			s.anonymous(http.HandlerFunc(s.toClientSignIn)).ServeHTTP(w, r)
			return
		} else if err != nil {
			s.clientErrorPage(w, r, err)
			return
		}
		if err := s.Limits.Request(w, httpx.TokenKey(sess.ID)); err != nil {
			s.clientErrorPage(w, r, err)
			return
		}
		ctx := context.WithValue(client.NewContext(r.Context(), p), clientSessionKey{}, sess)
		r = r.WithContext(ctx)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, s.formLimit(maxFormBytes))
			if err := r.ParseForm(); err != nil {
				s.clientErrorPage(w, r, countersign.Errorf(countersign.ETOOLARGE, "%s", clientMsg(s.clientLang(r), "error.ETOOLARGE")))
				return
			}
			if !tokenEqual(r.PostForm.Get("csrf"), sess.CSRF) {
				s.clientErrorPage(w, r, countersign.Errorf(countersign.EFORBIDDEN, "%s", clientMsg(s.clientLang(r), "form.expired")))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// toClientSignIn sends the browser to the client sign-in page.
func (s *Server) toClientSignIn(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/client/signin", http.StatusSeeOther)
}

// clientErrorPage renders err on the client layout; a lost session sends
// the client to sign in again.
func (s *Server) clientErrorPage(w http.ResponseWriter, r *http.Request, err error) {
	code, status := httpx.Status(err)
	if code == countersign.EUNAUTHORIZED {
		s.clearClientCookie(w, r, clientSessionCookie)
		s.toClientSignIn(w, r)
		return
	}
	httpx.LogError(r, code, err)
	p := s.newClientPage(r, "error.title")
	switch code {
	case countersign.EINTERNAL:
		p.Error = clientMsg(p.Lang, "error.EINTERNAL")
	case countersign.ENOTFOUND:
		// The store's sentence is English; the client reads their own
		// language, and the same words whether the id exists or not.
		p.Error = clientMsg(p.Lang, "error.ENOTFOUND")
	default:
		p.Error = countersign.ErrorMessage(err)
	}
	s.renderClient(w, r, status, "client_error.html", p)
}

// formToken sets a fresh CSRF token for the forms of a page shown before
// signing in, and returns it.
func (s *Server) formToken(w http.ResponseWriter, r *http.Request) string {
	tok := randomToken()
	s.setClientCookie(w, r, clientFormCookie, tok, time.Hour)
	return tok
}

// checkForm parses a form posted before signing in and checks its CSRF
// token against the cookie.
func (s *Server) checkForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, s.formLimit(maxSignInBytes))
	if err := r.ParseForm(); err != nil {
		return countersign.Errorf(countersign.ETOOLARGE, "%s", clientMsg(s.clientLang(r), "error.ETOOLARGE"))
	}
	c, err := r.Cookie(clientFormCookie)
	if err != nil || !tokenEqual(r.PostForm.Get("csrf"), c.Value) {
		return countersign.Errorf(countersign.EFORBIDDEN, "%s", clientMsg(s.clientLang(r), "form.expired"))
	}
	return nil
}

// checkJSON checks the CSRF header of a passkey request made by
// client.js, which copies the page's token into X-CSRF-Token.
func (s *Server) checkJSON(r *http.Request) error {
	c, err := r.Cookie(clientFormCookie)
	if err != nil || !tokenEqual(r.Header.Get("X-CSRF-Token"), c.Value) {
		return countersign.Errorf(countersign.EFORBIDDEN, "%s", clientMsg(s.clientLang(r), "form.expired"))
	}
	return nil
}

// signInView is the data of the sign-in page.
type signInView struct {
	Code, Login string
	Bye         bool
}

// handleClientSignInPage serves GET /client/signin.
func (s *Server) handleClientSignInPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// Someone signed in already goes to their file.
	if c, err := r.Cookie(clientSessionCookie); err == nil && c.Value != "" && s.Clients != nil && !r.URL.Query().Has("bye") {
		if _, _, err := s.Clients.FindClientSession(r.Context(), c.Value); err == nil {
			http.Redirect(w, r, "/client", http.StatusSeeOther)
			return
		}
	}
	s.renderClientSignIn(w, r, http.StatusOK, signInView{Bye: r.URL.Query().Has("bye")}, nil)
}

func (s *Server) renderClientSignIn(w http.ResponseWriter, r *http.Request, status int, v signInView, err error) {
	p := s.newClientPage(r, "signin.title")
	p.CSRF = s.formToken(w, r)
	p.Data = v
	if err != nil {
		p.setError(err)
	}
	s.renderClient(w, r, status, "client_signin.html", p)
}

// signInLimited checks the failed sign-ins of r's address and of key,
// before anything else is.
func (s *Server) signInLimited(w http.ResponseWriter, r *http.Request, key string) error {
	if err := s.Limits.SignInBlocked(w, r); err != nil {
		return countersign.Errorf(countersign.ERATELIMIT, "%s", clientMsg(s.clientLang(r), "signin.limited"))
	}
	if err := s.Limits.SignInKeyBlocked(w, key); err != nil {
		return countersign.Errorf(countersign.ERATELIMIT, "%s", clientMsg(s.clientLang(r), "signin.limited"))
	}
	return nil
}

func (s *Server) signInFailed(r *http.Request, key string) {
	s.Limits.SignInFailed(r)
	s.Limits.SignInKeyFailed(key)
}

// localise replaces the client package's English sign-in refusals with
// the catalogue's words in lang.
func localise(lang string, err error) error {
	switch err {
	case client.ErrCode:
		return countersign.Errorf(countersign.EUNAUTHORIZED, "%s", clientMsg(lang, "signin.badcode"))
	case client.ErrSignIn:
		return countersign.Errorf(countersign.EUNAUTHORIZED, "%s", clientMsg(lang, "signin.bad"))
	}
	if countersign.ErrorCode(err) == countersign.EINVALID {
		for _, f := range countersign.ErrorFields(err) {
			if f.Field == "passphrase" {
				return countersign.InvalidFields(clientMsg(lang, "passphrase.invalid"), countersign.FieldError{Field: "passphrase",
					Message: clientMsg(lang, "passphrase.rule", client.MinPassphrase)})
			}
		}
	}
	return err
}

// handleClientCode serves POST /client/code: the letter's code is checked
// and a sign-up begins; the client then chooses a passkey or a passphrase.
func (s *Server) handleClientCode(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := s.checkForm(w, r); err != nil {
		s.clientErrorPage(w, r, err)
		return
	}
	code := strings.TrimSpace(r.PostForm.Get("code"))
	lang := s.clientLang(r)
	if code == "" || len(code) > 64 {
		s.renderClientSignIn(w, r, http.StatusUnprocessableEntity, signInView{Code: code},
			countersign.InvalidFields(clientMsg(lang, "signin.nocode"), countersign.FieldError{Field: "code", Message: clientMsg(lang, "signin.nocode")}))
		return
	}
	key := httpx.SignInKey("code", client.NormalizeCode(code))
	if err := s.signInLimited(w, r, key); err != nil {
		s.renderClientSignIn(w, r, http.StatusTooManyRequests, signInView{Code: code}, err)
		return
	}
	if s.Clients == nil {
		s.clientErrorPage(w, r, countersign.Errorf(countersign.ENOTFOUND, "%s", clientMsg(lang, "error.ENOTFOUND")))
		return
	}
	secret, _, err := s.Clients.StartCeremony(r.Context(), code)
	if err != nil {
		if countersign.ErrorCode(err) == countersign.EUNAUTHORIZED {
			s.signInFailed(r, key)
			s.renderClientSignIn(w, r, http.StatusUnauthorized, signInView{Code: code}, localise(lang, err))
			return
		}
		s.clientErrorPage(w, r, err)
		return
	}
	s.setClientCookie(w, r, clientCeremonyCookie, secret, client.CeremonyTTL)
	http.Redirect(w, r, "/client/welcome", http.StatusSeeOther)
}

// welcomeView is the data of the page where a new client chooses how to
// sign in from now on.
type welcomeView struct {
	AccountID string
	Name      string
	Min       int
}

// ceremony returns the sign-up in progress of r, and its account.
func (s *Server) ceremony(r *http.Request) (*client.Ceremony, *client.Account, string, error) {
	c, err := r.Cookie(clientCeremonyCookie)
	if err != nil || c.Value == "" || s.Clients == nil {
		return nil, nil, "", client.ErrCode
	}
	cer, acc, err := s.Clients.FindCeremony(r.Context(), c.Value)
	if err != nil {
		return nil, nil, "", err
	}
	return cer, acc, c.Value, nil
}

// handleClientWelcome serves GET /client/welcome.
func (s *Server) handleClientWelcome(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	_, acc, _, err := s.ceremony(r)
	if err != nil || acc == nil {
		s.renderClientSignIn(w, r, http.StatusUnauthorized, signInView{}, localise(s.clientLang(r), client.ErrCode))
		return
	}
	s.renderWelcome(w, r, http.StatusOK, acc, nil)
}

func (s *Server) renderWelcome(w http.ResponseWriter, r *http.Request, status int, acc *client.Account, err error) {
	p := s.newClientPage(r, "welcome.title")
	p.Lang = s.accountLang(r, acc)
	p.CSRF = s.formToken(w, r)
	p.Data = welcomeView{AccountID: acc.ID, Name: acc.Name, Min: client.MinPassphrase}
	if err != nil {
		p.setError(err)
	}
	s.renderClient(w, r, status, "client_welcome.html", p)
}

// handleClientPassphrase serves POST /client/passphrase: a new client
// signs in for the first time and sets their passphrase.
func (s *Server) handleClientPassphrase(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := s.checkForm(w, r); err != nil {
		s.clientErrorPage(w, r, err)
		return
	}
	lang := s.clientLang(r)
	_, acc, secret, err := s.ceremony(r)
	if err != nil || acc == nil {
		s.renderClientSignIn(w, r, http.StatusUnauthorized, signInView{}, localise(lang, client.ErrCode))
		return
	}
	lang = s.accountLang(r, acc)
	pass := r.PostForm.Get("passphrase")
	if pass != r.PostForm.Get("passphrase2") {
		s.renderWelcome(w, r, http.StatusUnprocessableEntity, acc, countersign.InvalidFields(clientMsg(lang, "passphrase.invalid"),
			countersign.FieldError{Field: "passphrase2", Message: clientMsg(lang, "passphrase.mismatch")}))
		return
	}
	sess, token, err := s.Clients.Redeem(r.Context(), client.Redemption{Ceremony: secret, Passphrase: pass, Kind: client.KindBrowser, Language: s.chosenLang(r)})
	if err != nil {
		if countersign.ErrorCode(err) == countersign.EINVALID {
			s.renderWelcome(w, r, http.StatusUnprocessableEntity, acc, localise(lang, err))
			return
		}
		s.clientErrorPage(w, r, localise(lang, err))
		return
	}
	s.startClientSession(w, r, sess, token)
	http.Redirect(w, r, "/client?done=welcome", http.StatusSeeOther)
}

// accountLang is the language of the pages of acc's sign-up: the one
// chosen with the switch, else the client's own (their letter's), else the
// browser's.
func (s *Server) accountLang(r *http.Request, acc *client.Account) string {
	if l := s.chosenLang(r); l != "" {
		return l
	}
	if acc != nil && client.ValidLanguage(acc.Language) {
		return acc.Language
	}
	return s.clientLang(r)
}

// chosenLang is the language chosen with the switch before signing in, ""
// when none was: the session then takes the client's own.
func (s *Server) chosenLang(r *http.Request) string {
	if c, err := r.Cookie(clientLangCookie); err == nil && client.ValidLanguage(c.Value) {
		return c.Value
	}
	return ""
}

// startClientSession gives the browser its session cookie, ending the
// ceremony's and any session it had before.
func (s *Server) startClientSession(w http.ResponseWriter, r *http.Request, sess *client.Session, secret string) {
	if old, err := r.Cookie(clientSessionCookie); err == nil && old.Value != "" {
		_ = s.Clients.EndClientSession(r.Context(), old.Value)
	}
	s.clearClientCookie(w, r, clientCeremonyCookie)
	s.clearClientCookie(w, r, clientFormCookie)
	// As the staff's session cookie: its lifetime on the session's clock.
	s.setClientCookie(w, r, clientSessionCookie, secret, sess.ExpiresAt.Sub(sess.CreatedAt))
}

// handleClientSignIn serves POST /client/signin: account number or email,
// and passphrase.
func (s *Server) handleClientSignIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := s.checkForm(w, r); err != nil {
		s.clientErrorPage(w, r, err)
		return
	}
	lang := s.clientLang(r)
	login := strings.TrimSpace(r.PostForm.Get("email_or_id"))
	f, err := client.ParseLogin(login)
	if err != nil {
		s.renderClientSignIn(w, r, http.StatusUnprocessableEntity, signInView{Login: login},
			countersign.InvalidFields(clientMsg(lang, "signin.nologin"), countersign.FieldError{Field: "email_or_id", Message: clientMsg(lang, "signin.nologin")}))
		return
	}
	key := httpx.SignInKey("login", f.AccountID+f.Email)
	if err := s.signInLimited(w, r, key); err != nil {
		s.renderClientSignIn(w, r, http.StatusTooManyRequests, signInView{Login: login}, err)
		return
	}
	if s.Clients == nil {
		s.renderClientSignIn(w, r, http.StatusUnauthorized, signInView{Login: login}, localise(lang, client.ErrSignIn))
		return
	}
	sess, secret, err := s.Clients.SignInWithPassphrase(r.Context(), f, r.PostForm.Get("passphrase"), client.KindBrowser, s.chosenLang(r))
	if err != nil {
		if countersign.ErrorCode(err) == countersign.EUNAUTHORIZED {
			s.signInFailed(r, key)
			s.renderClientSignIn(w, r, http.StatusUnauthorized, signInView{Login: login}, localise(lang, err))
			return
		}
		s.clientErrorPage(w, r, err)
		return
	}
	s.startClientSession(w, r, sess, secret)
	http.Redirect(w, r, "/client", http.StatusSeeOther)
}

// handleClientSignOut serves POST /client/signout.
func (s *Server) handleClientSignOut(w http.ResponseWriter, r *http.Request) {
	c, _ := r.Cookie(clientSessionCookie)
	if err := s.Clients.EndClientSession(r.Context(), c.Value); err != nil && countersign.ErrorCode(err) != countersign.EUNAUTHORIZED {
		s.clientErrorPage(w, r, err)
		return
	}
	s.clearClientCookie(w, r, clientSessionCookie)
	http.Redirect(w, r, "/client/signin?bye=1", http.StatusSeeOther)
}

// handleClientLang serves GET /client/lang/{lang}?back=PATH: the switch.
// A signed-in client's choice is kept in their session; before signing in,
// in a cookie of the client pages.
func (s *Server) handleClientLang(w http.ResponseWriter, r *http.Request) {
	lang := r.PathValue("lang")
	if !client.ValidLanguage(lang) {
		s.clientErrorPage(w, r, countersign.Errorf(countersign.ENOTFOUND, "%s", clientMsg(s.clientLang(r), "error.ENOTFOUND")))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: clientLangCookie, Value: lang, Path: clientPath, MaxAge: 365 * 24 * 3600,
		Secure: s.secureCookies(r), SameSite: http.SameSiteLaxMode, HttpOnly: true})
	if c, err := r.Cookie(clientSessionCookie); err == nil && c.Value != "" && s.Clients != nil {
		if sess, _, err := s.Clients.FindClientSession(r.Context(), c.Value); err == nil {
			if err := s.Clients.SetSessionLanguage(r.Context(), sess.ID, lang); err != nil {
				s.clientErrorPage(w, r, err)
				return
			}
		}
	}
	back := localPath(r.URL.Query().Get("back"))
	if back != "/client" && !strings.HasPrefix(back, "/client/") && !strings.HasPrefix(back, "/client?") {
		back = "/client"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// handleClientHome serves GET /client: the client's own file.
func (s *Server) handleClientHome(w http.ResponseWriter, r *http.Request) {
	p := s.newClientPage(r, "home.title")
	p.Nav = "home"
	s.renderClient(w, r, http.StatusOK, "client_home.html", p)
}

// WebAuthn.

// relyingParty returns the WebAuthn relying party of r: the configured
// ClientOrigin, or the origin r was sent to.
func (s *Server) relyingParty(r *http.Request) (*webauthn.WebAuthn, error) {
	origin := s.clientOrigin(r)
	u, err := url.Parse(origin)
	if err != nil || u.Hostname() == "" {
		return nil, countersign.Errorf(countersign.EINTERNAL, "Internal error.")
	}
	return webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: "Countersign", RPOrigins: []string{origin}})
}

// clientOrigin is the origin of the client pages: ClientOrigin when set
// (behind a proxy), else the scheme and host the request came to.
func (s *Server) clientOrigin(r *http.Request) string {
	if s.ClientOrigin != "" {
		return strings.TrimRight(s.ClientOrigin, "/")
	}
	scheme := "http"
	if r.TLS != nil || s.SecureCookies {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// passkeyUser is an account as go-webauthn sees it: its id is the user
// handle, so a discoverable passkey names its account.
type passkeyUser struct {
	acc   *client.Account
	creds []webauthn.Credential
}

func (u *passkeyUser) WebAuthnID() []byte                         { return []byte(u.acc.ID) }
func (u *passkeyUser) WebAuthnName() string                       { return u.acc.ID }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.acc.Name }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// jsonError answers a passkey request with a problem in the client's language.
func (s *Server) jsonError(w http.ResponseWriter, r *http.Request, err error) {
	httpx.Error(w, r, localise(s.clientLang(r), err))
}

// handleClientPasskeyRegisterBegin serves POST /client/passkey/register/begin:
// the options of navigator.credentials.create for the sign-up in progress.
func (s *Server) handleClientPasskeyRegisterBegin(w http.ResponseWriter, r *http.Request) {
	if err := s.checkJSON(r); err != nil {
		s.jsonError(w, r, err)
		return
	}
	_, acc, secret, err := s.ceremony(r)
	if err == nil && acc == nil {
		err = client.ErrCode
	}
	if err != nil {
		s.jsonError(w, r, err)
		return
	}
	rp, err := s.relyingParty(r)
	if err != nil {
		s.jsonError(w, r, err)
		return
	}
	opts, data, err := rp.BeginRegistration(&passkeyUser{acc: acc},
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{ResidentKey: protocol.ResidentKeyRequirementRequired,
			UserVerification: protocol.VerificationPreferred}))
	if err != nil {
		s.jsonError(w, r, err)
		return
	}
	if err := s.saveChallenge(r, secret, data); err != nil {
		s.jsonError(w, r, err)
		return
	}
	httpx.JSON(w, http.StatusOK, opts)
}

func (s *Server) saveChallenge(r *http.Request, secret string, data *webauthn.SessionData) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return s.Clients.SaveChallenge(r.Context(), secret, raw)
}

// readBody bounds and keeps the WebAuthn answer so the library can read it.
func readBody(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxClientJSON))
	if err != nil {
		return countersign.Errorf(countersign.ETOOLARGE, "The answer of the passkey is too large.")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

// passkeyCeremony is what a passkey's finish step needs of the ceremony of
// r: the account it is for (a registration's; a sign-in has none), its
// secret, the WebAuthn data its begin step saved, and the relying party. A
// ceremony that is missing, of the other kind or without that data is
// refused with refused.
func (s *Server) passkeyCeremony(r *http.Request, registration bool, refused error) (*client.Account, string, webauthn.SessionData, *webauthn.WebAuthn, error) {
	var data webauthn.SessionData
	cer, acc, secret, err := s.ceremony(r)
	if err == nil && ((acc == nil) == registration || len(cer.WebAuthn) == 0) {
		err = refused
	}
	if err != nil {
		return nil, "", data, nil, err
	}
	if err := json.Unmarshal(cer.WebAuthn, &data); err != nil {
		return nil, "", data, nil, refused
	}
	rp, err := s.relyingParty(r)
	if err != nil {
		return nil, "", data, nil, err
	}
	return acc, secret, data, rp, nil
}

// handleClientPasskeyRegisterFinish serves POST /client/passkey/register/finish:
// the browser's new passkey is checked and saved, the invitation used, and
// the client signed in.
func (s *Server) handleClientPasskeyRegisterFinish(w http.ResponseWriter, r *http.Request) {
	if err := s.checkJSON(r); err != nil {
		s.jsonError(w, r, err)
		return
	}
	if err := readBody(w, r); err != nil {
		s.jsonError(w, r, err)
		return
	}
	acc, secret, data, rp, err := s.passkeyCeremony(r, true, client.ErrCode)
	if err != nil {
		s.jsonError(w, r, err)
		return
	}
	cred, err := rp.FinishRegistration(&passkeyUser{acc: acc}, data, r)
	if err != nil {
		httpx.LogError(r, countersign.EINVALID, err)
		s.jsonError(w, r, countersign.Errorf(countersign.EINVALID, "%s", clientMsg(s.clientLang(r), "passkey.failed")))
		return
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		s.jsonError(w, r, err)
		return
	}
	sess, token, err := s.Clients.Redeem(r.Context(), client.Redemption{Ceremony: secret, Passkey: &client.Passkey{CredentialID: cred.ID, Credential: raw},
		Kind: client.KindBrowser, Language: s.chosenLang(r)})
	if err != nil {
		s.jsonError(w, r, err)
		return
	}
	s.startClientSession(w, r, sess, token)
	httpx.JSON(w, http.StatusOK, map[string]string{"next": "/client?done=welcome"})
}

// handleClientPasskeySignInBegin serves POST /client/passkey/signin/begin:
// the options of navigator.credentials.get for a discoverable passkey.
func (s *Server) handleClientPasskeySignInBegin(w http.ResponseWriter, r *http.Request) {
	if err := s.checkJSON(r); err != nil {
		s.jsonError(w, r, err)
		return
	}
	if err := s.Limits.SignInBlocked(w, r); err != nil {
		s.jsonError(w, r, countersign.Errorf(countersign.ERATELIMIT, "%s", clientMsg(s.clientLang(r), "signin.limited")))
		return
	}
	if s.Clients == nil {
		s.jsonError(w, r, client.ErrSignIn)
		return
	}
	rp, err := s.relyingParty(r)
	if err != nil {
		s.jsonError(w, r, err)
		return
	}
	opts, data, err := rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		s.jsonError(w, r, err)
		return
	}
	secret, _, err := s.Clients.StartCeremony(r.Context(), "")
	if err != nil {
		s.jsonError(w, r, err)
		return
	}
	if err := s.saveChallenge(r, secret, data); err != nil {
		s.jsonError(w, r, err)
		return
	}
	s.setClientCookie(w, r, clientCeremonyCookie, secret, client.CeremonyTTL)
	httpx.JSON(w, http.StatusOK, opts)
}

// handleClientPasskeySignInFinish serves POST /client/passkey/signin/finish.
func (s *Server) handleClientPasskeySignInFinish(w http.ResponseWriter, r *http.Request) {
	if err := s.checkJSON(r); err != nil {
		s.jsonError(w, r, err)
		return
	}
	if err := s.Limits.SignInBlocked(w, r); err != nil {
		s.jsonError(w, r, countersign.Errorf(countersign.ERATELIMIT, "%s", clientMsg(s.clientLang(r), "signin.limited")))
		return
	}
	if err := readBody(w, r); err != nil {
		s.jsonError(w, r, err)
		return
	}
	_, secret, data, rp, err := s.passkeyCeremony(r, false, client.ErrSignIn)
	if err != nil {
		s.jsonError(w, r, err)
		return
	}
	cred, err := rp.FinishDiscoverableLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
		acc, keys, err := s.Clients.FindPasskeys(r.Context(), string(userHandle))
		if err != nil {
			return nil, err
		}
		u := &passkeyUser{acc: acc}
		for _, k := range keys {
			var c webauthn.Credential
			if err := json.Unmarshal(k.Credential, &c); err == nil {
				u.creds = append(u.creds, c)
			}
		}
		return u, nil
	}, data, r)
	if err != nil {
		httpx.LogError(r, countersign.EUNAUTHORIZED, err)
		s.Limits.SignInFailed(r)
		s.jsonError(w, r, client.ErrSignIn)
		return
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		s.jsonError(w, r, err)
		return
	}
	sess, token, err := s.Clients.SignInWithPasskey(r.Context(), secret, cred.ID, raw, s.chosenLang(r))
	if err != nil {
		s.jsonError(w, r, err)
		return
	}
	s.startClientSession(w, r, sess, token)
	httpx.JSON(w, http.StatusOK, map[string]string{"next": "/client"})
}
