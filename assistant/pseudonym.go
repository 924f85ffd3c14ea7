package assistant

import (
	"bytes"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
)

// Masking categories, as counted in Result.Masked. Append only.
const (
	MaskPerson  = "person"
	MaskDOB     = "dob"
	MaskAddress = "address"
	MaskPhone   = "phone"
	MaskEmail   = "email"
	MaskID      = "id"
	MaskIBAN    = "iban"
)

var placeholderTags = map[string]string{
	MaskPerson: "PERSON", MaskDOB: "DOB", MaskAddress: "ADDRESS", MaskPhone: "PHONE",
	MaskEmail: "EMAIL", MaskID: "ID", MaskIBAN: "IBAN",
}

// tagCategories is placeholderTags the other way round.
var tagCategories = func() map[string]string {
	m := make(map[string]string, len(placeholderTags))
	for c, t := range placeholderTags {
		m[t] = c
	}
	return m
}()

// rePlaceholder finds placeholders in a model's answer; models sometimes
// change their case, so the match ignores it. "[PERSON_1]" is the first way
// a value is written in the notes, "[PERSON_1_2]" the second way of the same
// value ("Sofie Janssens", then "Sofie").
var rePlaceholder = regexp.MustCompile(`(?i)\[(PERSON|DOB|ADDRESS|PHONE|EMAIL|ID|IBAN)_(\d+)(?:_(\d+))?\]`)

// Pseudonymiser replaces personal data in case notes with stable
// placeholders such as [PERSON_1] before the notes leave the service, and
// puts the values back in the model's answer.
//
// It looks for the values of the case's parties, as people really write
// them (any case, with or without accents, names in part, numbers with any
// separators, addresses in part), for people who are not recorded (names
// after a title or a relation, and capitalised words from the name lists
// of names/, see names.go), and for data recognised by its shape: emails,
// phone numbers, IBANs, national identifiers of FR, BE, CH, NL and DE, and
// dates that look like dates of birth.
//
// The same value always gets the same number within one Pseudonymiser,
// which serves one case's request: parties are numbered in a fixed order,
// other values in the order the notes give them. Each way the value is
// written gets its own placeholder ("[PERSON_1]" for "Sofie Janssens",
// "[PERSON_1_2]" for "Sofie"), so Restore puts back exactly the text that
// was masked, byte for byte, and Restore(Mask(note)) == note for any note.
// Text in a note that already looks like a placeholder is masked too, so
// that it comes back as written. A Pseudonymiser is not safe for concurrent use.
type Pseudonymiser struct {
	now      time.Time
	matchers []matcher
	// values maps a category and canonical value to its placeholder.
	values map[string]*placeholder
	byTag  map[string]string // "[PERSON_1_2]" -> the text it replaced
	next   map[string]int    // category -> last number used
	counts map[string]int
	// learned holds the names of people who are not parties, found so far
	// (see findPeople).
	learned map[string]string
}

// placeholder is one value: a party's name, a phone number…, with the ways
// the notes wrote it.
type placeholder struct {
	category string
	number   int
	tag      string            // "[PERSON_1]"
	surfaces map[string]string // text as written in a note -> its placeholder
}

// matcher finds party values in folded text; key gives the canonical value
// under which a match is filed, so that variants share a number.
type matcher struct {
	category string
	re       *regexp.Regexp
	key      string
}

// NewPseudonymiser returns a Pseudonymiser for the given parties. now is
// used to tell dates of birth from other dates (a full date more than twelve
// years back is taken for one) and to read two-digit years.
func NewPseudonymiser(parties []Party, now time.Time) *Pseudonymiser {
	p := &Pseudonymiser{
		now:     now,
		values:  map[string]*placeholder{},
		byTag:   map[string]string{},
		learned: map[string]string{},
		next:    map[string]int{},
		counts:  map[string]int{},
	}
	// Clients first, so that a surname shared by two parties is filed under
	// the client's placeholder.
	ordered := append([]Party(nil), parties...)
	sort.SliceStable(ordered, func(i, j int) bool {
		return ordered[i].Role == "client" && ordered[j].Role != "client"
	})
	for i, party := range ordered {
		p.addParty(i, party)
	}
	// Longest patterns first: "Jean-Pierre Dupont" before "Dupont".
	sort.SliceStable(p.matchers, func(i, j int) bool {
		return len(p.matchers[i].re.String()) > len(p.matchers[j].re.String())
	})
	return p
}

