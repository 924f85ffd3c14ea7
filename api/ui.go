package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/identity"
)

// The web interface: server-rendered pages for workers, supervisors and
// ethics boards, signed in with a server-side session. Every POST form
// carries the session's CSRF token; pages are plain HTML with one small
// script for progress polling and citation highlighting, served from
// static files so the CSP can forbid inline script and style.

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
)

// uiRoutes adds the HTML interface's routes (a separate route tree from the
// JSON API; its handlers live in the ui_*.go files).
func (s *Server) uiRoutes(mux *http.ServeMux) {
	page := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.uiSession(h)) }

	mux.Handle("GET /static/", staticHandler())
	mux.HandleFunc("GET /signin", s.handleSignInPage)
	mux.HandleFunc("POST /signin", s.handleSignIn)
	mux.HandleFunc("GET /lang/{lang}", s.handleLang)
	page("POST /signout", s.handleSignOut)
	page("GET /{$}", s.handleHome)

	page("GET /cases", s.handleUICases)
	page("GET /cases/{id}", s.handleUICase)
	page("POST /cases/{id}/notes", s.handleUINoteCreate)
	page("POST /cases/{id}/drafts", s.handleUIDraftCreate)
	page("POST /cases/{id}/consent", s.handleUIConsent)
	page("GET /cases/{id}/record/{entry}/correct", s.handleUICorrectPage)
	page("POST /cases/{id}/record/{entry}/correct", s.handleUICorrect)
	page("GET /drafts/{id}", s.handleUIDraft)
	page("GET /drafts/{id}/status", s.handleUIDraftStatus)
	page("POST /drafts/{id}/approve", s.handleUIApprove)
	page("POST /drafts/{id}/reject", s.handleUIReject)
	page("POST /drafts/{id}/countersign", s.handleUICountersign)
	page("POST /drafts/{id}/reassign", s.handleUIReassign)

	page("GET /team", s.handleUITeam)

	page("GET /audit", s.handleUIAudit)
	page("POST /audit/verify", s.handleUIVerify)
}

type sessionKey struct{}

// uiSession resolves the session cookie into the actor of the request,
// sends anonymous visitors to the sign-in page, and refuses POSTs whose
// CSRF token does not match the session's (403, nothing done).
func (s *Server) uiSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		c, err := r.Cookie(sessionCookie)
		if err != nil || c.Value == "" {
			s.toSignIn(w, r)
			return
		}
		sess, u, err := s.Identity.FindSession(r.Context(), c.Value)
		if countersign.ErrorCode(err) == countersign.EUNAUTHORIZED {
			s.clearCookie(w, r, sessionCookie)
			s.toSignIn(w, r)
			return
		} else if err != nil {
			s.uiError(w, r, err)
			return
		}
		ctx := countersign.NewContextWithActor(r.Context(), u.Actor())
		ctx = context.WithValue(ctx, sessionKey{}, sess)
		r = r.WithContext(ctx)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				s.uiError(w, r, countersign.Errorf(countersign.ETOOLARGE, "The form is too large to be sent."))
				return
			}
			if !tokenEqual(r.PostForm.Get("csrf"), sess.CSRF) {
				s.uiError(w, r, countersign.Errorf(countersign.EFORBIDDEN, "This form has expired or did not come from Countersign. Go back, reload the page and try again."))
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
// redirect after sign-in may lead elsewhere.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

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
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.uiError(w, r, countersign.Errorf(countersign.ETOOLARGE, "The form is too large to be sent."))
		return
	}
	c, err := r.Cookie(signinCookie)
	if err != nil || !tokenEqual(r.PostForm.Get("csrf"), c.Value) {
		s.uiError(w, r, countersign.Errorf(countersign.EFORBIDDEN, "This sign-in form has expired. Go back, reload the page and try again."))
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		s.renderSignIn(w, r, http.StatusUnprocessableEntity, msg(s.lang(r), "signin.empty"))
		return
	}
	u, err := s.Identity.Authenticate(r.Context(), token)
	if countersign.ErrorCode(err) == countersign.EUNAUTHORIZED {
		s.renderSignIn(w, r, http.StatusUnauthorized, msg(s.lang(r), "signin.bad"))
		return
	} else if err != nil {
		s.uiError(w, r, err)
		return
	}
	// A browser holds one session: the one it had before ends now.
	if old, err := r.Cookie(sessionCookie); err == nil && old.Value != "" {
		if err := s.Identity.EndSession(r.Context(), old.Value); err != nil && countersign.ErrorCode(err) != countersign.EUNAUTHORIZED {
			s.uiError(w, r, err)
			return
		}
	}
	_, secret, err := s.Identity.CreateSession(r.Context(), u.ID, sessionTTL)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	s.clearCookie(w, r, signinCookie)
	s.setCookie(w, r, sessionCookie, secret, sessionTTL)
	next := localPath(r.PostForm.Get("next"))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// handleSignOut serves POST /signout: the session ends on the server, so
// the cookie is worthless even if it was copied.
func (s *Server) handleSignOut(w http.ResponseWriter, r *http.Request) {
	c, _ := r.Cookie(sessionCookie)
	if err := s.Identity.EndSession(r.Context(), c.Value); err != nil && countersign.ErrorCode(err) != countersign.EUNAUTHORIZED {
		s.uiError(w, r, err)
		return
	}
	s.clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, "/signin?bye=1", http.StatusSeeOther)
}

// handleLang serves GET /lang/{lang}?back=PATH: the language switch.
func (s *Server) handleLang(w http.ResponseWriter, r *http.Request) {
	lang := r.PathValue("lang")
	if _, ok := catalogue[lang]; !ok {
		s.uiError(w, r, countersign.Errorf(countersign.ENOTFOUND, "This language is not available."))
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
func (s *Server) uiError(w http.ResponseWriter, r *http.Request, err error) {
	code := countersign.ErrorCode(err)
	if code == countersign.EUNAUTHORIZED {
		s.clearCookie(w, r, sessionCookie)
		s.toSignIn(w, r)
		return
	}
	status, ok := statuses[code]
	if !ok {
		status, code = http.StatusInternalServerError, countersign.EINTERNAL
	}
	if code == countersign.EINTERNAL {
		logger(r).Error("internal error", "request", r.Method+" "+r.Pattern, "err", err)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		status = http.StatusRequestEntityTooLarge
	}
	p := s.newPage(r, "error."+code)
	p.Error = countersign.ErrorMessage(err)
	p.Data = errorView{Code: code, Status: status}
	s.render(w, r, status, "error.html", p)
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
	http.Redirect(w, r, path, http.StatusSeeOther)
}
