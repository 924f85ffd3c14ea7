package assistant

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Extractive is the offline drafter: a Model that needs no network and no
// weights. It builds its answer from the prompt's notes by picking sentences
// out of them, so every statement quotes its own source and is grounded by
// construction. It cannot translate: its statements stay in the language of
// the notes. It goes through the same validation and grounding as any model.
type Extractive struct{}

var _ Model = Extractive{}

// Name returns "extractive-v1".
func (Extractive) Name() string { return "extractive-v1" }

// Provider returns "offline".
func (Extractive) Provider() string { return "offline" }

// OnPremises returns true: the notes never leave the process.
func (Extractive) OnPremises() bool { return true }

// Generate answers p from p.Notes and p.Directory.
func (e Extractive) Generate(ctx context.Context, p *Prompt) (*Completion, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("extractive generate: %w", err)
	}
	var answer any
	switch p.Kind {
	case KindSummary:
		answer = extractSummary(p)
	case KindSuggestions:
		answer = extractSuggestions(p)
	case KindLetter:
		answer = extractLetter(p)
	default:
		return nil, &ModelError{Op: "extractive.generate", Reason: "This kind of draft is not supported."}
	}
	text, err := json.Marshal(answer)
	if err != nil {
		return nil, fmt.Errorf("extractive generate: %w", err)
	}
	req, err := json.Marshal(struct{ System, User string }{p.System, p.User})
	if err != nil {
		return nil, fmt.Errorf("extractive generate: %w", err)
	}
	return &Completion{
		Text:             string(text),
		PromptTokens:     estimateTokens(p.System) + estimateTokens(p.User),
		CompletionTokens: estimateTokens(string(text)),
		FinishReason:     "stop",
		RequestBody:      req,
		ResponseBody:     text,
	}, nil
}

// estimateTokens approximates a tokenizer: about four characters a token.
func estimateTokens(s string) int { return (len(s) + 3) / 4 }

// Keyword lists, folded. A keyword of five letters or more also matches
// words it begins ("threat" → "threatened").
var (
	kwMust = []string{"must", "should", "need to", "needs to", "has to", "have to", "required", "doit", "doivent", "devra", "devrait", "il faut", "faut", "obligatoire",
		"moet", "moeten", "dient", "verplicht", "muss", "mussen", "soll", "sollte", "sollen", "pflicht", "to do", "a faire", "todo"}
	kwAppointment = []string{"appointment", "meeting", "visit", "hearing", "court", "rendez-vous", "rdv", "entretien", "visite", "reunion", "audience", "tribunal",
		"afspraak", "bezoek", "gesprek", "zitting", "rechtbank", "termin", "besuch", "anhorung", "gericht"}
	kwDeadline = []string{"deadline", "before", "due", "no later", "avant", "au plus tard", "date limite", "echeance", "delai", "uiterlijk", "voor", "vóór", "termijn",
		"spatestens", "frist", "bis zum", "bis"}
)

// genericWords never make a directory entry match on their own: they are in
// every service's description.
var genericWords = map[string]bool{
	"service": true, "services": true, "support": true, "local": true, "centre": true, "center": true, "social": true, "sociale": true, "help": true, "aide": true,
	"hulp": true, "hilfe": true, "office": true, "bureau": true, "public": true, "publique": true, "people": true, "person": true, "personnes": true,
	"municipal": true, "city": true, "ville": true, "stad": true, "stadt": true, "advice": true, "conseil": true, "advies": true, "beratung": true,
	"team": true, "dienst": true, "offers": true, "propose": true, "biedt": true, "bietet": true, "families": true, "familles": true, "with": true,
	"from": true, "their": true, "leur": true, "pour": true, "voor": true, "fur": true, "dans": true, "bij": true, "area": true, "region": true,
}

var reSentenceEnd = mustStartRE(`[.!?]+["'’”)\]]*\s+|\n+`, ".!?\n", func(string, int) bool { return true })

// sentences splits a note body into trimmed sentences, each an exact
// substring of the body so that it can be quoted.
func sentences(body string) []string {
	var out []string
	last := 0
	cut := func(end int) {
		if s := strings.TrimSpace(body[last:end]); len(s) >= minQuote {
			out = append(out, s)
		}
	}
	for _, ix := range reSentenceEnd.FindAllStringSubmatchIndex(body) {
		end := ix[1]
		// Keep the full stop with its sentence, not the white space after it.
		for end > ix[0] && strings.ContainsRune(" \t\r\n", rune(body[end-1])) {
			end--
		}
		cut(end)
		last = ix[1]
	}
	cut(len(body))
	return out
}

// hasAny reports whether folded text s contains one of the keywords, as
// whole words or, for stems of five letters or more, as word beginnings.
func hasAny(s string, keywords []string) bool {
	for _, k := range keywords {
		from := 0
		for {
			i := strings.Index(s[from:], k)
			if i < 0 {
				break
			}
			a, b := from+i, from+i+len(k)
			startOK := a == 0 || !isWordByte(s[a-1])
			endOK := b == len(s) || !isWordByte(s[b]) || len(k) >= 5
			if startOK && endOK {
				return true
			}
			from = a + 1
		}
	}
	return false
}

type wireAnswer struct {
	Language   string            `json:"language"`
	Statements []wireStatementJS `json:"statements"`
	Items      *[]wireItemJS     `json:"items,omitempty"`
}

type wireStatementJS struct {
	ID        string     `json:"id"`
	Text      string     `json:"text"`
	Category  string     `json:"category"`
	Citations []Citation `json:"citations"`
}

type wireItemJS struct {
	ID        string     `json:"id"`
	Type      string     `json:"type"`
	Text      string     `json:"text"`
	Due       *string    `json:"due"`
	ServiceID *string    `json:"service_id"`
	Citations []Citation `json:"citations"`
}