// Counts returns how many values were masked, by category.
func (p *Pseudonymiser) Counts() map[string]int {
	out := make(map[string]int, len(p.counts))
	for k, v := range p.counts {
		out[k] = v
	}
	return out
}

// Mask returns text with personal data replaced by placeholders.
func (p *Pseudonymiser) Mask(text string) string {
	masked, _ := p.mask(text)
	return masked
}

// Restore replaces the placeholders in text (a model's answer) with the
// text they replaced. A party's placeholder that no note used stands for
// the value as recorded; placeholders it did not hand out are left as they are.
func (p *Pseudonymiser) Restore(text string) string {
	return rePlaceholder.ReplaceAllStringFunc(text, func(m string) string {
		if v, ok := p.byTag[strings.ToUpper(m)]; ok {
			return v
		}
		return m
	})
}

// maskSpan records that masked[MStart:MEnd] replaced original[OStart:OEnd].
type maskSpan struct {
	MStart, MEnd, OStart, OEnd int
}

// maskedText is a note as sent to the model, with the spans that let a range
// of it be mapped back to the original.
type maskedText struct {
	Original, Masked string
	Spans            []maskSpan
}

// originalRange maps masked[a:b] back to the original text. A range that
// cuts into a placeholder takes in the whole value it stands for.
func (m maskedText) originalRange(a, b int) string {
	oa, ob := m.toOriginal(a, false), m.toOriginal(b, true)
	if oa > ob {
		return ""
	}
	return m.Original[oa:ob]
}

func (m maskedText) toOriginal(pos int, isEnd bool) int {
	delta := 0 // original offset minus masked offset so far
	for _, s := range m.Spans {
		if pos <= s.MStart {
			break
		}
		if pos < s.MEnd || (pos == s.MEnd && !isEnd) {
			if isEnd {
				return s.OEnd
			}
			if pos == s.MEnd {
				break
			}
			return s.OStart
		}
		delta = s.OEnd - s.MEnd
	}
	return pos + delta
}

type hit struct {
	a, b     int // range in the original text
	category string
	key      string
	literal  bool // text that looked like a placeholder: masked, not counted
}

