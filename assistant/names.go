package assistant

import (
	"bufio"
	"embed"
	"strings"
	"unicode"
	"unicode/utf8"
)

// People who are not recorded as parties of the case are found in three
// ways, in this order: a name after a title ("meneer Van den Berghe", "Mme
// Martin", "Frau Dr. Weber"), a name after a relation ("her neighbour
// Karim", "son frère Paul", "zijn zus Lies", "ihre Tochter Lena"), and a
// run of capitalised words one of which is a known first name or surname
// (the lists in names/, see names/README.md). A wrong guess only hides a
// word from the model; a missed name leaks it, so the rules lean to masking.

//go:embed names/*.txt
var namesFS embed.FS

// nameLists holds the folded first names, surnames and the common words
// that are never taken for a name on their own.
type nameLists struct {
	first, last, common map[string]bool
}

var names = loadNames()

func loadNames() nameLists {
	n := nameLists{first: map[string]bool{}, last: map[string]bool{}, common: map[string]bool{}}
	read := func(file string, into map[string]bool) {
		data, err := namesFS.ReadFile("names/" + file)
		if err != nil {
			panic("assistant: missing name list " + file)
		}
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			into[foldString(line)] = true
		}
	}
	for _, lang := range Languages {
		read(lang+".first.txt", n.first)
		read(lang+".last.txt", n.last)
	}
	read("common.txt", n.common)
	for w := range monthNames {
		// "Jan" is a name far more often than January written short;
		// next to a number it is still read as the month (dateWord).
		if w != "jan" {
			n.common[w] = true
		}
	}
	for _, w := range weekdays {
		n.common[w] = true
	}
	for _, ws := range stopwords {
		for _, w := range ws {
			n.common[w] = true
		}
	}
	for w := range titles {
		n.common[w] = true
	}
	for w := range relations {
		n.common[w] = true
	}
	// A particle is part of a name, never one alone: "De kinderen…".
	for w := range nameParticles {
		n.common[w] = true
	}
	return n
}

var weekdays = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
	"lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
	"maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag",
	"montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag"}

// titles precede a person's name (folded, without their full stop). The
// value says whether the title may be written in lower case: "meneer" is,
// but "ms" or "m" in lower case is too often something else.
var titles = map[string]bool{
	"m": false, "mm": false, "mme": false, "mmes": false, "mlle": false, "monsieur": true, "madame": true, "mademoiselle": true,
	"me": false, "maitre": false, "docteur": true, "dr": false, "pr": false, "prof": false, "professeur": false,
	"meneer": true, "mevrouw": true, "mevr": true, "mw": false, "dhr": true, "heer": true, "juffrouw": true, "mr": false, "mrs": false,
	"ms": false, "miss": false, "mister": true, "sir": false, "madam": true, "herr": true, "frau": true, "fraulein": true, "hr": false, "fr": false,
	"dokter": true, "doktor": true,
}

