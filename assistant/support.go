package assistant

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Whether a statement is supported by its quotes is decided here, by the
// service, never by the model (DESIGN.md principle 6). A statement or item
// is grounded when
//
//  1. at least one of its citations is valid: the note is one of the draft's
//     notes, and the quote is a passage of it (ignoring case, accents, white
//     space and typographic quotes) of at least MinQuoteWords words, or the
//     whole note when the note is shorter;
//  2. every number in it appears in its valid quotes (a month written as a
//     word or as a number counts as the same), and so does every month
//     written next to a number;
//  3. every name in it appears in its quotes: a placeholder such as
//     [PERSON_1] when the model saw pseudonymised notes, and a word written
//     with a capital inside a sentence in English, French and Dutch (German
//     writes every noun so, and relies on the other checks);
//  4. it negates what its quotes negate: a statement with a negation ("not",
//     "ne … pas", "geen", "kein"…) needs a negation in its quotes, and a
//     statement that repeats a word its quotes negate ("no bruises seen") must
//     negate it too;
//  5. at least MinOverlap of its content words are found in its quotes.
//     Content words are its words once folded (lower case, no accents),
//     without the stopwords of the four languages, the words that report
//     speech ("said", "selon", "volgens", "laut"…), negations and numbers.
//     Two words match when one begins the other and the shorter has at least
//     four letters, or when they share their first five letters, a light
//     stemming that works alike for the four languages ("threatened" and
//     "threat", "kinderen" and "kind"). When the cited note is not in the
//     draft's language (a translated draft) the overlap cannot be measured
//     and is not required; the other checks still apply.
//
// Anything else leaves the entry ungrounded, with a code (Ungrounded…) and a
// sentence that says what was missing. An ungrounded statement cannot be
// signed as it stands: the reviewer confirms it with a comment or leaves it
// out (review.Finalize).

// MinQuoteWords is the fewest words a quote must have to ground anything,
// unless it is the whole note: "the client" is found in any note.
const MinQuoteWords = 5

// MinOverlap is the share of a statement's content words that must be found
// in its quotes.
const MinOverlap = 0.5

// Reasons a statement or item is ungrounded, as stored in UngroundedCode.
// Append only: codes are stored in draft content and translated by the web
// interface.
const (
	UngroundedNoCitation    = "no_citation"
	UngroundedUnknownNote   = "unknown_note"
	UngroundedQuoteNotFound = "quote_not_found"
	UngroundedQuoteTooShort = "quote_too_short"
	UngroundedNumber        = "number_missing"
	UngroundedName          = "name_missing"
	UngroundedNegation      = "negation_missing"
	UngroundedNegationLost  = "negation_dropped"
	UngroundedOverlap       = "low_overlap"
)

// UngroundedCodes lists every code, for catalogues and their tests.
var UngroundedCodes = []string{UngroundedNoCitation, UngroundedUnknownNote, UngroundedQuoteNotFound, UngroundedQuoteTooShort,
	UngroundedNumber, UngroundedName, UngroundedNegation, UngroundedNegationLost, UngroundedOverlap}

// negations are the words that negate, folded, in the four languages; "n"
// is French n' and "t" English n't, once split at the apostrophe.
var negations = map[string]bool{
	"not": true, "no": true, "never": true, "none": true, "nobody": true, "nothing": true, "neither": true, "nor": true,
	"without": true, "cannot": true, "nowhere": true, "t": true,
	"ne": true, "n": true, "pas": true, "jamais": true, "aucun": true, "aucune": true, "rien": true, "sans": true, "ni": true, "nulle": true,
	"niet": true, "geen": true, "nooit": true, "niets": true, "niemand": true, "nergens": true, "zonder": true, "noch": true,
	"nicht": true, "kein": true, "keine": true, "keinen": true, "keinem": true, "keiner": true, "keines": true, "nie": true,
	"niemals": true, "nichts": true, "ohne": true, "weder": true, "nirgends": true,
}