// mask does the work of Mask and keeps the spans.
func (p *Pseudonymiser) mask(text string) (string, []maskSpan) {
	f := fold(text)
	work := []byte(f.s)
	var hits []hit
	// take files a match found in folded work[a:b] and blanks it so that
	// later, weaker patterns cannot match across it.
	take := func(a, b int, category, key string) {
		oa, ob := f.span(a, b)
		hits = append(hits, hit{a: oa, b: ob, category: category, key: key})
		for i := a; i < b; i++ {
			work[i] = 0
		}
	}
	free := func(a, b int) bool {
		for i := a; i < b; i++ {
			if work[i] == 0 {
				return false
			}
		}
		return (a == 0 || !isWordByte(work[a-1]) || !isWordByte(work[a])) &&
			(b >= len(work) || !isWordByte(work[b]) || !isWordByte(work[b-1]))
	}

	// Text that already looks like a placeholder is masked first, as
	// itself, so that restoring cannot turn it into something else.
	for _, ix := range rePlaceholder.FindAllSubmatchIndex(work, -1) {
		oa, ob := f.span(ix[0], ix[1])
		hits = append(hits, hit{a: oa, b: ob, category: tagCategories[strings.ToUpper(string(work[ix[2]:ix[3]]))],
			key: "literal\x00" + text[oa:ob], literal: true})
		for i := ix[0]; i < ix[1]; i++ {
			work[i] = 0
		}
	}
	// Order matters: an email holds a name, an IBAN holds digits that look
	// like a phone number, a date of birth looks like an identifier.
	for _, ix := range reEmail.FindAllIndex(work, -1) {
		if free(ix[0], ix[1]) {
			take(ix[0], ix[1], MaskEmail, string(work[ix[0]:ix[1]]))
		}
	}
	for _, ix := range reIBAN.FindAllIndex(work, -1) {
		canon := alnum(string(work[ix[0]:ix[1]]))
		if free(ix[0], ix[1]) && looksLikeIBAN(canon) {
			take(ix[0], ix[1], MaskIBAN, canon)
		}
	}
	for _, m := range p.matchers { // party values: names, addresses, ids, phones
		if m.category == MaskPerson || m.category == MaskAddress {
			continue
		}
		for _, ix := range m.re.FindAllIndex(work, -1) {
			if free(ix[0], ix[1]) {
				take(ix[0], ix[1], m.category, m.key)
			}
		}
	}
	for _, re := range reIDShapes { // identifiers in their official shapes
		for _, ix := range re.FindAllIndex(work, -1) {
			if free(ix[0], ix[1]) {
				take(ix[0], ix[1], MaskID, alnum(string(work[ix[0]:ix[1]])))
			}
		}
	}
	// Dates of birth are masked; other dates (appointments, deadlines) stay,
	// and are shielded so that the number pass below cannot glue one to a
	// neighbouring number.
	digitsWork := append([]byte(nil), work...)
	for _, d := range findDates(string(work), p.now) {
		if !free(d.Start, d.End) {
			continue
		}
		if p.isDOB(d, work) {
			take(d.Start, d.End, MaskDOB, d.Date.Format(time.DateOnly))
			copy(digitsWork[d.Start:d.End], work[d.Start:d.End])
		} else {
			for i := d.Start; i < d.End; i++ {
				digitsWork[i] = 'x'
			}
		}
	}
	for _, ix := range reDigits.FindAllIndex(digitsWork, -1) {
		a, b := ix[0], ix[1]
		if !free(a, b) {
			continue
		}
		if cat, key := classifyDigits(string(work[a:b])); cat != "" {
			take(a, b, cat, key)
		}
	}
	for _, m := range p.matchers {
		if m.category != MaskPerson && m.category != MaskAddress {
			continue
		}
		for _, ix := range m.re.FindAllIndex(work, -1) {
			if free(ix[0], ix[1]) {
				take(ix[0], ix[1], m.category, m.key)
			}
		}
	}
	// People who are not parties: after a title or a relation, or a
	// capitalised name from the lists.
	for _, h := range findPeople(work, f, text, p.learned) {
		if free(h.a, h.b) {
			take(h.a, h.b, MaskPerson, h.key)
		}
	}

	sort.Slice(hits, func(i, j int) bool { return hits[i].a < hits[j].a })
	var b strings.Builder
	var spans []maskSpan
	last := 0
	for _, h := range hits {
		if h.a < last { // cannot happen with blanked matches; be safe
			continue
		}
		b.WriteString(text[last:h.a])
		tag := p.placeholderFor(h.category, h.key, text[h.a:h.b])
		ms := b.Len()
		b.WriteString(tag)
		spans = append(spans, maskSpan{MStart: ms, MEnd: b.Len(), OStart: h.a, OEnd: h.b})
		if !h.literal {
			p.counts[h.category]++
		}
		last = h.b
	}
	b.WriteString(text[last:])
	return b.String(), spans
}

