package stakes

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/countersign/countersign/internal/textfold"
)

// TestIndexedMatchAnswersAsMatch checks that every rule of the embedded
// lexicon answers the same through the text's index as by scanning every
// position, on every sentence of the labelled set and of the held-out sets.
func TestIndexedMatchAnswersAsMatch(t *testing.T) {
	lx := Default()
	var texts []string
	for _, c := range LabelledSet() {
		texts = append(texts, c.Text)
	}
	files, _ := filepath.Glob("testdata/*.tsv")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if _, text, ok := strings.Cut(line, "\t"); ok {
				texts = append(texts, text, line)
			}
		}
	}
	if len(texts) < 500 {
		t.Fatalf("only %d texts to compare on", len(texts))
	}
	// Under -race (the README's test command, CI's) every fourth text;
	// without it all of them (go test ./assistant/stakes). The comparison
	// is pure and runs on one goroutine: the race detector only slows it
	// (15 s for all texts without it, about 90 s with it on two cores).
	step := 1
	if raceDetector {
		step = 4
	}
	matched := 0
	for i := 0; i < len(texts); i += step {
		text := texts[i]
		toks := Tokens(text)
		SetAside(lx.Others, toks)
		m := lx.index().match(toks)
		for ri, r := range lx.Rules {
			want := r.Match(toks)
			if got := m.rule(ri); got != want {
				t.Errorf("%s on %q: indexed %v, scan %v", r.Source, text, got, want)
			}
			if want {
				matched++
			}
		}
	}
	if matched == 0 {
		t.Fatal("no rule matched any text: the comparison proves nothing")
	}
}

// testTexts are the sentences of the labelled set and of the held-out
// sets, the lines of the held-out sets as written (labels and all), and
// the examples of every rule.
func testTexts(t *testing.T) []string {
	t.Helper()
	lx := Default()
	var texts []string
	for _, c := range LabelledSet() {
		texts = append(texts, c.Text)
	}
	files, _ := filepath.Glob("testdata/*.tsv")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if _, text, ok := strings.Cut(line, "\t"); ok {
				texts = append(texts, text, line)
			}
		}
	}
	for _, r := range append(slices.Clip(lx.Rules), lx.Others...) {
		texts = append(texts, r.Examples...)
	}
	// An other rule's example from each of its words on, and twice over:
	// words to set aside at the first token and right after others.
	for _, r := range lx.Others {
		for _, ex := range r.Examples {
			toks := Tokens(ex)
			for k := range toks {
				texts = append(texts, strings.ReplaceAll(strings.Join(toks[k:], " "), boundary, "."))
			}
			texts = append(texts, ex+" "+ex, strings.Join(toks[:len(toks)-1], " ")+" "+ex)
		}
	}
	if len(texts) < 500 {
		t.Fatalf("only %d texts to compare on", len(texts))
	}
	return texts
}

// setAsideScan is SetAside as it was before the others' index: every
// choice of every other rule tried at every token.
func setAsideScan(others []*Rule, toks []string) {
	for _, r := range others {
		for _, all := range r.any {
			seq := all[0]
			for i := 0; i < len(toks); i++ {
				if j := matchEnd(seq, toks, i); j > i {
					for k := i; k < j; k++ {
						if toks[k] != boundary {
							toks[k] = setAside
						}
					}
					i = j - 1
				}
			}
		}
	}
}

// TestSetAsideAnswersAsTheScan checks that SetAside, which tries an other
// rule only where the index says its first word is, sets aside exactly the
// words that trying every rule at every token does, on every test text;
// and that Detect's candidates hold every rule that matches.
func TestSetAsideAnswersAsTheScan(t *testing.T) {
	lx := Default()
	set, matched := 0, 0
	for _, text := range testTexts(t) {
		want := Tokens(text)
		setAsideScan(lx.Others, want)
		got := Tokens(text)
		SetAside(lx.Others, got)
		if !slices.Equal(got, want) {
			t.Errorf("SetAside on %q:\n got %q\nwant %q", text, got, want)
		}
		if slices.Contains(want, setAside) {
			set++
		}
		m := lx.index().match(got)
		cands := m.candidates()
		for ri := range lx.Rules {
			if m.rule(ri) {
				matched++
				if !slices.Contains(cands, int32(ri)) {
					t.Errorf("%s matches %q but is not a candidate", lx.Rules[ri].Source, text)
				}
			}
		}
		m.release()
	}
	if set == 0 || matched == 0 {
		t.Fatalf("%d texts with words set aside, %d rules matched: the comparison proves nothing", set, matched)
	}
}

