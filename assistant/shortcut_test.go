package assistant

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// The drafting pipeline skips work where it can tell the answer without
// it (a text without a word findRelative reads, ASCII text to fold or to
// read the language of, a statement that is its own quote). The tests
// here check each shortcut against the full reading, on the sentences of
// every labelled set of the detector, the notes of the tests and strings
// made at random of the pieces that matter to it.

// corpusTexts are the sentences of every labelled set of the detector
// (stakes/testdata), the long notes in four languages and the dates of
// TestDraftPinned, with strings made at random of pieces.
func corpusTexts(t *testing.T, pieces []string) []string {
	t.Helper()
	texts := []string{benchNote, longNote(), "", " ", "\n\n"}
	for _, n := range languageNotes() {
		texts = append(texts, n)
	}
	files, err := filepath.Glob(filepath.Join("stakes", "testdata", "*.tsv"))
	if err != nil || len(files) < 10 {
		t.Fatalf("the labelled sets: %v, %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if _, text, ok := strings.Cut(line, "\t"); ok {
				if _, text, ok = strings.Cut(text, "\t"); ok {
					texts = append(texts, text)
				}
			}
		}
	}
	for _, c := range draftPinCases(t) {
		for _, n := range c.req.Notes {
			texts = append(texts, n.Body)
		}
	}
	rng := rand.New(rand.NewPCG(2, 12))
	for range 20_000 {
		var b strings.Builder
		for range 1 + rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		texts = append(texts, b.String())
	}
	return texts
}

// TestMayBeRelativeFindsEveryRelativeDate: findRelative skips a text
// mayBeRelative rules out; findRelativeWords, reading every word, finds
// nothing in any of them.
func TestMayBeRelativeFindsEveryRelativeDate(t *testing.T) {
	t.Parallel()
	pieces := []string{" ", "  ", ", ", ".", "-", "'", "\n", "1", "3", "14", "100", "1000", "a", "an", "the", "in", "dans", "over", "vor", "il y a",
		"day", "days", "week", "weeks", "fortnight", "jours", "semaine", "dagen", "weken", "tagen", "wochen", "ago", "geleden",
		"two", "deux", "twee", "zwei", "huit", "quinze", "tuesday", "mardi", "dinsdag", "dienstag", "next", "last", "prochain", "dernier",
		"tomorrow", "demain", "morgen", "heute", "yesterday", "hier", "aujourd", "hui", "apres", "avant", "every", "chaque", "after", "before", "x"}
	texts := corpusTexts(t, pieces)
	relative := 0
	for _, text := range texts {
		for _, s := range []string{text, foldString(text)} {
			want := findRelativeWords(s)
			if got := findRelative(s); !slices.Equal(got, want) {
				t.Errorf("findRelative(%q) = %+v, want %+v", s, got, want)
			}
			relative += len(want)
		}
	}
	if relative < 1000 {
		t.Errorf("%d relative dates found: the comparison proves little", relative)
	}
}

// TestFoldTextAnswersAsBefore: foldText, which copies ASCII other than
// white space without decoding it, folds and maps every text as folding
// each rune did (foldTextRunes).
func TestFoldTextAnswersAsBefore(t *testing.T) {
	t.Parallel()
	pieces := []string{"a", "Z", "é", "É", "ß", " ", "  ", "\t", "\n", "\r\n", "\v", "\f", "\u00a0", "\u0085", "\u2028", "\u3000", "x\xffy", "\xe2\x80",
		"’", "“", "—", "…", "Ǆ", "ﬁ", "e\u0301", "İ", "Jean-Pierre", "MÜLLER", "[PERSON_1]", "0470/12.34.56", "~", "\x00", "\x7f"}
	for _, text := range corpusTexts(t, pieces) {
		for _, offsets := range []bool{true, false} {
			got, want := foldText(text, offsets), foldTextRunes(text, offsets)
			if got.s != want.s || !slices.Equal(got.start, want.start) || !slices.Equal(got.end, want.end) {
				t.Fatalf("foldText(%q, %v) = %+v, want %+v", text, offsets, got, want)
			}
		}
	}
}

