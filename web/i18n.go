package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// The web interface's words, in English and French, are message catalogues
// (catalog/en.json, catalog/fr.json) read into a golang.org/x/text catalog
// when the package loads. Domain error messages stay in English (they come
// from the stores); the page around them, and every message the interface
// makes itself, is translated.
//
// A catalogue maps a key to its text in one of three shapes:
//
//	"notes.save": "Save the note"
//	"audit.nfacts": {"one": "%d fact", "other": "%d facts"}
//	"verify.ok": {"text": "${entries} checked …", "vars": {"entries": {"arg": 1, "one": …, "other": …}}}
//
// The second is a plural: its forms are CLDR's categories (zero, one, two,
// few, many, other; other is required) chosen by the language's rules for the
// count in argument "arg" (1 when absent), and exact values such as "=0",
// tried first. In French, 0 and 1 are both "one". The third names several
// plurals, each chosen by its own argument, inside one sentence. Texts are
// format strings: %d, %s and %[2]d take the arguments, %% is a percent sign.

//go:embed catalog/*.json
var catalogFS embed.FS

// langs are the languages of the interface, in the order of the switch;
// the first is the default.
var langs = []language.Tag{language.English, language.French}

// defaultLang is used when neither the switch nor the browser names a
// language we have.
const defaultLang = "en"

var (
	matcher = language.NewMatcher(langs)
	// messages holds every text of every language; keys lists each
	// language's keys, for the fallback and for hasMsg.
	messages, keys = loadCatalogues(catalogFS, "catalog", langs)
	printers       = map[string]*message.Printer{}
)

func init() {
	for _, t := range langs {
		printers[t.String()] = message.NewPrinter(t, message.Catalog(messages))
	}
}

// loadCatalogues reads <dir>/<lang>.json from fsys for every language of
// langs, the first being the fallback; it loads the staff catalogues and
// the client's (catalog/client). A broken catalogue stops the program at
// start, like a broken template.
func loadCatalogues(fsys fs.FS, dir string, langs []language.Tag) (*catalog.Builder, map[string]map[string]bool) {
	b := catalog.NewBuilder(catalog.Fallback(langs[0]))
	keys := map[string]map[string]bool{}
	for _, tag := range langs {
		lang := tag.String()
		name := path.Join(dir, lang+".json")
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			panic(err)
		}
		var entries map[string]json.RawMessage
		if err := json.Unmarshal(raw, &entries); err != nil {
			panic(fmt.Sprintf("%s: %v", name, err))
		}
		keys[lang] = map[string]bool{}
		for key, v := range entries {
			msgs, err := parseEntry(v)
			if err == nil {
				err = b.Set(tag, key, msgs...)
			}
			if err != nil {
				panic(fmt.Sprintf("%s: %s: %v", name, key, err))
			}
			keys[lang][key] = true
		}
	}
	return b, keys
}

// entry is a catalogue text that is not a plain string.
type entry struct {
	Text string                     `json:"text"`
	Vars map[string]json.RawMessage `json:"vars"`
}

// parseEntry turns one catalogue value into x/text messages.
func parseEntry(v json.RawMessage) ([]catalog.Message, error) {
	var text string
	if json.Unmarshal(v, &text) == nil {
		return []catalog.Message{catalog.String(text)}, nil
	}
	var e entry
	if err := json.Unmarshal(v, &e); err != nil {
		return nil, err
	}
	if e.Text == "" {
		sel, err := parsePlural(v)
		if err != nil {
			return nil, err
		}
		return []catalog.Message{sel}, nil
	}
	if len(e.Vars) == 0 {
		return nil, fmt.Errorf("a text with no vars should be a plain string")
	}
	var out []catalog.Message
	names := make([]string, 0, len(e.Vars))
	for name := range e.Vars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !strings.Contains(e.Text, "${"+name+"}") {
			return nil, fmt.Errorf("the text does not use ${%s}", name)
		}
		sel, err := parsePlural(e.Vars[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, catalog.Var(name, sel))
	}
	return append(out, catalog.String(e.Text)), nil
}

// pluralForms are CLDR's plural categories, in the order plural.Selectf
// tries them after the exact values.
var pluralForms = []struct {
	name string
	form plural.Form
}{{"zero", plural.Zero}, {"one", plural.One}, {"two", plural.Two}, {"few", plural.Few}, {"many", plural.Many}, {"other", plural.Other}}

// parsePlural reads {"arg": 1, "=0": …, "one": …, "other": …}.
func parsePlural(v json.RawMessage) (catalog.Message, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, err
	}
	arg := 1
	if a, ok := m["arg"]; ok {
		if err := json.Unmarshal(a, &arg); err != nil || arg < 1 {
			return nil, fmt.Errorf("arg must be an argument number, from 1")
		}
		delete(m, "arg")
	}
	if _, ok := m["other"]; !ok {
		return nil, fmt.Errorf("a plural needs its other form")
	}
	text := func(k string) (string, error) {
		var s string
		if err := json.Unmarshal(m[k], &s); err != nil {
			return "", fmt.Errorf("%s: %w", k, err)
		}
		delete(m, k)
		return s, nil
	}
	var cases []any
	var exact []string
	for k := range m {
		if strings.HasPrefix(k, "=") {
			exact = append(exact, k)
		}
	}
	sort.Strings(exact)
	for _, k := range exact {
		s, err := text(k)
		if err != nil {
			return nil, err
		}
		cases = append(cases, k, s)
	}
	for _, f := range pluralForms {
		if _, ok := m[f.name]; !ok {
			continue
		}
		s, err := text(f.name)
		if err != nil {
			return nil, err
		}
		cases = append(cases, f.form, s)
	}
	for k := range m {
		return nil, fmt.Errorf("%q is not a plural form", k)
	}
	return plural.Selectf(arg, "%d", cases...), nil
}

// lang returns the language of the request: the switch's cookie first,
// then the browser's Accept-Language, then English.
func (s *Server) lang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil {
		if _, ok := printers[c.Value]; ok {
			return c.Value
		}
	}
	return acceptLanguage(r.Header.Get("Accept-Language"))
}

// acceptLanguage picks the best language of ours from an Accept-Language
// header ("fr-BE, fr;q=0.9, en;q=0.8"), with x/text's matcher.
func acceptLanguage(h string) string {
	_, i := language.MatchStrings(matcher, h)
	return langs[i].String()
}

// msg returns the text of key in lang, formatted with args by the
// language's rules (plural forms, digit grouping). A key lang lacks falls
// back to English, then to the key itself: a missing text shows, it does not
// break the page.
func msg(lang, key string, args ...any) string {
	if !keys[lang][key] {
		lang = defaultLang
	}
	if !keys[lang][key] {
		return key
	}
	return printers[lang].Sprintf(key, args...)
}

// hasMsg reports whether the catalogue has key.
func hasMsg(key string) bool { return keys[defaultLang][key] }
