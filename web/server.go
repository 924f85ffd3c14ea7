// Package web is Countersign's web interface: server-rendered pages for
// workers, supervisors and ethics boards, signed in with a server-side
// session. Every POST form carries the session's CSRF token; pages are plain
// HTML with one small script for progress polling and citation
// highlighting, served from static files so the CSP can forbid inline
// script and style. Its words come from message catalogues in English and
// French, with plural rules (catalog/*.json).
//
// It calls the same domain services as the JSON API (package api) and
// imports nothing of it: what both need is in internal/httpx.
package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/agenda"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/internal/httpx"
	"github.com/countersign/countersign/review"
)

// Server serves the web interface. Like api.Server it holds the domain
// interfaces, never a concrete store, and it decides nothing the domain
// decides: both doors call the same services.
type Server struct {
	Identity identity.Store
	Cases    casefile.Store
	Review   review.Store
	Audit    audit.Log
	// Clients keeps the client's accounts, invitations and sessions: the
	// client's own pages (/client, web/client_auth.go). Nil disables them.
	Clients client.Accounts
	// Files reads the client's own file (record, access log, export)
	// and logs every staff read of case content before a page shows it
	// (web/client_record.go); nil means Cases, when it serves them too.
	Files client.FileStore
	// ClientOrigin is the public origin of the client pages
	// ("https://mijn.example.be"): the address on invitation letters and
	// the WebAuthn relying party. Empty: the origin each request came to.
	ClientOrigin string
	// Agenda keeps the agenda, notifications and calendar feeds (the
	// agenda's pages, web/agenda.go); nil leaves those pages out.
	Agenda agenda.Store
	// Retention closes and reopens cases, keeps legal holds and erasure
	// requests, and tells what was erased (web/retention.go); nil means
	// Cases or Files when they keep it too, else the pages are left out.
	Retention RetentionStore
	// Checkpoints signs and returns the log's checkpoint for the ethics
	// board's page; nil leaves the checkpoint out. When it can also derive
	// the pseudonym key (*audit.Notary can), statistics show workers by
	// pseudonyms.
	Checkpoints Checkpoints
	// VerifyLog verifies the whole log against the current checkpoint for the
	// ethics board's "Verify the log" button; nil hides the button.
	VerifyLog func(ctx context.Context) (*audit.Report, error)
	// DraftQueued is called after a draft is queued, to wake the drafting workers.
	DraftQueued func(draftID string)
	// SecureCookies marks every cookie Secure even when the request arrived
	// over plain HTTP, as it does behind a TLS-terminating proxy
	// (COUNTERSIGN_SECURE_COOKIES=true).
	SecureCookies bool
	// MaxBodyBytes bounds every form body, like the API's request bodies
	// (--max-body); forms are bounded by maxFormBytes in any case.
	MaxBodyBytes int64
	// Logger is the logger of Handler; on the service's mux, the API's
	// middleware sets the request's logger (httpx.Logger).
	Logger *slog.Logger
	// StatsRealIDs shows staff by user id on the ethics board's pages, in
	// the trail and the statistics alike, instead of the pseudonyms they
	// get otherwise (COUNTERSIGN_STATS_REAL_IDS=true, as the API's).
	StatsRealIDs bool
	// Limits bound the pages of each signed-in user, the requests of each
	// client address without a session, and its failed sign-ins; the API
	// shares them. Nil means no limit.
	Limits *httpx.Limits
}

// Checkpoints signs checkpoints of the audit log; *audit.Notary is the real one.
type Checkpoints interface {
	// Checkpoint returns the latest signed checkpoint, signing a new one
	// first if the log grew.
	Checkpoint(ctx context.Context) (*audit.Checkpoint, error)
}

func (s *Server) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Handler returns the web interface alone, with the security headers and
// the request logger. The service serves it on the API's mux instead,
// behind the API's middleware (metrics, logger, security headers, rate
// limit): see cmd/countersign.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.Routes(mux)
	return httpx.SecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(httpx.WithLogger(r.Context(), s.log())))
	}))
}

