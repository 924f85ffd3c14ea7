package assistant

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestGround(t *testing.T) {
	t.Parallel()
	notes := []Note{
		{ID: "n1", Body: "Mme Lefèvre  fears   eviction this winter.\nShe said: “I can’t pay the rent”."},
		{ID: "n2", Body: "Appointment on 20/05/2024."},
	}
	tests := []struct {
		name  string
		text  string
		cits  []Citation
		code  string // "" when grounded
		quote string // the quote after grounding, for the first citation
	}{
		{"ExactQuote", "Mme Lefèvre fears eviction this winter.", []Citation{{"n1", "Mme Lefèvre  fears   eviction this winter.", false}}, "", "Mme Lefèvre  fears   eviction this winter."},
		{"CaseAccentsAndSpaces", "Mme Lefèvre fears eviction.", []Citation{{"n1", "MME LEFEVRE fears eviction this winter", false}}, "", "Mme Lefèvre  fears   eviction this winter"},
		{"TypographicQuotes", "She cannot pay the rent.", []Citation{{"n1", `"I can't pay the rent"`, false}}, "", "I can’t pay the rent"},
		{"AcrossLines", "She fears eviction.", []Citation{{"n1", "fears eviction this winter. She said", false}}, "", "fears   eviction this winter.\nShe said"},
		{"WholeShortNote", "Appointment on 20 May 2024.", []Citation{{"n2", "Appointment on 20/05/2024.", false}}, "", "Appointment on 20/05/2024."},
		{"OneValidCitationIsEnough", "Mme Lefèvre fears eviction.", []Citation{{"n2", "not there", false}, {"n1", "Mme Lefèvre fears eviction this winter.", false}}, "", "not there"},
		{"OneWordQuote", "The client abuses their children.", []Citation{{"n1", "rent", false}}, UngroundedQuoteTooShort, "rent"},
		{"FourWordQuote", "Mme Lefèvre fears eviction.", []Citation{{"n1", "Mme Lefèvre fears eviction", false}}, UngroundedQuoteTooShort, "Mme Lefèvre  fears   eviction"},
		{"PartOfAWord", "Mme Lefèvre fears eviction.", []Citation{{"n1", "e Lefèvre fears eviction this winter. Sh", false}}, UngroundedQuoteNotFound, "e Lefèvre fears eviction this winter. Sh"},
		{"QuoteNotInNote", "Mme Lefèvre fears the landlord.", []Citation{{"n1", "Mme Lefèvre fears the landlord", false}}, UngroundedQuoteNotFound, "Mme Lefèvre fears the landlord"},
		{"QuoteInAnotherNote", "x", []Citation{{"n2", "Mme Lefèvre fears eviction this winter", false}}, UngroundedQuoteNotFound, "Mme Lefèvre fears eviction this winter"},
		{"UnknownNote", "x", []Citation{{"n9", "Mme Lefèvre fears eviction this winter", false}}, UngroundedUnknownNote, "Mme Lefèvre fears eviction this winter"},
		{"NoCitation", "x", nil, UngroundedNoCitation, ""},
		{"UnsupportedClaim", "The client abuses their children.", []Citation{{"n1", "She said: “I can’t pay the rent”", false}}, UngroundedOverlap, "She said: “I can’t pay the rent"},
		{"ChangedNumber", "Appointment on 21/05/2024.", []Citation{{"n2", "Appointment on 20/05/2024.", false}}, UngroundedNumber, "Appointment on 20/05/2024."},
		{"ChangedMonth", "Appointment on 20 June 2024.", []Citation{{"n2", "Appointment on 20/05/2024.", false}}, UngroundedNumber, "Appointment on 20/05/2024."},
		{"OtherName", "Mme Dubois fears eviction.", []Citation{{"n1", "Mme Lefèvre fears eviction this winter.", false}}, UngroundedName, "Mme Lefèvre  fears   eviction this winter."},
		{"AddedNegation", "Mme Lefèvre does not fear eviction.", []Citation{{"n1", "Mme Lefèvre fears eviction this winter.", false}}, UngroundedNegation, "Mme Lefèvre  fears   eviction this winter."},
		{"DroppedNegation", "She can pay the rent.", []Citation{{"n1", `She said: "I can't pay the rent"`, false}}, UngroundedNegationLost, "She said: “I can’t pay the rent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Content{Language: "en", Statements: []Statement{{ID: "s1", Text: tt.text, Citations: append([]Citation(nil), tt.cits...)}}}
			n := Ground(c, notes)
			s := c.Statements[0]
			if s.UngroundedCode != tt.code || s.Ungrounded != (tt.code != "") || (n == 1) != (tt.code != "") {
				t.Fatalf("code = %q (ungrounded %v, count %d, %s), want %q", s.UngroundedCode, s.Ungrounded, n, s.UngroundedReason, tt.code)
			}
			if s.Ungrounded && s.UngroundedReason != ungroundedReason(s.UngroundedCode, s.UngroundedTerm) {
				t.Fatalf("reason = %q", s.UngroundedReason)
			}
			if !s.Ungrounded && s.UngroundedReason != "" {
				t.Fatalf("a grounded statement has a reason: %q", s.UngroundedReason)
			}
			if len(s.Citations) > 0 && s.Citations[0].Quote != tt.quote {
				t.Fatalf("quote = %q, want %q", s.Citations[0].Quote, tt.quote)
			}
		})
	}

	t.Run("ItemsAreCheckedAndCounted", func(t *testing.T) {
		t.Parallel()
		c := &Content{Language: "en", Items: []Item{
			{ID: "i1", Text: "Appointment on 20/05/2024.", Citations: []Citation{{NoteID: "n2", Quote: "appointment on 20/05/2024"}}},
			{ID: "i2", Text: "Invented.", Citations: []Citation{{NoteID: "n2", Quote: "invented"}}},
			{ID: "i3", Text: "Made up too.", Citations: []Citation{{NoteID: "n1", Quote: "made up too"}}},
		}}
		if n := Ground(c, notes); n != 2 {
			t.Fatalf("ungrounded = %d, want 2", n)
		}
		if c.Items[0].Ungrounded || !c.Items[1].Ungrounded || !c.Items[1].Citations[0].Unverified || c.Items[1].UngroundedCode != UngroundedQuoteNotFound {
			t.Fatalf("items = %+v", c.Items)
		}
		if got := GroundingSummary(c); got != "2 of 3 entries could not be traced to the notes" {
			t.Fatal(got)
		}
	})

	t.Run("ReferralsMayNameTheirService", func(t *testing.T) {
		t.Parallel()
		dir := []Service{{ID: "svc", Name: "Housing Support", Description: "Help with rent."}}
		c := &Content{Language: "en", Items: []Item{
			{ID: "i1", Type: ItemReferral, ServiceID: "svc", Text: "Housing Support: Mme Lefèvre fears eviction.", Citations: []Citation{{NoteID: "n1", Quote: "Mme Lefèvre fears eviction this winter."}}},
			{ID: "i2", Type: ItemAction, Text: "Housing Support: Mme Lefèvre fears eviction.", Citations: []Citation{{NoteID: "n1", Quote: "Mme Lefèvre fears eviction this winter."}}},
		}}
		sources := map[string]maskedText{"n1": {Original: notes[0].Body, Masked: notes[0].Body}}
		if n := ground(c, sources, nil, dir); n != 1 || c.Items[0].Ungrounded || c.Items[1].UngroundedCode != UngroundedName {
			t.Fatalf("items = %+v", c.Items)
		}
	})
}