// foldTextRunes is foldText as it was, decoding every rune.
func foldTextRunes(text string, offsets bool) folded {
	if !offsets && isFolded(text) {
		return folded{s: text}
	}
	var b strings.Builder
	var f folded
	space := false
	for i, w := 0, 0; i < len(text); i += w {
		var r rune
		r, w = utf8.DecodeRuneInString(text[i:])
		if unicode.IsSpace(r) {
			if !space && b.Len() > 0 {
				space = true
				b.WriteByte(' ')
				if offsets {
					f.start = append(f.start, i)
					f.end = append(f.end, i+w)
				}
			} else if space && offsets {
				f.end[len(f.end)-1] = i + w
			}
			continue
		}
		space = false
		out := foldRune(r)
		b.WriteString(out)
		if offsets {
			for range len(out) {
				f.start = append(f.start, i)
				f.end = append(f.end, i+w)
			}
		}
	}
	f.s = b.String()
	return f
}

// TestDetectLanguageReadsASCIIAsFolded: DetectLanguage reads ASCII text
// without folding it, as it reads the folded text (detectFolded); no
// stopword is longer than the word it lowers them into.
func TestDetectLanguageReadsASCIIAsFolded(t *testing.T) {
	t.Parallel()
	var pieces []string
	for _, ws := range stopwords {
		for _, w := range ws {
			if len(w) > 16 {
				t.Errorf("the stopword %q is longer than DetectLanguage's word", w)
			}
			pieces = append(pieces, w, strings.ToUpper(w), strings.ToUpper(w[:1])+w[1:])
		}
	}
	pieces = append(pieces, " ", "  ", "\t", "\n", ".", "'", "-", "_", "3", "abcdefghijklmnopqrstu", "é", "Ü")
	n := 0
	for _, text := range corpusTexts(t, pieces) {
		if got, want := DetectLanguage(text), detectFolded(foldString(text)); got != want {
			t.Errorf("DetectLanguage(%q) = %s, want %s", text, got, want)
		}
		if isASCII(text) {
			n++
		}
	}
	if n < 10_000 {
		t.Errorf("%d ASCII texts: the comparison proves little", n)
	}
}

// TestTextQuotingItselfIsSupported: unsupported answers at once for a
// statement whose one quote is its own text; reading every word
// (unsupportedRead) finds it supported too, whatever the language, the
// directory's words and the words of the text: numbers, months, names,
// placeholders, negations.
func TestTextQuotingItselfIsSupported(t *testing.T) {
	t.Parallel()
	pieces := []string{" ", ", ", ". ", "'", "n't", "not", "no", "ne", "pas", "n'a", "geen", "kein", "t", "n", "[PERSON_1]", "[person_2_3]",
		"3", "05", "14", "2026", "May", "mai", "December", "Marie", "Jean-Pierre", "VAN", "der", "the", "client", "said", "Er", "Sie", "Haus",
		"rent", "arrears", "fears", "eviction", "loyer", "huur", "Miete", "doesn", "can", "won", "é", "\n", "x"}
	extras := []string{"", "Housing Support Help with rent arrears, eviction and finding housing.", "Not for Marie 14 May"}
	langs := append([]string{""}, Languages...)
	for i, text := range corpusTexts(t, pieces) {
		extra, lang := extras[i%len(extras)], langs[i%len(langs)]
		for _, same := range []bool{true, false} {
			if code, term := unsupportedRead(text, []string{text}, extra, lang, same); code != "" {
				t.Errorf("%q (extra %q, %q, %v) quoting itself: %s %q", text, extra, lang, same, code, term)
			}
		}
	}
}

