package stakes

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

// Gate targets: the share of high-stakes sentences the detector must flag
// (recall) and the share of flagged sentences that must be high-stakes
// (precision), overall and in each language. Missing one costs more than
// asking once too often, hence the asymmetry.
const (
	TargetRecall    = 0.95
	TargetPrecision = 0.70
)

// Codes are the short labels of the labelled set, one per fine category.
var Codes = map[string]string{
	"cp": ChildProtection, "vi": Violence, "sh": SelfHarm, "he": Health,
	"ca": Capacity, "su": Substance, "pc": Justice, "ri": Danger,
}

//go:embed testdata/gate.tsv
var labelledSet string

// LabelledSet returns the labelled set kept with the package
// (testdata/gate.tsv).
func LabelledSet() []Case {
	cs, err := ParseSet(strings.NewReader(labelledSet))
	if err != nil {
		panic(err)
	}
	return cs
}

// Case is one labelled sentence.
type Case struct {
	Line     int
	Language string
	// Fines are the fine categories a reviewer reads in the sentence; none
	// for an ordinary sentence.
	Fines []string
	Text  string
}

// ParseSet reads a labelled set: one sentence a line, as language, labels
// and sentence separated by tabs; labels are codes (see Codes) separated by
// commas, or "-" for none. Blank lines and lines starting with # are skipped.
func ParseSet(r io.Reader) ([]Case, error) {
	var out []Case
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 || strings.TrimSpace(parts[2]) == "" {
			return nil, fmt.Errorf("line %d: write language, labels and sentence separated by tabs", n)
		}
		c := Case{Line: n, Language: strings.TrimSpace(parts[0]), Text: strings.TrimSpace(parts[2])}
		if labels := strings.TrimSpace(parts[1]); labels != "-" {
			for _, code := range strings.Split(labels, ",") {
				fine, ok := Codes[strings.TrimSpace(code)]
				if !ok {
					return nil, fmt.Errorf("line %d: unknown label %q", n, code)
				}
				c.Fines = append(c.Fines, fine)
			}
		}
		out = append(out, c)
	}
	return out, sc.Err()
}

// Score counts a binary decision's outcomes.
type Score struct {
	TP, FP, FN, TN int
}

// Recall is TP / (TP + FN), or 1 with no positives.
func (s Score) Recall() float64 {
	if s.TP+s.FN == 0 {
		return 1
	}
	return float64(s.TP) / float64(s.TP+s.FN)
}

// Precision is TP / (TP + FP), or 1 with nothing flagged.
func (s Score) Precision() float64 {
	if s.TP+s.FP == 0 {
		return 1
	}
	return float64(s.TP) / float64(s.TP+s.FP)
}

func (s *Score) add(want, got bool) {
	switch {
	case want && got:
		s.TP++
	case want:
		s.FN++
	case got:
		s.FP++
	default:
		s.TN++
	}
}

// Miss is a sentence the detector read wrongly.
type Miss struct {
	Case
	Got      []string // the fine categories found
	Unplaced []string // the words not placed, when Got is unclear
}

// Report is the outcome of Evaluate.
type Report struct {
	Version string
	Cases   int
	// Gate is the decision that matters to the reviewer, exactly what holds
	// back an approval (review.NeedsDecision): is the sentence read as
	// high-stakes (any category) or as Unclear? Overall and per language.
	Gate       Score
	GateByLang map[string]*Score
	// GateByFine is the gate's recall on the sentences labelled with each
	// fine category, overall ("") and per language: of the sentences a
	// reviewer reads as, say, substance use, the share held back for a
	// decision (whatever category the detector gave them).
	GateByFine map[string]map[string]*Score
	// Product scores each product category (risk, safeguarding, capacity,
	// health): whether the sentence belongs to it and whether the detector
	// put it there. Fine does the same for the fine categories.
	Product map[string]*Score
	Fine    map[string]*Score
	// Unclear counts the sentences flagged only because a word could not
	// be placed as ordinary (from stakes/2; gated from stakes/3): TP are high-stakes sentences that
	// no rule read, FP ordinary sentences with a word the vocabulary lacks.
	Unclear Score
	// Missed are high-stakes sentences not flagged at all; Flagged are
	// ordinary sentences that were.
	Missed, Flagged []Miss
}

