package assistant

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// particles are the small words of family names ("van der", "de la") that
// are not a name on their own and must not be masked alone.
var particles = map[string]bool{
	"de": true, "du": true, "des": true, "la": true, "le": true, "van": true, "von": true,
	"der": true, "den": true, "ter": true, "ten": true, "di": true, "da": true, "del": true,
	"dos": true, "das": true, "zu": true, "vom": true, "het": true, "d": true, "l": true, "y": true, "e": true,
}

// sep is what may stand between two digits or letters of a number written
// by hand: nothing, a space, a dot, a dash, a slash or brackets.
const sep = `[ ./\-()]{0,3}`

// addParty registers the placeholders of a party's values, under the values
// as the party record gives them, and the matchers that find them in notes.
func (p *Pseudonymiser) addParty(i int, party Party) {
	if name := strings.TrimSpace(party.FullName); name != "" {
		key := fmt.Sprintf("party %d %s", i, party.ID)
		p.reserve(MaskPerson, key, name)
		for _, re := range namePatterns(name) {
			p.matchers = append(p.matchers, matcher{category: MaskPerson, re: re, key: key})
		}
	}
	if dob := strings.TrimSpace(party.DateOfBirth); dob != "" {
		if t, ok := parseDateValue(dob, p.now); ok {
			key := t.Format(time.DateOnly)
			p.reserve(MaskDOB, key, dob)
			// Dates written without separators escape the date patterns.
			compact := regexp.MustCompile(t.Format("02012006") + "|" + t.Format("20060102"))
			p.matchers = append(p.matchers, matcher{category: MaskDOB, re: compact, key: key})
		}
	}
	if phone := strings.TrimSpace(party.Phone); phone != "" {
		key := canonicalPhone(phone)
		p.reserve(MaskPhone, key, phone)
		if re := phonePattern(key); re != nil {
			p.matchers = append(p.matchers, matcher{category: MaskPhone, re: re, key: key})
		}
	}
	if email := strings.TrimSpace(party.Email); email != "" {
		key := foldString(email)
		p.reserve(MaskEmail, key, email)
	}
	if id := alnum(party.NationalID); len(id) >= 4 {
		p.reserve(MaskID, id, party.NationalID)
		var parts []string
		for _, c := range strings.ToLower(id) {
			parts = append(parts, regexp.QuoteMeta(string(c)))
		}
		re := regexp.MustCompile(strings.Join(parts, sep))
		p.matchers = append(p.matchers, matcher{category: MaskID, re: re, key: id})
	}
	if addr := strings.TrimSpace(party.Address); addr != "" {
		key := foldString(addr)
		p.reserve(MaskAddress, key, addr)
		for _, re := range addressPatterns(addr) {
			p.matchers = append(p.matchers, matcher{category: MaskAddress, re: re, key: key})
		}
	}
}

// phonePattern matches a phone number, given in national form, however it
// is written: "+32 470 12 34 56", "0032/470.12.34.56", "(0470) 123456".
func phonePattern(national string) *regexp.Regexp {
	if strings.HasPrefix(national, "+") || len(national) < 6 {
		return nil
	}
	rest := national[1:]
	var parts []string
	for _, c := range rest {
		parts = append(parts, string(c))
	}
	prefix := `(?:(?:\+ ?|00)(?:` + strings.Join(countryCodes, "|") + `)` + sep + `(?:\(0\)` + sep + `)?|\(?0)`
	return regexp.MustCompile(prefix + sep + strings.Join(parts, sep))
}

// namePatterns returns patterns for a full name and the ways it is written
// in part: "Jean-Pierre Dupont", "Dupont Jean-Pierre", "Dupont, J.-P.",
// "J.-P. Dupont", "Jean-Pierre", "Jean", "Dupont". German umlauts are also
// matched in their typed form ("Müller", "Mueller").
func namePatterns(name string) []*regexp.Regexp {
	var out []*regexp.Regexp
	seen := map[string]bool{}
	add := func(expr string) {
		if expr == "" || seen[expr] {
			return
		}
		seen[expr] = true
		out = append(out, regexp.MustCompile(expr))
	}
	translit := strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "Ä", "Ae", "Ö", "Oe", "Ü", "Ue").Replace(name)
	for _, variant := range []string{name, translit} {
		tokens := strings.FieldsFunc(foldString(variant), func(r rune) bool { return r == ' ' || r == ',' })
		if len(tokens) == 0 {
			continue
		}
		atomsOf := func(tok string) []string {
			return strings.FieldsFunc(tok, func(r rune) bool { return r == '-' || r == '\'' || r == '.' })
		}
		joinAtoms := func(toks []string) string {
			var atoms []string
			for _, t := range toks {
				for _, a := range atomsOf(t) {
					atoms = append(atoms, regexp.QuoteMeta(a))
				}
			}
			return strings.Join(atoms, `[ \-']*`)
		}
		// The family name runs from its first particle, or is the last token.
		surnameAt := len(tokens) - 1
		for j := 1; j < len(tokens)-1; j++ {
			if particles[tokens[j]] {
				surnameAt = j
				break
			}
		}
		given, surname := tokens[:surnameAt], tokens[surnameAt:]
		add(joinAtoms(tokens))
		if len(given) > 0 {
			add(joinAtoms(surname) + `,? ` + joinAtoms(given))
			var initials []string
			for _, g := range given {
				for _, a := range atomsOf(g) {
					initials = append(initials, regexp.QuoteMeta(a[:1])+`\.?`)
				}
			}
			add(strings.Join(initials, `[ \-]?`) + ` ?` + joinAtoms(surname))
			add(joinAtoms(surname) + `,? ` + strings.Join(initials, `[ \-]?`))
			add(regexp.QuoteMeta(given[0][:1]) + `\. ?` + joinAtoms(surname))
		}
		if len(surname) > 1 {
			add(joinAtoms(surname))
		}
		for _, t := range tokens {
			if len(atomsOf(t)) > 1 {
				add(joinAtoms([]string{t}))
			}
			for _, a := range atomsOf(t) {
				if len([]rune(a)) >= 2 && !particles[a] {
					add(regexp.QuoteMeta(a))
				}
			}
		}
	}
	return out
}