// TestFindDatesReadsOnlyTheYear: findDates reads the same dates in a text
// at any time of one year, so a memo keeps them by year; and the dates a
// memo gives stay as they were read when a caller appends to them.
func TestFindDatesReadsOnlyTheYear(t *testing.T) {
	t.Parallel()
	pieces := []string{" ", ", ", ".", "1", "3", "14", "29", "99", "00", "24", "25", "26", "2026", "1999", "/", "-", ".", "3.5.24", "14/12/26",
		"31-12-99", "december", "dec", "mars", "le ", "am ", "on ", "tuesday", "tomorrow", "in two weeks", "st", "th", "x"}
	years := []int{1999, 2000, 2024, 2026, 2099, 2100}
	rng := rand.New(rand.NewPCG(7, 3))
	found := 0
	step := 1
	if raceDetector {
		step = 4 // the race detector slows Go's regexp engine about fortyfold
	}
	texts := corpusTexts(t, pieces)
	for i := 0; i < len(texts); i += step {
		text := texts[i]
		f := foldString(text)
		y := years[i%len(years)]
		a := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		b := a.AddDate(1, 0, 0).Add(-time.Nanosecond - time.Duration(rng.Int64N(int64(365*24*time.Hour))))
		da, db := findDates(f, a), findDates(f, b)
		if !slices.Equal(da, db) {
			t.Fatalf("findDates(%q) at %s = %+v, at %s = %+v", f, a, da, b, db)
		}
		if ya, yb := findYearless(f, da), findYearless(f, db); !slices.Equal(ya, yb) {
			t.Fatalf("findYearless(%q) at %s = %+v, at %s = %+v", f, a, ya, b, yb)
		}
		found += len(da)
	}
	if found < 1000/step {
		t.Errorf("%d dates found: the comparison proves little", found)
	}

	// A memo keeps dates by year: a two-digit year is read in each.
	m := newMemo()
	s := foldString("Les rendez-vous du 3/1/27, du 4.2.27 et du 5-3-27 (le 28/11 au CPAS), puis mardi prochain et dans quinze jours.")
	for _, now := range []time.Time{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)} {
		if got, want := m.findDates(s, now), findDates(s, now); !slices.Equal(got, want) || len(want) != 3 {
			t.Fatalf("memo's findDates in %d = %+v, want %+v", now.Year(), got, want)
		}
	}
	// The dates a memo gives are shared: a caller's appending to them
	// changes no other's. Three full dates leave room for a fourth in
	// the slice findDates grew.
	s = foldString("Les rendez-vous du 3/1/27, du 4.2.27 et du 5-3-27, puis mardi prochain.")
	a := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	b := a.AddDate(0, 0, 7) // the same year, another Tuesday next
	wantA, wantB := findDueDates(s, a), findDueDates(s, b)
	if slices.Equal(wantA, wantB) || len(wantA) != 4 {
		t.Fatalf("due dates %+v and %+v: the test proves little", wantA, wantB)
	}
	gotA := m.findDueDates(s, a)
	gotB := m.findDueDates(s, b)
	gotB = append(gotB, dateMatch{Start: -1})
	if !slices.Equal(gotA, wantA) || !slices.Equal(gotB[:len(gotB)-1], wantB) {
		t.Fatalf("memo's findDueDates = %+v and %+v, want %+v and %+v", gotA, gotB, wantA, wantB)
	}
	if got := m.findDates(s, a); !slices.Equal(got, findDates(s, a)) {
		t.Fatalf("memo's findDates after appending = %+v", got)
	}
}

// TestDateStartsAllowEveryMatch: a startRE's start allows every offset
// where its expression matches, anchored there (the contract that makes it
// find what the expression finds): on strings made at random of the pieces
// of dates, the longest month names, ordinals and punctuation included.
func TestDateStartsAllowEveryMatch(t *testing.T) {
	t.Parallel()
	res := map[string]*startRE{"ISO": reDateISO, "Numeric": reDateNumeric, "DayName": reDateDayName, "NameDay": reDateNameDay,
		"DayNameNoYear": reDateDayNameNoYear, "NumericNoYear": reDateNumericNoYear}
	// Dates in each shape, a piece at a time, each piece as the shape
	// wants it or not quite.
	slot := map[byte][]string{
		'd': {"1", "14", "31", "123", "", "x"},
		'o': {"", "", "st", "nd", "rd", "th", "er", "e", ".", "x"},
		' ': {"", " ", " ", "  "},
		'm': {"september", "septembre", "dezember", "mai", "dec", "ab", "abcdefghij", "may"},
		'.': {"", ".", ".."},
		',': {"", ",", " ,"},
		'y': {"2026", "2026", "26", "202", "20266"},
		'/': {".", "/", "-", " ", "x"},
		'-': {"-", "-", "/", ""},
		'x': {"", "", "x", " ", "le ", "1", "a.", "\n", "é"},
	}
	shapes := []string{"xdo m., y", "xm. do, y", "xd /d /y", "xy-d-d", "xd/dx", "xdo mx"}
	// Under -race a tenth of them: the race detector slows Go's regexp
	// engine about fortyfold.
	n, least := 30_000, 300
	if raceDetector {
		n, least = n/10, least/10
	}
	rng := rand.New(rand.NewPCG(12, 14))
	matched := map[string]int{}
	for range n {
		var b strings.Builder
		for range 1 + rng.IntN(3) {
			for _, c := range []byte(shapes[rng.IntN(len(shapes))]) {
				b.WriteString(slot[c][rng.IntN(len(slot[c]))])
			}
		}
		s := b.String()
		for name, re := range res {
			for i := range len(s) {
				if name == "NumericNoYear" && i > 0 && syntax.IsWordChar(rune(s[i-1])) {
					continue // its \b is read from the byte before, which s[i:] lacks
				}
				if re.anchored.MatchString(s[i:]) {
					matched[name]++
					if !re.opens[s[i]] || !re.start(s, i) {
						t.Fatalf("%s matches %q at %d, where its start does not allow it", name, s, i)
					}
				}
			}
		}
	}
	for name := range res {
		if matched[name] < least {
			t.Errorf("%s matched %d times: the comparison proves little", name, matched[name])
		}
	}
}

