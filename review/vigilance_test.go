package review

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/countersign/countersign/assistant"
)

var vigilanceNotes = []assistant.Note{
	{ID: "n1", Body: "Home visit with Marie Dubois. She has two months of rent arrears. The heating was cut off last week."},
	{ID: "n2", Body: "Phone call with Claire Dubois, her daughter. Marie has an appointment with her GP on 14 December 2026. Claire is worried."},
	{ID: "n3", Body: "Office meeting. Marie agreed to a referral to the budget advice service. She sometimes skips meals."},
}

// vigilanceContent is a draft citing the first sentence of each note.
func vigilanceContent() *assistant.Content {
	c := &assistant.Content{Language: "en"}
	for _, n := range vigilanceNotes {
		s := assistant.Sentences(n.Body)[0]
		c.Statements = append(c.Statements, assistant.Statement{ID: assistant.NewStatementID(c), Text: s,
			Citations: []assistant.Citation{{NoteID: n.ID, Quote: assistant.QuoteAround(n.Body, s)}}})
	}
	return c
}

func noteIndex(id string) int {
	for i, n := range vigilanceNotes {
		if n.ID == id {
			return i
		}
	}
	return -1
}

func TestInsertVigilance(t *testing.T) {
	t.Parallel()
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		c := vigilanceContent()
		before := append([]assistant.Statement(nil), c.Statements...)
		check := InsertVigilance(c, vigilanceNotes, r.Float64)
		if check == nil || len(c.Statements) != len(before)+1 {
			t.Fatalf("seed %d: no check in %+v", seed, c.Statements)
		}
		var planted assistant.Statement
		for _, s := range c.Statements {
			if s.ID == check.StatementID {
				planted = s
			}
		}
		if planted.Text != check.Text || !strings.HasPrefix(planted.ID, "st_") || len(planted.ID) != len(before[0].ID) {
			t.Fatalf("seed %d: the check %+v does not look like a statement (%q)", seed, planted, before[0].ID)
		}
		// Made from a sentence of the notes that no statement cites, with
		// one fact changed: it cites that sentence, which it contradicts.
		if len(planted.Citations) != 1 {
			t.Fatalf("seed %d: citations %+v", seed, planted.Citations)
		}
		cit := planted.Citations[0]
		body := vigilanceNotes[noteIndex(cit.NoteID)].Body
		if !strings.Contains(body, cit.Quote) || strings.Contains(body, planted.Text) || strings.Contains(strings.ToLower(planted.Text), "lottery") {
			t.Fatalf("seed %d: %q (citing %q) is not a changed sentence of the notes", seed, planted.Text, cit.Quote)
		}
		for _, s := range before {
			if s.Text == planted.Text || s.Citations[0].Quote == cit.Quote {
				t.Fatalf("seed %d: the check %q copies or sits on a cited statement %q", seed, planted.Text, s.Text)
			}
		}
		if d := wordDiff(planted.Text, cit.Quote); d == 0 || d > 4 {
			t.Fatalf("seed %d: %q differs from %q by %d words", seed, planted.Text, cit.Quote, d)
		}
		if want := assistant.Stricter(assistant.Read(planted.Text), assistant.Read(cit.Quote)); planted.Category != want {
			t.Fatalf("seed %d: category %q, want %q as the drafter reads it", seed, planted.Category, want)
		}
		// The order stays the order of the notes.
		last := -1
		for _, s := range c.Statements {
			i := noteIndex(s.Citations[0].NoteID)
			if i < last {
				t.Fatalf("seed %d: out of the notes' order: %+v", seed, c.Statements)
			}
			last = i
		}
	}

	t.Run("NothingToStandBeside", func(t *testing.T) {
		t.Parallel()
		if InsertVigilance(&assistant.Content{}, vigilanceNotes, rand.Float64) != nil {
			t.Fatal("a check was added to a draft without statements")
		}
	})
	t.Run("FromAStatementWhenTheNotesAreInAnotherLanguage", func(t *testing.T) {
		t.Parallel()
		c := vigilanceContent()
		c.Language = "fr"
		c.Statements[0].Text = "Visite à domicile chez Marie Dubois."
		c.Statements[1].Text = "Marie a un rendez-vous chez son médecin le 14 décembre 2026."
		c.Statements[2].Text = "Réunion au bureau avec Marie."
		check := InsertVigilance(c, vigilanceNotes, func() float64 { return 0 })
		if check == nil || c.Statements[1].ID != check.StatementID || check.Text != "Visite à domicile chez Claire Dubois." ||
			c.Statements[1].Citations[0] != c.Statements[0].Citations[0] {
			t.Fatalf("check %+v in a French draft from English notes: %+v", check, c.Statements)
		}
	})
}

// wordDiff counts the words of a that are not in b.
func wordDiff(a, b string) int {
	n := 0
	for _, w := range strings.Fields(a) {
		if !strings.Contains(" "+b+" ", " "+w+" ") {
			n++
		}
	}
	return n
}

func TestFalsify(t *testing.T) {
	t.Parallel()
	names := []string{"Marie", "Claire", "Lucas"}
	zero := func() float64 { return 0 }
	tests := []struct {
		name, lang, in string
		change         func(s, lang string) (string, bool)
		want           string
	}{
		{"Number", "en", "She has 2 months of arrears.", func(s, _ string) (string, bool) { return changeNumber(s, zero) }, "She has 3 months of arrears."},
		{"DayStaysADay", "en", "The hearing is on 28/01/2027.", func(s, _ string) (string, bool) { return changeNumber(s, zero) }, "The hearing is on 27/01/2027."},
		{"Year", "en", "Born in 1948.", func(s, _ string) (string, bool) { return changeNumber(s, zero) }, "Born in 1949."},
		{"MonthEnglish", "en", "GP on 14 December 2026.", func(s, l string) (string, bool) { return changeMonth(s, l, zero) }, "GP on 14 January 2026."},
		{"MonthFrench", "fr", "Audience le 20 janvier 2027.", func(s, l string) (string, bool) { return changeMonth(s, l, zero) }, "Audience le 20 février 2027."},
		{"MayTheVerbStays", "en", "She may move in 2027.", func(s, l string) (string, bool) { return changeMonth(s, l, zero) }, ""},
		{"Name", "en", "Claire visits on Sundays.", func(s, _ string) (string, bool) { return changeName(s, names, zero) }, "Marie visits on Sundays."},
		{"NegationAddedEnglish", "en", "Marie is worried.", changeNegation, "Marie is not worried."},
		{"NegationRemovedEnglish", "en", "The teacher did see no bruises and it is not clear.", changeNegation, "The teacher did see no bruises and it is clear."},
		{"NegationFrench", "fr", "Mme Martin dit qu'elle ne veut plus vivre.", changeNegation, "Mme Martin dit qu'elle veut vivre."},
		{"NegationDutch", "nl", "Lucas is bang thuis.", changeNegation, "Lucas is niet bang thuis."},
		{"NegationGerman", "de", "Sie hat keine Arbeit.", changeNegation, "Sie hat eine Arbeit."},
	}
	for _, tt := range tests {
		got, ok := tt.change(tt.in, tt.lang)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("%s: %q → %q (%v), want %q", tt.name, tt.in, got, ok, tt.want)
		}
	}
}