// relations are words for people close to the client, or the people
// around them, that a name often follows: "her neighbour Karim".
var relations = map[string]bool{
	// English
	"neighbour": true, "neighbor": true, "brother": true, "sister": true, "son": true, "daughter": true, "mother": true, "father": true,
	"mum": true, "mom": true, "dad": true, "aunt": true, "uncle": true, "cousin": true, "nephew": true, "niece": true, "friend": true,
	"partner": true, "husband": true, "wife": true, "boyfriend": true, "girlfriend": true, "grandmother": true, "grandfather": true,
	"grandson": true, "granddaughter": true, "stepfather": true, "stepmother": true, "stepson": true, "stepdaughter": true,
	"landlord": true, "landlady": true, "colleague": true, "teacher": true, "doctor": true, "gp": true, "lawyer": true, "ex": true,
	"baby": true, "child": true, "flatmate": true, "roommate": true, "carer": true, "employer": true,
	// French
	"voisin": true, "voisine": true, "frere": true, "soeur": true, "fils": true, "fille": true, "mere": true, "pere": true,
	"tante": true, "oncle": true, "cousine": true, "neveu": true, "ami": true, "amie": true, "copain": true,
	"copine": true, "compagnon": true, "compagne": true, "mari": true, "epoux": true, "epouse": true, "conjoint": true, "conjointe": true,
	"grand-mere": true, "grand-pere": true, "beau-pere": true, "belle-mere": true, "petit-fils": true, "petite-fille": true,
	"proprietaire": true, "collegue": true, "medecin": true, "avocat": true, "avocate": true, "institutrice": true, "instituteur": true,
	"enseignant": true, "enseignante": true, "educateur": true, "educatrice": true, "bebe": true, "enfant": true, "employeur": true,
	// Dutch
	"buurman": true, "buurvrouw": true, "buur": true, "broer": true, "broertje": true, "zus": true, "zusje": true, "zuster": true,
	"zoon": true, "zoontje": true, "dochter": true, "dochtertje": true, "moeder": true, "vader": true, "mama": true, "papa": true,
	"oom": true, "neef": true, "nicht": true, "vriend": true, "vriendin": true, "man": true, "vrouw": true, "echtgenoot": true,
	"echtgenote": true, "oma": true, "opa": true, "grootmoeder": true, "grootvader": true, "stiefvader": true, "stiefmoeder": true,
	"huisbaas": true, "verhuurder": true, "collega": true, "leraar": true, "lerares": true, "juf": true, "meester": true,
	"huisarts": true, "advocaat": true, "werkgever": true, "kind": true, "vriendje": true, "vriendinnetje": true,
	// German
	"nachbar": true, "nachbarin": true, "bruder": true, "schwester": true, "sohn": true, "tochter": true, "mutter": true,
	"vater": true, "onkel": true, "freund": true, "freundin": true, "partnerin": true, "mann": true, "ehemann": true, "ehefrau": true,
	"grossmutter": true, "grossvater": true, "stiefvater": true, "stiefmutter": true, "enkel": true, "enkelin": true,
	"vermieter": true, "vermieterin": true, "kollege": true, "kollegin": true, "lehrer": true, "lehrerin": true, "arzt": true,
	"arztin": true, "anwalt": true, "anwaltin": true, "betreuer": true, "betreuerin": true, "erzieher": true, "erzieherin": true,
	"arbeitgeber": true, "neffe": true, "nichte": true,
}

// nameParticles may stand, in lower case, inside a name: "Anneke van der Berg".
var nameParticles = map[string]bool{
	"van": true, "von": true, "de": true, "der": true, "den": true, "del": true, "della": true, "di": true, "da": true,
	"du": true, "des": true, "le": true, "la": true, "ter": true, "ten": true, "vom": true, "zu": true, "zum": true, "op": true, "het": true,
	"dos": true, "das": true, "el": true, "al": true, "bin": true, "ben": true,
}

// word is a word of the work buffer: folded text in which masked values
// are blanked with zero bytes.
type word struct {
	a, b      int    // range in the folded text
	s         string // folded
	cap       bool   // capitalised in the original
	allCaps   bool   // written in capitals in the original ("DUPONT")
	joined    bool   // separated from the previous word by one space only
	sentStart bool   // first word of a sentence or a line
}

// isNameByte reports letters of folded text: ASCII letters and any byte of
// a non-ASCII rune (letters of other scripts).
func isNameByte(c byte) bool {
	return c >= 0x80 || ('a' <= c && c <= 'z')
}

// words splits the work buffer into words, reading case from the original.
func words(work []byte, f folded, text string) []word {
	var out []word
	i := 0
	for i < len(work) {
		if !isNameByte(work[i]) {
			i++
			continue
		}
		a := i
		for i < len(work) {
			if isNameByte(work[i]) {
				i++
				continue
			}
			// An apostrophe or hyphen between letters stays inside the
			// word: "O'Brien", "Jean-Luc", "d'Hondt".
			if (work[i] == '\'' || work[i] == '-') && i+1 < len(work) && isNameByte(work[i+1]) {
				i++
				continue
			}
			break
		}
		w := word{a: a, b: i, s: string(work[a:i])}
		w.cap, w.allCaps = originalCase(text[f.start[a]:f.end[i-1]])
		if len(out) == 0 {
			w.sentStart = true
		} else {
			prev := out[len(out)-1]
			gap := text[f.end[prev.b-1]:f.start[a]]
			w.joined = gap == " " || gap == "\u00a0"
			between := strings.TrimSpace(gap)
			w.sentStart = strings.ContainsAny(gap, "\n\r") || strings.ContainsAny(between, ".!?:;•*") && !titleDot(prev, between)
		}
		out = append(out, w)
	}
	return out
}

