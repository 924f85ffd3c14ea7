package stakes_test

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/countersign/countersign/assistant/stakes"
)

func TestLexicons(t *testing.T) {
	t.Parallel()

	t.Run("EveryFileParsesAndCoversEveryCategory", func(t *testing.T) {
		t.Parallel()
		lx := stakes.Default()
		covered := map[string]map[string]bool{}
		for _, r := range lx.Rules {
			file, _, _ := strings.Cut(r.Source, ":")
			if covered[file] == nil {
				covered[file] = map[string]bool{}
			}
			for _, f := range r.Fines {
				covered[file][f] = true
			}
		}
		for _, lang := range []string{"en", "fr", "nl", "de"} {
			file := "lexicon/" + lang + ".txt"
			for _, f := range stakes.Fines {
				if !covered[file][f] {
					t.Errorf("%s has no rule for %s", file, f)
				}
			}
		}
	})

	t.Run("EveryRuleMatchesItsExamples", func(t *testing.T) {
		t.Parallel()
		n := 0
		for _, r := range stakes.Default().Rules {
			for _, ex := range r.Examples {
				n++
				if !r.Match(stakes.Tokens(ex)) {
					t.Errorf("%s (%s) does not match its example %q", r.Source, r.Text, ex)
				}
			}
		}
		if n < 20 {
			t.Errorf("only %d examples in the lexicons", n)
		}
	})

	t.Run("VersionNamesTheLexicons", func(t *testing.T) {
		t.Parallel()
		v := stakes.DetectorVersion()
		if !strings.HasPrefix(v, stakes.Version+"+") || len(v) != len(stakes.Version)+9 {
			t.Fatalf("DetectorVersion() = %q", v)
		}
		a, err := stakes.Load(fstest.MapFS{"l/a.txt": {Data: []byte("health: pill*\n")}}, "l")
		if err != nil {
			t.Fatal(err)
		}
		b, err := stakes.Load(fstest.MapFS{"l/a.txt": {Data: []byte("health: pills\n")}}, "l")
		if err != nil {
			t.Fatal(err)
		}
		if a.Digest == b.Digest {
			t.Fatal("two different lexicons have the same digest")
		}
	})
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, text, want string
	}{
		{"UnknownCategory", "danger: knife", "unknown category"},
		{"NoColon", "knife", "category: pattern"},
		{"UndefinedMacro", "health: @meds", "not defined"},
		{"UnusedMacro", "@meds = pill\nhealth: tablet", "never used"},
		{"AccentsNotFolded", "health: médicament", "folded"},
		{"CapitalLetters", "health: Pill", "folded"},
		{"StemTooShort", "health: me*", "too short"},
		{"GapAtStart", "health: ... pill", "between two words"},
		{"OptionalFirst", "health: a? pill", "optional"},
		{"OptionalLast", "health: pill a?", "optional"},
		{"DuplicateMacro", "@a = x\n@a = y\nhealth: @a", "twice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := stakes.Parse("t.txt", tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) = %v, want an error about %q", tt.text, err, tt.want)
			}
		})
	}
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		pattern string
		text    string
		want    bool
	}{
		{"bruis*", "Bruised arms.", true},
		{"bruis*", "A cruise ship.", false},
		{"*gewalt*", "Häusliche Gewalttaten", true},
		{"*gewalt", "Partnergewalt", true},
		{"kind", "Ze is vriendelijk.", false},
		{"geeft ... op $", "Hij geeft het op.", true},
		{"geeft ... op $", "Hij geeft het op, zegt zijn zus.", true},
		{"geeft ... op $", "Hij geeft zijn adres op bij de gemeente.", false},
		{"setzt ... ab $", "Sie setzt die Tabletten seit Montag ab.", true},
		{"afraid ... home", "afraid, and at home", false}, // a gap stays in its clause
		{"afraid ... home", "afraid to go home", true},
		{"a b c d e f g h", "a b c d e f g h", true},
		{"x ... y", "x 1 2 3 4 5 6 y", true},
		{"x ... y", "x 1 2 3 4 5 6 7 y", false},
		{"elle ne? veut plus vivre", "elle veut plus vivre", true},
		{"elle ne? veut plus vivre", "elle ne veut plus vivre", true},
		{"does not want", "He doesn't want", true},
		{"can not cope", "She can't cope", true},
		{"will not", "He won’t", true},
		{"qu elle", "qu’elle", true},
		{"cp & bruis*", "bruises and cp", true},
		{"cp & bruis*", "bruises", false},
		{"a b ; c", "c", true},
		{"a b ; c", "a x b", false},
		{"strasse", "Straße", true},
		{"enfant", "ENFANT", true},
	} {
		rules, err := stakes.Parse("t.txt", "health: "+tt.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tt.pattern, err)
		}
		if got := rules[0].Match(stakes.Tokens(tt.text)); got != tt.want {
			t.Errorf("%q on %q = %v, want %v (tokens %q)", tt.pattern, tt.text, got, tt.want, stakes.Tokens(tt.text))
		}
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()

	t.Run("FlagsTheIssuesExamples", func(t *testing.T) {
		t.Parallel()
		for text, want := range map[string]string{
			"Lucas told the teacher he is afraid to go home.":                                 stakes.ProductSafeguarding,
			"The teacher saw bruises on his arm.":                                             stakes.ProductSafeguarding,
			"Sofie has stopped taking her antidepressants and says she cannot cope any more.": stakes.ProductRisk,
			"Lucas heeft blauwe plekken op zijn arm en zegt dat hij bang is thuis.":           stakes.ProductSafeguarding,
			"Mme Martin dit qu'elle ne veut plus vivre.":                                      stakes.ProductRisk,
		} {
			if got := stakes.Detect(text).Category; got != want {
				t.Errorf("Detect(%q) = %q, want %q", text, got, want)
			}
		}
	})

	t.Run("NegationNeverLowers", func(t *testing.T) {
		t.Parallel()
		for affirmed, denied := range map[string]string{
			"Bruises were seen on the child.":        "No bruises were seen on the child.",
			"Il a des idées suicidaires.":            "Il n'a pas d'idées suicidaires.",
			"Er is sprake van huiselijk geweld.":     "Er is geen sprake van huiselijk geweld.",
			"Es besteht eine Gefahr für das Kind.":   "Es besteht keine Gefahr für das Kind.",
			"She drinks alcohol every day.":          "She does not drink alcohol.",
			"Die Mutter nimmt ihre Medikamente.":     "Die Mutter nimmt ihre Medikamente nicht.",
			"A risk to the children was identified.": "No risk to the children was identified.",
		} {
			a, d := stakes.Detect(affirmed), stakes.Detect(denied)
			if a.Category == "" || stakes.Stricter(d.Category, a.Category) != d.Category {
				t.Errorf("%q reads %q but %q reads %q", affirmed, a.Category, denied, d.Category)
			}
		}
	})

	t.Run("SeparableVerbsAndIdioms", func(t *testing.T) {
		t.Parallel()
		for text, fine := range map[string]string{
			"Hij geeft het op.":                               stakes.SelfHarm,
			"Ze ziet het niet meer zitten.":                   stakes.SelfHarm,
			"Hij neemt zijn pillen sinds maart niet meer in.": stakes.Health,
			"Sie setzt ihre Medikamente ab.":                  stakes.Health,
			"Er bringt mich noch um, sagt sie.":               stakes.Violence,
			"Er sperrt die Kinder ein.":                       stakes.Violence,
			"Sie hält es nicht mehr aus.":                     stakes.SelfHarm,
			"Il veut en finir.":                               stakes.SelfHarm,
			"Elle ne veut plus vivre.":                        stakes.SelfHarm,
			"Il n'en peut plus.":                              stakes.SelfHarm,
			"He says he cannot cope any more.":                stakes.SelfHarm,
			"Ze is bang om naar huis te gaan.":                stakes.ChildProtection,
		} {
			if f := stakes.Detect(text); !f.Has(fine) {
				t.Errorf("Detect(%q) = %v, want %s", text, f.Fines, fine)
			}
		}
	})

	t.Run("LeavesOrdinarySentencesAlone", func(t *testing.T) {
		t.Parallel()
		for _, text := range []string{
			"The child went to school.",
			"Hij geeft zijn adres op bij de gemeente.",
			"Sie ist nach Hause gefahren.",
			"L'enfant est allé à l'école.",
			"Das Kind trägt eine blaue Jacke.",
		} {
			if f := stakes.Detect(text); f.Category != "" {
				t.Errorf("Detect(%q) = %v (%v)", text, f.Fines, f.Hits)
			}
		}
	})
}

