package stakes

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/countersign/countersign/internal/textfold"
)

// boundary is the token that stands for a clause boundary (, ; : . ! ? and
// brackets) and for the end of the text. A gap never crosses it, so that a
// separable verb and its particle are looked for in one clause.
const boundary = "$"

// maxGap is how many words "..." may skip.
const maxGap = 6

// Tokens folds text (lower case, accents removed, ß → ss) and splits it
// into words, with a boundary token at each clause boundary and at the
// end. English contractions are spelled out: "doesn't" gives "does not",
// "can't" gives "can not".
func Tokens(text string) []string {
	toks, _ := tokenize(text)
	return toks
}

// Letter case of a word, as tokenize reports it.
const (
	lower      = 0
	capitalise = 1 // a capital first letter: a name, a place, a German noun
	allCaps    = 2 // two letters or more, all capitals: an acronym
	// sentenceStart is added to the case of the first word of a sentence
	// (after . ! ? or a line end), where a capital says nothing.
	sentenceStart = 4
)

// tokenize is Tokens that also tells, for each token, how the word it
// comes from was written: lower, capitalise or allCaps.
func tokenize(text string) (toks []string, caps []int) {
	// The words are folded one after another into b, and each token is
	// the part of b's string that its word wrote (from w on): a Builder's
	// string never changes, so they need no copy of their own.
	text = norm.NFC.String(text)
	var b strings.Builder
	b.Grow(len(text))
	// About a word every five bytes, and a boundary every few words.
	toks, caps = make([]string, 0, len(text)/4+2), make([]int, 0, len(text)/4+2)
	w := 0
	capital, upper, letters, start := false, true, 0, true
	flush := func() {
		if b.Len() > w {
			toks = append(toks, b.String()[w:])
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
			w = b.Len()
		}
	}
	mark := func() {
		flush()
		if len(toks) > 0 && toks[len(toks)-1] != boundary {
			toks = append(toks, boundary)
			caps = append(caps, lower)
		}
	}
	// Invalid bytes decode as RuneError of width 1, as converting the text
	// to runes would.
	for i := 0; i < len(text); {
		if c := text[i]; 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
			// A lower-case ASCII letter or a digit, as the case below
			// reads it: textfold.Rune leaves it as it is.
			if b.Len() == w {
				capital, upper, letters = false, true, 0
			}
			if c >= 'a' {
				letters++
				upper = false
			}
			b.WriteByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case isApostrophe(r):
			// n't: "doesn't" → does not, "can't" → can not, "won't" → will not.
			next, nsize := utf8.DecodeRuneInString(text[i+size:])
			after, _ := utf8.DecodeRuneInString(text[i+size+nsize:])
			if word := b.String()[w:]; len(word) > 1 && strings.HasSuffix(word, "n") && i+size < len(text) && (next == 't' || next == 'T') &&
				(i+size+nsize >= len(text) || !unicode.IsLetter(after)) {
				w = b.Len()
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
				i += size + nsize
				continue
			}
			flush()
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if b.Len() == w {
				capital, upper, letters = unicode.IsUpper(r), true, 0
			}
			if unicode.IsLetter(r) {
				letters++
				upper = upper && unicode.IsUpper(r)
			}
			b.WriteString(textfold.Rune(r))
		case unicode.Is(unicode.Mn, r):
		case strings.ContainsRune(",;:.!?()[]{}\n", r):
			mark()
			start = start || strings.ContainsRune(".!?\n", r)
		default:
			flush()
		}
		i += size
	}
	mark()
	if len(toks) == 0 {
		toks, caps = []string{boundary}, []int{lower}
	}
	return toks, caps
}

func isApostrophe(r rune) bool {
	return r == '\'' || r == '’' || r == '‘' || r == '`' || r == '´' || r == 'ʼ'
}

// Rule is one line of a lexicon: its fine categories and its choices
// (separated by ";"), each a conjunction ("&") of word sequences that must
// all occur in a text for the choice to match.
type Rule struct {
	Fines []string
	// Other marks a rule for an ordinary sense of words that other rules
	// read as high-stakes ("other: basketball court"): the words it matches
	// are set aside before the high-stakes rules are tried. It has no
	// Fines, and never stands for a negation.
	Other  bool
	Source string // file:line
	Text   string // the pattern as written
	// Examples are texts the rule must match, from "=>" in the file.
	Examples []string
	any      [][][]elem
}

type elemKind int

const (
	word elemKind = iota
	gap
	end
)

type elem struct {
	kind     elemKind
	alts     []alt
	optional bool
}

type altKind int

const (
	exact altKind = iota
	prefix
	suffix
	infix
)