// supportStopwords are the words that carry no content of their own, folded,
// in the four languages, with the words a summary uses to report what the
// notes say. They are left out of the overlap and of the name check.
var supportStopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, list := range []string{
		// English
		`a an the and or but if then so as of to in on at by for from with into onto about over under after before
		during since until than that this these those there here it its he him his she her hers they them their theirs
		we us our you your i me my is are was were be been being am has have had having do does did done will would
		shall should can could may might must also too very just only still already yet again all any both each every
		some such what which who whom whose when where why how up down out off own same other another more most less
		much many few one s t d ll re ve mr mrs ms dr
		client clients said says say saying stated states reported reports told tells mentioned explained indicated
		according noted notes note worker wrote writes`,
		// French
		`le la les l un une des du de d et ou mais donc or ni car si que qu qui quoi dont ou a au aux en dans par pour
		sur sous avec chez vers entre depuis pendant avant apres ce cet cette ces c ca il elle ils elles on lui leur
		leurs eux se s son sa ses mon ma mes ton ta tes notre nos votre vos je j me m tu te t nous vous y est sont
		etait etaient ete etre a ai as avons avez ont avait avaient avoir fait faire sera seront serait aussi tres
		deja encore tout tous toute toutes meme autre autres plus moins bien m mme mlle
		client cliente clients dit dire disait declare declaree indique indiquee explique selon rapporte mentionne
		note notes`,
		// Dutch
		`de het een en of maar dus want als dan dat die dit deze daar hier er van in op aan bij met voor naar uit door
		over onder tot om na sinds tijdens te ik mij me jij je u hij hem zij ze haar hun hen wij we ons onze jullie
		zich zijn is was waren ben bent wordt werd worden geworden heeft hebben had hadden kan kunnen kon zal zullen
		zou moet moeten mag ook nog al wel zeer heel erg meer veel alle elk ieder
		client clienten zegt zei zeggen vertelde vertelt verklaarde meldt meldde gaf aan volgens noteert notitie`,
		// German
		`der die das den dem des ein eine einen einem einer eines und oder aber denn dass wenn als dann so in im an am
		auf aus bei mit nach von vom zu zum zur fur uber unter vor seit wahrend bis durch gegen um ich mich mir du dich
		dir er ihn ihm sie ihr ihre ihren ihrem ihrer es wir uns unser unsere euch sich sein seine seinen seinem seiner
		ist sind war waren bin bist wird werden wurde wurden hat haben hatte hatten kann konnen konnte soll sollte muss
		mussen darf auch noch schon sehr mehr viel alle jede jeder herr frau
		klient klientin sagt sagte sagten berichtet berichtete erklart erklarte laut gemass meldet notiz`,
	} {
		for _, w := range strings.Fields(list) {
			m[w] = true
		}
	}
	return m
}()

// token is one word of a text: its folded form, whether it was written
// with a capital, whether it opens a sentence, and whether it is a
// placeholder ([PERSON_1]) or a number.
type token struct {
	raw         string
	f           string
	capital     bool
	first       bool
	placeholder bool
	number      bool
}

// tokenize splits text into words. Placeholders are kept whole; apostrophes
// split words ("n'a" → "n", "a"), so French elision and English n't show.
func tokenize(text string) []token { return appendTokens(nil, text) }

// appendTokens appends the tokens of text to out.
func appendTokens(out []token, text string) []token {
	if out == nil {
		out = make([]token, 0, len(text)/5+1) // about a word every five bytes
	}
	eachWord(text, func(raw string, placeholder, first bool) {
		if placeholder {
			tag := strings.ToUpper(raw)
			out = append(out, token{raw: tag, f: tag, placeholder: true, first: first})
			return
		}
		r, _ := utf8.DecodeRuneInString(raw)
		t := token{raw: raw, f: foldString(raw), capital: unicode.IsUpper(r), first: first}
		t.number = unicode.IsDigit(r)
		if t.number {
			// 05 and 5 are the same number.
			if n, err := strconv.Atoi(t.f); err == nil {
				t.f = strconv.Itoa(n)
			}
		}
		out = append(out, t)
	})
	return out
}