// Learn reads the case's notes for the names of people who are not
// parties before any is masked, so that a name is masked in every note
// once one note shows it to be a name ("meneer Van den Berghe" in the last
// note, "Van den Berghe" in the first). It numbers them in the order of
// the notes.
func (p *Pseudonymiser) Learn(notes ...string) {
	for _, text := range notes {
		saved := p.counts
		p.counts = map[string]int{}
		p.mask(text)
		p.counts = saved
	}
}

func (p *Pseudonymiser) maskNote(text string) maskedText {
	masked, spans := p.mask(text)
	return maskedText{Original: text, Masked: masked, Spans: spans}
}

// reserve numbers a party's value before any note is read, so that its
// number does not depend on the notes; until a note writes it, its
// placeholder stands for the value as recorded.
func (p *Pseudonymiser) reserve(category, key, recorded string) {
	ph := p.value(category, key)
	if _, used := p.byTag[ph.tag]; !used {
		p.byTag[ph.tag] = recorded
	}
}

func (p *Pseudonymiser) value(category, key string) *placeholder {
	k := category + "\x00" + key
	if ph, ok := p.values[k]; ok {
		return ph
	}
	p.next[category]++
	n := p.next[category]
	ph := &placeholder{category: category, number: n, tag: fmt.Sprintf("[%s_%d]", placeholderTags[category], n), surfaces: map[string]string{}}
	p.values[k] = ph
	return ph
}

// placeholderFor returns the placeholder of the value filed under key, as
// written in a note (surface): the value's first way of being written gets
// "[PERSON_n]", each other way "[PERSON_n_k]".
func (p *Pseudonymiser) placeholderFor(category, key, surface string) string {
	ph := p.value(category, key)
	if tag, ok := ph.surfaces[surface]; ok {
		return tag
	}
	tag := ph.tag
	if len(ph.surfaces) > 0 {
		tag = fmt.Sprintf("[%s_%d_%d]", placeholderTags[category], ph.number, len(ph.surfaces)+1)
	}
	ph.surfaces[surface] = tag
	p.byTag[tag] = surface
	return tag
}

// birthWords precede a date of birth in the four languages (folded).
var reBirthWords = regexp.MustCompile(`(?:born|birth|dob|d\.o\.b|ne|nee|naissance|ddn|geboren|geb|geboortedatum|geburtsdatum|date de naissance)\.?:?( (on|le|op|am|the))? ?$`)

// isDOB tells a date of birth from any other date: it is a party's date of
// birth, follows a birth word, or lies more than twelve years back (notes
// about current work rarely give such full dates for anything else).
func (p *Pseudonymiser) isDOB(d dateMatch, s []byte) bool {
	if _, ok := p.values[MaskDOB+"\x00"+d.Date.Format(time.DateOnly)]; ok {
		return true
	}
	if d.Date.Before(p.now.AddDate(-12, 0, 0)) {
		return true
	}
	before := s[max(0, d.Start-30):d.Start]
	return reBirthWords.Match(bytes.TrimRight(before, " "))
}

// Shapes recognised without knowing the parties, over folded text.
var (
	reEmail = regexp.MustCompile(`[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}`)
	// An IBAN: country, check digits, then 11 to 30 letters or digits,
	// commonly grouped by four.
	reIBAN = regexp.MustCompile(`[a-z]{2}\d{2}(?:[ \-]?[a-z0-9]){11,30}`)
	// reIDShapes are national identifiers as officially written; they are
	// matched before dates because some begin with one (the Belgian number
	// starts with the birth date).
	reIDShapes = []*regexp.Regexp{
		regexp.MustCompile(`\d{2}\.\d{2}\.\d{2}[- ]\d{3}\.\d{2}`),                           // BE national register
		regexp.MustCompile(`756[. ]?\d{4}[. ]?\d{4}[. ]?\d{2}`),                             // CH AHV/AVS
		regexp.MustCompile(`[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[ab]) ?\d{3} ?\d{3}(?: ?\d{2})?`), // FR NIR (Corsica: 2A, 2B)
	}
	// reDigits finds numbers written with any separators: "+32 (0)470 12.34.56",
	// "85.03.12-123.45", "756.1234.5678.97".
	reDigits = regexp.MustCompile(`(?:\+ ?|00)?(?:\(0\) ?)?\d(?:(?: ?[./\-] ?| |\(0\) ?)?\d)+`)
)