type alt struct {
	kind altKind
	s    string
}

func (a alt) match(t string) bool {
	switch a.kind {
	case prefix:
		return strings.HasPrefix(t, a.s)
	case suffix:
		return strings.HasSuffix(t, a.s)
	case infix:
		return strings.Contains(t, a.s)
	}
	return t == a.s
}

func (e elem) match(t string) bool {
	if t == boundary {
		return false
	}
	for _, a := range e.alts {
		if a.match(t) {
			return true
		}
	}
	return false
}

// Match reports whether one of the choices of r has all its sequences in toks.
func (r *Rule) Match(toks []string) bool {
	for _, all := range r.any {
		if matchAll(all, toks) {
			return true
		}
	}
	return false
}

func matchAll(all [][]elem, toks []string) bool {
	for _, seq := range all {
		found := false
		for i := range toks {
			if matchAt(seq, toks, i) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func matchAt(seq []elem, toks []string, i int) bool {
	if len(seq) == 0 {
		return true
	}
	e := seq[0]
	switch e.kind {
	case gap:
		for j := i; j <= i+maxGap && j <= len(toks); j++ {
			if matchAt(seq[1:], toks, j) {
				return true
			}
			if j < len(toks) && toks[j] == boundary {
				break
			}
		}
		return false
	case end:
		return i < len(toks) && toks[i] == boundary && matchAt(seq[1:], toks, i+1)
	}
	if i < len(toks) && e.match(toks[i]) && matchAt(seq[1:], toks, i+1) {
		return true
	}
	return e.optional && matchAt(seq[1:], toks, i)
}

// OtherSense is the category of a rule for an ordinary sense of words.
const OtherSense = "other"

// setAside is what a word set aside by an other rule becomes: no pattern
// matches it, and a gap may pass over it.
const setAside = "_"

// SetAside replaces the words that the other rules match in toks, in
// place. Clause boundaries are kept. The rules are applied in order, each
// choice from the first token on, a match resuming after its end; a
// choice is tried only where its first word matches a token, which the
// others' index (index.go) finds once for all of them: a word set aside
// matches no word, so setting aside never adds a place to try.
func SetAside(others []*Rule, toks []string) {
	if len(others) == 0 {
		return
	}
	ix := othersIndex(others)
	at := ix.startsOf(toks)
	for ri := range others {
		for _, ids := range ix.choice[ri] {
			id := ids[0] // an other rule has no &: one sequence a choice
			seq := ix.seqs[id]
			try := func(i int) int {
				j := matchEnd(seq, toks, i)
				if j <= i {
					return i + 1
				}
				for k := i; k < j; k++ {
					if toks[k] != boundary {
						toks[k] = setAside
					}
				}
				return j
			}
			if ix.isScan[id] {
				for i := 0; i < len(toks); {
					i = try(i)
				}
				continue
			}
			next := 0
			for _, p := range at.of(id) {
				if int(p.i) >= next {
					next = try(int(p.i))
				}
			}
		}
	}
	at.release()
}

// matchEnd is matchAt that returns where the match ends, or -1.
func matchEnd(seq []elem, toks []string, i int) int {
	if len(seq) == 0 {
		return i
	}
	e := seq[0]
	switch e.kind {
	case gap:
		for j := i; j <= i+maxGap && j <= len(toks); j++ {
			if k := matchEnd(seq[1:], toks, j); k >= 0 {
				return k
			}
			if j < len(toks) && toks[j] == boundary {
				break
			}
		}
		return -1
	case end:
		if i < len(toks) && toks[i] == boundary {
			return matchEnd(seq[1:], toks, i+1)
		}
		return -1
	}
	if i < len(toks) && e.match(toks[i]) {
		if k := matchEnd(seq[1:], toks, i+1); k >= 0 {
			return k
		}
	}
	if e.optional {
		return matchEnd(seq[1:], toks, i)
	}
	return -1
}

// Parse reads a lexicon file; name is used in errors and in Rule.Source.
// See lexicon/README.md for the format.
func Parse(name, text string) ([]*Rule, error) {
	macros := map[string][]alt{}
	used := map[string]bool{}
	var rules []*Rule
	for n, line := range strings.Split(text, "\n") {
		src := fmt.Sprintf("%s:%d", name, n+1)
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "@") {
			k, v, ok := strings.Cut(line, "=")
			k = strings.TrimSpace(k)
			if !ok || len(k) < 2 || strings.ContainsAny(k[1:], " |*@") {
				return nil, fmt.Errorf("%s: a macro is written @name = word|word*|…", src)
			}
			if _, dup := macros[k]; dup {
				return nil, fmt.Errorf("%s: macro %s is defined twice", src, k)
			}
			alts, err := parseAlts(strings.TrimSpace(v), macros, used)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", src, err)
			}
			macros[k] = alts
			used[k] = false
			continue
		}
		head, body, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s: a rule is written category: pattern", src)
		}
		r := &Rule{Source: src}
		for _, c := range strings.Split(head, ",") {
			c = strings.TrimSpace(c)
			if c == OtherSense && !strings.Contains(head, ",") {
				r.Other = true
				continue
			}
			if !slices.Contains(Fines, c) {
				return nil, fmt.Errorf("%s: unknown category %q; use one of %s", src, c, strings.Join(Fines, ", "))
			}
			r.Fines = append(r.Fines, c)
		}
		pattern, examples, _ := strings.Cut(body, "=>")
		for _, ex := range strings.Split(examples, "=>") {
			if ex = strings.TrimSpace(ex); ex != "" {
				r.Examples = append(r.Examples, ex)
			}
		}
		r.Text = strings.TrimSpace(pattern)
		if r.Other && strings.Contains(r.Text, "&") {
			return nil, fmt.Errorf("%s: an %s rule sets aside words next to each other; it cannot use &", src, OtherSense)
		}
		for _, choice := range strings.Split(r.Text, ";") {
			var all [][]elem
			for _, part := range strings.Split(choice, "&") {
				seq, err := parseSeq(strings.TrimSpace(part), macros, used)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", src, err)
				}
				all = append(all, seq)
			}
			r.any = append(r.any, all)
		}
		rules = append(rules, r)
	}
	for k, u := range used {
		if !u {
			return nil, fmt.Errorf("%s: macro %s is never used", name, k)
		}
	}
	return rules, nil
}

