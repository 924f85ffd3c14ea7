package assistant

import (
	"fmt"
	"strings"
)

// minQuote is the shortest quote (folded, in bytes) that can ground a
// statement: "a" or "il" is found in any note and proves nothing.
const minQuote = 4

// Ground checks every citation of c against notes and returns how many
// statements and items are left ungrounded.
//
// A citation is valid when its note is one of notes and its quote is found
// in that note, ignoring differences of case, accents, white space and
// typographic quotes. A valid quote is replaced by the note's own wording, so
// the reviewer reads exactly what the note says; an invalid citation is kept
// and marked Unverified. A statement or item without any valid citation is
// kept but flagged Ungrounded, with a readable reason.
func Ground(c *Content, notes []Note) int {
	sources := make(map[string]maskedText, len(notes))
	for _, n := range notes {
		sources[n.ID] = maskedText{Original: n.Body, Masked: n.Body}
	}
	return ground(c, sources, nil)
}

// ground does the work of Ground over notes as the model saw them (masked),
// mapping valid quotes back to the original wording and restoring the
// placeholders of unverified quotes with restore (nil: leave them).
func ground(c *Content, sources map[string]maskedText, restore func(string) string) int {
	folds := make(map[string]folded, len(sources))
	check := func(cits []Citation) (ok bool, reason string) {
		var reasons []string
		for i := range cits {
			cit := &cits[i]
			src, known := sources[cit.NoteID]
			if !known {
				cit.Unverified = true
				reasons = append(reasons, "it cites a note that is not among the notes of this draft")
				if restore != nil {
					cit.Quote = restore(cit.Quote)
				}
				continue
			}
			f, done := folds[cit.NoteID]
			if !done {
				f = fold(src.Masked)
				folds[cit.NoteID] = f
			}
			if quote, found := findQuote(f, src, cit.Quote); found {
				cit.Quote = quote
				cit.Unverified = false
				ok = true
				continue
			}
			cit.Unverified = true
			reasons = append(reasons, "its quote was not found in the cited note")
			if restore != nil {
				cit.Quote = restore(cit.Quote)
			}
		}
		if ok {
			return true, ""
		}
		if len(reasons) == 0 {
			return false, "It has no citation."
		}
		return false, "No citation could be checked: " + strings.Join(dedupe(reasons), "; ") + "."
	}

	n := 0
	for i := range c.Statements {
		s := &c.Statements[i]
		ok, reason := check(s.Citations)
		s.Ungrounded, s.UngroundedReason = !ok, reason
		if !ok {
			n++
		}
	}
	for i := range c.Items {
		it := &c.Items[i]
		ok, reason := check(it.Citations)
		it.Ungrounded, it.UngroundedReason = !ok, reason
		if !ok {
			n++
		}
	}
	return n
}

// findQuote looks for quote in the folded masked note and returns the
// matching passage of the original note.
func findQuote(f folded, src maskedText, quote string) (string, bool) {
	q := strings.TrimSpace(foldString(quote))
	// Models often wrap a quote in quotation marks or end it with the
	// sentence's full stop when the note had none; neither changes what it cites.
	q = strings.Trim(q, `"' `)
	if len(q) < minQuote && q != strings.TrimSpace(f.s) {
		return "", false
	}
	at := strings.Index(f.s, q)
	if at < 0 {
		q = strings.TrimRight(q, ".")
		if len(q) < minQuote {
			return "", false
		}
		if at = strings.Index(f.s, q); at < 0 {
			return "", false
		}
	}
	ma, mb := f.span(at, at+len(q))
	return src.originalRange(ma, mb), true
}

func dedupe(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
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
