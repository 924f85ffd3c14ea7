package assistant

import (
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// monthNames maps folded month names and abbreviations of the four
// languages to their number.
var monthNames = map[string]time.Month{
	"january": 1, "jan": 1, "janvier": 1, "janv": 1, "januari": 1, "januar": 1, "janner": 1,
	"february": 2, "feb": 2, "fevrier": 2, "fevr": 2, "fev": 2, "februari": 2, "februar": 2,
	"march": 3, "mar": 3, "mars": 3, "maart": 3, "marz": 3, "maerz": 3, "mrt": 3,
	"april": 4, "apr": 4, "avril": 4, "avr": 4,
	"may": 5, "mai": 5, "mei": 5,
	"june": 6, "jun": 6, "juin": 6, "juni": 6,
	"july": 7, "jul": 7, "juillet": 7, "juil": 7, "juli": 7,
	"august": 8, "aug": 8, "aout": 8, "augustus": 8,
	"september": 9, "sep": 9, "sept": 9, "septembre": 9,
	"october": 10, "oct": 10, "octobre": 10, "oktober": 10, "okt": 10,
	"november": 11, "nov": 11, "novembre": 11,
	"december": 12, "dec": 12, "decembre": 12, "dezember": 12, "dez": 12,
}

// monthWord matches a word that may be a month name; the conversion checks
// it against monthNames. A plain letter class is much faster for Go's
// regexp engine than an alternation of seventy names.
const monthWord = `([a-z]{3,9})`

// Date patterns over folded text. Numeric dates are read day first, as
// everywhere the service is used; ISO dates are read year first.
var (
	reDateISO     = regexp.MustCompile(`(\d{4})-(\d{1,2})-(\d{1,2})`)
	reDateNumeric = regexp.MustCompile(`(\d{1,2}) ?[./-] ?(\d{1,2}) ?[./-] ?(\d{4}|\d{2})`)
	reDateDayName = regexp.MustCompile(`(\d{1,2})(?:st|nd|rd|th|er|e|\.)? ?` + monthWord + `\.?,? (\d{4})`)
	reDateNameDay = regexp.MustCompile(monthWord + `\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})`)
	// Dates without a year are only used for due dates, never masked.
	reDateDayNameNoYear = regexp.MustCompile(`(\d{1,2})(?:st|nd|rd|th|er|e|\.)? ?` + monthWord + `\b`)
	reDateNumericNoYear = regexp.MustCompile(`\b(\d{1,2})[./](\d{1,2})\b`)
)

// dateMatch is a date found in folded text at s[Start:End].
type dateMatch struct {
	Start, End int
	Date       time.Time
	HasYear    bool
}

// findDates returns the full dates (day, month and year) in folded text s,
// in order and without overlaps. Two-digit years are read as the most recent
// past year that fits, relative to now.
func findDates(s string, now time.Time) []dateMatch {
	var out []dateMatch
	if !strings.ContainsAny(s, "0123456789") {
		return nil
	}
	add := func(re *regexp.Regexp, conv func(m []string) (y, mo, d int, ok bool)) {
		for _, ix := range re.FindAllStringSubmatchIndex(s, -1) {
			a, b := ix[0], ix[1]
			if !atWordBoundaries(s, a, b) || overlaps(out, a, b) {
				continue
			}
			m := make([]string, len(ix)/2)
			for i := range m {
				m[i] = s[ix[2*i]:ix[2*i+1]]
			}
			y, mo, d, ok := conv(m)
			if !ok {
				continue
			}
			t, ok := makeDate(y, mo, d)
			if !ok {
				continue
			}
			out = append(out, dateMatch{Start: a, End: b, Date: t, HasYear: true})
		}
	}
	add(reDateISO, func(m []string) (int, int, int, bool) {
		return atoi(m[1]), atoi(m[2]), atoi(m[3]), true
	})
	add(reDateNumeric, func(m []string) (int, int, int, bool) {
		return year(m[3], now), atoi(m[2]), atoi(m[1]), true
	})
	add(reDateDayName, func(m []string) (int, int, int, bool) {
		return atoi(m[3]), int(monthNames[m[2]]), atoi(m[1]), true
	})
	add(reDateNameDay, func(m []string) (int, int, int, bool) {
		return atoi(m[3]), int(monthNames[m[1]]), atoi(m[2]), true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// findDueDates is findDates plus dates without a year, each resolved to
// the occurrence nearest to anchor (the day the note was written), in the
// past or the future as the wording of s says (resolveYear).
func findDueDates(s string, anchor time.Time) []dateMatch {
	out := findDates(s, anchor)
	tense := tenseOf(s)
	for _, m := range findYearless(s, out) {
		if t, ok := resolveYear(m.day, m.month, anchor, tense); ok {
			out = append(out, dateMatch{Start: m.Start, End: m.End, Date: t})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// yearless is a day and month written without a year at s[Start:End].
type yearless struct {
	Start, End int
	day, month int
}

// findYearless returns the dates of folded text s written without a year
// ("le 28 novembre", "3 May", "28/11"), leaving out those within the full
// dates full.
func findYearless(s string, full []dateMatch) []yearless {
	var out []yearless
	taken := append([]dateMatch(nil), full...)
	add := func(re *regexp.Regexp, named bool) {
		for _, ix := range re.FindAllStringSubmatchIndex(s, -1) {
			a, b := ix[0], ix[1]
			if !atWordBoundaries(s, a, b) || overlaps(taken, a, b) {
				continue
			}
			d := atoi(s[ix[2]:ix[3]])
			var mo int
			if named {
				mo = int(monthNames[s[ix[4]:ix[5]]])
			} else {
				mo = atoi(s[ix[4]:ix[5]])
			}
			if _, ok := makeDate(2000, mo, d); !ok { // 2000: a leap year, 29 February is a date
				continue
			}
			out = append(out, yearless{Start: a, End: b, day: d, month: mo})
			taken = append(taken, dateMatch{Start: a, End: b})
		}
	}
	add(reDateDayNameNoYear, true)
	add(reDateNumericNoYear, false)
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// Tenses, as tenseOf reads them.
const (
	tensePast    = -1
	tenseUnknown = 0
	tenseFuture  = 1
)

// Words (folded) that say a sentence is about the past or the future, in the
// four languages. A date without a year goes to the side they point to.
var (
	pastWords = []string{
		"last", "was", "were", "had", "did", "ago", "yesterday", "happened", "took place", "has been", "have been", "went", "came",
		"visited", "attended", "missed", "occurred", "earlier", "previous",
		"a eu", "ont eu", "on a eu", "avons eu", "avait", "avaient", "etait", "etaient", "a ete", "ont ete", "hier", "dernier", "derniere",
		"passe", "passee", "s'est", "est venu", "est venue", "est alle", "est allee", "a eu lieu", "precedent", "precedente",
		"vorige", "vorig", "afgelopen", "waren", "hadden", "gisteren", "geweest", "vond plaats", "heeft plaatsgevonden", "gehad", "eerder",
		"letzte", "letzten", "letzter", "letztes", "hatte", "hatten", "gestern", "fand", "kam", "wurde", "wurden", "stattgefunden", "gewesen", "gehabt", "vergangenen",
	}
	futureWords = []string{
		"next", "will", "shall", "going to", "upcoming", "due", "before", "planned", "scheduled", "until", "coming", "expected",
		"prochain", "prochaine", "aura lieu", "aura", "auront", "sera", "seront", "devra", "devront", "va", "vont", "doit", "doivent",
		"avant le", "d'ici", "prevu", "prevue", "jusqu'au", "a venir",
		"volgende", "komende", "zal", "zullen", "gaat", "moet", "moeten", "uiterlijk", "gepland",
		"nachste", "nachsten", "nachster", "kommende", "kommenden", "wird", "werden", "soll", "sollen", "muss", "bis", "geplant", "spatestens",
	}
)

// tenseOf reads whether folded sentence s speaks of the past or the future
// from its words; tenseUnknown when neither or both as often.
func tenseOf(s string) int {
	past, future := countWords(s, pastWords), countWords(s, futureWords)
	switch {
	case past > future:
		return tensePast
	case future > past:
		return tenseFuture
	}
	return tenseUnknown
}

func countWords(s string, words []string) int {
	n := 0
	for _, w := range words {
		for from := 0; ; {
			i := strings.Index(s[from:], w)
			if i < 0 {
				break
			}
			a, b := from+i, from+i+len(w)
			if (a == 0 || !isWordByte(s[a-1])) && (b == len(s) || !isWordByte(s[b])) {
				n++
			}
			from = b
		}
	}
	return n
}

// resolveYear gives a day and month without a year the year of its
// occurrence nearest to anchor: on or before it for a sentence in the past,
// on or after it for one in the future, the closer of the two otherwise.
// "le 28 novembre" in a note of 1 December is the 28 November just gone.
func resolveYear(day, month int, anchor time.Time, tense int) (time.Time, bool) {
	a := truncateDay(anchor)
	var best time.Time
	bestDist := time.Duration(1<<63 - 1)
	for y := a.Year() - 1; y <= a.Year()+1; y++ {
		t, ok := makeDate(y, month, day)
		if !ok {
			continue
		}
		if tense == tensePast && t.After(a) || tense == tenseFuture && t.Before(a) {
			continue
		}
		d := t.Sub(a)
		if d < 0 {
			d = -d
		}
		if d < bestDist {
			best, bestDist = t, d
		}
	}
	return best, !best.IsZero()
}

func overlaps(ms []dateMatch, a, b int) bool {
	for _, m := range ms {
		if a < m.End && m.Start < b {
			return true
		}
	}
	return false
}

func makeDate(y, mo, d int) (time.Time, bool) {
	if mo < 1 || mo > 12 || d < 1 || d > 31 || y < 1800 || y > 2200 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d { // 31 April rolls over: not a date
		return time.Time{}, false
	}
	return t, true
}

func year(s string, now time.Time) int {
	y := atoi(s)
	if len(s) == 2 {
		century := now.Year() / 100 * 100
		y += century
		if y > now.Year() {
			y -= 100
		}
	}
	return y
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func truncateDay(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// parseDateValue reads a date written in any of the formats findDates knows,
// for a party's date of birth.
func parseDateValue(s string, now time.Time) (time.Time, bool) {
	ds := findDates(foldString(s), now)
	if len(ds) == 0 {
		return time.Time{}, false
	}
	return ds[0].Date, true
}

// CompletedDate is a date the notes wrote without a year and the service
// completed: Written is the note's wording ("le 28 novembre"), Date the
// date it was taken for (YYYY-MM-DD). The reviewer is asked to confirm it.
type CompletedDate struct {
	Written string `json:"written"`
	Date    string `json:"date"`
}

// quotedDate is a date of a quote: full (with its year), or without a year
// and resolved, with the quote's wording in cd.
type quotedDate struct {
	cd   CompletedDate
	t    time.Time
	full bool
}

// completeDates finds the dates of c that rest on a date its quotes write
// without a year, gives them the year of the occurrence nearest to the day
// the cited note was written (resolveYear, in the quote's tense), and marks
// each for the reviewer: an item's due date is set to it, and a date the
// model completed in a statement's text is listed with the service's
// reading beside it. It runs after grounding, on verified quotes only, so
// it reads the notes' own words, whatever model wrote the draft.
func completeDates(c *Content, notes []Note, today time.Time) {
	written := make(map[string]time.Time, len(notes))
	for _, n := range notes {
		written[n.ID] = n.WrittenAt
	}
	// yearlessIn returns the dates without a year of an entry's quotes,
	// resolved, with the quote's wording.
	yearlessIn := func(cits []Citation) []quotedDate {
		var out []quotedDate
		for _, cit := range cits {
			if cit.Unverified {
				continue
			}
			anchor := written[cit.NoteID]
			if anchor.IsZero() {
				anchor = today
			}
			f := fold(cit.Quote)
			full := findDates(f.s, anchor)
			for _, d := range full {
				out = append(out, quotedDate{t: d.Date, full: true})
			}
			tense := tenseOf(f.s)
			for _, y := range findYearless(f.s, full) {
				t, ok := resolveYear(y.day, y.month, anchor, tense)
				if !ok {
					continue
				}
				a, b := f.span(y.Start, y.End)
				out = append(out, quotedDate{cd: CompletedDate{Written: cit.Quote[a:b], Date: t.Format(time.DateOnly)}, t: t})
			}
		}
		return out
	}
	sameDay := func(a, b time.Time) bool { return a.Month() == b.Month() && a.Day() == b.Day() }
	// inText lists the full dates of an entry's text that its quotes give
	// without a year only.
	inText := func(text string, cits []Citation) []CompletedDate {
		var out []CompletedDate
		found := yearlessIn(cits)
		for _, d := range findDates(foldString(text), today) {
			fullInQuote := false
			var match *CompletedDate
			for i := range found {
				switch {
				case found[i].full && found[i].t.Equal(d.Date):
					fullInQuote = true
				case !found[i].full && sameDay(found[i].t, d.Date) && match == nil:
					match = &found[i].cd
				}
			}
			if match != nil && !fullInQuote {
				out = append(out, *match)
			}
		}
		return out
	}
	for i := range c.Statements {
		s := &c.Statements[i]
		s.CompletedDates = inText(s.Text, s.Citations)
	}
	for i := range c.Items {
		it := &c.Items[i]
		it.CompletedDates = inText(it.Text, it.Citations)
		due, err := time.Parse(time.DateOnly, it.Due)
		if err != nil {
			continue
		}
		fullInQuote := false
		var match *CompletedDate
		for _, y := range yearlessIn(it.Citations) {
			switch {
			case y.full && y.t.Equal(due):
				fullInQuote = true
			case !y.full && sameDay(y.t, due) && match == nil:
				cd := y.cd
				match = &cd
			}
		}
		if match == nil || fullInQuote {
			continue
		}
		it.Due = match.Date
		if !slices.Contains(it.CompletedDates, *match) {
			it.CompletedDates = append(it.CompletedDates, *match)
		}
	}
}