func parseSeq(s string, macros map[string][]alt, used map[string]bool) ([]elem, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("empty pattern")
	}
	var seq []elem
	for i, f := range fields {
		switch f {
		case "...":
			if i == 0 || i == len(fields)-1 || fields[i-1] == "..." {
				return nil, fmt.Errorf("%q: ... goes between two words", s)
			}
			seq = append(seq, elem{kind: gap})
			continue
		case boundary:
			if i == 0 {
				return nil, fmt.Errorf("%q: $ cannot open a pattern", s)
			}
			seq = append(seq, elem{kind: end})
			continue
		}
		e := elem{kind: word}
		if strings.HasSuffix(f, "?") {
			e.optional = true
			f = strings.TrimSuffix(f, "?")
		}
		alts, err := parseAlts(f, macros, used)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		e.alts = alts
		seq = append(seq, e)
	}
	if seq[0].optional || seq[len(seq)-1].optional {
		return nil, fmt.Errorf("%q: a pattern cannot open or close with an optional word", s)
	}
	return seq, nil
}

func parseAlts(s string, macros map[string][]alt, used map[string]bool) ([]alt, error) {
	var out []alt
	for _, a := range strings.Split(s, "|") {
		if strings.HasPrefix(a, "@") {
			m, ok := macros[a]
			if !ok {
				return nil, fmt.Errorf("macro %s is not defined above", a)
			}
			used[a] = true
			out = append(out, m...)
			continue
		}
		k := exact
		switch {
		case len(a) > 2 && strings.HasPrefix(a, "*") && strings.HasSuffix(a, "*"):
			k, a = infix, a[1:len(a)-1]
		case strings.HasPrefix(a, "*"):
			k, a = suffix, a[1:]
		case strings.HasSuffix(a, "*"):
			k, a = prefix, a[:len(a)-1]
		}
		if a == "" || strings.ContainsFunc(a, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
			return nil, fmt.Errorf("%q: write words folded, in lower case letters without accents", s)
		}
		if k == prefix && len(a) < 3 || (k == suffix || k == infix) && len(a) < 4 {
			return nil, fmt.Errorf("%q: a stem of %q is too short to be safe", s, a)
		}
		out = append(out, alt{kind: k, s: a})
	}
	return out, nil
}

// ReadsWord reports whether r matches a text made of w alone (folded):
// whether w is one of the rule's words on its own. The ordinary
// vocabulary's test uses it: no ordinary word may be one.
func (r *Rule) ReadsWord(w string) bool {
	for _, all := range r.any {
		ok := true
		for _, seq := range all {
			var one *elem
			for k, e := range seq {
				switch {
				case e.kind == end || e.optional:
				case e.kind == word && one == nil:
					one = &seq[k]
				default:
					ok = false
				}
			}
			if !ok || one == nil || !one.match(w) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
