package web

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/client"
)

// The client's own pages (/client) have their own catalogues, in the four
// languages of client.Languages (catalog/client/<lang>.json, the same
// shapes as the staff catalogues: plain strings, plurals, vars), their own
// layout (templates/client_layout.html) and their own cookies, scoped to
// /client. Templates of client pages are named client_*.html and call
// {{.Tr "app.name"}}; the staff pages never load them.

//go:embed catalog/client/*.json
var clientCatalogFS embed.FS

var (
	clientLangs   = []language.Tag{language.English, language.French, language.Dutch, language.German}
	clientMatcher = language.NewMatcher(clientLangs)
	// clientKeys lists each language's keys of the client catalogues.
	clientMessages, clientKeys = loadCatalogues(clientCatalogFS, "catalog/client", clientLangs)
	clientPrinters             = map[string]*message.Printer{}
)

func init() {
	for _, t := range clientLangs {
		clientPrinters[t.String()] = message.NewPrinter(t, message.Catalog(clientMessages))
	}
}

// clientMsg returns the client catalogue's text of key in lang (English
// when lang lacks it, the key itself when both do).
func clientMsg(lang, key string, args ...any) string {
	if !clientKeys[lang][key] {
		lang = client.DefaultLanguage
	}
	if !clientKeys[lang][key] {
		return key
	}
	return clientPrinters[lang].Sprintf(key, args...)
}

// clientLangNames are the languages of the switch, each in itself.
var clientLangNames = []struct{ Code, Name string }{{"en", "English"}, {"fr", "Français"}, {"nl", "Nederlands"}, {"de", "Deutsch"}}

// clientPages holds each client page's template set: the client layout and
// the page's own file.
var clientPages = parseClientPages()

func parseClientPages() map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/client_*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, name := range names {
		base := strings.TrimPrefix(name, "templates/")
		if base == "client_layout.html" {
			continue
		}
		t := template.New(base).Funcs(template.FuncMap{"add": func(a, b int) int { return a + b }})
		out[base] = template.Must(t.ParseFS(templateFS, "templates/client_layout.html", name))
	}
	return out
}

// clientPage is what every client template receives.
type clientPage struct {
	Lang      string
	Title     string // catalogue key
	Principal client.Principal
	SignedIn  bool
	CSRF      string
	Path      string // the current path, for the language switch
	Nav       string // the active entry of the navigation
	Flash     string // catalogue key of a success message
	Error     string // a problem, in words
	Fields    map[string]string
	Now       time.Time
	Langs     []struct{ Code, Name string }
	// Letter renders the page alone, for print: no header, switch or footer.
	Letter bool
	Data   any
}

// Tr returns the client catalogue's text for key in the page's language.
func (p *clientPage) Tr(key string, args ...any) string { return clientMsg(p.Lang, key, args...) }

// Clock says t's time of day in the service's time zone ("14:05 CET").
func (p *clientPage) Clock(t time.Time) string { return client.Clock(t) }

// Date says t as a day, in the page's language ("3 December 2026"), the
// day in the service's time zone.
func (p *clientPage) Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = client.Local(t)
	// The year is a string: the printer would group its digits ("2,026").
	return p.Tr("date.day", t.Day(), p.Tr(fmt.Sprintf("month.%d", int(t.Month()))), strconv.Itoa(t.Year()))
}

// setError puts err on the page.
func (p *clientPage) setError(err error) {
	p.Error = countersign.ErrorMessage(err)
	for _, f := range countersign.ErrorFields(err) {
		p.Fields[f.Field] = f.Message
	}
}

// newClientPage returns the page of r, in the client's language.
func (s *Server) newClientPage(r *http.Request, title string) *clientPage {
	p := &clientPage{Lang: s.clientLang(r), Title: title, Path: r.URL.RequestURI(), Now: time.Now(), Fields: map[string]string{}, Langs: clientLangNames}
	if r.Method != http.MethodGet {
		p.Path = "/client"
	}
	if cp, ok := clientFrom(r); ok {
		p.Principal, p.SignedIn = cp, true
	}
	if cs := clientSessionFrom(r); cs != nil {
		p.CSRF = cs.CSRF
	}
	if f := r.URL.Query().Get("done"); f != "" && clientKeys[client.DefaultLanguage]["done."+f] {
		p.Flash = "done." + f
	}
	return p
}

// clientLang returns the language of a client page: the one chosen with
// the switch (kept in the session, or in a cookie before signing in), then
// the client's own language, then the browser's.
func (s *Server) clientLang(r *http.Request) string {
	if cs := clientSessionFrom(r); cs != nil && client.ValidLanguage(cs.Language) {
		return cs.Language
	}
	if c, err := r.Cookie(clientLangCookie); err == nil && client.ValidLanguage(c.Value) {
		return c.Value
	}
	if cp, ok := clientFrom(r); ok && client.ValidLanguage(cp.Language) {
		return cp.Language
	}
	_, i := language.MatchStrings(clientMatcher, r.Header.Get("Accept-Language"))
	return clientLangs[i].String()
}

// renderClient renders a client page with the client layout.
func (s *Server) renderClient(w http.ResponseWriter, r *http.Request, status int, name string, p *clientPage) {
	t, ok := clientPages[name]
	if !ok {
		panic("no client template " + name)
	}
	writePage(w, r, status, t, "client_layout", name, p.Lang, p, "render client page")
}
