package review

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/countersign/countersign/assistant"
)

// Vigilance checks, modelled on threat-image projection in airport
// screening: now and then the service adds to a generated draft one
// statement known to be false. Which statement it is lives only in the
// database, never in the content the reviewer's client receives. A reviewer
// who removes it, or rejects the draft, has caught it; one who approves it
// has missed it, and the server strips it from the record regardless.
//
// A check is only worth something if it cannot be told from the statements
// around it without reading the notes. So it is made from the case's own
// notes: a sentence of a note that no statement cites yet, with one fact
// changed (a number or a date moved, a month or a name swapped for another
// of the same notes, a negation added or taken away); it cites that
// sentence, as a statement citing its source would, and the reviewer who
// reads the quote sees the difference. It takes a random id like every
// statement (assistant.NewStatementID), the category the service's own
// detector reads in it and its quote, and its place in the order of the notes. Only when
// no sentence of the notes can be changed (or the draft is written in
// another language than its notes) is it made from a statement's text
// instead, placed right after that statement.

// Vigilance outcomes, as recorded in the audit log.
const (
	VigilanceCaught = "caught"
	VigilanceMissed = "missed"
)

// VigilanceCheck is the known-false statement added to one draft.
type VigilanceCheck struct {
	DraftID     string
	StatementID string
	Text        string
}

// VigilanceResult tells the reviewer the outcome of a check once the draft
// is decided.
type VigilanceResult struct {
	Missed  bool   `json:"missed"`
	Message string `json:"message"`
}

// NewVigilanceResult returns the message for an outcome.
func NewVigilanceResult(missed bool, statement string) *VigilanceResult {
	if missed {
		return &VigilanceResult{Missed: true, Message: fmt.Sprintf("This draft held a vigilance check: the statement %q was known to be false "+
			"and you approved it. It has been left out of the record. Please read each statement against the notes.", statement)}
	}
	return &VigilanceResult{Message: fmt.Sprintf("Well spotted: the statement %q was a vigilance check, known to be false.", statement)}
}

// source is a passage a check can be made from: a sentence of a note, or a
// statement's text.
type source struct {
	text      string
	note      int // index of the note in the draft's notes; -1 for a statement
	at        int // byte offset of the sentence in its note
	statement int // index of the statement it is made from, or -1
}

// InsertVigilance adds to c a known-false statement made from notes, the
// draft's source notes, and returns its check; rnd returns uniform numbers
// in [0, 1) and chooses the sentence and the change. Returns nil when
// nothing in the notes or the statements can be changed into a plausible
// false statement, or when c has no statement to stand beside.
func InsertVigilance(c *assistant.Content, notes []assistant.Note, rnd func() float64) *VigilanceCheck {
	if c == nil || len(c.Statements) == 0 {
		return nil
	}
	names := caseNames(notes)
	var fresh, cited []source
	for i, n := range notes {
		if c.Language != "" && assistant.DetectLanguage(n.Body) != c.Language {
			continue // a sentence in another language would stand out
		}
		from := 0
		for _, s := range assistant.Sentences(n.Body) {
			at := strings.Index(n.Body[from:], s) + from
			from = at + len(s)
			src := source{text: s, note: i, at: at, statement: -1}
			if citedBy(c, n, at, at+len(s)) {
				cited = append(cited, src)
			} else {
				fresh = append(fresh, src)
			}
		}
	}
	var fromStatements []source
	for i, s := range c.Statements {
		fromStatements = append(fromStatements, source{text: s.Text, note: -1, statement: i})
	}
	// Sentences no statement cites first: a changed copy of a cited one
	// would sit beside the statement it contradicts.
	for _, pool := range [][]source{fresh, cited, fromStatements} {
		start := int(rnd() * float64(len(pool)))
		for k := range pool {
			src := pool[(start+k)%len(pool)]
			text, ok := falsify(src.text, c.Language, names, rnd)
			if !ok || slices.ContainsFunc(c.Statements, func(s assistant.Statement) bool { return s.Text == text }) {
				continue
			}
			return plant(c, notes, src, text)
		}
	}
	return nil
}

