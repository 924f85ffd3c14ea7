package assistant

import (
	"regexp"
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

// findDueDates is findDates plus dates without a year, which are taken to be
// the next such day on or after today: notes say "on 3 May" for what is coming.
func findDueDates(s string, today time.Time) []dateMatch {
	out := findDates(s, today)
	add := func(re *regexp.Regexp, dayIdx, monIdx int, named bool) {
		for _, ix := range re.FindAllStringSubmatchIndex(s, -1) {
			a, b := ix[0], ix[1]
			if !atWordBoundaries(s, a, b) || overlaps(out, a, b) {
				continue
			}
			d := atoi(s[ix[2*dayIdx]:ix[2*dayIdx+1]])
			var mo int
			if named {
				mo = int(monthNames[s[ix[2*monIdx]:ix[2*monIdx+1]]])
			} else {
				mo = atoi(s[ix[2*monIdx]:ix[2*monIdx+1]])
			}
			t, ok := makeDate(today.Year(), mo, d)
			if !ok {
				continue
			}
			if t.Before(truncateDay(today)) {
				t = t.AddDate(1, 0, 0)
			}
			out = append(out, dateMatch{Start: a, End: b, Date: t})
		}
	}
	add(reDateDayNameNoYear, 1, 2, true)
	add(reDateNumericNoYear, 1, 2, false)
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
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