// titleDot reports the full stop of an abbreviated title ("Dr. Weber"), which
// does not end a sentence.
func titleDot(prev word, between string) bool {
	_, ok := titles[prev.s]
	return ok && between == "."
}

// originalCase reads how a word is written: capitalised ("Martin",
// "d'Hondt", "O'Brien", "McKenna"), and wholly in capitals ("DUPONT").
func originalCase(s string) (capitalised, allCaps bool) {
	first, _ := utf8.DecodeRuneInString(s)
	capitalised = unicode.IsUpper(first)
	if !capitalised {
		// "d'Hondt", "l'Hermite", "van't Hof": a lower-case elision before a
		// capitalised name.
		if i := strings.IndexAny(s, "'’"); i > 0 && i <= 3 {
			r, _ := utf8.DecodeRuneInString(s[i+len(string([]rune(s[i:])[0])):])
			capitalised = unicode.IsUpper(r)
		}
	}
	letters, upper := 0, 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	return capitalised, letters >= 2 && upper == letters
}

// known reports whether a folded word is a first name or surname of the
// lists and not a common word.
func (n nameLists) known(s string) bool {
	if n.common[s] {
		return false
	}
	if n.first[s] || n.last[s] {
		return true
	}
	// A hyphenated first name or double surname: "Marie-Claire", "Dubois-Martin".
	if strings.Contains(s, "-") {
		for _, part := range strings.Split(s, "-") {
			if n.first[part] || n.last[part] {
				return true
			}
		}
	}
	return false
}

// nameRun returns how many words from ws[i] on form a name: capitalised
// words, with lower-case particles between them ("Van den Berghe",
// "Anneke van der Berg"), never a title or relation word. It returns 0
// when ws[i] does not start one.
func nameRun(ws []word, i int) int {
	n := 0
	for j := i; j < len(ws) && j-i < 6; j++ {
		w := ws[j]
		if j > i && !w.joined {
			break
		}
		if j > i && w.sentStart {
			break
		}
		if _, isTitle := titles[w.s]; isTitle || relations[w.s] || (!w.cap && !nameParticles[w.s]) {
			break
		}
		if w.cap {
			n = j - i + 1
		}
	}
	return n
}

// personHit is a name found in the work buffer at [a, b), filed under key.
type personHit struct {
	a, b int
	key  string
}

