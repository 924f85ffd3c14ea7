package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/internal/httpx"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// staticHandler serves the stylesheet and the script. They change only
// with the binary, so browsers may keep them for a day.
func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}

// pages holds each page's template set: the layout, the shared partials
// and the page's own file, parsed once when the package loads.
var pages = parsePages()

func parsePages() map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, name := range names {
		base := strings.TrimPrefix(name, "templates/")
		// Client pages (client_*.html) have their own layout: web/client.go.
		// partials*.html are parsed with every page (partials_retention.html).
		if base == "layout.html" || strings.HasPrefix(base, "partials") || strings.HasPrefix(base, "client_") {
			continue
		}
		t := template.New(base).Funcs(template.FuncMap{
			"add":       func(a, b int) int { return a + b },
			"percent":   func(f float64) string { return fmt.Sprintf("%.0f %%", math.Round(f*100)) },
			"lower":     strings.ToLower,
			"chart":     func(p *page, c *barChart) chartArgs { return chartArgs{P: p, C: c} },
			"citeArgs":  func(p *page, cites []citeView) citeArgs { return citeArgs{P: p, Cites: cites} },
			"notesArgs": func(p *page, notes []noteView) notesArgs { return notesArgs{P: p, Notes: notes} },
			"rejectArgs": func(p *page, title, button string) rejectArgs {
				return rejectArgs{P: p, Title: title, Button: button}
			},
		})
		out[base] = template.Must(t.ParseFS(templateFS, "templates/layout.html", "templates/partials*.html", name))
	}
	return out
}

// chartArgs is what the barchart template receives.
type chartArgs struct {
	P *page
	C *barChart
}

// citeArgs, notesArgs and rejectArgs are what the partials of the draft
// page receive: the page, for its texts, and their own part.
type citeArgs struct {
	P     *page
	Cites []citeView
}

type notesArgs struct {
	P     *page
	Notes []noteView
}

type rejectArgs struct {
	P             *page
	Title, Button string
}

// page is what every template receives: the common parts of the layout
// and the page's own Data.
type page struct {
	Lang     string
	Title    string // catalogue key
	Actor    countersign.Actor
	SignedIn bool
	CSRF     string
	Path     string // the current path, for the language switch
	Nav      string // the active entry of the navigation
	Flash    string // catalogue key of a success message
	Error    string // a problem, in words
	Fields   map[string]string
	Now      time.Time
	Data     any
	// Unread is the signed-in person's unread notifications, for the
	// counter in the header (web/agenda.go).
	Unread int
}

func (s *Server) newPage(r *http.Request, title string) *page {
	p := &page{Lang: s.lang(r), Title: title, Path: r.URL.RequestURI(), Now: time.Now(), Fields: map[string]string{}}
	if r.Method != http.MethodGet && r.URL.Path != "/signin" {
		// After a form, the switch leads back to the page the form was on:
		// POST /drafts/{id}/approve came from GET /drafts/{id}.
		p.Path = r.URL.Path[:max(strings.LastIndexByte(r.URL.Path, '/'), 1)]
	}
	if a, ok := countersign.ActorFromContext(r.Context()); ok {
		p.Actor, p.SignedIn = a, true
	}
	if sess := sessionFrom(r); sess != nil {
		p.CSRF = sess.CSRF
	}
	p.Unread = s.unread(r)
	if f := r.URL.Query().Get("done"); f != "" && hasMsg("done."+f) {
		p.Flash = "done." + f
	}
	return p
}

// setError puts err on the page: its message, and each field's message.
func (p *page) setError(err error) {
	p.Error = countersign.ErrorMessage(err)
	for _, f := range countersign.ErrorFields(err) {
		p.Fields[f.Field] = f.Message
	}
}

// T returns the interface text for key in the page's language, formatted
// with args by the language's rules: a count picks its plural form.
func (p *page) T(key string, args ...any) string { return msg(p.Lang, key, args...) }

// Time formats t for people: a date and minutes, local to the server.
func (p *page) Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if p.Lang == "fr" {
		return t.Local().Format("02/01/2006 15:04")
	}
	return t.Local().Format("2 Jan 2006, 15:04")
}

// Date formats a date written YYYY-MM-DD (an item's due date) as the
// page's language writes dates; anything else is shown as it is.
func (p *page) Date(s string) string {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return s
	}
	if p.Lang == "fr" {
		return d.Format("02/01/2006")
	}
	return d.Format("2 Jan 2006")
}

// TimePtr formats an optional time.
func (p *page) TimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return p.Time(*t)
}

// ISO formats t for a <time datetime> attribute.
func (p *page) ISO(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Age says how long ago t was, in words: "3 minutes", "2 days".
func (p *page) Age(t time.Time) string {
	return p.Duration(p.Now.Sub(t))
}

// Duration says d in words, as people write it, at the coarsest useful
// unit and in the plural form its count asks for: "1 second", "3 minutes",
// "2 hours", "4 days" (in French, "0 jour" and "1 jour" alike).
func (p *page) Duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return p.T("duration.lt1s")
	case d < time.Minute:
		return p.T("duration.seconds", int(d/time.Second))
	case d < time.Hour:
		return p.T("duration.minutes", int(d/time.Minute))
	case d < 48*time.Hour:
		return p.T("duration.hours", int(d/time.Hour))
	}
	return p.T("duration.days", int(d/(24*time.Hour)))
}

// Millis says a duration given in milliseconds in words.
func (p *page) Millis(ms int64) string { return p.Duration(time.Duration(ms) * time.Millisecond) }

// Status says a draft status in words.
func (p *page) Status(st any) string { return p.T(fmt.Sprintf("status.%s", st)) }

// YesNo says a boolean in words.
func (p *page) YesNo(b bool) string {
	if b {
		return p.T("yes")
	}
	return p.T("no")
}

// Has reports whether the catalogue has key, for optional texts.
func (p *page) Has(key string) bool { return hasMsg(key) }

// Label returns the catalogue text for prefix+value, or value itself when
// the catalogue has none (an action or reason added later).
func (p *page) Label(prefix string, value any) string {
	key := fmt.Sprintf("%s%v", prefix, value)
	if hasMsg(key) {
		return msg(p.Lang, key)
	}
	return fmt.Sprint(value)
}

// CaseType names a case type. Case types are codes from the authority's
// review policy (case_types); the catalogue names the default ones
// (casefile.DefaultCaseTypes), and any other is shown as its code, its
// underscores as spaces.
func (p *page) CaseType(t string) string {
	if hasMsg("casetype." + t) {
		return msg(p.Lang, "casetype."+t)
	}
	return strings.ReplaceAll(t, "_", " ")
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	t, ok := pages[name]
	if !ok {
		panic("no template " + name)
	}
	writePage(w, r, status, t, "layout", name, p.Lang, p, "render page")
}

// writePage executes layout of t with data into a buffer and, when that
// works, answers it as an HTML page in lang that is never cached; a
// template that fails is logged as logMsg and answered 500 with nothing of
// the page. Both the staff pages (render) and the client's (renderClient)
// are written by it.
func writePage(w http.ResponseWriter, r *http.Request, status int, t *template.Template, layout, name, lang string, data any, logMsg string) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, layout, data); err != nil {
		httpx.Logger(r).Error(logMsg, "page", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", lang)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
