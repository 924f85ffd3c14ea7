package assistant

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestStartREFindsAsItsExpression checks that every startRE finds exactly
// what its expression finds when Go's engine tries every offset: on the
// notes of the tests and the sentences of the detector's test sets, as
// written and folded, and on strings made at random of the pieces dates
// and sentence ends are written with.
func TestStartREFindsAsItsExpression(t *testing.T) {
	res := map[string]*startRE{
		"ISO": reDateISO, "Numeric": reDateNumeric, "DayName": reDateDayName, "NameDay": reDateNameDay,
		"DayNameNoYear": reDateDayNameNoYear, "NumericNoYear": reDateNumericNoYear, "SentenceEnd": reSentenceEnd,
	}
	texts := []string{benchNote, longNote(), ""}
	texts = append(texts, testTexts(t)...)
	pieces := []string{"1", "3", "14", "03", "29", "2026", "24", "123", "-", "/", ".", " ", "  ", ", ", ",", "st", "th", "er", "e",
		"december", "dec", "mars", "mai", "sept", "juillet", "abcdefghij", "on", "x", "_", "\n", "\n\n", "!", "?", "!?", "”", ")", "]", "'",
		"\t", "é", "ß", "…", "le ", "am ", "Dec", "2026-12-14", "14/12/2026", "3.5.24",
		"december 14, 2026", "dec. 3rd, 2024", "may 14 2026", "june 1st", " 2025", "nd"}
	rng := rand.New(rand.NewPCG(18, 6))
	for range 20_000 {
		var b strings.Builder
		for range 1 + rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		texts = append(texts, b.String())
	}
	// Under -race every eighth text: the comparison is pure and runs on
	// one goroutine, and the race detector slows Go's regexp engine about
	// fortyfold (45 s for all texts).
	step := 1
	if raceDetector {
		step = 8
	}
	found := map[string]int{}
	for i := 0; i < len(texts); i += step {
		text := texts[i]
		for _, s := range []string{text, foldString(text)} {
			for name, re := range res {
				want := re.re.FindAllStringSubmatchIndex(s, -1)
				got := re.FindAllStringSubmatchIndex(s)
				if !slices.EqualFunc(got, want, slices.Equal) {
					t.Errorf("%s on %q: got %v, want %v", name, s, got, want)
				}
				found[name] += len(want)
			}
		}
	}
	for name := range res {
		if found[name] < 10 {
			t.Errorf("%s matched %d times: the comparison proves little", name, found[name])
		}
	}
}
