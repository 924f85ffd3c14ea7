package web

import (
	"encoding/json"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/internal/httpx"
	"github.com/countersign/countersign/review"
)

func TestCatalogue(t *testing.T) {
	t.Parallel()

	t.Run("HasTheSameKeysInEveryLanguage", func(t *testing.T) {
		t.Parallel()
		if len(keys[defaultLang]) < 300 {
			t.Fatalf("the English catalogue has only %d keys", len(keys[defaultLang]))
		}
		for _, tag := range langs {
			lang := tag.String()
			for key := range keys[defaultLang] {
				if !keys[lang][key] {
					t.Errorf("%s lacks %q", lang, key)
				}
			}
			for key := range keys[lang] {
				if !keys[defaultLang][key] {
					t.Errorf("%s has %q, which %s lacks", lang, key, defaultLang)
				}
			}
		}
	})

	t.Run("WordsEveryGroundingCode", func(t *testing.T) {
		t.Parallel()
		// The review page words why a statement is ungrounded from its
		// code; a code without a message would fall back to English.
		for _, code := range assistant.UngroundedCodes {
			if !hasMsg("ungrounded." + code) {
				t.Errorf("the catalogue lacks ungrounded.%s", code)
			}
		}
	})

	t.Run("GivesEachTextTheSameShapeInEveryLanguage", func(t *testing.T) {
		t.Parallel()
		// A plural in one language is a plural in the other, with its
		// arguments in the same places, so one call site fits both.
		shapes := map[string]map[string]string{}
		for _, tag := range langs {
			lang := tag.String()
			raw, err := catalogFS.ReadFile("catalog/" + lang + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var entries map[string]json.RawMessage
			if err := json.Unmarshal(raw, &entries); err != nil {
				t.Fatal(err)
			}
			shapes[lang] = map[string]string{}
			for key, v := range entries {
				shapes[lang][key] = shapeOf(t, v)
			}
		}
		for key, want := range shapes[defaultLang] {
			for lang, m := range shapes {
				if got, ok := m[key]; ok && got != want {
					t.Errorf("%s: %s is %s, %s is %s", key, defaultLang, want, lang, got)
				}
			}
		}
	})

	t.Run("HasEveryKeyThePagesUse", func(t *testing.T) {
		t.Parallel()
		used := map[string]bool{}
		lit := regexp.MustCompile(`(?:\bT|newPage\(r,|p\.T\(|msg\(s\.lang\(r\),|msg\(lang,|errorf\(r, countersign\.E[A-Z]+,) ?"([a-z][a-z0-9_.]*[a-z0-9_])"`)
		_ = fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, _ := fs.ReadFile(templateFS, path)
			for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
				used[m[1]] = true
			}
			return nil
		})
		files, _ := fs.Glob(os.DirFS("."), "*.go")
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			b, _ := os.ReadFile(name)
			for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
				used[m[1]] = true
			}
		}
		add := func(prefix string, values ...string) {
			for _, v := range values {
				used[prefix+v] = true
			}
		}
		add("reason.", review.RejectReasons...)
		add("edit.", review.EditReasons...)
		add("action.", auditActions...)
		add("item.", assistant.ItemTypes...)
		add("category.", slices.DeleteFunc(slices.Clone(assistant.Categories), func(s string) bool { return s == "" })...)
		add("kind.", string(assistant.KindSummary), string(assistant.KindSuggestions))
		for _, st := range []review.Status{review.StatusQueued, review.StatusGenerating, review.StatusPendingReview, review.StatusAwaitingCountersign,
			review.StatusApproved, review.StatusRejected, review.StatusFailed, review.StatusSuperseded} {
			used["status."+string(st)] = true
		}
		for _, r := range []countersign.Role{countersign.RoleWorker, countersign.RoleSupervisor, countersign.RoleEthics, countersign.RoleAdmin, countersign.RoleSystem} {
			used["role."+string(r)] = true
		}
		for code := range httpx.Statuses() {
			used["error."+code] = true
		}
		add("done.", "note_added", "approved", "awaiting_countersign", "rejected", "countersigned", "reassigned", "consent_given", "consent_refused", "corrected")
		add("consent.state.", consentNone, consentGiven, consentRefused, consentWithdrawn)
		add("consent.blocked.", consentNone, consentGiven, consentRefused, consentWithdrawn)
		add("duration.", "lt1s", "seconds", "minutes", "hours", "days", "upto", "over")
		if len(used) < 100 {
			t.Fatalf("found only %d keys; the pattern is broken", len(used))
		}
		for key := range used {
			if !hasMsg(key) {
				t.Errorf("the catalogue lacks %q", key)
			}
		}
	})
}