// TestExtractSummaryPicksAsScoringAll: the offline summary, which reads a
// sentence's category only while it can still be among the note's best,
// keeps the sentences, categories and quotes that scoring every sentence
// kept (extractSummaryAll), on notes made at random of the labelled
// sentences, dates and obligations.
func TestExtractSummaryPicksAsScoringAll(t *testing.T) {
	t.Parallel()
	var sents []string
	for _, text := range corpusTexts(t, []string{"x"})[:3000] {
		for _, s := range sentences(text) {
			if len(s) < 200 {
				sents = append(sents, s)
			}
		}
	}
	sents = append(sents, "She must pay the rent before 3 May.", "Il doit payer avant le 14 décembre 2026.", "Short one.", "Er muss am Dienstag kommen.",
		"Appointment on 14/12.", "The visit went well.", "Ze moet morgen bellen.")
	rng := rand.New(rand.NewPCG(9, 9))
	step := 1
	if raceDetector {
		step = 5
	}
	for round := 0; round < 2000; round += step {
		var notes []Note
		for k := range 1 + rng.IntN(3) {
			var b strings.Builder
			for range 1 + rng.IntN(12) {
				b.WriteString(sents[rng.IntN(len(sents))])
				b.WriteString(" \n"[rng.IntN(2):][:1])
			}
			notes = append(notes, Note{ID: "n" + strconv.Itoa(k), Body: b.String()})
		}
		p := &Prompt{Language: "en", Notes: notes, Today: testNow}
		if round%2 == 1 {
			p.memo = newMemo()
		}
		got, want := extractSummary(p), extractSummaryAll(p)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("notes %q:\n got %+v\nwant %+v", notes, got, want)
		}
	}
}

// extractSummaryAll is extractSummary as it was, reading every sentence's
// category.
func extractSummaryAll(p *Prompt) wireAnswer {
	a := wireAnswer{Language: p.Language, Statements: []wireStatementJS{}}
	for _, n := range p.Notes {
		type scored struct {
			i, score int
			s, cat   string
		}
		var cands []scored
		for i, s := range sentences(n.Body) {
			f := foldString(s)
			sc := 0
			cat := Categorize(s)
			if cat != "" {
				sc += 3
			}
			if len(findDueDates(f, p.Today)) > 0 {
				sc += 2
			}
			if hasAny(f, kwMust) {
				sc += 2
			}
			if len(s) >= 40 {
				sc++
			}
			if i == 0 {
				sc++
			}
			cands = append(cands, scored{i, sc, s, cat})
		}
		sort.SliceStable(cands, func(x, y int) bool { return cands[x].score > cands[y].score })
		cands = cands[:min(perNote, len(cands))]
		sort.Slice(cands, func(x, y int) bool { return cands[x].i < cands[y].i })
		for _, c := range cands {
			a.Statements = append(a.Statements, wireStatementJS{
				ID:        fmt.Sprintf("s%d", len(a.Statements)+1),
				Text:      c.s,
				Category:  c.cat,
				Citations: []Citation{{NoteID: n.ID, Quote: quoteAround(n.Body, c.s)}},
			})
		}
	}
	return a
}

// TestParamsMapAsFormatted: Params.Map writes its numbers as %g and %d
// did.
func TestParamsMapAsFormatted(t *testing.T) {
	t.Parallel()
	for _, temp := range []float64{0, 0.2, 0.7, 1, 1.5, 2, 1e-7, 1e21, 123456789, -0.5, math.Copysign(0, -1), math.Inf(1), math.NaN()} {
		for _, n := range []int{0, 1, 4096, -3} {
			p := Params{Temperature: temp, MaxTokens: n, Seed: n * 7}
			want := map[string]string{"temperature": fmt.Sprintf("%g", temp), "max_tokens": fmt.Sprintf("%d", n)}
			if p.Seed != 0 {
				want["seed"] = fmt.Sprintf("%d", p.Seed)
			}
			if got := p.Map(); !maps.Equal(got, want) {
				t.Errorf("%+v: Map() = %v, want %v", p, got, want)
			}
		}
	}
}