// streetWords maps a folded street-type word to the pattern of its usual
// abbreviations.
var streetWords = map[string]string{
	"strasse":   `(?:strasse|str\.?)`,
	"straat":    `(?:straat|str\.?)`,
	"avenue":    `(?:avenue|av\.?|ave\.?)`,
	"boulevard": `(?:boulevard|bd\.?|blvd\.?)`,
	"chaussee":  `(?:chaussee|chee|ch\.?)`,
	"place":     `(?:place|pl\.?)`,
	"street":    `(?:street|st\.?)`,
	"road":      `(?:road|rd\.?)`,
	"laan":      `(?:laan|ln\.?)`,
	"weg":       `(?:weg)`,
	"rue":       `(?:rue|r\.)`,
}

// reHouseNumber recognises the house-number token of an address segment.
var reHouseNumber = regexp.MustCompile(`^\d+[a-z]?(?:[/\-]\d+[a-z]?)?$`)

// addressPatterns returns patterns for the parts of an address as people
// mention them: street and number in either order, the street alone, and
// postcode with town. A town alone is not masked: it says little about a
// person and drafts need it.
func addressPatterns(addr string) []*regexp.Regexp {
	var out []*regexp.Regexp
	add := func(expr string) {
		if expr != "" {
			out = append(out, regexp.MustCompile(expr))
		}
	}
	for i, seg := range regexp.MustCompile(`[,;\n]+`).Split(foldString(addr), -1) {
		tokens := strings.Fields(seg)
		if len(tokens) == 0 {
			continue
		}
		// A segment that starts with a number is a postcode and town
		// ("1000 Bruxelles") unless it is the first segment and reads as a
		// street in the French and English order ("12 rue des Lilas").
		numberFirst := len(tokens) >= 2 && reHouseNumber.MatchString(tokens[0])
		isPostcodeTown := numberFirst && (i > 0 || len(tokens[0]) >= 4 && !hasStreetWord(tokens[1:]))
		var street []string
		number := ""
		for j, t := range tokens {
			switch {
			case number == "" && reHouseNumber.MatchString(t):
				number = regexp.QuoteMeta(t)
			case number == "" || numberFirst && j > 0 && !reHouseNumber.MatchString(t):
				street = append(street, streetWord(t))
			case numberFirst:
				// A second number ends a number-first street.
				numberFirst = false
			}
		}
		streetExpr := strings.Join(street, ` ?`)
		switch {
		case isPostcodeTown:
			var town []string
			for _, t := range tokens[1:] {
				town = append(town, regexp.QuoteMeta(t))
			}
			add(regexp.QuoteMeta(tokens[0]) + ` ` + strings.Join(town, `[ \-]`))
		case number != "" && streetExpr != "":
			add(streetExpr + `,? ?(?:(?:n|no|nr|n o)\.? ?)?` + number)
			add(number + `,? ` + streetExpr)
			if len(seg) >= 6 {
				add(streetExpr)
			}
		case streetExpr != "" && len(seg) >= 6:
			add(streetExpr)
		}
	}
	return out
}

// hasStreetWord reports whether one of the folded tokens names a kind of
// street ("rue", "avenue", "strasse").
func hasStreetWord(tokens []string) bool {
	for _, t := range tokens {
		if streetWord(t) != regexp.QuoteMeta(strings.TrimSuffix(t, ".")) {
			return true
		}
	}
	return false
}

// streetWord turns one folded token of a street name into a pattern that
// also accepts its abbreviations, including in German compounds
// ("hauptstrasse", "hauptstr.", "haupt-strasse").
func streetWord(t string) string {
	t = strings.TrimSuffix(t, ".")
	if alt, ok := streetWords[t]; ok {
		return alt
	}
	for w, alt := range streetWords {
		if len(t) > len(w)+2 && strings.HasSuffix(t, w) {
			return regexp.QuoteMeta(strings.TrimSuffix(t, w)) + `[ \-]?` + alt
		}
	}
	return regexp.QuoteMeta(t)
}