// TestSupport runs the support check over statements in the four languages,
// against quotes that are long enough and found in their notes.
func TestSupport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, quote string
		code              string
	}{
		{"EnglishParaphrase", "Lucas is afraid to go home.", "Lucas told the teacher he is afraid to go home.", ""},
		{"EnglishStemming", "The client was threatened by her landlord.", "Her landlord threatens her with eviction every week.", ""},
		{"EnglishUnsupported", "The client abuses their children.", "The client came to the office on Monday.", UngroundedOverlap},
		{"EnglishDroppedNegation", "Bruises were seen on his arm.", "The teacher saw no bruises on his arm.", UngroundedNegationLost},
		{"EnglishNegationKept", "No bruises were seen on his arm.", "The teacher saw no bruises on his arm.", ""},
		{"EnglishNegationOfOtherWords", "She has three children.", "She has three children and no income at all.", ""},
		{"FrenchParaphrase", "Mme Martin dit qu'elle ne veut plus vivre.", "Mme Martin dit qu'elle ne veut plus vivre.", ""},
		{"FrenchDroppedNegation", "Mme Martin veut vivre chez sa fille.", "Mme Martin ne veut plus vivre chez sa fille.", UngroundedNegationLost},
		{"FrenchAddedNegation", "Le loyer n'est pas payé depuis mars.", "Le loyer est payé depuis le mois de mars.", UngroundedNegation},
		{"FrenchChangedNumber", "Elle doit 1200 euros de loyer.", "Elle doit 1100 euros de loyer au propriétaire.", UngroundedNumber},
		{"DutchParaphrase", "Lucas heeft blauwe plekken op zijn arm.", "Lucas heeft blauwe plekken op zijn arm en zegt dat hij bang is thuis.", ""},
		{"DutchName", "Meneer Van den Berghe belde gisteren.", "Zijn buurman belde gisteren over de huur.", UngroundedName},
		{"DutchUnsupported", "De cliënt heeft schulden bij de bank.", "Lucas speelt graag voetbal na school.", UngroundedOverlap},
		{"GermanNounsAreNotNames", "Die Klientin hat Mietschulden beim Vermieter.", "Sie hat seit Monaten Mietschulden beim Vermieter.", ""},
		{"GermanNegation", "Sie hat keine Mietschulden.", "Sie hat seit Monaten Mietschulden beim Vermieter.", UngroundedNegation},
		{"GermanDate", "Termin am 3. Mai 2024.", "Der Termin beim Jugendamt ist am 3. Juni 2024.", UngroundedNumber},
		{"PlaceholderKept", "[PERSON_1] fears eviction.", "[PERSON_1] fears eviction since last week.", ""},
		{"PlaceholderSwapped", "[PERSON_2] fears eviction.", "[PERSON_1] fears eviction since last week.", UngroundedName},
		{"MonthAsWordOrNumber", "The hearing is on 20 May 2024.", "The hearing at court is on 20/05/2024.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if code, term := unsupported(tt.text, []string{tt.quote}, "", "", true); code != tt.code {
				t.Fatalf("code = %q (%q), want %q", code, term, tt.code)
			}
		})
	}

	t.Run("TranslatedStatementsSkipOnlyTheOverlap", func(t *testing.T) {
		t.Parallel()
		quote := "Mme Martin doit 1200 euros au propriétaire."
		if code, _ := unsupported("Mrs Martin owes the landlord 1200 euros.", []string{quote}, "", "en", false); code != "" {
			t.Fatalf("a faithful translation is ungrounded: %s", code)
		}
		if code, _ := unsupported("Mrs Martin owes the landlord 1500 euros.", []string{quote}, "", "en", false); code != UngroundedNumber {
			t.Fatalf("a changed number in a translation is grounded: %q", code)
		}
		if code, _ := unsupported("Mrs Martin does not owe the landlord 1200 euros.", []string{quote}, "", "en", false); code != UngroundedNegation {
			t.Fatalf("an added negation in a translation is grounded: %q", code)
		}
	})
}