func TestStricter(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ a, b, want string }{
		{"", stakes.ProductHealth, stakes.ProductHealth},
		{stakes.ProductHealth, "", stakes.ProductHealth},
		{stakes.ProductHealth, stakes.ProductRisk, stakes.ProductRisk},
		{stakes.ProductRisk, stakes.ProductHealth, stakes.ProductRisk},
		{stakes.ProductRisk, stakes.ProductSafeguarding, stakes.ProductRisk},
		{stakes.ProductCapacity, stakes.ProductHealth, stakes.ProductCapacity},
		{"", "", ""},
	} {
		if got := stakes.Stricter(tt.a, tt.b); got != tt.want {
			t.Errorf("Stricter(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestGate holds the detector to its targets on the labelled set: recall at
// least 0.95 and precision at least 0.70, overall and in each language, on
// at least 300 sentences with positives and negatives in every language.
func TestGate(t *testing.T) {
	t.Parallel()
	cases := stakes.LabelledSet()
	if len(cases) < 300 {
		t.Fatalf("the labelled set has %d sentences, want at least 300", len(cases))
	}
	perLang := map[string][2]int{}
	for _, c := range cases {
		n := perLang[c.Language]
		if len(c.Fines) > 0 {
			n[0]++
		} else {
			n[1]++
		}
		perLang[c.Language] = n
	}
	for _, lang := range []string{"en", "fr", "nl", "de"} {
		if n := perLang[lang]; n[0] < 40 || n[1] < 25 {
			t.Errorf("%s: %d positives and %d negatives, want at least 40 and 25", lang, n[0], n[1])
		}
	}
	rep := stakes.Evaluate(stakes.Default(), stakes.DetectorVersion(), cases)
	for _, f := range rep.Failures() {
		t.Error(f)
	}
	for _, p := range []string{stakes.ProductSafeguarding, stakes.ProductRisk, stakes.ProductCapacity, stakes.ProductHealth} {
		if s := rep.Product[p]; s.Recall() < stakes.TargetRecall {
			t.Errorf("%s: recall %.3f is below %.2f", p, s.Recall(), stakes.TargetRecall)
		}
	}
	if t.Failed() || testing.Verbose() {
		rep.Write(os.Stderr, true)
	}
}

// TestLaterSets holds the detector to the same targets on the sets written
// after it was first tuned (testdata/holdout.tsv, fresh.tsv, fourth.tsv to
// tenth.tsv, gate_heldout.tsv to gate_heldout19.tsv): each was measured once
// as it came, then the lexicons (and, from gate_heldout14.tsv on, the
// ordinary vocabulary) were widened for what it missed, so they
// now guard against losing that ground; they were used for tuning and say
// nothing more about sentences not yet seen. BENCHMARKS.md gives the first
// figures, which do; -v logs the present ones.
func TestLaterSets(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"holdout.tsv", "fresh.tsv", "fourth.tsv", "fifth.tsv", "sixth.tsv", "seventh.tsv", "eighth.tsv", "ninth.tsv", "tenth.tsv",
		"gate_heldout.tsv", "gate_heldout2.tsv", "gate_heldout3.tsv", "gate_heldout4.tsv", "gate_heldout5.tsv", "gate_heldout6.tsv", "gate_heldout7.tsv", "gate_heldout8.tsv", "gate_heldout9.tsv", "gate_heldout10.tsv", "gate_heldout11.tsv", "gate_heldout12.tsv", "gate_heldout13.tsv",
		"gate_heldout14.tsv", "gate_heldout15.tsv", "gate_heldout16.tsv", "gate_heldout17.tsv", "gate_heldout18.tsv", "gate_heldout19.tsv"} {
		f, err := os.Open("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		cases, err := stakes.ParseSet(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rep := stakes.Evaluate(stakes.Default(), stakes.DetectorVersion(), cases)
		t.Logf("%s: %d sentences, recall %.3f, precision %.3f", name, len(cases), rep.Gate.Recall(), rep.Gate.Precision())
		for _, msg := range rep.Failures() {
			t.Errorf("%s: %s", name, msg)
		}
		if t.Failed() {
			rep.Write(os.Stderr, true)
		}
	}
}

// TestHardNegatives bounds how often the detector flags sentences that only
// share words with the categories (testdata/hard_negatives.tsv): a flag
// costs the reviewer a confirmation, so some are accepted, but not many.
func TestHardNegatives(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/hard_negatives.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cases, err := stakes.ParseSet(f)
	if err != nil {
		t.Fatal(err)
	}
	rep := stakes.Evaluate(stakes.Default(), stakes.DetectorVersion(), cases)
	if rep.Gate.TP+rep.Gate.FN != 0 || len(cases) < 40 {
		t.Fatalf("%d sentences, %d labelled high-stakes: want at least 40, none high-stakes", len(cases), rep.Gate.TP+rep.Gate.FN)
	}
	if share := float64(rep.Gate.FP) / float64(len(cases)); share > 0.25 {
		rep.Write(os.Stderr, true)
		t.Errorf("%d of %d hard negatives flagged (%.2f), want at most a quarter", rep.Gate.FP, len(cases), share)
	}
}

// TestOtherSense checks the rules for ordinary senses of words: they set
// aside the words of a game's court or a job at a hospital, and nothing
// else, so a high-stakes matter beside them is still read.
func TestOtherSense(t *testing.T) {
	t.Parallel()
	lx, err := stakes.Load(fstest.MapFS{"l/a.txt": {Data: []byte(
		"police_court: court|courts\nhealth: hospital*\nself_harm: want* ... die\n" +
			"other: basketball|tennis court|courts ; works at the hospital\n")}}, "l")
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]string{
		"The boys played on the basketball court.":                         "",
		"She works at the hospital.":                                       "",
		"He was taken to court after a fight on the basketball court.":     stakes.Justice,
		"She works at the hospital and says she wants to die.":             stakes.SelfHarm,
		"She was taken to the hospital from the tennis court.":             stakes.Health,
		"She works at the hospital, and the hospital has called about her": stakes.Health,
	} {
		f := lx.Detect(text)
		if want == "" && len(f.Fines) != 0 || want != "" && !f.Has(want) {
			t.Errorf("Detect(%q) = %v, want %q", text, f.Fines, want)
		}
	}
	for _, bad := range []string{"other: court & basketball\n", "other, health: works at the hospital\n"} {
		if _, err := stakes.Load(fstest.MapFS{"l/a.txt": {Data: []byte(bad)}}, "l"); err == nil {
			t.Errorf("%q loads; want an error", bad)
		}
	}
	for _, r := range stakes.Default().Others {
		for _, ex := range r.Examples {
			if !r.Match(stakes.Tokens(ex)) {
				t.Errorf("%s (%s) does not match its example %q", r.Source, r.Text, ex)
			}
			if f := stakes.Detect(ex); len(f.Fines) != 0 {
				t.Errorf("%s: its example %q still reads as %v", r.Source, ex, f.Fines)
			}
		}
	}
}

// TestFailuresNameACategory checks that the targets hold per category too:
// a gate that meets them overall and in each language but lets one
// category through is reported by that category's name.
func TestFailuresNameACategory(t *testing.T) {
	t.Parallel()
	rep := &stakes.Report{
		Gate:       stakes.Score{TP: 99, FN: 1, TN: 20},
		GateByLang: map[string]*stakes.Score{"en": {TP: 99, FN: 1, TN: 20}},
		GateByFine: map[string]map[string]*stakes.Score{
			stakes.Capacity: {"": {TP: 9, FN: 1}, "en": {TP: 9, FN: 1}},
			stakes.Health:   {"": {TP: 90}, "en": {TP: 90}},
		},
	}
	fails := rep.Failures()
	if len(fails) != 1 || !strings.HasPrefix(fails[0], "capacity: recall 0.900") {
		t.Fatalf("Failures() = %q; want capacity's recall alone", fails)
	}
}
