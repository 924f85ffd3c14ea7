package assistant

import (
	"iter"
	"regexp"
	"regexp/syntax"
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
// everywhere the service is used; ISO dates are read year first. Each is
// tried only where its matches can begin (startRE): at a run of digits
// as long as its first number and followed by what may follow it, or at a
// word that may be a month's name.
var (
	reDateISO     = mustStartRE(`(\d{4})-(\d{1,2})-(\d{1,2})`, digits, atDigits(4, 4, "-"))
	reDateNumeric = mustStartRE(`(\d{1,2}) ?[./-] ?(\d{1,2}) ?[./-] ?(\d{4}|\d{2})`, digits, atNumericDate)
	reDateDayName = mustStartRE(`(\d{1,2})(?:st|nd|rd|th|er|e|\.)? ?`+monthWord+`\.?,? (\d{4})`, digits, atDayNameYear)
	reDateNameDay = mustStartRE(monthWord+`\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})`, letters, atNameDayYear)
	// Dates without a year are only used for due dates, never masked.
	reDateDayNameNoYear = mustStartRE(`(\d{1,2})(?:st|nd|rd|th|er|e|\.)? ?`+monthWord+`\b`, digits, atDigits(1, 2, dayThen))
	reDateNumericNoYear = mustStartRE(`\b(\d{1,2})[./](\d{1,2})\b`, digits, atWordDigits(1, 2, "./"))
)

const (
	digits  = "0123456789"
	letters = "abcdefghijklmnopqrstuvwxyz"
)

// dayThen is what may follow the day of a date with its month's name: an
// ordinal's letters or full stop, a space, the name.
const dayThen = ". " + letters

// startRE is a regular expression that is tried only where start says a
// match of it can begin, anchored there: Go's engine otherwise tries every
// offset of a text, which cost more than all the rest of reading a note's
// dates. It finds exactly what the expression finds
// (TestStartREFindsAsItsExpression), provided start allows every offset
// where a match can begin and the expression never matches the empty
// string.
type startRE struct {
	re       *regexp.Regexp // the expression
	anchored *regexp.Regexp // ^(?:expression)
	opens    [256]bool      // the bytes a match can open with
	start    func(s string, i int) bool
}

// mustStartRE compiles expr, whose matches open with one of the bytes of
// opens, where start allows.
func mustStartRE(expr, opens string, start func(s string, i int) bool) *startRE {
	r := &startRE{re: regexp.MustCompile(expr), anchored: regexp.MustCompile(`^(?:` + expr + `)`), start: start}
	for i := range len(opens) {
		r.opens[opens[i]] = true
	}
	return r
}

// FindAllStringSubmatchIndex is re.FindAllStringSubmatchIndex(s, -1): the
// leftmost match, then the leftmost after its end, and so on.
func (r *startRE) FindAllStringSubmatchIndex(s string) [][]int {
	var out [][]int
	for i := 0; i < len(s); i++ {
		if !r.opens[s[i]] || !r.start(s, i) {
			continue
		}
		loc := r.anchored.FindStringSubmatchIndex(s[i:])
		if loc == nil {
			continue
		}
		for k := range loc {
			if loc[k] >= 0 {
				loc[k] += i
			}
		}
		out = append(out, loc)
		i = max(loc[1], i+1) - 1
	}
	return out
}

// atDigit: a match opens with a digit (\d).
func atDigit(s string, i int) bool { return '0' <= s[i] && s[i] <= '9' }

// atDigits: a match opens with lo to hi digits, a whole run of them (no
// digit may follow hi of them), then one of the bytes of then.
func atDigits(lo, hi int, then string) func(s string, i int) bool {
	return func(s string, i int) bool {
		n := 0
		for i+n < len(s) && atDigit(s, i+n) && n <= hi {
			n++
		}
		return lo <= n && n <= hi && i+n < len(s) && strings.IndexByte(then, s[i+n]) >= 0
	}
}

// atWordDigits is atDigits after \b.
func atWordDigits(lo, hi int, then string) func(s string, i int) bool {
	digits := atDigits(lo, hi, then)
	return func(s string, i int) bool {
		return (i == 0 || !syntax.IsWordChar(rune(s[i-1]))) && digits(s, i)
	}
}

// atNumericDate: a match of reDateNumeric opens with one or two digits (a
// whole run of them), a space or not, a full stop, slash or hyphen, a
// space or not, and a digit.
func atNumericDate(s string, i int) bool {
	j, ok := digitRun(s, i, 1, 2)
	if !ok {
		return false
	}
	if j < len(s) && s[j] == ' ' {
		j++
	}
	if j >= len(s) || strings.IndexByte("./-", s[j]) < 0 {
		return false
	}
	j++
	if j < len(s) && s[j] == ' ' {
		j++
	}
	return j < len(s) && atDigit(s, j)
}

// atDayNameYear: a match of reDateDayName opens with one or two digits
// (a whole run of them), then at most 14 letters, full stops, commas and
// spaces (an ordinal, a space, the month's name, a full stop, a comma),
// then a space and four digits.
func atDayNameYear(s string, i int) bool {
	j, ok := digitRun(s, i, 1, 2)
	if !ok {
		return false
	}
	for k := j; k < len(s) && k-j <= 14; k++ {
		c := s[k]
		if c == ' ' && k+4 < len(s) && atDigit(s, k+1) && atDigit(s, k+2) && atDigit(s, k+3) && atDigit(s, k+4) {
			return true
		}
		if !('a' <= c && c <= 'z' || c == '.' || c == ',' || c == ' ') {
			return false
		}
	}
	return false
}

// atNameDayYear: a match of reDateNameDay opens with monthWord (atMonthWord),
// a space, one or two digits (a whole run of them), an ordinal or not, a
// comma or not, a space and four digits.
func atNameDayYear(s string, i int) bool {
	if !atMonthWord(s, i) {
		return false
	}
	j := i
	for s[j] != ' ' { // atMonthWord saw the space
		j++
	}
	j, ok := digitRun(s, j+1, 1, 2)
	if !ok {
		return false
	}
	if j+2 <= len(s) {
		switch s[j : j+2] {
		case "st", "nd", "rd", "th":
			j += 2
		}
	}
	if j < len(s) && s[j] == ',' {
		j++
	}
	return j+4 < len(s) && s[j] == ' ' && atDigit(s, j+1) && atDigit(s, j+2) && atDigit(s, j+3) && atDigit(s, j+4)
}

// digitRun returns the end of the run of digits at s[i:] when it has lo
// to hi digits.
func digitRun(s string, i, lo, hi int) (int, bool) {
	n := 0
	for i+n < len(s) && atDigit(s, i+n) && n <= hi {
		n++
	}
	return i + n, lo <= n && n <= hi
}

// atMonthWord: a match opens with monthWord, three to nine letters, then
// a space or a full stop and a space, then a digit: the letters from i
// must be all of a word.
func atMonthWord(s string, i int) bool {
	n := 0
	for i+n < len(s) && 'a' <= s[i+n] && s[i+n] <= 'z' && n <= 9 {
		n++
	}
	if n < 3 || n > 9 {
		return false
	}
	rest := s[i+n:]
	if strings.HasPrefix(rest, ".") {
		rest = rest[1:]
	}
	return len(rest) >= 2 && rest[0] == ' ' && atDigit(rest, 1)
}

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
	add := func(re *startRE, conv func(m []string) (y, mo, d int, ok bool)) {
		for _, ix := range re.FindAllStringSubmatchIndex(s) {
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
	return (*memo)(nil).findDueDates(s, anchor)
}

// findDueDates is findDueDates, reading s with m.
func (m *memo) findDueDates(s string, anchor time.Time) []dateMatch {
	out := m.findDates(s, anchor)
	tense := once(func() int { return tenseOf(s) })
	added := false
	for _, y := range m.findYearless(s, anchor) {
		if t, ok := y.resolve(anchor, tense()); ok {
			out = append(out, dateMatch{Start: y.Start, End: y.End, Date: t})
			added = true
		}
	}
	if added { // findDates's are in order already
		sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	}
	return out
}

// yearless is a date written without a year at s[Start:End]: a day and
// month ("le 28 novembre", "28/11"), a weekday ("mardi prochain", "am
// Dienstag") or a day counted from the note's own ("tomorrow", "over twee
// weken"). resolve gives it its date from the day the note was written.
type yearless struct {
	Start, End int
	day, month int
	// weekday is set for a weekday (time.Sunday is 0, so weekday holds the
	// day plus one); dir is -1 for "last", +1 for "next", 0 when the tense
	// decides; week moves it into the week before or after the note's.
	weekday, dir, week int
	// relative marks a count of days from the note's day: offset.
	relative bool
	offset   int
}

// resolve gives y its date from anchor, the day the note was written, in
// the tense of its sentence where the wording does not say.
func (y yearless) resolve(anchor time.Time, tense int) (time.Time, bool) {
	a := truncateDay(anchor)
	switch {
	case y.relative:
		return a.AddDate(0, 0, y.offset), true
	case y.weekday > 0:
		return resolveWeekday(time.Weekday(y.weekday-1), y.dir, y.week, a, tense), true
	}
	return resolveYear(y.day, y.month, anchor, tense)
}

// resolveWeekday gives a weekday its date from a: in the week before or
// after a's (Monday to Sunday) when week says so; otherwise the nearest
// one strictly after a ("next", or a sentence in the future), strictly
// before it ("last", or the past), or, when nothing says, the coming one,
// a itself when it is that weekday: a weekday in the present tense is one
// to come in case notes ("Er kommt am Dienstag", "she sees the GP on
// Friday"), and a past one says so ("came", "était", "was", "war").
func resolveWeekday(wd time.Weekday, dir, week int, a time.Time, tense int) time.Time {
	if week != 0 {
		monday := a.AddDate(0, 0, -((int(a.Weekday()) + 6) % 7))
		return monday.AddDate(0, 0, 7*week+(int(wd)+6)%7)
	}
	ahead := (int(wd) - int(a.Weekday()) + 7) % 7
	if dir == 0 {
		dir = tense
	}
	switch {
	case dir > 0:
		if ahead == 0 {
			ahead = 7
		}
		return a.AddDate(0, 0, ahead)
	case dir < 0:
		back := (7 - ahead) % 7
		if back == 0 {
			back = 7
		}
		return a.AddDate(0, 0, -back)
	}
	return a.AddDate(0, 0, ahead)
}

// findYearless returns the dates of folded text s written without a year
// ("le 28 novembre", "3 May", "28/11"), leaving out those within the full
// dates full.
func findYearless(s string, full []dateMatch) []yearless {
	var out []yearless
	taken := append([]dateMatch(nil), full...)
	add := func(re *startRE, named bool) {
		for _, ix := range re.FindAllStringSubmatchIndex(s) {
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
	for _, y := range findRelative(s) {
		if !overlaps(taken, y.Start, y.End) {
			out = append(out, y)
			taken = append(taken, dateMatch{Start: y.Start, End: y.End})
		}
	}
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
		"saw", "said", "told", "called", "phoned", "rang", "spoke", "brought", "gave", "got", "paid", "sent", "signed", "left", "arrived", "returned", "cancelled", "agreed",
		"a vu", "a dit", "a appele", "a telephone", "a rencontre", "a signe", "a envoye", "a apporte", "a annule", "est passe", "est passee", "il y a",
		"zag", "zei", "belde", "kwam", "ging", "bracht", "tekende", "stuurde", "geleden",
		"war", "sah", "sagte", "rief", "brachte", "schickte", "unterschrieb",
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

// once returns f, which calls read the first time only: a reading of a
// text that is needed only now and then (a sentence's tense, for a date
// without a year) is made when first needed.
func once[T any](read func() T) func() T {
	var v T
	done := false
	return func() T {
		if !done {
			v, done = read(), true
		}
		return v
	}
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
// it reads the notes' own words, whatever model wrote the draft, and
// reads the dates with m.
func (m *memo) completeDates(c *Content, notes []Note, today time.Time) {
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
			fs := foldString(cit.Quote)
			for _, d := range m.findDates(fs, anchor) {
				out = append(out, quotedDate{t: d.Date, full: true})
			}
			ys := m.findYearless(fs, anchor)
			if len(ys) == 0 {
				continue
			}
			f := fold(cit.Quote) // fs, with where each byte was written
			tense := once(func() int { return tenseOf(fs) })
			for _, y := range ys {
				t, ok := y.resolve(anchor, tense())
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
	// The quotes' dates (quoted) are read only when needed, once.
	inText := func(text string, quoted func() []quotedDate) []CompletedDate {
		var out []CompletedDate
		dates := m.findDates(foldString(text), today)
		if len(dates) == 0 {
			return nil
		}
		found := quoted()
		for _, d := range dates {
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
		s.CompletedDates = inText(s.Text, func() []quotedDate { return yearlessIn(s.Citations) })
	}
	for i := range c.Items {
		it := &c.Items[i]
		quoted := once(func() []quotedDate { return yearlessIn(it.Citations) })
		it.CompletedDates = inText(it.Text, quoted)
		due, err := time.Parse(time.DateOnly, it.Due)
		if err != nil {
			continue
		}
		fullInQuote := false
		var match *CompletedDate
		for _, y := range quoted() {
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

// weekdayNames maps folded weekday names of the four languages to their day.
var weekdayNames = map[string]time.Weekday{
	"monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday, "thursday": time.Thursday,
	"friday": time.Friday, "saturday": time.Saturday, "sunday": time.Sunday,
	"lundi": time.Monday, "mardi": time.Tuesday, "mercredi": time.Wednesday, "jeudi": time.Thursday,
	"vendredi": time.Friday, "samedi": time.Saturday, "dimanche": time.Sunday,
	"maandag": time.Monday, "dinsdag": time.Tuesday, "woensdag": time.Wednesday, "donderdag": time.Thursday,
	"vrijdag": time.Friday, "zaterdag": time.Saturday, "zondag": time.Sunday,
	"montag": time.Monday, "dienstag": time.Tuesday, "mittwoch": time.Wednesday, "donnerstag": time.Thursday,
	"freitag": time.Friday, "samstag": time.Saturday, "sonnabend": time.Saturday, "sonntag": time.Sunday,
}

// Words (folded) around a weekday or a week: "next", "last", "week", and
// the words before a weekday that make it a habit ("every Monday"), not a
// date.
var (
	nextWords  = wordSet("next", "coming", "prochain", "prochaine", "volgende", "komende", "aanstaande", "nachste", "nachsten", "nachster", "kommende", "kommenden")
	lastWords  = wordSet("last", "past", "dernier", "derniere", "passe", "passee", "vorige", "vorig", "afgelopen", "letzte", "letzten", "letzter", "vergangene", "vergangenen")
	weekWords  = wordSet("week", "semaine", "woche")
	habitWords = wordSet("every", "each", "chaque", "elke", "iedere", "jeden", "jede", "jedem")
)

// Counted days: a number of days or weeks after the note's day ("in two
// weeks", "dans trois jours", "over twee weken", "in zwei Wochen") or before
// it ("three days ago", "il y a trois jours", "twee dagen geleden", "vor drei
// Tagen").
var (
	numberWords = map[string]int{
		"a": 1, "an": 1, "one": 1, "un": 1, "une": 1, "een": 1, "ein": 1, "eine": 1, "einem": 1, "einer": 1, "einen": 1,
		"two": 2, "deux": 2, "twee": 2, "zwei": 2, "three": 3, "trois": 3, "drie": 3, "drei": 3,
		"four": 4, "quatre": 4, "vier": 4, "five": 5, "cinq": 5, "vijf": 5, "funf": 5,
		"six": 6, "zes": 6, "sechs": 6, "seven": 7, "sept": 7, "zeven": 7, "sieben": 7,
		"eight": 8, "huit": 8, "acht": 8, "nine": 9, "neuf": 9, "negen": 9, "neun": 9,
		"ten": 10, "dix": 10, "tien": 10, "zehn": 10, "eleven": 11, "onze": 11, "elf": 11,
		"twelve": 12, "douze": 12, "twaalf": 12, "zwolf": 12, "fourteen": 14, "quatorze": 14, "veertien": 14, "vierzehn": 14,
		"fifteen": 15, "quinze": 15, "vijftien": 15, "funfzehn": 15, "twenty": 20, "vingt": 20, "twintig": 20, "zwanzig": 20,
		"thirty": 30, "trente": 30, "dertig": 30, "dreissig": 30,
	}
	unitDays = map[string]int{
		"day": 1, "days": 1, "jour": 1, "jours": 1, "dag": 1, "dagen": 1, "tag": 1, "tage": 1, "tagen": 1,
		"week": 7, "weeks": 7, "semaine": 7, "semaines": 7, "weken": 7, "woche": 7, "wochen": 7, "fortnight": 14,
	}
	// Words before a count that put it after the note's day ("in", "dans",
	// "over") or before it ("vor"; "il y a" is read apart).
	afterWords  = wordSet("in", "dans", "over")
	beforeWords = wordSet("vor")
	// Days named from the note's day.
	dayWords = map[string]int{
		"today": 0, "vandaag": 0, "heute": 0,
		"tomorrow": 1, "demain": 1, "morgen": 1,
		"overmorgen": 2, "ubermorgen": 2,
		"yesterday": -1, "gisteren": -1, "gestern": -1,
		"eergisteren": -2, "vorgestern": -2,
	}
)

func wordSet(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[w] = true
	}
	return m
}

// span is a word of folded text at s[a:b].
type span struct {
	w    string
	a, b int
}

func wordsOf(s string) []span {
	var out []span
	for i, j := range runs(s, isWordByte) {
		out = append(out, span{s[i:j], i, j})
	}
	return out
}

// runs yields the start and end of each longest run of bytes of s that
// in accepts, in order: the words of folded text (isWordByte), or of
// ASCII text, without copying it.
func runs(s string, in func(byte) bool) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		for i := 0; i < len(s); {
			if !in(s[i]) {
				i++
				continue
			}
			j := i
			for j < len(s) && in(s[j]) {
				j++
			}
			if !yield(i, j) {
				return
			}
			i = j
		}
	}
}

// findRelative returns the weekdays and the days counted from the note's
// day in folded text s, with where they are written: "on Tuesday", "mardi
// prochain", "volgende week dinsdag", "am Dienstag", "tomorrow", "the day
// after tomorrow", "demain", "übermorgen", "in two weeks", "dans trois
// jours", "over twee weken", "three days ago". A weekday next to a number
// ("mardi 3 décembre") is left to the day and month it comes with, and one
// after "every", "chaque", "elke" or "jeden" is a habit, not a date.
func findRelative(s string) []yearless {
	if !mayBeRelative(s) {
		return nil
	}
	return findRelativeWords(s)
}

// findRelativeWords is findRelative, reading every word.
func findRelativeWords(s string) []yearless {
	ws := wordsOf(s)
	at := func(i int) string {
		if i < 0 || i >= len(ws) {
			return ""
		}
		return ws[i].w
	}
	// Whether s is French is read when a French word asks.
	french := once(func() bool { return DetectLanguage(s) == "fr" })
	var out []yearless
	for i := 0; i < len(ws); i++ {
		w := ws[i].w
		if wd, ok := weekdayNames[w]; ok {
			if habitWords[at(i-1)] || at(i-1) == "les" && at(i-2) == "tous" || isNumber(at(i+1)) {
				continue
			}
			y := yearless{Start: ws[i].a, End: ws[i].b, weekday: int(wd) + 1}
			switch {
			case weekWords[at(i-1)] && nextWords[at(i-2)]: // volgende week dinsdag, nächste Woche Dienstag
				y.week, y.Start = 1, ws[i-2].a
			case weekWords[at(i-1)] && lastWords[at(i-2)]:
				y.week, y.Start = -1, ws[i-2].a
			case weekWords[at(i-2)] && nextWords[at(i-1)]: // la semaine prochaine, mardi
				y.week, y.Start = 1, ws[i-2].a
			case weekWords[at(i-2)] && lastWords[at(i-1)]:
				y.week, y.Start = -1, ws[i-2].a
			case nextWords[at(i-1)]: // next Tuesday, volgende dinsdag, nächsten Dienstag
				y.dir, y.Start = 1, ws[i-1].a
			case lastWords[at(i-1)]:
				y.dir, y.Start = -1, ws[i-1].a
			case nextWords[at(i+1)] && weekWords[at(i+2)]: // Tuesday next week
				y.week, y.End = 1, ws[i+2].b
			case lastWords[at(i+1)] && weekWords[at(i+2)]:
				y.week, y.End = -1, ws[i+2].b
			case nextWords[at(i+1)]: // mardi prochain
				y.dir, y.End = 1, ws[i+1].b
			case lastWords[at(i+1)]: // mardi dernier
				y.dir, y.End = -1, ws[i+1].b
			}
			out = append(out, y)
			continue
		}
		if off, ok := dayWords[w]; ok {
			y := yearless{Start: ws[i].a, End: ws[i].b, relative: true, offset: off}
			switch {
			case w == "morgen" && (at(i-1) == "heute" || at(i-1) == "gestern" || at(i-1) == "am" || at(i-1) == "den" || at(i-1) == "jeden" || at(i-1) == "s" || at(i-1) == "deze" || at(i-1) == "this"):
				continue // heute Morgen, am Morgen, 's morgens: a time of day
			case w == "tomorrow" && at(i-1) == "after" && at(i-2) == "day": // the day after tomorrow
				y.offset, y.Start = 2, ws[i-2].a
				if at(i-3) == "the" {
					y.Start = ws[i-3].a
				}
			case w == "yesterday" && at(i-1) == "before" && at(i-2) == "day":
				y.offset, y.Start = -2, ws[i-2].a
				if at(i-3) == "the" {
					y.Start = ws[i-3].a
				}
			}
			out = append(out, y)
			continue
		}
		if (w == "aujourd" || w == "apres" || w == "avant" || w == "hier") && french() {
			switch {
			case w == "aujourd" && at(i+1) == "hui":
				out = append(out, yearless{Start: ws[i].a, End: ws[i+1].b, relative: true})
				i++
				continue
			case w == "apres" && at(i+1) == "demain":
				out = append(out, yearless{Start: ws[i].a, End: ws[i+1].b, relative: true, offset: 2})
				i++
				continue
			case w == "avant" && at(i+1) == "hier":
				out = append(out, yearless{Start: ws[i].a, End: ws[i+1].b, relative: true, offset: -2})
				i++
				continue
			case w == "hier": // "hier" is "here" in Dutch and German
				out = append(out, yearless{Start: ws[i].a, End: ws[i].b, relative: true, offset: -1})
				continue
			}
		}
		// A count of days or weeks: "in two weeks", "three days ago".
		n, isCount := numberWords[w]
		if isNumber(w) {
			n, isCount = atoi(w), len(w) <= 3
		}
		unit := unitDays[at(i+1)]
		if !isCount || unit == 0 {
			continue
		}
		if w == "huit" || w == "quinze" { // huit jours, quinze jours: a week, two weeks
			n--
		}
		days := n * unit
		switch {
		case afterWords[at(i-1)]:
			out = append(out, yearless{Start: ws[i-1].a, End: ws[i+1].b, relative: true, offset: days})
		case beforeWords[at(i-1)]:
			out = append(out, yearless{Start: ws[i-1].a, End: ws[i+1].b, relative: true, offset: -days})
		case at(i+2) == "ago" || at(i+2) == "geleden":
			out = append(out, yearless{Start: ws[i].a, End: ws[i+2].b, relative: true, offset: -days})
		case at(i-1) == "a" && at(i-2) == "y" && at(i-3) == "il": // il y a trois jours
			out = append(out, yearless{Start: ws[i-3].a, End: ws[i+1].b, relative: true, offset: -days})
		default:
			continue
		}
		i++
	}
	return out
}

// mayBeRelative reports whether folded text s has a word findRelative
// reads from: a weekday, a day named from the note's day, a French word
// it reads ("aujourd", "apres", "avant", "hier"), or a unit of days after
// a count. Without one, findRelative finds nothing, and the words need not
// be listed.
func mayBeRelative(s string) bool {
	prev := ""
	for i, j := range runs(s, isWordByte) {
		w := s[i:j]
		if _, ok := weekdayNames[w]; ok {
			return true
		}
		if _, ok := dayWords[w]; ok {
			return true
		}
		switch w {
		case "aujourd", "apres", "avant", "hier":
			return true
		}
		if _, ok := unitDays[w]; ok {
			if _, ok := numberWords[prev]; ok || isNumber(prev) && len(prev) <= 3 {
				return true
			}
		}
		prev = w
	}
	return false
}

func isNumber(w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		if w[i] < '0' || w[i] > '9' {
			return false
		}
	}
	return true
}