// FuzzGround checks that grounding never panics, that any passage of a
// note of at least MinQuoteWords words that does not cut a word grounds the
// statement that repeats it, and that the stored quote is then the note's
// own text.
func FuzzGround(f *testing.F) {
	f.Add("Mme Lefèvre fears eviction and cannot pay.", 4, 30)
	f.Add("  spaces\n\tand\u00a0tabs and more words here  ", 0, 30)
	f.Add("ÉCOLE Straße “quotes” are written here too", 2, 30)
	f.Fuzz(func(t *testing.T, body string, a, n int) {
		notes := []Note{{ID: "n1", Body: body}}
		c := &Content{Statements: []Statement{{ID: "s1", Text: body, Citations: []Citation{{NoteID: "n1", Quote: body}}}}}
		Ground(c, notes)
		if a < 0 || n < 0 || a+n > len(body) {
			return
		}
		quote := body[a : a+n]
		c = &Content{Statements: []Statement{{ID: "s1", Text: quote, Citations: []Citation{{NoteID: "n1", Quote: quote}}}}}
		Ground(c, notes)
		s := c.Statements[0]
		got := s.Citations[0].Quote
		fb, fq := foldString(body), strings.Trim(foldString(quote), `"' .`)
		whole := a == 0 || !isWordByte(body[a-1]) || !isWordByte(body[a])
		whole = whole && (a+n == len(body) || !isWordByte(body[a+n]) || !isWordByte(body[a+n-1]))
		if utf8.ValidString(quote) && utf8.ValidString(body) && whole && fq != "" && strings.Count(fb, fq) == 1 &&
			wordCount(quote) >= MinQuoteWords && (s.UngroundedCode == UngroundedQuoteNotFound || s.UngroundedCode == UngroundedQuoteTooShort) {
			t.Fatalf("a passage of the note, %q, does not ground: %s", quote, s.UngroundedReason)
		}
		if !s.Citations[0].Unverified && !strings.Contains(body, got) {
			t.Fatalf("found quote %q is not in the note %q", got, body)
		}
	})
}

func TestQuoteAround(t *testing.T) {
	t.Parallel()
	body := "Home visit. She has two months of rent arrears. She skips meals."
	for _, tt := range []struct{ s, want string }{
		{"She has two months of rent arrears.", "She has two months of rent arrears."},
		{"Home visit.", "Home visit. She has two"},
		{"She skips meals.", "rent arrears. She skips meals."},
		{"not in the body", "not in the body"},
	} {
		if got := quoteAround(body, tt.s); got != tt.want {
			t.Errorf("quoteAround(%q) = %q, want %q", tt.s, got, tt.want)
		}
	}
	if got := quoteAround("Seen today.", "Seen today."); got != "Seen today." {
		t.Errorf("a short note is quoted whole: %q", got)
	}
}

// FuzzSupport checks that the support check never panics and that a
// statement is always supported by itself as its quote.
func FuzzSupport(f *testing.F) {
	f.Add("Mme Martin ne veut plus vivre depuis le 3 mars.")
	f.Add("[PERSON_1] can't pay 1200 euros; she was not seen on 20/05/2024.")
	f.Add("Der Termin beim Jugendamt ist am 3. Juni 2024, kein Geld.")
	f.Fuzz(func(t *testing.T, text string) {
		if code, term := unsupported(text, []string{text}, "", "", true); code != "" {
			t.Fatalf("%q does not support itself: %s %q", text, code, term)
		}
		unsupported(text, []string{"the client", text[:len(text)/2]}, text, "de", false)
	})
}
