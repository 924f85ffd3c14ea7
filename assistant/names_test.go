package assistant

import (
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPseudonymiserMasksPeopleNotRecorded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		masked     []string // values that must not reach the model
		kept       []string // words around them that must
	}{
		{"DutchTitleParticles", "Gisteren kwam meneer Van den Berghe langs.", []string{"Van den Berghe", "Berghe"}, []string{"meneer", "Gisteren", "langs"}},
		{"DutchMevrouw", "mevrouw De Smet belde over de huur.", []string{"De Smet"}, []string{"mevrouw", "huur"}},
		{"FrenchMme", "Mme Martin dit qu'elle ne veut plus vivre.", []string{"Martin"}, []string{"Mme", "vivre"}},
		{"FrenchMAbbreviated", "M. Dupont a appelé ce matin.", []string{"Dupont"}, []string{"M.", "appelé"}},
		{"FrenchMonsieurFullName", "Visite de Monsieur Kévin Lambert-Diallo.", []string{"Kévin", "Lambert-Diallo"}, []string{"Monsieur", "Visite"}},
		{"FrenchCouple", "M. et Mme Kowalczyk sont venus.", []string{"Kowalczyk"}, []string{"sont venus"}},
		{"GermanHerr", "Herr Schmidt rief heute an.", []string{"Schmidt"}, []string{"Herr", "rief"}},
		{"GermanFrauDr", "Termin bei Frau Dr. Oberhuber am Montag.", []string{"Oberhuber"}, []string{"Frau Dr.", "Termin", "Montag"}},
		{"EnglishMr", "Mr O'Sullivan from the school called.", []string{"O'Sullivan"}, []string{"Mr", "school"}},
		{"EnglishMrsUnknownSurname", "Spoke with Mrs Wojciechowska about the rent.", []string{"Wojciechowska"}, []string{"Mrs", "rent"}},
		{"EnglishDr", "Dr. Nakamura will see her.", []string{"Nakamura"}, []string{"Dr.", "see her"}},
		{"EnglishNeighbour", "Her neighbour Zbigniew has a key.", []string{"Zbigniew"}, []string{"neighbour", "key"}},
		{"EnglishNeighbourComma", "She called her neighbour, Tiago, for help.", []string{"Tiago"}, []string{"neighbour", "help"}},
		{"FrenchFrere", "Son frère Yanis l'héberge depuis mars.", []string{"Yanis"}, []string{"frère", "mars"}},
		{"DutchZus", "Zijn zus Lies vangt de kinderen op.", []string{"Lies"}, []string{"zus", "kinderen"}},
		{"GermanTochter", "Ihre Tochter Lena geht nicht zur Schule.", []string{"Lena"}, []string{"Tochter", "Schule"}},
		{"ListFirstAndSurname", "Yesterday Karim Bouzid came to the office.", []string{"Karim", "Bouzid"}, []string{"Yesterday", "office"}},
		{"ListFirstNameAtSentenceStart", "Sofie said she cannot cope any more.", []string{"Sofie"}, []string{"said", "cope"}},
		{"ListChildName", "Lucas told the teacher he is afraid to go home.", []string{"Lucas"}, []string{"teacher", "afraid"}},
		{"ListDutchNames", "Daarna kwamen Pieter en Jan samen langs.", []string{"Pieter", "Jan"}, []string{"Daarna", "samen"}},
		{"ListSurnameInCapitals", "Courrier de la part de DUBOIS Jeanne reçu.", []string{"DUBOIS", "Jeanne"}, []string{"Courrier", "reçu"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := NewPseudonymiser(nil, testNow)
			masked := p.Mask(tt.text)
			for _, v := range tt.masked {
				if strings.Contains(masked, v) {
					t.Errorf("Mask(%q) = %q, still holds %q", tt.text, masked, v)
				}
			}
			for _, v := range tt.kept {
				if !strings.Contains(masked, v) {
					t.Errorf("Mask(%q) = %q, lost %q", tt.text, masked, v)
				}
			}
			if !strings.Contains(masked, "[PERSON_") || p.Counts()[MaskPerson] == 0 {
				t.Errorf("Mask(%q) = %q, counts %v: want a person", tt.text, masked, p.Counts())
			}
			if got := p.Restore(masked); got != tt.text {
				t.Errorf("Restore(%q) = %q, want the note back", masked, got)
			}
		})
	}
}