// eachWord calls word with each word of text as tokenize splits it, and
// whether it is a placeholder and opens a sentence.
func eachWord(text string, word func(raw string, placeholder, first bool)) {
	first := true
	for i := 0; i < len(text); {
		r, w := utf8.DecodeRuneInString(text[i:])
		if r == '[' {
			// A placeholder is looked for in the next 24 characters.
			end := i
			for n := 0; n < 24 && end < len(text); n++ {
				_, rw := utf8.DecodeRuneInString(text[end:])
				end += rw
			}
			if loc := rePlaceholder.FindStringIndex(text[i:end]); loc != nil && loc[0] == 0 {
				word(text[i:i+loc[1]], true, first)
				first = false
				i += loc[1]
				continue
			}
		}
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			switch r {
			case '.', '!', '?', ':', ';', '\n', '•':
				first = true
			}
			i += w
			continue
		}
		j := i
		for j < len(text) {
			rj, wj := utf8.DecodeRuneInString(text[j:])
			if !unicode.IsLetter(rj) && !unicode.IsDigit(rj) && !unicode.Is(unicode.Mn, rj) {
				break
			}
			j += wj
		}
		word(text[i:j], false, first)
		first = false
		i = j
	}
}

// wordCount counts the words of a quote; a placeholder is one word.
func wordCount(s string) int {
	n := 0
	eachWord(s, func(string, bool, bool) { n++ })
	return n
}

// unsupported says why text is not supported by quotes, as a code and the
// word at fault, or "" when it is supported. Words of extra (a referral's
// service, from the directory) count as quoted, but negate nothing.
// lang is the draft's language; sameLanguage is false when the quotes are
// in another language than text, and the overlap is not measured.
func unsupported(text string, quotes []string, extra, lang string, sameLanguage bool) (code, term string) {
	if len(quotes) == 1 && quotes[0] == text {
		// A statement that is its one quote, word for word (the offline
		// drafter's): every check below compares the text's tokens with
		// the same tokens, and passes (TestTextQuotingItselfIsSupported).
		return "", ""
	}
	return unsupportedRead(text, quotes, extra, lang, sameLanguage)
}

// unsupportedRead is unsupported, reading every word.
func unsupportedRead(text string, quotes []string, extra, lang string, sameLanguage bool) (code, term string) {
	st := tokenize(text)
	n := len(extra)
	for _, q := range quotes {
		n += len(q)
	}
	qt := make([]token, 0, n/5+1)
	for _, q := range quotes {
		qt = appendTokens(qt, q)
	}
	negatable := len(qt)
	qt = appendTokens(qt, extra)
	numbers, words, places := map[string]bool{}, make(map[string]bool, len(qt)), map[string]bool{}
	for i, t := range qt {
		switch {
		case t.placeholder:
			places[t.f] = true
		case t.number:
			numbers[t.f] = true
		default:
			words[t.f] = true
			if m, ok := monthNames[t.f]; ok && nextToNumber(qt, i) {
				numbers[strconv.Itoa(int(m))] = true
			}
		}
	}

	// Placeholders, numbers and dates, then names: each must be quoted.
	for i, t := range st {
		switch {
		case t.placeholder:
			if !places[t.f] {
				return UngroundedName, t.raw
			}
		case t.number:
			if !numbers[t.f] {
				return UngroundedNumber, t.raw
			}
		default:
			if m, ok := monthNames[t.f]; ok && nextToNumber(st, i) && !words[t.f] && !numbers[strconv.Itoa(int(m))] {
				return UngroundedNumber, t.raw
			}
		}
	}
	// German writes every noun with a capital: there, names are left to
	// the placeholders and the overlap.
	if lang != "de" && DetectLanguage(text) != "de" {
		for _, t := range st {
			if t.capital && !t.first && !t.number && !t.placeholder && !supportStopwords[t.f] && !negations[t.f] && !matchesAny(t.f, words) {
				return UngroundedName, t.raw
			}
		}
	}

	// Negations: a negated statement needs a negated quote, and a word the
	// quotes negate cannot be repeated without the negation.
	sNeg := hasNegation(st)
	if sNeg && !hasNegation(qt[:negatable]) {
		return UngroundedNegation, firstNegation(st)
	}
	var content map[string]bool
	if !sNeg {
		content = contentWords(st)
		for _, w := range negatedWords(qt[:negatable]) {
			if matchesAny(w, content) {
				return UngroundedNegationLost, w
			}
		}
	}

	if !sameLanguage {
		return "", ""
	}
	if content == nil {
		content = contentWords(st)
	}
	if len(content) == 0 {
		return "", ""
	}
	quoted := contentWords(qt)
	found := 0
	for w := range content {
		if matchesAny(w, quoted) {
			found++
		}
	}
	if float64(found) < MinOverlap*float64(len(content)) {
		return UngroundedOverlap, strconv.Itoa(found) + "/" + strconv.Itoa(len(content))
	}
	return "", ""
}