// findPeople returns the names of people in the work buffer that the party
// matchers did not already take. learned maps the names found before (in
// this note or the case's other notes), and each of their words, folded and
// joined by spaces, to their key; it learns the new ones, so that "Van den
// Berghe" is masked on its own once "meneer Van den Berghe" was seen.
func findPeople(work []byte, f folded, text string, learned map[string]string) []personHit {
	ws := words(work, f, text)
	taken := make([]bool, len(ws))
	var out []personHit
	keyOf := func(i, j int) string {
		parts := make([]string, 0, j-i)
		for k := i; k < j; k++ {
			parts = append(parts, ws[k].s)
		}
		return strings.Join(parts, " ")
	}
	take := func(i, j int) {
		for k := i; k < j; k++ {
			taken[k] = true
		}
		seq := keyOf(i, j)
		key, ok := learned[seq]
		if !ok {
			key = "name\x00" + seq
			learned[seq] = key
			for k := i; k < j; k++ {
				w := ws[k]
				if _, set := learned[w.s]; !set && w.cap && utf8.RuneCountInString(w.s) >= 3 && !nameParticles[w.s] && !names.common[w.s] {
					learned[w.s] = key
				}
			}
		}
		out = append(out, personHit{ws[i].a, ws[j-1].b, key})
	}
	free := func(i, j int) bool {
		for k := i; k < j; k++ {
			if taken[k] {
				return false
			}
		}
		return true
	}
	// Names seen before, longest first, written with a capital.
	recall := func() {
		for i := 0; i < len(ws); i++ {
			if taken[i] || !ws[i].cap {
				continue
			}
			n := nameRun(ws, i)
			for m := n; m >= 1; m-- {
				if _, ok := learned[keyOf(i, i+m)]; ok && free(i, i+m) && ws[i+m-1].cap {
					take(i, i+m)
					i += m - 1
					break
				}
			}
		}
	}
	recall()

	// After a title, or a chain of them: "Frau Dr. Weber", "M. et Mme Dubois".
	for i := 0; i < len(ws); i++ {
		lower, ok := titles[ws[i].s]
		if !ok || (!lower && !ws[i].cap) {
			continue
		}
		j := i + 1
		for j < len(ws) && (isTitleWord(ws[j]) || ws[j].s == "et" || ws[j].s == "en" || ws[j].s == "und" || ws[j].s == "and") && j-i < 4 {
			j++
		}
		if j >= len(ws) || !ws[j].cap || ws[j].sentStart && !titleBefore(ws, j) {
			continue
		}
		if n := nameRun(ws, j); n > 0 && free(j, j+n) {
			take(j, j+n)
			i = j + n - 1
		}
	}
	// After a relation: "her neighbour Karim", "ihre Tochter Lena", "son
	// frère, Paul".
	for i := 0; i+1 < len(ws); i++ {
		if !relations[ws[i].s] {
			continue
		}
		j := i + 1
		if !ws[j].cap || ws[j].sentStart && !commaBetween(work, ws[i], ws[j]) {
			continue
		}
		if n := nameRun(ws, j); n > 0 && free(j, j+n) && !names.common[ws[j].s] {
			take(j, j+n)
		}
	}
	// Capitalised runs holding a known name.
	for i := 0; i < len(ws); i++ {
		if taken[i] || !ws[i].cap {
			continue
		}
		n := nameRun(ws, i)
		if n == 0 {
			continue
		}
		// Within the run, keep from the first known name (or a surname in
		// capitals before it: "DUPONT Jean") to the end of the run.
		first := -1
		for k := i; k < i+n; k++ {
			if ws[k].cap && names.known(ws[k].s) {
				first = k
				break
			}
		}
		if first < 0 {
			i += n - 1
			continue
		}
		start := first
		for start > i && ws[start-1].cap && !names.common[ws[start-1].s] &&
			(ws[start-1].allCaps || !ws[start-1].sentStart && names.first[ws[first].s]) {
			start--
		}
		for start > i && nameParticles[ws[start].s] && !ws[start].cap {
			start++
		}
		if free(start, i+n) && !dateWord(work, ws[first]) {
			take(start, i+n)
		}
		i += n - 1
	}
	recall()
	return out
}

// dateWord reports a month name next to a number: "15 Jan", "Jan 2025".
func dateWord(work []byte, w word) bool {
	if _, ok := monthNames[w.s]; !ok {
		return false
	}
	before := strings.TrimRight(string(work[:w.a]), " .")
	after := strings.TrimLeft(string(work[w.b:]), " .")
	return before != "" && before[len(before)-1] >= '0' && before[len(before)-1] <= '9' ||
		after != "" && after[0] >= '0' && after[0] <= '9'
}

func isTitleWord(w word) bool {
	lower, ok := titles[w.s]
	return ok && (lower || w.cap)
}

// titleBefore reports whether ws[j] follows a title with a full stop, which
// words() may have read as a sentence end.
func titleBefore(ws []word, j int) bool {
	return j > 0 && isTitleWord(ws[j-1])
}

// commaBetween reports a relation and a name separated by a comma only:
// "son frère, Paul".
func commaBetween(work []byte, a, b word) bool {
	return strings.TrimSpace(string(work[a.b:b.a])) == ","
}
