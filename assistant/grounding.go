package assistant

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// minQuote is the shortest fragment (in bytes) the sentence splitter keeps
// as a sentence; what grounds a statement is decided by MinQuoteWords.
const minQuote = 4

// Ground checks every citation of c against notes, and whether each
// statement and item is supported by its quotes (see MinQuoteWords and
// MinOverlap), and returns how many statements and items are left
// ungrounded.
//
// A citation is valid when its note is one of notes and its quote is a
// passage of that note of at least MinQuoteWords words (or the whole note),
// found ignoring differences of case, accents, white space and typographic
// quotes. A valid quote is replaced by the note's own wording, so the
// reviewer reads exactly what the note says; a quote that cannot be found is
// kept and marked Unverified. A statement or item without any valid
// citation, or that says what its quotes do not, is kept but flagged
// Ungrounded, with a code and a readable reason.
func Ground(c *Content, notes []Note) int {
	sources := make(map[string]maskedText, len(notes))
	for _, n := range notes {
		sources[n.ID] = maskedText{Original: n.Body, Masked: n.Body}
	}
	return ground(c, sources, nil, nil)
}

// ground does the work of Ground over notes as the model saw them (masked):
// quotes and statements are compared as the model wrote them, valid quotes
// are mapped back to the original wording, and the placeholders of
// unverified quotes and of reasons are restored with restore (nil: leave
// them). A referral may also name its service as the directory does.
func ground(c *Content, sources map[string]maskedText, restore func(string) string, directory []Service) int {
	if restore == nil {
		restore = func(s string) string { return s }
	}
	folds := make(map[string]folded, len(sources))
	langs := make(map[string]string, len(sources))
	check := func(text string, cits []Citation, extra string) (code, term string) {
		var failures []string
		var passages []string
		sameLanguage := false
		for i := range cits {
			cit := &cits[i]
			src, known := sources[cit.NoteID]
			if !known {
				cit.Unverified = true
				failures = append(failures, UngroundedUnknownNote)
				cit.Quote = restore(cit.Quote)
				continue
			}
			f, done := folds[cit.NoteID]
			if !done {
				f = fold(src.Masked)
				folds[cit.NoteID] = f
				langs[cit.NoteID] = DetectLanguage(src.Masked)
			}
			quote, passage, found := findQuote(f, src, cit.Quote)
			if !found {
				cit.Unverified = true
				failures = append(failures, UngroundedQuoteNotFound)
				cit.Quote = restore(cit.Quote)
				continue
			}
			cit.Quote, cit.Unverified = quote, false
			if wordCount(passage) < MinQuoteWords && !wholeNote(f, passage) {
				failures = append(failures, UngroundedQuoteTooShort)
				continue
			}
			passages = append(passages, passage)
			if c.Language == "" || langs[cit.NoteID] == c.Language {
				sameLanguage = true
			}
		}
		if len(passages) == 0 {
			for _, code := range []string{UngroundedQuoteTooShort, UngroundedQuoteNotFound, UngroundedUnknownNote} {
				if slices.Contains(failures, code) {
					return code, ""
				}
			}
			return UngroundedNoCitation, ""
		}
		return unsupported(text, passages, extra, c.Language, sameLanguage)
	}

	n := 0
	for i := range c.Statements {
		s := &c.Statements[i]
		code, term := check(s.Text, s.Citations, "")
		s.Ungrounded, s.UngroundedCode, s.UngroundedTerm, s.UngroundedReason = code != "", code, restore(term), ""
		if s.Ungrounded {
			s.UngroundedReason = ungroundedReason(code, s.UngroundedTerm)
			n++
		}
	}
	for i := range c.Items {
		it := &c.Items[i]
		extra := ""
		if i := slices.IndexFunc(directory, func(svc Service) bool { return svc.ID == it.ServiceID }); it.ServiceID != "" && i >= 0 {
			extra = directory[i].Name + " " + directory[i].Description
		}
		code, term := check(it.Text, it.Citations, extra)
		it.Ungrounded, it.UngroundedCode, it.UngroundedTerm, it.UngroundedReason = code != "", code, restore(term), ""
		if it.Ungrounded {
			it.UngroundedReason = ungroundedReason(code, it.UngroundedTerm)
			n++
		}
	}
	return n
}