// TestIndexFilesEveryFirstWord checks, for the rules and for the other
// rules, that the index never skips a sequence where its first word
// matches: for every alternative of every first word, on tokens made to
// match it, and for every word of the test texts, every sequence whose
// first word matches the token is among those the index gives for it.
func TestIndexFilesEveryFirstWord(t *testing.T) {
	lx := Default()
	words := map[string]bool{}
	for _, text := range testTexts(t) {
		for _, w := range Tokens(text) {
			words[w] = true
		}
	}
	for name, ix := range map[string]*lexIndex{"rules": lx.index(), "others": othersIndex(lx.Others)} {
		given := func(tok string) map[int32]bool {
			out := map[int32]bool{}
			ix.starts([]string{tok}, func(ids []int32, _ int) {
				for _, id := range ids {
					out[id] = true
				}
			})
			return out
		}
		if len(ix.scan) > 0 {
			t.Errorf("%s: %d sequences tried at every token; the index files every first word Parse allows", name, len(ix.scan))
		}
		for id, seq := range ix.seqs {
			for _, a := range seq[0].alts {
				toks := []string{a.s}
				switch a.kind {
				case prefix:
					toks = append(toks, a.s+"zq")
				case suffix:
					toks = append(toks, "qz"+a.s)
				case infix:
					toks = append(toks, "qz"+a.s, a.s+"zq", "qz"+a.s+"zq", a.s+a.s)
				}
				for _, tok := range toks {
					if !seq[0].match(tok) {
						t.Fatalf("%s: %q does not match its own alternative %q", name, tok, a.s)
					}
					if !ix.isScan[id] && !given(tok)[int32(id)] {
						t.Errorf("%s: %s: the index skips the sequence at %q", name, ix.rules[ix.ruleOf[id]].Source, tok)
					}
				}
			}
		}
		// Every word of the test texts against every sequence: under
		// -race every fourth word (the race detector only slows this pure
		// loop).
		step, n := 1, 0
		if raceDetector {
			step = 4
		}
		for w := range words {
			if n++; n%step != 0 {
				continue
			}
			g := given(w)
			for id, seq := range ix.seqs {
				if seq[0].match(w) && !ix.isScan[id] && !g[int32(id)] {
					t.Errorf("%s: %s: the index skips the sequence at %q", name, ix.rules[ix.ruleOf[id]].Source, w)
				}
			}
		}
	}
}

// TestTokenizeAnswersAsBefore checks that tokenize, which folds the words
// of a text into one buffer, gives the tokens and letter cases that
// folding each word of the text's runes on its own gave (tokenizeRunes),
// on every test text and on contractions, accents and invalid bytes.
func TestTokenizeAnswersAsBefore(t *testing.T) {
	texts := append(testTexts(t), "", "doesn't", "Can't WON'T", "isn’t.", "n't", "an't", "don'T go", "won't'", "don'tx",
		"Straße \u0065\u0301cole", "a\xffb\xc3", "ÉCOLE Noël 'quoted' x'y", "can`t", "I don't, you can't; they won't!")
	for _, text := range texts {
		toks, caps := tokenize(text)
		wantToks, wantCaps := tokenizeRunes(text)
		if !slices.Equal(toks, wantToks) || !slices.Equal(caps, wantCaps) {
			t.Errorf("tokenize(%q) = %q %v, want %q %v", text, toks, caps, wantToks, wantCaps)
		}
	}
}

func tokenizeRunes(text string) (toks []string, caps []int) {
	var w strings.Builder
	capital, upper, letters, start := false, true, 0, true
	flush := func() {
		if w.Len() > 0 {
			toks = append(toks, w.String())
			c := lower
			switch {
			case capital && upper && letters >= 2:
				c = allCaps
			case capital:
				c = capitalise
			}
			if start {
				c += sentenceStart
				start = false
			}
			caps = append(caps, c)
			w.Reset()
		}
	}
	mark := func() {
		flush()
		if len(toks) > 0 && toks[len(toks)-1] != boundary {
			toks = append(toks, boundary)
			caps = append(caps, lower)
		}
	}
	rs := []rune(norm.NFC.String(text))
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case isApostrophe(r):
			// n't: "doesn't" → does not, "can't" → can not, "won't" → will not.
			if w.Len() > 1 && strings.HasSuffix(w.String(), "n") && i+1 < len(rs) && (rs[i+1] == 't' || rs[i+1] == 'T') &&
				(i+2 >= len(rs) || !unicode.IsLetter(rs[i+2])) {
				word := w.String()
				w.Reset()
				switch word {
				case "can":
				case "won":
					word = "will"
				default:
					word = strings.TrimSuffix(word, "n")
				}
				c := lower
				if capital {
					c = capitalise
				}
				toks = append(toks, word, "not")
				caps = append(caps, c, lower)
				i++
				continue
			}
			flush()
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if w.Len() == 0 {
				capital, upper, letters = unicode.IsUpper(r), true, 0
			}
			if unicode.IsLetter(r) {
				letters++
				upper = upper && unicode.IsUpper(r)
			}
			w.WriteString(textfold.Rune(r))
		case unicode.Is(unicode.Mn, r):
		case strings.ContainsRune(",;:.!?()[]{}\n", r):
			mark()
			start = start || strings.ContainsRune(".!?\n", r)
		default:
			flush()
		}
	}
	mark()
	if len(toks) == 0 {
		toks, caps = []string{boundary}, []int{lower}
	}
	return toks, caps
}