const (
	// sessionCookie holds the session secret; the server keeps its hash.
	sessionCookie = "countersign_session"
	// signinCookie holds the pre-session CSRF token of the sign-in form,
	// so no other site can sign a browser in under someone else's name.
	signinCookie = "countersign_signin"
	// langCookie holds the language chosen with the switch.
	langCookie = "countersign_lang"
	// sessionTTL is how long a session lasts; after it the person signs in again.
	sessionTTL = 12 * time.Hour
	// maxFormBytes bounds a form body (a note or an edited draft).
	maxFormBytes = 160 << 10
	// maxSignInBytes bounds the sign-in form: a token and the CSRF token.
	maxSignInBytes = 16 << 10
)

// Routes adds the web interface's routes to mux: the pages, the sign-in,
// the language switch and the static files. None is under /v1, which is
// the JSON API's.
func (s *Server) Routes(mux *http.ServeMux) {
	page := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.session(h)) }
	public := func(pattern string, h http.Handler) { mux.Handle(pattern, s.anonymous(h)) }

	public("GET /static/", staticHandler())
	public("GET /signin", http.HandlerFunc(s.handleSignInPage))
	public("POST /signin", http.HandlerFunc(s.handleSignIn))
	public("GET /lang/{lang}", http.HandlerFunc(s.handleLang))
	public("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.handleNoRoute(mux, w, r) }))
	page("POST /signout", s.handleSignOut)
	page("GET /{$}", s.handleHome)

	page("GET /cases", s.handleCases)
	page("GET /cases/{id}", s.handleCase)
	page("POST /cases/{id}/notes", s.handleNoteCreate)
	page("POST /cases/{id}/drafts", s.handleDraftCreate)
	page("POST /cases/{id}/consent", s.handleConsent)
	page("GET /cases/{id}/record/{entry}/correct", s.handleCorrectPage)
	page("POST /cases/{id}/record/{entry}/correct", s.handleCorrect)
	page("GET /drafts/{id}", s.handleDraft)
	page("GET /drafts/{id}/status", s.handleDraftStatus)
	page("POST /drafts/{id}/approve", s.handleApprove)
	page("POST /drafts/{id}/reject", s.handleReject)
	page("POST /drafts/{id}/countersign", s.handleCountersign)
	page("POST /drafts/{id}/reassign", s.handleReassign)
	page("POST /drafts/{id}/retry", s.handleRetry)

	page("GET /team", s.handleTeam)

	page("GET /audit", s.handleAudit)
	page("POST /audit/verify", s.handleVerify)

	s.agendaRoutes(mux)
	s.caseloadRoutes(mux)
	s.clientRoutes(mux)
	s.clientResponseRoutes(mux)
	s.clientFileRoutes(mux)
	s.retentionRoutes(mux)
}

// formLimit returns the bound of a form body: limit, or the service's
// MaxBodyBytes when that is smaller.
func (s *Server) formLimit(limit int64) int64 {
	if s.MaxBodyBytes > 0 {
		return min(limit, s.MaxBodyBytes)
	}
	return limit
}

// handleNoRoute answers what no page serves: 405 with Allow when the path
// is a page with other methods, else 404; an HTML page either way.
func (s *Server) handleNoRoute(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	if allow := httpx.Allowed(mux, r, "/"); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.errorPage(w, r, s.errorf(r, countersign.EMETHOD, "page.method"))
		return
	}
	s.errorPage(w, r, s.errorf(r, countersign.ENOTFOUND, "page.notfound"))
}

