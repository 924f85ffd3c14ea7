package assistant

import (
	"time"

	"github.com/countersign/countersign/assistant/stakes"
)

// memo remembers what the service read in the texts of one draft: the
// high-stakes detector's reading of a text, and the dates of a folded
// text. The offline drafter reads every sentence it picks, and the
// service's checks read the same sentences again as statements and as
// quotes (classify, completeDates). Each answer is the reading's own for
// the exact text, whoever asks first, so remembering it never changes
// what is read; a memo lives as long as the Draft that made it, and is
// not safe for concurrent use. A nil memo remembers nothing.
type memo struct {
	findings map[string]stakes.Finding
	dates    map[datesKey]*textDates
}

// datesKey is a folded text and the year it is read in: findDates reads
// a two-digit year from the year of now, and nothing else of it
// (TestFindDatesReadsOnlyTheYear).
type datesKey struct {
	s    string
	year int
}

// textDates are the dates of a text: its full dates, and the dates
// without a year once asked for.
type textDates struct {
	full     []dateMatch
	yearless []yearless
	read     bool // yearless is read
}

func newMemo() *memo {
	return &memo{findings: map[string]stakes.Finding{}, dates: map[datesKey]*textDates{}}
}

// detect is stakes.Detect(text).
func (m *memo) detect(text string) stakes.Finding {
	if m == nil {
		return stakes.Detect(text)
	}
	f, ok := m.findings[text]
	if !ok {
		f = stakes.Detect(text)
		m.findings[text] = f
	}
	return f
}

// categorize is Categorize(text).
func (m *memo) categorize(text string) string {
	if c := m.detect(text).Category; c != CategoryUnclear {
		return c
	}
	return ""
}

func (m *memo) datesOf(s string, now time.Time) *textDates {
	if m == nil {
		return &textDates{full: findDates(s, now)}
	}
	k := datesKey{s, now.Year()}
	d, ok := m.dates[k]
	if !ok {
		full := findDates(s, now)
		d = &textDates{full: full[:len(full):len(full)]} // an append copies
		m.dates[k] = d
	}
	return d
}

// findDates is findDates(s, now). The answer is shared: it is read, never
// changed.
func (m *memo) findDates(s string, now time.Time) []dateMatch { return m.datesOf(s, now).full }

// findYearless is findYearless(s, findDates(s, now)). The answer is
// shared: it is read, never changed.
func (m *memo) findYearless(s string, now time.Time) []yearless {
	d := m.datesOf(s, now)
	if !d.read {
		d.yearless, d.read = findYearless(s, d.full), true
	}
	return d.yearless
}
