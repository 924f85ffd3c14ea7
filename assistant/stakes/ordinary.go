package stakes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/countersign/countersign/assistant/names"
)

// Unclear is what the detector reads in a statement that no lexicon rule
// matched and that it cannot place as ordinary either: a word of it is
// not in the ordinary vocabulary (ordinary/*.txt), nor a number, nor a
// name. The burden is inverted: a statement is ordinary only when the
// service can show it is, since a miss costs more than a false alarm. It
// is not one of Fines (no lexicon rule names it, and the labelled sets
// never do); its product category is ProductUnclear.
const Unclear = "unclear"

// Vocabulary is the ordinary vocabulary of case notes in the four
// languages: function words and the words of appointments, forms,
// benefits, housing, school, work and family life, never a word that a
// lexicon rule reads as high-stakes on its own (TestVocabulary).
type Vocabulary struct {
	exact map[string]bool
	// stems are prefixes of four letters or more ("appoint*"), by their
	// first four letters.
	stems map[string][]string
	// Digest is the hex SHA-256 of the files the vocabulary was read from.
	Digest string
	// Entries are the entries as written, with where: for tests.
	Entries []Entry
}

// Entry is one word or stem of the vocabulary.
type Entry struct {
	Word   string // folded; a stem ends in *
	Source string // file:line
}

// titles are the words after which a capitalised word is a person's name:
// "Mme Girard", "meneer De Vries", "Herr Wagner".
var titles = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "miss": true, "dr": true, "m": true, "mme": true, "mlle": true,
	"monsieur": true, "madame": true, "mademoiselle": true, "meneer": true, "mevrouw": true, "mevr": true,
	"dhr": true, "juffrouw": true, "herr": true, "herrn": true, "frau": true,
}

// LoadVocabulary reads every *.txt file of dir in fsys: entries separated
// by spaces or line ends, folded (lower case, no accents), a stem ending
// in *, # to the end of a line a comment.
func LoadVocabulary(fsys fs.FS, dir string) (*Vocabulary, error) {
	paths, err := fs.Glob(fsys, dir+"/*.txt")
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	v := &Vocabulary{exact: map[string]bool{}, stems: map[string][]string{}}
	h := sha256.New()
	for _, p := range paths {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		for n, line := range strings.Split(string(b), "\n") {
			line, _, _ = strings.Cut(line, "#")
			for _, w := range strings.Fields(line) {
				src := fmt.Sprintf("%s:%d", p, n+1)
				stem := strings.HasSuffix(w, "*")
				s := strings.TrimSuffix(w, "*")
				if s == "" || strings.ContainsFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
					return nil, fmt.Errorf("%s: %q: write words folded, in lower case letters without accents", src, w)
				}
				if stem && len(s) < 4 {
					return nil, fmt.Errorf("%s: %q: a stem of %q is too short to be safe", src, w, s)
				}
				v.Entries = append(v.Entries, Entry{Word: w, Source: src})
				if stem {
					v.stems[s[:4]] = append(v.stems[s[:4]], s)
				} else {
					v.exact[s] = true
				}
			}
		}
	}
	v.Digest = hex.EncodeToString(h.Sum(nil))
	return v, nil
}

// endings are the inflections taken off a word not found as written:
// plurals, verb endings and adjective endings of the four languages.
var endings = []string{"ing", "ed", "es", "s", "d", "en", "e", "n", "er", "ern", "em", "es", "t", "te", "ten", "st", "x"}

// particles are the separable prefixes of Dutch and German verbs, which
// come before the ge- of a past participle: "ingevuld", "abgegeben".
var particles = []string{"ab", "an", "auf", "aus", "bei", "ein", "mit", "nach", "vor", "weg", "zu", "zuruck", "fest", "her", "hin", "um", "durch",
	"op", "af", "aan", "in", "uit", "mee", "na", "terug", "toe", "door", "bij", "over"}

// known reports whether a folded word is in the vocabulary as written,
// under a stem, once an inflection is taken off, or as the past participle
// or separable form of a Dutch or German verb that is ("getekend",
// "mitgemacht", "invullen").
func (v *Vocabulary) known(w string) bool {
	if v.inflected(w) {
		return true
	}
	if len(w) < 6 {
		return false
	}
	if strings.HasPrefix(w, "ge") && v.inflected(w[2:]) {
		return true
	}
	for _, p := range particles {
		rest, ok := strings.CutPrefix(w, p)
		if !ok || len(rest) < 4 {
			continue
		}
		if strings.HasPrefix(rest, "ge") && len(rest) >= 5 && v.inflected(rest[2:]) || v.inflected(rest) {
			return true
		}
	}
	return false
}

// inflected reports whether w is in the vocabulary as written, under a
// stem, or once an inflection is taken off.
func (v *Vocabulary) inflected(w string) bool {
	if v.exact[w] || v.stem(w) {
		return true
	}
	for _, e := range endings {
		if len(w) > len(e)+2 && strings.HasSuffix(w, e) {
			if b := w[:len(w)-len(e)]; v.exact[b] || v.stem(b) {
				return true
			}
		}
	}
	return v.conjugated(w)
}