// Evaluate reads every case with lx and scores the outcome.
func Evaluate(lx *Lexicon, version string, cases []Case) *Report {
	rep := &Report{Version: version, Cases: len(cases), GateByLang: map[string]*Score{}, GateByFine: map[string]map[string]*Score{},
		Product: map[string]*Score{}, Fine: map[string]*Score{}}
	for _, c := range cases {
		f := lx.Detect(c.Text)
		want, got := len(c.Fines) > 0, len(f.Fines) > 0
		rep.Gate.add(want, got)
		if rep.GateByLang[c.Language] == nil {
			rep.GateByLang[c.Language] = &Score{}
		}
		rep.GateByLang[c.Language].add(want, got)
		for _, fine := range c.Fines {
			if rep.GateByFine[fine] == nil {
				rep.GateByFine[fine] = map[string]*Score{"": {}}
			}
			if rep.GateByFine[fine][c.Language] == nil {
				rep.GateByFine[fine][c.Language] = &Score{}
			}
			rep.GateByFine[fine][""].add(true, got)
			rep.GateByFine[fine][c.Language].add(true, got)
		}
		switch {
		case want && !got:
			rep.Missed = append(rep.Missed, Miss{c, f.Fines, nil})
		case got && !want:
			rep.Flagged = append(rep.Flagged, Miss{c, f.Fines, f.Unplaced})
		}
		if f.Category == ProductUnclear {
			rep.Unclear.add(want, true)
		}
		for _, fine := range Fines {
			if rep.Fine[fine] == nil {
				rep.Fine[fine] = &Score{}
			}
			rep.Fine[fine].add(slices.Contains(c.Fines, fine), f.Has(fine))
		}
		wantP, gotP := products(c.Fines), products(f.Fines)
		for _, p := range []string{ProductSafeguarding, ProductRisk, ProductCapacity, ProductHealth} {
			if rep.Product[p] == nil {
				rep.Product[p] = &Score{}
			}
			rep.Product[p].add(wantP[p], gotP[p])
		}
	}
	return rep
}

func products(fines []string) map[string]bool {
	m := map[string]bool{}
	for _, f := range fines {
		m[Product(f)] = true
	}
	return m
}

// Failures lists the targets the report misses, overall and per language;
// empty when the gate meets them all.
func (r *Report) Failures() []string {
	var out []string
	check := func(name string, s Score) {
		if s.Recall() < TargetRecall {
			out = append(out, fmt.Sprintf("%s: recall %.3f is below %.2f", name, s.Recall(), TargetRecall))
		}
		if s.Precision() < TargetPrecision {
			out = append(out, fmt.Sprintf("%s: precision %.3f is below %.2f", name, s.Precision(), TargetPrecision))
		}
	}
	check("overall", r.Gate)
	for _, lang := range sortedKeys(r.GateByLang) {
		check(lang, *r.GateByLang[lang])
	}
	for _, fine := range Fines {
		if s := r.GateByFine[fine][""]; s != nil && s.Recall() < TargetRecall {
			out = append(out, fmt.Sprintf("%s: recall %.3f is below %.2f", fine, s.Recall(), TargetRecall))
		}
	}
	return out
}

// Write prints the report as tables.
func (r *Report) Write(w io.Writer, verbose bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "detector %s, %d labelled sentences\n\n", r.Version, r.Cases)
	row := func(name string, s Score) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.3f\t%.3f\t\n", name, s.TP+s.FN, s.TP, s.FP, s.FN, s.Recall(), s.Precision())
	}
	fmt.Fprintf(tw, "gated (high-stakes or unclear)\tpositives\tTP\tFP\tFN\trecall\tprecision\t\n")
	row("overall", r.Gate)
	for _, lang := range sortedKeys(r.GateByLang) {
		row(lang, *r.GateByLang[lang])
	}
	fmt.Fprintf(tw, "\t\t\t\t\t\t\t\n")
	langs := sortedKeys(r.GateByLang)
	fmt.Fprintf(tw, "gate recall by category\tall\t%s\t\n", strings.Join(langs, "\t"))
	for _, fine := range Fines {
		by := r.GateByFine[fine]
		if by == nil {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s", fine, cell(by[""]))
		for _, lang := range langs {
			fmt.Fprintf(tw, "\t%s", cell(by[lang]))
		}
		fmt.Fprintf(tw, "\t\n")
	}
	fmt.Fprintf(tw, "\t\t\t\t\t\t\t\n")
	fmt.Fprintf(tw, "product category\tpositives\tTP\tFP\tFN\trecall\tprecision\t\n")
	for _, p := range []string{ProductSafeguarding, ProductRisk, ProductCapacity, ProductHealth} {
		row(p, *r.Product[p])
	}
	fmt.Fprintf(tw, "\t\t\t\t\t\t\t\n")
	fmt.Fprintf(tw, "fine category\tpositives\tTP\tFP\tFN\trecall\tprecision\t\n")
	for _, f := range Fines {
		row(f, *r.Fine[f])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ngated: what must be confirmed or left out before approval (review.NeedsDecision), a category or unclear;\n")
	fmt.Fprintf(w, "gated only as unclear (no rule matched, a word not ordinary): %d high-stakes, %d ordinary\n", r.Unclear.TP, r.Unclear.FP)
	fmt.Fprintf(w, "targets: recall >= %.2f, precision >= %.2f, overall and per language; recall >= %.2f per category\n", TargetRecall, TargetPrecision, TargetRecall)
	if verbose {
		for _, m := range r.Missed {
			fmt.Fprintf(w, "missed  line %d %s %v: %s\n", m.Line, m.Language, m.Fines, m.Text)
		}
		for _, m := range r.Flagged {
			if len(m.Unplaced) > 0 {
				fmt.Fprintf(w, "flagged line %d %s %v %v: %s\n", m.Line, m.Language, m.Got, m.Unplaced, m.Text)
				continue
			}
			fmt.Fprintf(w, "flagged line %d %s %v: %s\n", m.Line, m.Language, m.Got, m.Text)
		}
	}
	return nil
}

// cell is a recall as caught/positives, or "-" without positives.
func cell(s *Score) string {
	if s == nil || s.TP+s.FN == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f (%d/%d)", s.Recall(), s.TP, s.TP+s.FN)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
