package assistant

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestGround(t *testing.T) {
	t.Parallel()
	notes := []Note{
		{ID: "n1", Body: "Mme Lefèvre  fears   eviction.\nShe said: “I can’t pay the rent”."},
		{ID: "n2", Body: "Appointment on 20/05/2024."},
	}
	tests := []struct {
		name       string
		cits       []Citation
		ungrounded bool
		reason     string
		quote      string // the quote after grounding, for the first citation
	}{
		{"ExactQuote", []Citation{{"n1", "fears   eviction", false}}, false, "", "fears   eviction"},
		{"CaseAccentsAndSpaces", []Citation{{"n1", "MME LEFEVRE fears eviction", false}}, false, "", "Mme Lefèvre  fears   eviction"},
		{"TypographicQuotes", []Citation{{"n1", `"I can't pay the rent"`, false}}, false, "", "I can’t pay the rent"},
		{"AcrossLines", []Citation{{"n1", "eviction. She said", false}}, false, "", "eviction.\nShe said"},
		{"TrailingFullStop", []Citation{{"n2", "Appointment on 20/05/2024.", false}}, false, "", "Appointment on 20/05/2024."},
		{"OneValidCitationIsEnough", []Citation{{"n2", "not there", false}, {"n2", "appointment", false}}, false, "", "not there"},
		{"QuoteNotInNote", []Citation{{"n1", "fears the landlord", false}}, true, "No citation could be checked: its quote was not found in the cited note.", "fears the landlord"},
		{"QuoteInAnotherNote", []Citation{{"n2", "fears eviction", false}}, true, "No citation could be checked: its quote was not found in the cited note.", "fears eviction"},
		{"UnknownNote", []Citation{{"n9", "fears eviction", false}}, true, "No citation could be checked: it cites a note that is not among the notes of this draft.", "fears eviction"},
		{"TooShort", []Citation{{"n1", "s", false}}, true, "No citation could be checked: its quote was not found in the cited note.", "s"},
		{"NoCitation", nil, true, "It has no citation.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Content{Statements: []Statement{{ID: "s1", Text: "x", Citations: append([]Citation(nil), tt.cits...)}}}
			n := Ground(c, notes)
			s := c.Statements[0]
			if s.Ungrounded != tt.ungrounded || (n == 1) != tt.ungrounded {
				t.Fatalf("ungrounded = %v (count %d), want %v", s.Ungrounded, n, tt.ungrounded)
			}
			if s.UngroundedReason != tt.reason {
				t.Fatalf("reason = %q, want %q", s.UngroundedReason, tt.reason)
			}
			if len(s.Citations) > 0 && s.Citations[0].Quote != tt.quote {
				t.Fatalf("quote = %q, want %q", s.Citations[0].Quote, tt.quote)
			}
		})
	}

	t.Run("ItemsAreCheckedAndCounted", func(t *testing.T) {
		t.Parallel()
		c := &Content{Items: []Item{
			{ID: "i1", Citations: []Citation{{NoteID: "n2", Quote: "appointment on 20/05/2024"}}},
			{ID: "i2", Citations: []Citation{{NoteID: "n2", Quote: "invented"}}},
			{ID: "i3", Citations: []Citation{{NoteID: "n1", Quote: "made up too"}}},
		}}
		if n := Ground(c, notes); n != 2 {
			t.Fatalf("ungrounded = %d, want 2", n)
		}
		if c.Items[0].Ungrounded || !c.Items[1].Ungrounded || !c.Items[1].Citations[0].Unverified {
			t.Fatalf("items = %+v", c.Items)
		}
		if got := GroundingSummary(c); got != "2 of 3 entries could not be traced to the notes" {
			t.Fatal(got)
		}
	})
}

// FuzzGround checks that grounding never panics, that any passage of a note
// long enough to mean something grounds a statement, and that the stored
// quote is then the note's own text.
func FuzzGround(f *testing.F) {
	f.Add("Mme Lefèvre fears eviction.", 4, 12)
	f.Add("  spaces\n\tand\u00a0tabs  ", 0, 10)
	f.Add("ÉCOLE Straße “quotes”", 2, 15)
	f.Fuzz(func(t *testing.T, body string, a, n int) {
		notes := []Note{{ID: "n1", Body: body}}
		c := &Content{Statements: []Statement{{ID: "s1", Citations: []Citation{{NoteID: "n1", Quote: body}}}}}
		Ground(c, notes)
		if a < 0 || n < 0 || a+n > len(body) {
			return
		}
		quote := body[a : a+n]
		c = &Content{Statements: []Statement{{ID: "s1", Citations: []Citation{{NoteID: "n1", Quote: quote}}}}}
		Ground(c, notes)
		got := c.Statements[0].Citations[0].Quote
		if utf8.ValidString(quote) && len(strings.Trim(foldString(quote), `"' .`)) >= minQuote && c.Statements[0].Ungrounded {
			t.Fatalf("a passage of the note, %q, does not ground: %s", quote, c.Statements[0].UngroundedReason)
		}
		if !c.Statements[0].Ungrounded && !strings.Contains(body, got) {
			t.Fatalf("grounded quote %q is not in the note %q", got, body)
		}
	})
}