// verbEndings are the endings of conjugated verbs and participles that
// stakes/3 takes off to find the infinitive the vocabulary lists: French
// tenses ("passera", "établi", "enverrait"), Dutch and German persons and
// past tenses ("stelde", "opgesteld" after its particle, "meldet").
var verbEndings = []string{
	"eraient", "erions", "eriez", "erait", "erais", "erons", "eront", "erez", "eras", "erai", "era",
	"aient", "ions", "iez", "ait", "ais", "ons", "ez", "ent", "ant", "ees", "ee", "ies", "ie", "is", "it", "i", "ues", "ue", "us", "u", "es", "e",
	"den", "ten", "de", "te", "det", "tet", "end", "d", "t", "st", "et",
}

// infinitives are what a verb's stem takes to be listed: French -er, -re,
// -ir, Dutch and German -en (with the doubled consonant of "stellen").
var infinitives = []string{"er", "re", "ir", "en", "n"}

// conjugated reports whether w is a conjugated form of a verb the
// vocabulary lists by its infinitive: an ending of verbEndings taken off,
// an infinitive ending put on (the stem's last consonant doubled or not).
// The stem keeps three letters at least, so short words are not stretched
// into others.
func (v *Vocabulary) conjugated(w string) bool {
	has := func(c string) bool { return v.exact[c] || v.stem(c) }
	for _, e := range verbEndings {
		b, ok := strings.CutSuffix(w, e)
		if !ok || len(b) < 3 {
			continue
		}
		for _, inf := range infinitives {
			if has(b+inf) || has(b+b[len(b)-1:]+inf) {
				return true
			}
		}
	}
	return false
}

func (v *Vocabulary) stem(w string) bool {
	if len(w) < 4 {
		return false
	}
	for _, s := range v.stems[w[:4]] {
		if strings.HasPrefix(w, s) {
			return true
		}
	}
	return false
}

// place reports whether a folded word is ordinary: in the vocabulary, or
// a compound of two words that are ("kinderzimmer", "huurtoeslag"), with
// a linking s, e or n between them.
func (v *Vocabulary) place(w string) bool {
	if v.known(w) {
		return true
	}
	if len(w) < 8 {
		return false
	}
	for i := 4; i <= len(w)-4; i++ {
		head, tail := w[:i], w[i:]
		if !v.known(tail) || len(tail) < 4 {
			continue
		}
		if v.known(head) {
			return true
		}
		for _, link := range []string{"s", "e", "en", "n", "er"} {
			if h := strings.TrimSuffix(head, link); h != head && len(h) >= 3 && v.known(h) {
				return true
			}
		}
	}
	return false
}

// germanWords are frequent German words that no other of the four
// languages writes; a text with two of them is read as German, where a
// capitalised word inside a sentence is a noun, not a proper name.
var germanWords = map[string]bool{
	"der": true, "das": true, "und": true, "ist": true, "nicht": true, "ein": true, "eine": true, "mit": true,
	"sie": true, "sich": true, "hat": true, "haben": true, "wird": true, "auch": true, "bei": true, "dem": true,
	"fur": true, "auf": true, "von": true, "ihr": true, "ihre": true, "sein": true, "seine": true, "wurde": true,
	"nach": true, "kein": true, "keine": true, "ich": true,
}

func isGerman(toks []string) bool {
	n := 0
	for _, t := range toks {
		if germanWords[t] {
			n++
		}
	}
	return n >= 2
}

// Unplaced returns the words of text that the vocabulary cannot place as
// ordinary, folded, each once, in the order of the text: what makes a
// statement Unclear. A word is placed when it is in the vocabulary (see
// place), is or holds a number, has two letters or fewer, or is a
// capitalised known name (or its genitive, "Noahs"), a capitalised word
// beside one ("Claire Dubois") or after a title ("Mme Girard", "M. Diallo"), or, in a
// text that is not German, a capitalised word inside a sentence (a place or
// a service: "Lyon", "the Rainbow Centre"). A word in capitals ("CAMHS")
// is not a name. Words the lexicon's other rules set aside count as placed.
func (lx *Lexicon) Unplaced(text string) []string {
	toks, caps := tokenize(text)
	SetAside(lx.Others, toks)
	return lx.unplaced(toks, caps)
}

func (lx *Lexicon) unplaced(toks []string, caps []int) []string {
	v := lx.Ordinary
	if v == nil {
		return nil
	}
	german := isGerman(toks)
	capital := func(i int) bool { return i >= 0 && i < len(toks) && caps[i]&^sentenceStart == capitalise }
	name := func(i int) bool {
		return capital(i) && (names.Known(toks[i]) || names.Known(strings.TrimSuffix(toks[i], "s")))
	}
	var out []string
	seen := map[string]bool{}
	for i, t := range toks {
		if t == boundary || t == setAside || len(t) <= 2 || seen[t] || titles[t] || strings.ContainsAny(t, "0123456789") {
			continue
		}
		if capital(i) {
			switch {
			case name(i), name(i + 1), name(i - 1): // Lena; Claire Dubois
				continue
			case i > 0 && titles[toks[i-1]], i > 1 && titles[toks[i-2]] && caps[i-1] != lower: // Mme Girard, meneer De Vries
				continue
			case i > 1 && toks[i-1] == boundary && titles[toks[i-2]]: // M. Diallo, Dr. Peeters: the title's period is no clause end
				continue
			case !german && caps[i]&sentenceStart == 0: // Lyon, the Rainbow Centre: a proper noun
				continue
			}
		}
		if v.place(t) {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	return out
}