// anonymous limits a route that needs no session per client address.
func (s *Server) anonymous(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.Limits.Request(w, httpx.AddrKey(r)); err != nil {
			s.errorPage(w, r, s.errorf(r, countersign.ERATELIMIT, "ratelimit.requests"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

type sessionKey struct{}

// session resolves the session cookie into the actor of the request,
// sends anonymous visitors to the sign-in page, and refuses POSTs whose
// CSRF token does not match the session's (403, nothing done). A signed-in
// person's pages are limited by their user; anything else by the client
// address.
func (s *Server) session(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		c, err := r.Cookie(sessionCookie)
		if err != nil || c.Value == "" {
			s.anonymous(http.HandlerFunc(s.toSignIn)).ServeHTTP(w, r)
			return
		}
		sess, u, err := s.Identity.FindSession(r.Context(), c.Value)
		if countersign.ErrorCode(err) == countersign.EUNAUTHORIZED {
			s.clearCookie(w, r, sessionCookie)
			s.anonymous(http.HandlerFunc(s.toSignIn)).ServeHTTP(w, r)
			return
		} else if err != nil {
			s.errorPage(w, r, err)
			return
		}
		if err := s.Limits.Request(w, httpx.UserKey(u.ID)); err != nil {
			s.errorPage(w, r, s.errorf(r, countersign.ERATELIMIT, "ratelimit.requests"))
			return
		}
		ctx := countersign.NewContextWithActor(r.Context(), u.Actor())
		ctx = context.WithValue(ctx, sessionKey{}, sess)
		r = r.WithContext(ctx)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, s.formLimit(maxFormBytes))
			if err := r.ParseForm(); err != nil {
				s.errorPage(w, r, s.errorf(r, countersign.ETOOLARGE, "form.toolarge"))
				return
			}
			if !tokenEqual(r.PostForm.Get("csrf"), sess.CSRF) {
				s.errorPage(w, r, s.errorf(r, countersign.EFORBIDDEN, "form.expired"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func tokenEqual(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func sessionFrom(r *http.Request) *identity.Session {
	sess, _ := r.Context().Value(sessionKey{}).(*identity.Session)
	return sess
}

// toSignIn redirects to the sign-in page, remembering where the person was
// going when that was a page they can come back to.
func (s *Server) toSignIn(w http.ResponseWriter, r *http.Request) {
	target := "/signin"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localPath returns p if it is a path on this site, otherwise "/": no
// redirect may lead elsewhere (httpx.LocalPath is the one rule).
func localPath(p string) string { return httpx.LocalPath(p) }

// secureCookies reports whether cookies get the Secure flag: always when
// the server is told it sits behind a TLS-terminating proxy (the request
// then arrives over plain HTTP), otherwise when the request came over TLS.
func (s *Server) secureCookies(r *http.Request) bool { return s.SecureCookies || r.TLS != nil }

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: s.secureCookies(r), SameSite: http.SameSiteLaxMode})
}

func (s *Server) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secureCookies(r), SameSite: http.SameSiteLaxMode})
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

type signInForm struct {
	Next string
}

// handleSignInPage serves GET /signin.
func (s *Server) handleSignInPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s.renderSignIn(w, r, http.StatusOK, "")
}

func (s *Server) renderSignIn(w http.ResponseWriter, r *http.Request, status int, message string) {
	tok := randomToken()
	s.setCookie(w, r, signinCookie, tok, time.Hour)
	p := s.newPage(r, "signin.title")
	p.CSRF, p.Error = tok, message
	next := r.FormValue("next")
	if next == "" {
		next = r.URL.Query().Get("next")
	}
	p.Data = signInForm{Next: localPath(next)}
	s.render(w, r, status, "signin.html", p)
}

// handleSignIn serves POST /signin: the token is checked, a session is
// started, and the person goes to their home page.
func (s *Server) handleSignIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, s.formLimit(maxSignInBytes))
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, s.errorf(r, countersign.ETOOLARGE, "form.toolarge"))
		return
	}
	c, err := r.Cookie(signinCookie)
	if err != nil || !tokenEqual(r.PostForm.Get("csrf"), c.Value) {
		s.errorPage(w, r, s.errorf(r, countersign.EFORBIDDEN, "signin.expired"))
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		s.renderSignIn(w, r, http.StatusUnprocessableEntity, msg(s.lang(r), "signin.empty"))
		return
	}
	// Failed sign-ins are limited per client address, checked before the
	// token is: guessing tokens is then as slow as guessing passwords.
	if err := s.Limits.SignInBlocked(w, r); err != nil {
		s.renderSignIn(w, r, http.StatusTooManyRequests, msg(s.lang(r), "ratelimit.signins"))
		return
	}
	t, _, err := s.Identity.Authenticate(r.Context(), token)
	if countersign.ErrorCode(err) == countersign.EUNAUTHORIZED {
		s.Limits.SignInFailed(r)
		s.renderSignIn(w, r, http.StatusUnauthorized, msg(s.lang(r), "signin.bad"))
		return
	} else if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if err := s.Limits.Request(w, httpx.TokenKey(t.ID)); err != nil {
		s.errorPage(w, r, s.errorf(r, countersign.ERATELIMIT, "ratelimit.requests"))
		return
	}
	// A browser holds one session: the one it had before ends now.
	if old, err := r.Cookie(sessionCookie); err == nil && old.Value != "" {
		if err := s.Identity.EndSession(r.Context(), old.Value); err != nil && countersign.ErrorCode(err) != countersign.EUNAUTHORIZED {
			s.errorPage(w, r, err)
			return
		}
	}
	sess, secret, err := s.Identity.CreateSession(r.Context(), t.ID, sessionTTL)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.clearCookie(w, r, signinCookie)
	// The cookie lasts as long as the session, which may end sooner than
	// sessionTTL: never after its token. Its lifetime is measured on the
	// clock that made the session, and goes as a relative Max-Age, so a
	// browser's clock (or a test's) that differs does not shorten it.
	s.setCookie(w, r, sessionCookie, secret, sess.ExpiresAt.Sub(sess.CreatedAt))
	next := localPath(r.PostForm.Get("next"))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// handleSignOut serves POST /signout: the session ends on the server, so
