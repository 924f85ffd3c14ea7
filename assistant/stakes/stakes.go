// Package stakes is the service's own high-stakes detector: it reads a
// statement in French, Dutch, German or English and says whether it touches
// child protection, violence and threats, self-harm, health, capacity,
// substance use, police or court, or a risk in general. It never relies on a
// model's label: the gate does not trust what it guards.
//
// The rules are data, in lexicon/*.txt (one file per language, all of them
// applied to every text, since notes mix languages); lexicon/README.md
// describes the pattern language. Negation is deliberately ignored: "no
// bruises seen" is as much a statement for the reviewer to check as
// "bruises seen", so a negation never lowers a category.
//
// What no rule matches is not thereby ordinary: a statement is read as
// ordinary only when every word of it is placed as ordinary case-note
// vocabulary (ordinary/*.txt), a number or a name; otherwise it is Unclear,
// a statement for the reviewer to look at more closely (ordinary.go).
package stakes

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Version is the detector's version, recorded with every draft; bump it
// when the engine changes. DetectorVersion adds a digest of the lexicons
// and of the ordinary vocabulary, so a change of rules or words is recorded
// even when nobody bumps it. stakes/3 places conjugated verbs by their
// infinitive and has a wider ordinary vocabulary, and its Unclear holds
// back an approval like a high-stakes category (review.NeedsDecision);
// stakes/2 read a statement that it cannot place as ordinary as Unclear;
// stakes/1 left it unflagged.
const Version = "stakes/3"

// Fine categories: what the detector reads, finer than the product's
// categories (see Product). Append only: they appear in the labelled set.
const (
	ChildProtection = "child_protection" // child abuse, neglect, child protection services
	Violence        = "violence"         // domestic violence, assault, threats, fear of a person
	SelfHarm        = "self_harm"        // self-harm, suicide, despair ("cannot cope any more")
	Health          = "health"           // health, illness, medication, stopping a treatment
	Capacity        = "capacity"         // mental capacity, cognition, guardianship
	Substance       = "substance"        // alcohol, drugs, addiction
	Justice         = "police_court"     // police, courts, prison, protection orders
	Danger          = "risk"             // risk or danger stated in general terms
)

// Fines lists the fine categories in order of priority.
var Fines = []string{ChildProtection, SelfHarm, Violence, Substance, Justice, Danger, Capacity, Health}

// Product categories, spelled as assistant's Category constants (this
// package cannot import assistant, which imports it).
const (
	ProductRisk         = "risk"
	ProductSafeguarding = "safeguarding"
	ProductCapacity     = "capacity"
	ProductHealth       = "health"
	// ProductUnclear is a statement the service can place neither as
	// high-stakes nor as ordinary (Unclear): it must be confirmed like a
	// high-stakes one, and it is the least strict category.
	ProductUnclear = "unclear"
)

// Product maps a fine category onto the product's category: child
// protection is safeguarding; violence, self-harm, substance use, police or
// court and general risks are risk; health and capacity keep their names.
func Product(fine string) string {
	switch fine {
	case ChildProtection:
		return ProductSafeguarding
	case Violence, SelfHarm, Substance, Justice, Danger:
		return ProductRisk
	case Capacity:
		return ProductCapacity
	case Health:
		return ProductHealth
	case Unclear:
		return ProductUnclear
	}
	return ""
}

// Stricter returns the stricter of two product categories: the one that
// calls for more review, a before b when they are equally strict.
func Stricter(a, b string) string {
	if review(b) > review(a) {
		return b
	}
	return a
}

// review is the level of review a product category calls for.
func review(category string) int {
	switch category {
	case ProductSafeguarding, ProductRisk:
		return 3
	case ProductCapacity, ProductHealth:
		return 2
	case ProductUnclear:
		return 1
	}
	return 0
}

// Hit is one rule that matched.
type Hit struct {
	Fine string `json:"fine"`
	Rule string `json:"rule"` // file:line of the rule
}

