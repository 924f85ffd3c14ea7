package assistant

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// TestTokenizeAnswersAsBefore checks that tokenize and wordCount, which
// read the text as UTF-8 and slice its words out of it, split every test
// text as converting it to runes did (tokenizeRunes), placeholders,
// invalid bytes and case-folded placeholder letters included; and that
// DetectLanguage reads the same words as splitting the folded text at
// every rune that is not a to z did.
func TestTokenizeAnswersAsBefore(t *testing.T) {
	texts := []string{benchNote, longNote(), "", "[PERSON_1] saw [person_2_3].", "[PERſON_1] [ID_12]x [PHONE_1", "a\xffb [\xff",
		"Jean-Pierre Müller's 05 appointment: 3 May.\n• next", "l'école n'a pas", "\u0065\u0301cole ǅ ﬁ", "[[EMAIL_1]]"}
	texts = append(texts, testTexts(t)...)
	for _, text := range texts {
		got, want := tokenize(text), tokenizeRunes(text)
		if !slices.Equal(got, want) {
			t.Errorf("tokenize(%q) = %+v, want %+v", text, got, want)
		}
		if n := wordCount(text); n != len(want) {
			t.Errorf("wordCount(%q) = %d, want %d", text, n, len(want))
		}
		if got, want := DetectLanguage(text), detectLanguageFields(text); got != want {
			t.Errorf("DetectLanguage(%q) = %s, want %s", text, got, want)
		}
	}
}

// detectLanguageFields is DetectLanguage as it was, splitting the folded
// text with strings.FieldsFunc and scanning every language's stopwords.
func detectLanguageFields(text string) string {
	words := strings.FieldsFunc(foldString(text), func(r rune) bool {
		return !(r >= 'a' && r <= 'z')
	})
	scores := map[string]int{}
	for _, w := range words {
		for _, lang := range Languages {
			for _, s := range stopwords[lang] {
				if w == s {
					scores[lang]++
				}
			}
		}
	}
	best, bestScore := "en", 0
	for _, lang := range Languages {
		if scores[lang] > bestScore {
			best, bestScore = lang, scores[lang]
		}
	}
	return best
}

func tokenizeRunes(text string) []token {
	var out []token
	first := true
	rs := []rune(text)
	for i := 0; i < len(rs); {
		r := rs[i]
		if r == '[' {
			if loc := rePlaceholder.FindStringIndex(string(rs[i:min(len(rs), i+24)])); loc != nil && loc[0] == 0 {
				tag := string(rs[i:min(len(rs), i+24)])[:loc[1]]
				out = append(out, token{raw: strings.ToUpper(tag), f: strings.ToUpper(tag), placeholder: true, first: first})
				first = false
				i += len([]rune(tag))
				continue
			}
		}
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			switch r {
			case '.', '!', '?', ':', ';', '\n', '•':
				first = true
			}
			i++
			continue
		}
		j := i
		for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || unicode.Is(unicode.Mn, rs[j])) {
			j++
		}
		w := string(rs[i:j])
		t := token{raw: w, f: foldString(w), capital: unicode.IsUpper(r), first: first}
		t.number = unicode.IsDigit(r)
		if t.number {
			// 05 and 5 are the same number.
			if n, err := strconv.Atoi(t.f); err == nil {
				t.f = strconv.Itoa(n)
			}
		}
		out = append(out, t)
		first = false
		i = j
	}
	return out
}

// testTexts are the notes in each language and every line of the
// detector's test files: the texts a fast path is held against.
func testTexts(t *testing.T) []string {
	t.Helper()
	var texts []string
	for _, n := range languageNotes() {
		texts = append(texts, n)
	}
	files, _ := filepath.Glob("stakes/testdata/*.tsv")
	if len(files) == 0 {
		t.Fatal("no detector test files in stakes/testdata: the fast paths would be held against the notes alone")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, strings.Split(string(b), "\n")...)
	}
	return texts
}