func TestPseudonymiserLeavesWordsThatAreNotNames(t *testing.T) {
	t.Parallel()
	tests := []string{
		"Will the CPAS pay the rent in May?",
		"Le CPAS de Bruxelles a payé le loyer.",
		"Am Montag kam der Brief vom Jobcenter.",
		"Die Mutter hat Angst um ihre Wohnung.",
		"She moved to Paris last year.",
		"Het OCMW betaalt de huur.",
		"Her neighbour helps with the shopping.",
		"De kinderen gaan naar school. Van maandag tot vrijdag.",
		"Le loyer est payé. Da war niemand.",
	}
	for _, text := range tests {
		p := NewPseudonymiser(nil, testNow)
		if got := p.Mask(text); got != text {
			t.Errorf("Mask(%q) = %q", text, got)
		}
	}
}

func TestPseudonymiserNamesNotRecordedAreStable(t *testing.T) {
	t.Parallel()
	p := NewPseudonymiser(testParties, testNow)
	a := p.Mask("Visit by meneer Van den Berghe and Karim Bouzid.")
	b := p.Mask("Van den Berghe called again; Karim Bouzid did not.")
	// Parties come first (three of them), then the people of the notes in order.
	if !strings.Contains(a, "meneer [PERSON_4]") || !strings.Contains(a, "and [PERSON_5]") ||
		!strings.HasPrefix(b, "[PERSON_4] called") || !strings.Contains(b, "; [PERSON_5] did") {
		t.Fatalf("a = %q\nb = %q", a, b)
	}
	// The same pseudonymiser made afresh numbers them the same way.
	q := NewPseudonymiser(testParties, testNow)
	if again := q.Mask("Visit by meneer Van den Berghe and Karim Bouzid."); again != a {
		t.Fatalf("not stable: %q vs %q", again, a)
	}
}

// TestRestoreGivesBackWhatWasWritten is the two examples: restoring
// wrote the recorded value instead of the words of the note.
func TestRestoreGivesBackWhatWasWritten(t *testing.T) {
	t.Parallel()
	parties := []Party{{ID: "p1", Role: "client", FullName: "Sofie Janssens", Address: "Kerkstraat 5, 9000 Gent"}}
	p := NewPseudonymiser(parties, testNow)
	note := "Sofie said she still lives at Kerkstraat 5, Gent. Sofie Janssens signed."
	m := p.Mask(note)
	if strings.Contains(m, "Sofie") || strings.Contains(m, "Kerkstraat") {
		t.Fatalf("masked = %q", m)
	}
	if got := p.Restore(m); got != note {
		t.Fatalf("Restore(Mask(note)) = %q", got)
	}
	// A model's sentence built from the placeholders reads as the note did.
	first := m[:strings.Index(m, " said")]
	addr := m[strings.Index(m, "at ")+3 : strings.Index(m, ", Gent")]
	got := p.Restore(first + " said " + addr + ", Gent is her home.")
	if got != "Sofie said Kerkstraat 5, Gent is her home." {
		t.Fatalf("restored = %q", got)
	}
}

