package assistant

import (
	"slices"

	"github.com/countersign/countersign/assistant/stakes"
)

// Categorize returns the category the service itself reads in a text
// (CategoryRisk, CategorySafeguarding, CategoryCapacity, CategoryHealth),
// or "" for none. It is the high-stakes detector's reading (package
// stakes: lexicons in four languages, negation never lowering), never a
// model's label: the gate does not trust what it guards.
//
// A text the detector cannot place as ordinary either (CategoryUnclear)
// reads as "" here: Categorize answers "is this high-stakes?", which the
// drafters and the review rules ask. Read gives the full reading.
func Categorize(text string) string { return (*memo)(nil).categorize(text) }

// highStakes reports whether a category is one of the four high-stakes
// ones (CategoryUnclear is not).
func highStakes(category string) bool { return category != "" && category != CategoryUnclear }

// Read is the detector's full reading of a text: Categorize's category, or
// CategoryUnclear when no rule matched and a word of the text is not
// ordinary case-note vocabulary (package stakes, ordinary/*.txt). classify
// gives it to every statement and item, so the reviewer sees it.
func Read(text string) string { return stakes.Detect(text).Category }

// UnclearWords returns the words of texts that the detector could not place
// as ordinary (folded, each once), for a statement or item read as
// CategoryUnclear: what the reviewer is shown as the reason.
func UnclearWords(texts ...string) []string { return unplaced(stakes.Detect, texts...) }

// unplaced is UnclearWords with the detector's reading of each text from
// detect.
func unplaced(detect func(string) stakes.Finding, texts ...string) []string {
	var out []string
	for _, t := range texts {
		for _, w := range detect(t).Unplaced {
			if !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	return out
}

// DetectorVersion is the version of the high-stakes detector, with a digest
// of its lexicons; every draft records the one that read it.
func DetectorVersion() string { return stakes.DetectorVersion() }

// Stricter returns the stricter of two categories: the one that asks more
// of the reviewer (risk and safeguarding, then capacity and health, then
// none), a when they are equally strict.
func Stricter(a, b string) string { return stakes.Stricter(a, b) }

// Sentences splits text into trimmed sentences, each an exact substring of
// text; fragments shorter than a quotable passage are left out.
func Sentences(text string) []string { return sentences(text) }

// classify gives every statement and item of c the stricter of the model's
// category and the detector's reading of its text and of the passages it
// quotes (a model that softens a statement still quotes the note). An item
// of type risk counts as the model's CategoryRisk. It runs once, in
// Drafter.Draft, on every provider's answer; the category can only rise.
// Each distinct text is read once, with m (a statement often quotes its
// own words, and the offline drafter read its sentences already), and its
// reading gives both the category and, when unclear, the words it could
// not place: what the reviewer is shown as the reason (folded, each once).
func classify(c *Content, m *memo) {
	if m == nil {
		m = newMemo()
	}
	detect := m.detect
	read := func(text string, cits []Citation) string {
		cat := detect(text).Category
		for _, ct := range cits {
			cat = Stricter(cat, detect(ct.Quote).Category)
		}
		return cat
	}
	why := func(text string, cits []Citation) []string {
		texts := []string{text}
		for _, ct := range cits {
			texts = append(texts, ct.Quote)
		}
		return unplaced(detect, texts...)
	}
	for i := range c.Statements {
		s := &c.Statements[i]
		s.Category = Stricter(s.Category, read(s.Text, s.Citations))
		if s.Category == CategoryUnclear {
			s.UnclearWords = why(s.Text, s.Citations)
		}
	}
	for i := range c.Items {
		it := &c.Items[i]
		if it.Type == ItemRisk {
			it.Category = Stricter(it.Category, CategoryRisk)
		}
		it.Category = Stricter(it.Category, read(it.Text, it.Citations))
		if it.Category == CategoryUnclear {
			it.UnclearWords = why(it.Text, it.Citations)
		}
	}
}