// shapeOf describes a catalogue value: "text", or "plural(arg N)" for each
// plural it holds.
func shapeOf(t *testing.T, v json.RawMessage) string {
	t.Helper()
	var s string
	if json.Unmarshal(v, &s) == nil {
		return "text"
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		t.Fatal(err)
	}
	argOf := func(m map[string]json.RawMessage) string {
		arg := "1"
		if a, ok := m["arg"]; ok {
			arg = string(a)
		}
		return "plural(arg " + arg + ")"
	}
	vars, ok := m["vars"]
	if !ok {
		return argOf(m)
	}
	var named map[string]map[string]json.RawMessage
	if err := json.Unmarshal(vars, &named); err != nil {
		t.Fatal(err)
	}
	var out []string
	for name, p := range named {
		out = append(out, name+"="+argOf(p))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func TestPlurals(t *testing.T) {
	t.Parallel()
	// English uses the singular for 1 only; French for 0 and 1.
	for _, tt := range []struct {
		lang, key string
		args      []any
		want      string
	}{
		{"en", "audit.nfacts", []any{0}, "0 facts"},
		{"en", "audit.nfacts", []any{1}, "1 fact"},
		{"en", "audit.nfacts", []any{2}, "2 facts"},
		{"fr", "audit.nfacts", []any{0}, "0 fait"},
		{"fr", "audit.nfacts", []any{1}, "1 fait"},
		{"fr", "audit.nfacts", []any{2}, "2 faits"},
		{"en", "audit.nfacts", []any{1234}, "1,234 facts"},
		{"en", "review.undecided", []any{1}, "1 statement to check (high-stakes, unclear, or not found in the notes) still needs your decision: confirm it or leave it out."},
		{"en", "review.undecided", []any{2}, "2 statements to check (high-stakes, unclear, or not found in the notes) still need your decision: confirm each one or leave it out."},
		{"fr", "review.undecided", []any{1}, "1 affirmation à vérifier (sensible, incertaine, ou introuvable dans les notes) attend encore votre décision : confirmez-la ou écartez-la."},
		{"fr", "review.undecided", []any{2}, "2 affirmations à vérifier (sensibles, incertaines, ou introuvables dans les notes) attendent encore votre décision : confirmez chacune ou écartez-la."},
		{"en", "ungrounded.number_missing", []any{"12"}, "The number or date “12” is not in its quotes."},
		{"fr", "ungrounded.name_missing", []any{"Claire"}, "Le nom « Claire » ne figure pas dans ses citations."},
		{"en", "stats.lead", []any{uint64(1)}, "The figures cover the chosen period (the case, person and action filters do not apply to them), counted from 1 event about drafts."},
		{"fr", "stats.lead", []any{uint64(0)}, "Les chiffres portent sur la période choisie (les filtres de dossier, de personne et d'action ne s'y appliquent pas), calculés sur 0 événement concernant des brouillons."},
		{"en", "audit.checkpoint.lead", []any{uint64(0)}, "The log's key has signed a checkpoint of the empty log. Keep it: a later one must extend it."},
		{"en", "audit.checkpoint.lead", []any{uint64(1)}, "The log's key has signed its first entry. Keep this checkpoint: a later one must extend it."},
		{"fr", "audit.checkpoint.lead", []any{uint64(2)}, "La clé du journal a signé ses 2 premières entrées. Conservez ce point de contrôle : le suivant doit le prolonger."},
		{"en", "verify.ok", []any{uint64(1), uint64(1)}, "The one entry was checked: every hash, the chain and the tree match, and the signed checkpoint of 1 entry is genuine."},
		{"en", "verify.ok", []any{uint64(3), uint64(2)}, "All 3 entries were checked: every hash, the chain and the tree match, and the signed checkpoint of 2 entries is genuine."},
		{"fr", "verify.ok", []any{uint64(3), uint64(1)}, "Les 3 entrées ont été vérifiées : chaque empreinte, la chaîne et l'arbre concordent, et le point de contrôle signé de 1 entrée est authentique."},
		{"en", "review.cite", []any{"Note 2", "two months"}, "Note 2: “two months”"},
		{"fr", "review.cite", []any{"Note 2", "deux mois"}, "Note 2 : « deux mois »"},
		{"fr", "consent.note.bad", []any{2000}, "La note doit être du texte simple de moins de 2\u00a0000 caractères."},
	} {
		if got := msg(tt.lang, tt.key, tt.args...); got != tt.want {
			t.Errorf("msg(%s, %s, %v) = %q, want %q", tt.lang, tt.key, tt.args, got, tt.want)
		}
	}
}

func TestDurationsInWords(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d      time.Duration
		en, fr string
	}{
		{300 * time.Millisecond, "under a second", "moins d'une seconde"},
		{time.Second, "1 second", "1 seconde"},
		{2 * time.Second, "2 seconds", "2 secondes"},
		{time.Minute, "1 minute", "1 minute"},
		{3*time.Minute + 59*time.Second, "3 minutes", "3 minutes"},
		{time.Hour, "1 hour", "1 heure"},
		{2 * time.Hour, "2 hours", "2 heures"},
		{47 * time.Hour, "47 hours", "47 heures"},
		{49 * time.Hour, "2 days", "2 jours"},
		{30 * 24 * time.Hour, "30 days", "30 jours"},
	} {
		for lang, want := range map[string]string{"en": tt.en, "fr": tt.fr} {
			p := &page{Lang: lang}
			if got := p.Duration(tt.d); got != want {
				t.Errorf("%s: Duration(%v) = %q, want %q", lang, tt.d, got, want)
			}
		}
	}
	p := &page{Lang: "fr"}
	if got, want := bucketWords(p, []string{"le_5s", "le_1m0s", "gt_15m0s", "odd"}), []string{"jusqu'à 5 secondes", "jusqu'à 1 minute", "plus de 15 minutes", "odd"}; !slices.Equal(got, want) {
		t.Errorf("bucketWords = %q, want %q", got, want)
	}
}

func TestDates(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ lang, in, want string }{
		{"en", "2026-12-14", "14 Dec 2026"},
		{"fr", "2026-12-14", "14/12/2026"},
		{"fr", "next week", "next week"},
	} {
		if got := (&page{Lang: tt.lang}).Date(tt.in); got != tt.want {
			t.Errorf("%s: Date(%q) = %q, want %q", tt.lang, tt.in, got, tt.want)
		}
	}
}