// plant inserts the false text made from src into c, in the order of the
// notes, and returns its check.
func plant(c *assistant.Content, notes []assistant.Note, src source, text string) *VigilanceCheck {
	s := assistant.Statement{ID: assistant.NewStatementID(c), Text: text}
	at := len(c.Statements)
	if src.statement >= 0 {
		s.Citations = slices.Clone(c.Statements[src.statement].Citations)
		s.Category = c.Statements[src.statement].Category
		at = src.statement + 1
	} else {
		n := notes[src.note]
		s.Citations = []assistant.Citation{{NoteID: n.ID, Quote: assistant.QuoteAround(n.Body, src.text)}}
		// As the drafter reads a statement: the stricter of what its text
		// and its quote say.
		s.Category = assistant.Stricter(assistant.Read(text), assistant.Read(s.Citations[0].Quote))
		// After the last statement that cites an earlier note, or an
		// earlier passage of the same note.
		at = 0
		for i, st := range c.Statements {
			if p, off := position(st, notes); p < src.note || (p == src.note && off <= src.at) {
				at = i + 1
			}
		}
	}
	s.Category = assistant.Stricter(s.Category, assistant.Read(text))
	if s.Category == assistant.CategoryUnclear { // as classify marks the others
		texts := []string{text}
		for _, ct := range s.Citations {
			texts = append(texts, ct.Quote)
		}
		s.UnclearWords = assistant.UnclearWords(texts...)
	}
	c.Statements = slices.Insert(c.Statements, at, s)
	return &VigilanceCheck{StatementID: s.ID, Text: text}
}

// position returns the index of the first note a statement cites and the
// offset of its quote there (-1, -1 when it cites none of notes).
func position(s assistant.Statement, notes []assistant.Note) (int, int) {
	for _, cit := range s.Citations {
		for i, n := range notes {
			if n.ID == cit.NoteID {
				return i, max(strings.Index(n.Body, cit.Quote), 0)
			}
		}
	}
	return -1, -1
}

// citedBy reports whether a statement of c quotes a passage of note n that
// overlaps n.Body[a:b].
func citedBy(c *assistant.Content, n assistant.Note, a, b int) bool {
	for _, s := range c.Statements {
		for _, cit := range s.Citations {
			if cit.NoteID != n.ID || cit.Quote == "" {
				continue
			}
			if i := strings.Index(n.Body, cit.Quote); i >= 0 && i < b && i+len(cit.Quote) > a {
				return true
			}
		}
	}
	return false
}

var (
	reNumber = regexp.MustCompile(`\b\d+\b`)
	reWord   = regexp.MustCompile(`[\p{L}][\p{L}'’-]*`)
)