// noteFragments are the pieces random notes are made of: names recorded or
// not, titles, relations, numbers of every shape, text that looks like a
// placeholder, odd white space and bytes that are not UTF-8.
var noteFragments = []string{
	"Jean-Pierre Müller", "JEAN-PIERRE MULLER", "J.-P. Mueller", "Anneke van der Berg", "Zoë", "Lefèvre", "meneer Van den Berghe",
	"Mme Martin", "M. Dupont", "Herr Schmidt", "Frau Dr. Weber", "her neighbour Karim", "son frère Yanis", "zijn zus Lies",
	"ihre Tochter Lena", "Sofie", "Lucas", "Karim Bouzid", "DUBOIS Jeanne", "O'Brien", "d'Hondt",
	"[PERSON_1]", "[person_2]", "[PHONE_1_2]", "[ID_", "]", "[", "_1]", "PERSON", "[IBAN_99]",
	"0470 12 34 56", "+32 470 12 34 56", "06-12345678", "85.03.12-123.45", "756.1234.5678.97", "BE68 5390 0754 7034",
	"12/03/1985", "born 12 March 1985", "le 28 novembre", "2024-05-20", "jp.muller@example.org", "a.b@c.de",
	"Rue de la Loi 16", "1000 Bruxelles", "Hauptstr. 5", "Kerkstraat 5, Gent",
	" ", "  ", "\n", "\t", "\u00a0", ". ", ", ", "; ", "!", "«", "»", "’", "–", "…", "ß", "e\u0301", "\xff", "\xe2\x82",
	"said", "is", "the", "rent", "Will", "May", "Paris", "CPAS", "Montag", "1", "23", "456789",
}

// TestMaskRestoreIsIdentity is the property the issue asks for: masking and
// restoring any note gives it back, byte for byte.
func TestMaskRestoreIsIdentity(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(13, 5))
	// Each case masks with a fresh Pseudonymiser for the parties: a copy of
	// one made once, since compiling the parties' patterns was most of the
	// test's time. The copy must be what NewPseudonymiser makes, and the
	// cases must leave the original as it was made (nothing shared changed).
	tpl := NewPseudonymiser(testParties, testNow)
	if !reflect.DeepEqual(freshCopy(tpl), NewPseudonymiser(testParties, testNow)) {
		t.Fatal("freshCopy differs from NewPseudonymiser: it misses a field")
	}
	for i := range 3000 {
		var b strings.Builder
		for range 1 + r.IntN(30) {
			b.WriteString(noteFragments[r.IntN(len(noteFragments))])
			if r.IntN(3) > 0 {
				b.WriteByte(" .,\n-("[r.IntN(6)])
			}
		}
		note := b.String()
		p := freshCopy(tpl)
		m := p.maskNote(note)
		if got := p.Restore(m.Masked); got != note {
			t.Fatalf("case %d: Restore(Mask(%q)) =\n %q\nmasked %q", i, note, got, m.Masked)
		}
		if got := m.originalRange(0, len(m.Masked)); got != note {
			t.Fatalf("case %d: spans map %q back to %q", i, note, got)
		}
	}
	if !reflect.DeepEqual(tpl, NewPseudonymiser(testParties, testNow)) {
		t.Fatal("masking with copies changed the Pseudonymiser they were copied from")
	}
}

// freshCopy returns a Pseudonymiser in the state p is in, sharing nothing
// that masking changes with it (the matchers' patterns are immutable).
func freshCopy(p *Pseudonymiser) *Pseudonymiser {
	c := *p
	c.matchers = slices.Clone(p.matchers)
	c.values = make(map[string]*placeholder, len(p.values))
	for k, ph := range p.values {
		cp := *ph
		cp.surfaces = maps.Clone(ph.surfaces)
		c.values[k] = &cp
	}
	c.byTag, c.next, c.counts, c.learned = maps.Clone(p.byTag), maps.Clone(p.next), maps.Clone(p.counts), maps.Clone(p.learned)
	return &c
}

// FuzzMaskRestore checks the same property on any text the fuzzer makes.
func FuzzMaskRestore(f *testing.F) {
	for _, s := range noteFragments {
		f.Add(s)
	}
	f.Add("Sofie said she lives at Kerkstraat 5, Gent; [PERSON_1] is not a name.")
	f.Fuzz(func(t *testing.T, note string) {
		p := NewPseudonymiser(testParties, testNow)
		m := p.Mask(note)
		if got := p.Restore(m); got != note {
			t.Fatalf("Restore(Mask(%q)) = %q (masked %q)", note, got, m)
		}
		if utf8.ValidString(note) && !utf8.ValidString(m) {
			t.Fatalf("masking made invalid UTF-8: %q", m)
		}
	})
}