func TestCaseTypes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ lang, in, want string }{
		{"en", "adult_social_care", "Adult social care"},
		{"fr", "adult_social_care", "Aide sociale aux adultes"},
		{"fr", "youth_justice", "youth justice"},
	} {
		if got := (&page{Lang: tt.lang}).CaseType(tt.in); got != tt.want {
			t.Errorf("%s: CaseType(%q) = %q, want %q", tt.lang, tt.in, got, tt.want)
		}
	}
}

func TestAcceptLanguage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ header, want string }{
		{"", "en"},
		{"fr", "fr"},
		{"fr-BE, fr;q=0.9, en;q=0.8", "fr"},
		{"de-DE, en;q=0.5, fr;q=0.7", "fr"},
		{"en-GB,en;q=0.9,fr;q=0.8", "en"},
		{"nl, de", "en"},
		{"fr;q=0, en", "en"},
	} {
		if got := acceptLanguage(tt.header); got != tt.want {
			t.Errorf("acceptLanguage(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"/cases", "/cases"},
		{"/cases/x?done=1", "/cases/x?done=1"},
		{"", "/"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"https://evil.example/", "/"},
		{"/ok\r\nSet-Cookie: x", "/"},
	} {
		if got := localPath(tt.in); got != tt.want {
			t.Errorf("localPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFindFold(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		body, quote string
		want        int
	}{
		{"She has two months of arrears.", "two months", 8},
		{"She has Two Months of arrears.", "two months", 8},
		{"Élodie a écrit.", "a écrit", 8},
		{"nothing here", "absent", -1},
		{"short", "", -1},
	} {
		if got := findFold(tt.body, tt.quote); got != tt.want {
			t.Errorf("findFold(%q, %q) = %d, want %d", tt.body, tt.quote, got, tt.want)
		}
	}
}