// months are the month names the checks swap, per language.
var months = map[string][]string{
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	"nl": {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
	"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
}

// negate lists, per language, a negation to add (a verb and its negated
// form) and one to take away; the first that fits the sentence is used.
var negate = map[string][][2]string{
	"en": {{" is not ", " is "}, {" was not ", " was "}, {" does not ", " does "}, {" cannot ", " can "}, {" no longer ", " "},
		{" is ", " is not "}, {" was ", " was not "}, {" can ", " cannot "}, {" will ", " will not "}, {" has been ", " has not been "}, {" agreed ", " did not agree "}},
	"fr": {{" ne veut plus ", " veut "}, {" n'est pas ", " est "}, {" n'a pas ", " a "}, {" il y a ", " il n'y a pas "}, {" est ", " n'est pas "},
		{" a ", " n'a pas "}, {" veut ", " ne veut pas "}, {" doit ", " ne doit pas "}},
	"nl": {{" niet ", " "}, {" geen ", " een "}, {" is ", " is niet "}, {" was ", " was niet "}, {" heeft ", " heeft niet "}, {" moet ", " moet niet "}, {" kan ", " kan niet "}},
	"de": {{" nicht ", " "}, {" kein ", " ein "}, {" keine ", " eine "}, {" ist ", " ist nicht "}, {" war ", " war nicht "}, {" hat ", " hat nicht "}, {" muss ", " muss nicht "}, {" kann ", " kann nicht "}},
}

// falsify changes one fact of sentence s and reports whether it could:
// a number, then a month, then a name of the case, then a negation; which of
// those that fit is chosen with rnd.
func falsify(s, lang string, names []string, rnd func() float64) (string, bool) {
	if _, ok := negate[lang]; !ok {
		lang = assistant.DetectLanguage(s)
	}
	changes := []func() (string, bool){
		func() (string, bool) { return changeNumber(s, rnd) },
		func() (string, bool) { return changeMonth(s, lang, rnd) },
		func() (string, bool) { return changeName(s, names, rnd) },
		func() (string, bool) { return changeNegation(s, lang) },
	}
	start := int(rnd() * float64(len(changes)))
	for k := range changes {
		if out, ok := changes[(start+k)%len(changes)](); ok && out != s {
			return out, true
		}
	}
	return "", false
}

// changeNumber moves one number: a day stays a day (1 to 28), a year
// moves by one, any other number by one to three.
func changeNumber(s string, rnd func() float64) (string, bool) {
	locs := reNumber.FindAllStringIndex(s, -1)
	if len(locs) == 0 {
		return "", false
	}
	loc := locs[int(rnd()*float64(len(locs)))]
	old, err := strconv.Atoi(s[loc[0]:loc[1]])
	if err != nil {
		return "", false
	}
	step := 1 + int(rnd()*3)
	n := old + step
	switch {
	case old >= 1900 && old <= 2100:
		n = old + 1
	case old >= 1 && old <= 31 && n > 28:
		n = old - step
	}
	repl := strconv.Itoa(n)
	if width := loc[1] - loc[0]; len(repl) < width {
		repl = strings.Repeat("0", width-len(repl)) + repl // 05 stays two digits
	}
	return s[:loc[0]] + repl + s[loc[1]:], true
}

// changeMonth swaps a month written next to a number ("14 December",
// "March 3") for another.
func changeMonth(s, lang string, rnd func() float64) (string, bool) {
	names := months[lang]
	for i, m := range names {
		for _, form := range []string{m, strings.ToUpper(m[:1]) + m[1:]} {
			at := indexWord(s, form)
			if at < 0 || !nearNumber(s, at, at+len(form)) {
				continue
			}
			other := names[(i+1+int(rnd()*10))%len(names)]
			if form != m {
				other = strings.ToUpper(other[:1]) + other[1:]
			}
			return s[:at] + other + s[at+len(form):], true
		}
	}
	return "", false
}

// nearNumber reports whether a digit is within four bytes of s[a:b].
func nearNumber(s string, a, b int) bool {
	return strings.ContainsAny(s[max(0, a-4):a], "0123456789") || strings.ContainsAny(s[b:min(len(s), b+4)], "0123456789")
}

// changeName replaces a name of the case in s by another name of the case.
func changeName(s string, names []string, rnd func() float64) (string, bool) {
	var here []string
	for _, n := range names {
		if indexWord(s, n) >= 0 {
			here = append(here, n)
		}
	}
	if len(here) == 0 || len(names) < 2 {
		return "", false
	}
	old := here[int(rnd()*float64(len(here)))]
	var others []string
	for _, n := range names {
		if n != old && indexWord(s, n) < 0 {
			others = append(others, n)
		}
	}
	if len(others) == 0 {
		return "", false
	}
	at := indexWord(s, old)
	return s[:at] + others[int(rnd()*float64(len(others)))] + s[at+len(old):], true
}

func changeNegation(s, lang string) (string, bool) {
	padded := " " + s + " "
	for _, pair := range negate[lang] {
		if i := strings.Index(padded, pair[0]); i >= 0 {
			out := padded[:i] + pair[1] + padded[i+len(pair[0]):]
			return strings.TrimSpace(out), true
		}
	}
	return "", false
}

// caseNames returns the words the notes write with a capital inside a
// sentence (and not in every language's capitalised nouns, German): the
// names of people and places of the case, each once, in order.
func caseNames(notes []assistant.Note) []string {
	var out []string
	for _, n := range notes {
		if assistant.DetectLanguage(n.Body) == "de" {
			continue
		}
		for _, s := range assistant.Sentences(n.Body) {
			words := reWord.FindAllString(s, -1)
			for i, w := range words {
				r := []rune(w)
				if i == 0 || len(r) < 3 || !unicode.IsUpper(r[0]) || strings.ToUpper(w) == w || slices.Contains(out, w) || isTitle(w) {
					continue
				}
				out = append(out, w)
			}
		}
	}
	return out
}

// isTitle reports whether w is a title, a month or a day rather than a name.
func isTitle(w string) bool {
	l := strings.ToLower(strings.TrimSuffix(w, "."))
	switch l {
	case "mme", "mlle", "monsieur", "madame", "meneer", "mevrouw", "herr", "frau", "mrs", "miss", "the":
		return true
	}
	for _, ms := range months {
		for _, m := range ms {
			if strings.ToLower(m) == l {
				return true
			}
		}
	}
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "maandag", "dinsdag",
		"woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"} {
		if strings.HasPrefix(l, d) {
			return true
		}
	}
	return false
}

// indexWord finds w in s as a whole word; -1 if it is not there.
func indexWord(s, w string) int {
	for from := 0; ; {
		i := strings.Index(s[from:], w)
		if i < 0 {
			return -1
		}
		a, b := from+i, from+i+len(w)
		if !letterAt(s, a-1) && !letterAt(s, b) {
			return a
		}
		from = a + 1
	}
}

func letterAt(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	c := s[i]
	return c >= 0x80 || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c))
}