// Finding is what the detector read in a text.
type Finding struct {
	// Fines are the fine categories found, in the order of Fines, or
	// Unclear alone when no rule matched and a word could not be placed.
	Fines []string
	// Category is the product category of the strictest fine category, or
	// "" when nothing was found.
	Category string
	Hits     []Hit
	// Unplaced are the words that made the reading Unclear: the reason a
	// reviewer is shown.
	Unplaced []string
}

// Has reports whether f found the fine category.
func (f Finding) Has(fine string) bool { return slices.Contains(f.Fines, fine) }

//go:embed lexicon/*.txt ordinary/*.txt
var lexiconFS embed.FS

var (
	loadOnce sync.Once
	loaded   *Lexicon
	loadErr  error
)

// Default returns the embedded lexicon. It panics if the embedded files do
// not parse, which the package's tests rule out.
func Default() *Lexicon {
	loadOnce.Do(func() {
		loaded, loadErr = Load(lexiconFS, "lexicon")
		if loadErr != nil {
			return
		}
		var v *Vocabulary
		if v, loadErr = LoadVocabulary(lexiconFS, "ordinary"); loadErr != nil {
			return
		}
		loaded.Ordinary = v
		d := sha256.Sum256([]byte(loaded.Digest + v.Digest))
		loaded.Digest = hex.EncodeToString(d[:])
	})
	if loadErr != nil {
		panic(loadErr)
	}
	return loaded
}

// Detect reads text with the embedded lexicon.
func Detect(text string) Finding { return Default().Detect(text) }

// DetectorVersion returns Version with a digest of the embedded lexicons
// and vocabulary, e.g. "stakes/3+3f2a9c1d": what a draft records about how
// it was read.
func DetectorVersion() string { return Version + "+" + Default().Digest[:8] }

// Lexicon is a set of compiled rules.
type Lexicon struct {
	Rules []*Rule
	// Others are the rules for ordinary senses of words (see Rule.Other),
	// applied before Rules.
	Others []*Rule
	// Ordinary is the ordinary vocabulary; without it (Load alone) nothing
	// is read as Unclear.
	Ordinary *Vocabulary
	// Digest is the hex SHA-256 of the files the lexicon was read from
	// (with the vocabulary's digest in Default).
	Digest string
}

// Load reads every *.txt file of dir in fsys as rules.
func Load(fsys fs.FS, dir string) (*Lexicon, error) {
	names, err := fs.Glob(fsys, dir+"/*.txt")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	lx := &Lexicon{}
	h := sha256.New()
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(b))
		h.Write(b)
		rules, err := Parse(name, string(b))
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			if r.Other {
				lx.Others = append(lx.Others, r)
			} else {
				lx.Rules = append(lx.Rules, r)
			}
		}
	}
	lx.Digest = hex.EncodeToString(h.Sum(nil))
	return lx, nil
}

// Detect reads text: every rule is tried on the whole text; when none
// matches, the words are placed against the ordinary vocabulary.
func (lx *Lexicon) Detect(text string) Finding {
	toks, caps := tokenize(text)
	SetAside(lx.Others, toks)
	var f Finding
	found := map[string]bool{}
	m := lx.index().match(toks) // index.go
	for _, ri := range m.candidates() {
		if r := lx.Rules[ri]; m.rule(int(ri)) {
			for _, fine := range r.Fines {
				found[fine] = true
				f.Hits = append(f.Hits, Hit{Fine: fine, Rule: r.Source})
			}
		}
	}
	m.release()
	for _, fine := range Fines {
		if found[fine] {
			f.Fines = append(f.Fines, fine)
			f.Category = Stricter(f.Category, Product(fine))
		}
	}
	if f.Category == "" {
		if un := lx.unplaced(toks, caps); len(un) > 0 {
			f.Fines, f.Category, f.Unplaced = []string{Unclear}, ProductUnclear, un
			f.Hits = append(f.Hits, Hit{Fine: Unclear, Rule: "not ordinary: " + strings.Join(un, ", ")})
		}
	}
	return f
}