// the cookie is worthless even if it was copied.
func (s *Server) handleSignOut(w http.ResponseWriter, r *http.Request) {
	c, _ := r.Cookie(sessionCookie)
	if err := s.Identity.EndSession(r.Context(), c.Value); err != nil && countersign.ErrorCode(err) != countersign.EUNAUTHORIZED {
		s.errorPage(w, r, err)
		return
	}
	s.clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, "/signin?bye=1", http.StatusSeeOther)
}

// handleLang serves GET /lang/{lang}?back=PATH: the language switch.
func (s *Server) handleLang(w http.ResponseWriter, r *http.Request) {
	lang := r.PathValue("lang")
	if _, ok := printers[lang]; !ok {
		s.errorPage(w, r, s.errorf(r, countersign.ENOTFOUND, "lang.unknown"))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		Secure: s.secureCookies(r), SameSite: http.SameSiteLaxMode, HttpOnly: true})
	http.Redirect(w, r, localPath(r.URL.Query().Get("back")), http.StatusSeeOther)
}

// handleHome serves GET /: each role's first page.
func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	a, _ := countersign.ActorFromContext(r.Context())
	switch a.Role {
	case countersign.RoleWorker:
		http.Redirect(w, r, "/cases", http.StatusSeeOther)
	case countersign.RoleSupervisor:
		http.Redirect(w, r, "/team", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/audit", http.StatusSeeOther)
	}
}

// uiError renders err as an HTML page with the status of the one table.
// A lost session sends the person to sign in again.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	code := countersign.ErrorCode(err)
	if code == countersign.EUNAUTHORIZED {
		s.clearCookie(w, r, sessionCookie)
		s.toSignIn(w, r)
		return
	}
	code, status := httpx.Status(err)
	httpx.LogError(r, code, err)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		status = http.StatusRequestEntityTooLarge
	}
	p := s.newPage(r, "error."+code)
	p.Error = countersign.ErrorMessage(err)
	p.Data = errorView{Code: code, Status: status}
	s.render(w, r, status, "error.html", p)
}

// requireRole refuses, in the reader's language, an actor whose role is
// not one of roles (httpx.RequireRole is the rule).
func (s *Server) requireRole(r *http.Request, roles ...countersign.Role) error {
	a, err := httpx.RequireRole(r, roles...)
	if err != nil {
		lang := s.lang(r)
		return countersign.Errorf(countersign.EFORBIDDEN, "%s", msg(lang, "forbidden.role", msg(lang, "role."+string(a.Role))))
	}
	return nil
}

// errorf returns an error with code whose message is the catalogue's key,
// in the request's language: the interface's own refusals are translated.
func (s *Server) errorf(r *http.Request, code, key string) error {
	return countersign.Errorf(code, "%s", msg(s.lang(r), key))
}

type errorView struct {
	Code   string
	Status int
}

// redirect sends the browser on after a successful POST, with a message
// key the next page shows (only known keys are ever displayed).
func redirect(w http.ResponseWriter, r *http.Request, path, flash string) {
	if flash != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		if i := strings.IndexByte(path, '#'); i >= 0 {
			path = path[:i] + sep + "done=" + flash + path[i:]
		} else {
			path += sep + "done=" + flash
		}
	}
	http.Redirect(w, r, localPath(path), http.StatusSeeOther)
}
