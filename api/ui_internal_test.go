package api

import (
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/review"
)

func TestCatalogue(t *testing.T) {
	t.Parallel()

	t.Run("HasTheSameKeysInEveryLanguage", func(t *testing.T) {
		t.Parallel()
		for lang, m := range catalogue {
			for key := range catalogue[defaultLang] {
				if _, ok := m[key]; !ok {
					t.Errorf("%s lacks %q", lang, key)
				}
			}
			for key := range m {
				if _, ok := catalogue[defaultLang][key]; !ok {
					t.Errorf("%s has %q, which %s lacks", lang, key, defaultLang)
				}
			}
		}
	})

	t.Run("HasEveryKeyThePagesUse", func(t *testing.T) {
		t.Parallel()
		used := map[string]bool{}
		lit := regexp.MustCompile(`(?:\bT|newPage\(r,|p\.T\(|msg\(s\.lang\(r\),) ?"([a-z][a-z0-9_.]*[a-z0-9_])"`)
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
		files, _ := fs.Glob(os.DirFS("."), "ui*.go")
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
		add("action.", uiActions...)
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
		for code := range statuses {
			used["error."+code] = true
		}
		add("done.", "note_added", "approved", "awaiting_countersign", "rejected", "countersigned", "reassigned", "consent_given", "consent_refused", "corrected")
		add("consent.state.", consentNone, consentGiven, consentRefused, consentWithdrawn)
		add("consent.blocked.", consentNone, consentGiven, consentRefused, consentWithdrawn)
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

func TestRemoveLine(t *testing.T) {
	t.Parallel()
	text := "First line.\nSecond  line.\nThird line.\n"
	if got, want := removeLine(text, "Second line."), "First line.\nThird line.\n"; got != want {
		t.Errorf("removeLine = %q, want %q", got, want)
	}
	if got := removeLine(text, "Absent."); got != text {
		t.Errorf("removeLine changed text without the line: %q", got)
	}
}
