package assistant

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A letter (KindLetter) tells the person a case is about, in their own
// language and in plain words, what was decided in their file and what
// happens next. It is drafted from the case's signed record entries that
// the signer shared with the client, never from notes: the entries stand
// where notes stand in the prompt, each quoted by its entry id, so the
// grounding check reads every statement of a letter against the signed
// text it restates. The service adds the greeting and the signature when
// it shows the letter; the draft holds only what the signer checks.
//
// The offline drafter (Extractive) cannot translate. It writes the letter
// from fixed phrases in the client's language ("Next step: …",
// "Prochaine étape : …") filled with the signed lines as they were signed,
// so every statement quotes its entry and is grounded by construction:
// first what was decided (the entries' statements, a few of each), then
// the appointments, deadlines and next steps (the entries' items). Lines
// the service reads as about risk or safeguarding are left to the worker:
// a letter is not the place to tell a person of a suspicion about them.

// letterPhrases are the fixed phrases of the offline letter, per language:
// what was decided, a next step, an appointment on a date, a deadline.
var letterPhrases = map[string]struct{ decided, next, appointment, deadline string }{
	"en": {"In your file: %s", "Next step: %s", "Appointment on %s: %s", "To do by %s: %s"},
	"fr": {"Dans votre dossier : %s", "Prochaine étape : %s", "Rendez-vous le %s : %s", "À faire avant le %s : %s"},
	"nl": {"In uw dossier: %s", "Volgende stap: %s", "Afspraak op %s: %s", "Te doen vóór %s: %s"},
	"de": {"In Ihrer Akte: %s", "Nächster Schritt: %s", "Termin am %s: %s", "Zu erledigen bis %s: %s"},
}

// letterPerEntry is how many of an entry's statements the offline letter
// restates; its items (next steps) are all kept, up to MaxEntries.
const letterPerEntry = 3

// reItemLine reads a line of a signed suggestions entry as Content.Text
// wrote it: "Appointment (2026-12-14): …", "Referral: … [service svc_1]".
var reItemLine = regexp.MustCompile(`^(Action|Appointment|Deadline|Referral|Risk|Item)(?: \((\d{4}-\d{2}-\d{2})\))?: (.+?)(?: \[service [^\]]*\])?$`)

// LetterLanguage is the language a letter is written in: lang when it is
// one of Languages, else English.
func LetterLanguage(lang string) string {
	if ValidLanguage(lang) {
		return lang
	}
	return "en"
}

func extractLetter(p *Prompt) wireAnswer {
	lang := LetterLanguage(p.Language)
	ph := letterPhrases[lang]
	a := wireAnswer{Language: lang, Statements: []wireStatementJS{}}
	var decided, next []wireStatementJS
	add := func(to *[]wireStatementJS, text string, n Note, line string) {
		cat := p.memo.categorize(text)
		if !slices.Contains(Categories, cat) {
			cat = "" // the service classifies the draft again (classify)
		}
		*to = append(*to, wireStatementJS{Text: text, Category: cat,
			Citations: []Citation{{NoteID: n.ID, Quote: quoteAround(n.Body, line)}}})
	}
	for _, n := range p.Notes {
		kept := 0
		for _, line := range strings.Split(n.Body, "\n") {
			line = strings.TrimSpace(line)
			if len(line) < minQuote {
				continue
			}
			if c := p.memo.categorize(line); c == CategoryRisk || c == CategorySafeguarding {
				continue
			}
			m := reItemLine.FindStringSubmatch(line)
			switch {
			case m == nil:
				if kept < letterPerEntry {
					add(&decided, fmt.Sprintf(ph.decided, line), n, line)
					kept++
				}
			case m[1] == "Risk":
			case m[1] == "Appointment" && m[2] != "":
				add(&next, fmt.Sprintf(ph.appointment, m[2], m[3]), n, line)
			case m[1] == "Deadline" && m[2] != "", m[1] == "Action" && m[2] != "":
				add(&next, fmt.Sprintf(ph.deadline, m[2], m[3]), n, line)
			default:
				add(&next, fmt.Sprintf(ph.next, m[3]), n, line)
			}
		}
	}
	for _, s := range append(decided, next...) {
		s.ID = fmt.Sprintf("s%d", len(a.Statements)+1)
		a.Statements = append(a.Statements, s)
	}
	return a
}
