package stakes_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/countersign/countersign/assistant/stakes"
)

// TestVocabulary checks the ordinary vocabulary (ordinary/*.txt): it
// loads, every language has its file, and no entry is a word that a
// lexicon rule reads as high-stakes on its own — the ordinary words never
// include the lexicons' words.
func TestVocabulary(t *testing.T) {
	t.Parallel()
	lx := stakes.Default()
	v := lx.Ordinary
	if v == nil {
		t.Fatal("the default lexicon has no ordinary vocabulary")
	}
	files := map[string]int{}
	for _, e := range v.Entries {
		file, _, _ := strings.Cut(e.Source, ":")
		files[file]++
		w := strings.TrimSuffix(e.Word, "*")
		for _, r := range lx.Rules {
			if r.ReadsWord(w) {
				t.Errorf("%s: %q is read by %s (%s)", e.Source, e.Word, r.Source, r.Text)
			}
		}
	}
	for _, lang := range []string{"en", "fr", "nl", "de", "stopword"} {
		if n := files["ordinary/"+lang+".txt"]; n < 100 {
			t.Errorf("ordinary/%s.txt has %d entries, want at least 100", lang, n)
		}
	}
	for _, bad := range []string{"Médecin\n", "ab*\n", "a-b\n"} {
		if _, err := stakes.LoadVocabulary(fstest.MapFS{"o/a.txt": {Data: []byte(bad)}}, "o"); err == nil {
			t.Errorf("%q loads; want an error", bad)
		}
	}
}

// TestUnclear checks the inverted burden: a statement no rule matches is
// ordinary only when every word of it is placed (vocabulary, inflection,
// compound, number, name); otherwise it is unclear, with the words that
// could not be placed, and unclear is the least strict category.
func TestUnclear(t *testing.T) {
	t.Parallel()
	lx, err := stakes.Load(fstest.MapFS{"l/a.txt": {Data: []byte("health: pill*\n")}}, "l")
	if err != nil {
		t.Fatal(err)
	}
	lx.Ordinary, err = stakes.LoadVocabulary(fstest.MapFS{"o/a.txt": {Data: []byte(
		"the she her has a for on to and of appointment* form forms wohn* geld kinder zimmer fill in sent passer envoyer stellen op le la elle\n")}}, "o")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		text     string
		unplaced []string
	}{
		{"She has filled in the form for Wohngeld.", nil},                   // inflection, compound
		{"The appointments on 12/3 and 14.3.", nil},                         // stem, numbers
		{"Lena sent the Kinderzimmer form to Mme Girard.", nil},             // a known name, a title
		{"She sent the form to her neighbour.", []string{"neighbour"}},      // not in the vocabulary
		{"She has a lump and sent the lump form.", []string{"lump"}},        // each word once
		{"She has pills for the form.", nil},                                // a rule matched: not unclear
		{"Zorbquax sent the form.", []string{"zorbquax"}},                   // capitalised at the start, but no known name
		{"She sent the form to Zorbquax.", nil},                             // inside a sentence: a proper noun (not German)
		{"Lena sent the form and nobody filled it in.", []string{"nobody"}}, // only what the vocabulary lacks
		{"She sent the CAMHS form.", []string{"camhs"}},                     // capitals: an acronym, not a name
		{"Elle passera le form, elle passait.", nil},                        // a French verb by its infinitive (stakes/3)
		{"She stelde the form, opgesteld.", nil},                            // a Dutch verb, doubled consonant, after its particle
		{"Elle passoire le form.", []string{"passoire"}},                    // not a conjugation of passer
		{"Dr. Zorbquax sent the form.", nil},                                // a title with its period, then a name
		{"She sent the form. Zorbquax filled it in.", []string{"zorbquax"}}, // a sentence's first word, no title before it
	} {
		f := lx.Detect(tt.text)
		if tt.unplaced == nil {
			if f.Has(stakes.Unclear) || f.Category == stakes.ProductUnclear {
				t.Errorf("Detect(%q) = %v, unplaced %v; want it placed", tt.text, f.Fines, f.Unplaced)
			}
			continue
		}
		if f.Category != stakes.ProductUnclear || !slices.Equal(f.Fines, []string{stakes.Unclear}) || !slices.Equal(f.Unplaced, tt.unplaced) {
			t.Errorf("Detect(%q) = %q %v, unplaced %q; want unclear, unplaced %q", tt.text, f.Category, f.Fines, f.Unplaced, tt.unplaced)
		}
	}
	if got := stakes.Stricter(stakes.ProductUnclear, stakes.ProductHealth); got != stakes.ProductHealth {
		t.Errorf("Stricter(unclear, health) = %q", got)
	}
	if got := stakes.Stricter("", stakes.ProductUnclear); got != stakes.ProductUnclear {
		t.Errorf("Stricter(\"\", unclear) = %q", got)
	}
	if stakes.Product(stakes.Unclear) != stakes.ProductUnclear {
		t.Errorf("Product(%q) = %q", stakes.Unclear, stakes.Product(stakes.Unclear))
	}
	if !strings.HasPrefix(stakes.DetectorVersion(), "stakes/3+") {
		t.Errorf("DetectorVersion() = %q, want stakes/3+…", stakes.DetectorVersion())
	}
}

// TestOrdinaryShare bounds the false alarms on ordinary statements: of all
// the sentences labelled ordinary in testdata/*.tsv, at most a quarter may
// be flagged, by a rule or as unclear. A reviewer who sees everything
// flagged sees nothing. (Most of these sentences were used to build the
// vocabulary; BENCHMARKS.md gives the share on sets not seen before.)
func TestOrdinaryShare(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var ordinary []stakes.Case
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		cases, err := stakes.ParseSet(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, c := range cases {
			if len(c.Fines) == 0 {
				ordinary = append(ordinary, c)
			}
		}
	}
	rep := stakes.Evaluate(stakes.Default(), stakes.DetectorVersion(), ordinary)
	share := float64(rep.Gate.FP) / float64(len(ordinary))
	t.Logf("%d of %d ordinary sentences flagged (%.2f), %d of them as unclear", rep.Gate.FP, len(ordinary), share, rep.Unclear.FP)
	if len(ordinary) < 500 || share > 0.25 {
		t.Errorf("%d of %d ordinary sentences flagged (%.2f); want at least 500 sentences and at most a quarter flagged", rep.Gate.FP, len(ordinary), share)
	}
}