// perNote is how many sentences a summary keeps from each note.
const perNote = 3

// categoryScore is what a high-stakes category adds to a sentence's score.
const categoryScore = 3

func extractSummary(p *Prompt) wireAnswer {
	a := wireAnswer{Language: p.Language, Statements: []wireStatementJS{}}
	for _, n := range p.Notes {
		type scored struct {
			i, score int
			s, cat   string
		}
		// A sentence scores for a high-stakes category, a date, an
		// obligation, its length and for opening the note; the note's
		// perNote best are kept, the earlier first among equals.
		var cands []scored
		for i, s := range sentences(n.Body) {
			f := foldString(s)
			sc := 0
			if len(p.memo.findDueDates(f, p.Today)) > 0 {
				sc += 2
			}
			if hasAny(f, kwMust) {
				sc += 2
			}
			if len(s) >= 40 {
				sc++
			}
			if i == 0 {
				sc++ // notes tend to open with what happened
			}
			cands = append(cands, scored{i: i, score: sc, s: s})
		}
		// The category is read last, and only for the sentences that can
		// still be among the best: in the order of their score without it
		// (the earlier first among equals), until the next could not pass
		// the last of the best even with a category (kept holds the best
		// read so far, in the order they are kept in).
		slices.SortStableFunc(cands, func(x, y scored) int { return cmp.Compare(y.score, x.score) })
		var kept []scored
		for _, c := range cands {
			if len(kept) == perNote {
				last := kept[perNote-1]
				if c.score+categoryScore < last.score || c.score+categoryScore == last.score && c.i > last.i {
					break
				}
			}
			if c.cat = p.memo.categorize(c.s); c.cat != "" {
				c.score += categoryScore
			}
			at, _ := slices.BinarySearchFunc(kept, c, func(x, y scored) int { return cmp.Or(cmp.Compare(y.score, x.score), cmp.Compare(x.i, y.i)) })
			kept = slices.Insert(kept, at, c)
			kept = kept[:min(perNote, len(kept))]
		}
		slices.SortFunc(kept, func(x, y scored) int { return cmp.Compare(x.i, y.i) })
		for _, c := range kept {
			a.Statements = append(a.Statements, wireStatementJS{
				ID:        "s" + strconv.Itoa(len(a.Statements)+1),
				Text:      c.s,
				Category:  c.cat,
				Citations: []Citation{{NoteID: n.ID, Quote: quoteAround(n.Body, c.s)}},
			})
		}
	}
	return a
}

func extractSuggestions(p *Prompt) wireAnswer {
	items := []wireItemJS{}
	a := wireAnswer{Language: p.Language, Statements: []wireStatementJS{}, Items: &items}
	keywords := directoryKeywords(p.Directory)
	add := func(typ, text, due, service string, cit Citation) {
		it := wireItemJS{ID: "i" + strconv.Itoa(len(items)+1), Type: typ, Text: text, Citations: []Citation{cit}}
		if due != "" {
			it.Due = &due
		}
		if service != "" {
			it.ServiceID = &service
		}
		items = append(items, it)
	}
	today := p.Today
	if today.IsZero() {
		today = time.Now().UTC()
	}
	for _, n := range p.Notes {
		// A date without a year, a weekday or "tomorrow" is read from the
		// day the note was written, not the day of the draft.
		anchor := today
		if !n.WrittenAt.IsZero() {
			anchor = n.WrittenAt
		}
		for _, s := range sentences(n.Body) {
			f := foldString(s)
			cit := Citation{NoteID: n.ID, Quote: quoteAround(n.Body, s)}
			due := ""
			if ds := p.memo.findDueDates(f, anchor); len(ds) > 0 {
				due = ds[0].Date.Format(time.DateOnly)
			}
			cat := p.memo.categorize(s)
			switch {
			case cat == CategoryRisk || cat == CategorySafeguarding:
				add(ItemRisk, s, due, "", cit)
			case due != "" && hasAny(f, kwAppointment):
				add(ItemAppointment, s, due, "", cit)
			case due != "" && hasAny(f, kwDeadline):
				add(ItemDeadline, s, due, "", cit)
			case due != "" || hasAny(f, kwMust):
				add(ItemAction, s, due, "", cit)
			}
			for _, svc := range p.Directory {
				if matchesService(f, keywords[svc.ID]) {
					add(ItemReferral, svc.Name+": "+s, "", svc.ID, cit)
				}
			}
		}
	}
	return a
}

// directoryKeywords returns, for each service, the stems of the distinctive
// words of its name and description.
func directoryKeywords(dir []Service) map[string][]string {
	out := make(map[string][]string, len(dir))
	for _, svc := range dir {
		words := strings.FieldsFunc(foldString(svc.Name+" "+svc.Description), func(r rune) bool {
			return !(r >= 'a' && r <= 'z')
		})
		var stems []string
		for _, w := range words {
			if len(w) < 4 || genericWords[w] || isStopword(w) {
				continue
			}
			stem := w[:max(4, len(w)-2)]
			if !slices.Contains(stems, stem) {
				stems = append(stems, stem)
			}
		}
		out[svc.ID] = stems
	}
	return out
}

func matchesService(f string, stems []string) bool {
	for _, w := range strings.FieldsFunc(f, func(r rune) bool { return !(r >= 'a' && r <= 'z') }) {
		for _, st := range stems {
			if strings.HasPrefix(w, st) {
				return true
			}
		}
	}
	return false
}

func isStopword(w string) bool {
	for _, ws := range stopwords {
		if slices.Contains(ws, w) {
			return true
		}
	}
	return false
}