func looksLikeIBAN(canon string) bool {
	if len(canon) < 15 || len(canon) > 34 {
		return false
	}
	// Check the mod-97 sum; a mistyped IBAN is still personal data, so one
	// whose BBAN is mostly digits is masked even when the sum fails.
	digits := 0
	for _, c := range canon[4:] {
		if c >= '0' && c <= '9' {
			digits++
		}
	}
	return ibanValid(canon) || digits >= 10
}

func ibanValid(canon string) bool {
	s := strings.ToUpper(canon[4:] + canon[:4])
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c >= 'A' && c <= 'Z':
			fmt.Fprintf(&b, "%d", c-'A'+10)
		default:
			return false
		}
	}
	n, ok := new(big.Int).SetString(b.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

// classifyDigits decides what a number is, from its digits and prefix.
// Anything of nine digits or more that is not a phone number is taken for an
// identifier: a wrong label costs little, a leaked identifier a lot.
func classifyDigits(s string) (category, key string) {
	digits := onlyDigits(s)
	intl := strings.HasPrefix(s, "+") || strings.HasPrefix(digits, "00")
	switch {
	case intl && len(digits) >= 8:
		return MaskPhone, canonicalPhone(s)
	case strings.HasPrefix(digits, "756") && len(digits) == 13: // CH AHV
		return MaskID, digits
	case len(digits) == 15 && (digits[0] == '1' || digits[0] == '2'): // FR NIR
		return MaskID, digits
	case len(digits) == 11 && !looksLikePhoneGrouping(s): // BE national register, DE Steuer-ID
		return MaskID, digits
	case digits[0] == '0' && len(digits) >= 9 && len(digits) <= 11:
		return MaskPhone, canonicalPhone(s)
	case len(digits) == 9 && bsnValid(digits): // NL BSN
		return MaskID, digits
	case len(digits) >= 9:
		return MaskID, digits
	}
	return "", ""
}

// looksLikePhoneGrouping reports numbers such as "0470 12 34 56" written the
// way phone numbers are: a leading zero and groups of two or three digits.
func looksLikePhoneGrouping(s string) bool {
	return strings.HasPrefix(s, "0") && strings.Count(s, " ") >= 2 && !strings.ContainsAny(s, ".-")
}

// bsnValid applies the Dutch "elfproef" to a nine-digit BSN.
func bsnValid(d string) bool {
	sum := 0
	for i := 0; i < 8; i++ {
		sum += int(d[i]-'0') * (9 - i)
	}
	sum -= int(d[8] - '0')
	return sum%11 == 0
}

// countryCodes are the calling codes whose numbers are written with a
// leading 0 at home, so "+32 470…" and "0470…" are the same number.
var countryCodes = []string{"352", "32", "33", "31", "49", "41", "43", "44", "39", "34"}

// canonicalPhone returns a phone number in national form with its leading 0.
func canonicalPhone(s string) string {
	s = strings.ReplaceAll(s, "(0)", "")
	d := onlyDigits(s)
	intl := strings.HasPrefix(strings.TrimSpace(s), "+")
	if strings.HasPrefix(d, "00") {
		d, intl = d[2:], true
	}
	if intl {
		for _, cc := range countryCodes {
			if strings.HasPrefix(d, cc) {
				return "0" + d[len(cc):]
			}
		}
		return "+" + d
	}
	return d
}

func onlyDigits(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func alnum(s string) string {
	var b strings.Builder
	for _, c := range s {
		if unicode.IsLetter(c) || unicode.IsDigit(c) {
			b.WriteRune(unicode.ToUpper(c))
		}
	}
	return b.String()
}