// wholeNote reports whether the masked passage is the whole folded note,
// quotation marks and a final full stop aside.
func wholeNote(f folded, passage string) bool {
	const cut = `"' .`
	return strings.Trim(foldString(passage), cut) == strings.Trim(f.s, cut)
}

// findQuote looks for quote in the folded masked note and returns the
// matching passage of the original note and of the masked note.
func findQuote(f folded, src maskedText, quote string) (original, masked string, found bool) {
	q := strings.TrimSpace(foldString(quote))
	// Models often wrap a quote in quotation marks or end it with the
	// sentence's full stop when the note had none; neither changes what it cites.
	q = strings.Trim(q, `"' `)
	if q == "" {
		return "", "", false
	}
	at := indexWord(f.s, q)
	if at < 0 {
		q = strings.TrimRight(q, ".")
		if q == "" {
			return "", "", false
		}
		if at = indexWord(f.s, q); at < 0 {
			return "", "", false
		}
	}
	ma, mb := f.span(at, at+len(q))
	return src.originalRange(ma, mb), src.Masked[ma:mb], true
}

// QuoteAround returns s, a passage of body, widened with the words around
// it until it can ground a statement (MinQuoteWords), as the offline
// drafter quotes; see quoteAround.
func QuoteAround(body, s string) string { return quoteAround(body, s) }

// quoteAround returns s, a passage of body, widened word by word with the
// text after it (or, at the end of body, before it) until it has
// MinQuoteWords words or is the whole body: the offline drafter's quotes
// must ground what it says as anyone's must.
func quoteAround(body, s string) string {
	at := strings.Index(body, s)
	if at < 0 {
		return s
	}
	a, b := at, at+len(s)
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	for wordCount(body[a:b]) < MinQuoteWords && (a > 0 || b < len(body)) {
		if b < len(body) {
			rest := body[b:]
			i := strings.IndexFunc(rest, isWord)
			if i < 0 {
				b = len(body)
				continue
			}
			j := strings.IndexFunc(rest[i:], func(r rune) bool { return !isWord(r) })
			if j < 0 {
				b = len(body)
			} else {
				b += i + j
			}
			continue
		}
		head := body[:a]
		i := strings.LastIndexFunc(head, isWord)
		if i < 0 {
			a = 0
			continue
		}
		j := strings.LastIndexFunc(head[:i], func(r rune) bool { return !isWord(r) })
		if j < 0 {
			a = 0
		} else {
			_, w := utf8.DecodeRuneInString(head[j:])
			a = j + w
		}
	}
	return strings.TrimSpace(body[a:b])
}

// indexWord returns the first offset of q in s that does not cut a word in
// two ("ear" is not quoted from "fears"), or -1.
func indexWord(s, q string) int {
	for from := 0; from <= len(s)-len(q); {
		i := strings.Index(s[from:], q)
		if i < 0 {
			return -1
		}
		if at := from + i; atWordBoundaries(s, at, at+len(q)) {
			return at
		}
		from += i + 1
	}
	return -1
}

// GroundingSummary describes in one sentence how many entries of c are
// ungrounded, for logs and reviewers.
func GroundingSummary(c *Content) string {
	n, total := 0, len(c.Statements)+len(c.Items)
	for _, s := range c.Statements {
		if s.Ungrounded {
			n++
		}
	}
	for _, it := range c.Items {
		if it.Ungrounded {
			n++
		}
	}
	return fmt.Sprintf("%d of %d entries could not be traced to the notes", n, total)
}