func nextToNumber(ts []token, i int) bool {
	return (i > 0 && ts[i-1].number) || (i+1 < len(ts) && ts[i+1].number)
}

func hasNegation(ts []token) bool { return firstNegation(ts) != "" }

func firstNegation(ts []token) string {
	for i, t := range ts {
		if isNegation(ts, i) && t.f == "t" {
			return ts[i-1].raw + "'t"
		} else if isNegation(ts, i) {
			return t.raw
		}
	}
	return ""
}

// isNegation reports whether ts[i] negates: one of negations, except the
// lone "t" and "n", which negate only as English n't ("doesn't") and French
// n' before a verb ("n'a").
func isNegation(ts []token, i int) bool {
	t := ts[i]
	switch {
	case t.placeholder || t.number || !negations[t.f]:
		return false
	case t.f == "t":
		return i > 0 && strings.HasSuffix(ts[i-1].f, "n")
	}
	return true
}

// negatedWords returns the content words within three content words after
// each negation of ts: what the text says is not so.
func negatedWords(ts []token) []string {
	var out []string
	for i := range ts {
		if !isNegation(ts, i) {
			continue
		}
		n := 0
		for j := i + 1; j < len(ts) && n < 3; j++ {
			if isNegation(ts, j) || ts[j].placeholder || ts[j].number || supportStopwords[ts[j].f] {
				continue
			}
			out = append(out, ts[j].f)
			n++
		}
	}
	return out
}

// contentWords returns the folded content words of ts.
func contentWords(ts []token) map[string]bool {
	out := make(map[string]bool, len(ts))
	for i, t := range ts {
		if t.placeholder || t.number || supportStopwords[t.f] || isNegation(ts, i) || negations[t.f] || len(t.f) < 2 {
			continue
		}
		out[t.f] = true
	}
	return out
}

// matchesAny reports whether w matches one of words under the light
// stemming described above.
func matchesAny(w string, words map[string]bool) bool {
	if words[w] {
		return true
	}
	for v := range words {
		if sameStem(w, v) {
			return true
		}
	}
	return false
}

func sameStem(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(a) >= 4 && strings.HasPrefix(b, a) {
		return true
	}
	return len(a) >= 5 && a[:5] == b[:5]
}

// ungroundedReason is the sentence for a code and the word at fault.
func ungroundedReason(code, term string) string {
	switch code {
	case UngroundedNoCitation:
		return "It has no citation."
	case UngroundedUnknownNote:
		return "No citation could be checked: it cites a note that is not among the notes of this draft."
	case UngroundedQuoteNotFound:
		return "No citation could be checked: its quote was not found in the cited note."
	case UngroundedQuoteTooShort:
		return fmt.Sprintf("No citation could be checked: its quote is shorter than %d words and is not the whole note.", MinQuoteWords)
	case UngroundedNumber:
		return fmt.Sprintf("The number or date %q is not in its quotes.", term)
	case UngroundedName:
		return fmt.Sprintf("The name %q is not in its quotes.", term)
	case UngroundedNegation:
		return fmt.Sprintf("It says %q, but its quotes negate nothing.", term)
	case UngroundedNegationLost:
		return fmt.Sprintf("Its quotes say %q is not so, and it does not.", term)
	case UngroundedOverlap:
		return fmt.Sprintf("Too few of its words are in its quotes (%s; at least half are needed).", term)
	}
	return "It could not be traced to the notes."
}
