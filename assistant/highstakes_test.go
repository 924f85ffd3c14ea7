package assistant_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/assistant/openai"
	"github.com/countersign/countersign/assistant/openai/fakeopenai"
)

// stakesNotes are the examples, one note each, beside an ordinary
// sentence that must stay ordinary.
var stakesNotes = []assistant.Note{
	{ID: "note_en1", WrittenAt: today, Body: "Lucas told the teacher he is afraid to go home. The teacher saw bruises on his arm."},
	{ID: "note_en2", WrittenAt: today, Body: "Sofie has stopped taking her antidepressants and says she cannot cope any more."},
	{ID: "note_nl", WrittenAt: today, Body: "Lucas heeft blauwe plekken op zijn arm en zegt dat hij bang is thuis."},
	{ID: "note_fr", WrittenAt: today, Body: "Mme Martin dit qu'elle ne veut plus vivre."},
	{ID: "note_plain", WrittenAt: today, Body: "The family went to the park on Sunday afternoon."},
}

func TestDrafterClassifiesWhatTheModelLeftUnlabelled(t *testing.T) {
	t.Parallel()

	want := map[string]string{
		"Lucas told the teacher he is afraid to go home.":                                 assistant.CategorySafeguarding,
		"The teacher saw bruises on his arm.":                                             assistant.CategorySafeguarding,
		"Sofie has stopped taking her antidepressants and says she cannot cope any more.": assistant.CategoryRisk,
		"Lucas heeft blauwe plekken op zijn arm en zegt dat hij bang is thuis.":           assistant.CategorySafeguarding,
		"Mme Martin dit qu'elle ne veut plus vivre.":                                      assistant.CategoryRisk,
		"The family went to the park on Sunday afternoon.":                                "",
	}
	drafters := map[string]func(t *testing.T) *assistant.Drafter{
		"Offline": func(t *testing.T) *assistant.Drafter {
			return &assistant.Drafter{Model: assistant.Extractive{}, Now: func() time.Time { return today }}
		},
		"OpenAIThatLabelsNothing": func(t *testing.T) *assistant.Drafter {
			b := setup(t, openai.Config{})
			b.server.SetResponder(fakeopenai.ExtractUnlabelled)
			return b.drafter
		},
	}
	for name, newDrafter := range drafters {
		t.Run(name+"Summary", func(t *testing.T) {
			t.Parallel()
			res, err := newDrafter(t).Draft(context.Background(), assistant.Request{Kind: assistant.KindSummary, Language: "en", Notes: stakesNotes})
			if err != nil {
				t.Fatal(err)
			}
			if res.DetectorVersion != assistant.DetectorVersion() || !strings.HasPrefix(res.DetectorVersion, "stakes/") {
				t.Errorf("DetectorVersion = %q, want %q", res.DetectorVersion, assistant.DetectorVersion())
			}
			seen := 0
			for _, s := range res.Content.Statements {
				cat, ok := want[s.Text]
				if !ok {
					continue
				}
				seen++
				if s.Category != cat {
					t.Errorf("%q: category %q, want %q", s.Text, s.Category, cat)
				}
			}
			if seen != len(want) {
				t.Errorf("found %d of the %d sentences among %d statements", seen, len(want), len(res.Content.Statements))
			}
		})
		t.Run(name+"Suggestions", func(t *testing.T) {
			t.Parallel()
			res, err := newDrafter(t).Draft(context.Background(), assistant.Request{Kind: assistant.KindSuggestions, Language: "en", Notes: stakesNotes})
			if err != nil {
				t.Fatal(err)
			}
			flagged := 0
			for _, it := range res.Content.Items {
				if len(it.Citations) > 0 && it.Citations[0].NoteID == "note_plain" {
					continue // "on Sunday" is a date: the ordinary note may give an ordinary item
				}
				if it.Category == "" {
					t.Errorf("item %q (%s) has no category", it.Text, it.Type)
					continue
				}
				flagged++
			}
			if flagged < 4 {
				t.Errorf("%d items flagged, want one per high-stakes note: %+v", flagged, res.Content.Items)
			}
		})
	}
}

func TestDrafterNeverLowersTheModelsCategory(t *testing.T) {
	t.Parallel()
	b := setup(t, openai.Config{})
	// The model calls an ordinary sentence a health matter: it stays one.
	b.server.Enqueue(fakeopenai.Content(`{"language":"en","statements":[` +
		`{"id":"s1","text":"The family went to the park on Sunday afternoon.","category":"health","citations":[{"note_id":"note_plain","quote":"The family went to the park on Sunday afternoon."}]},` +
		`{"id":"s2","text":"Mme Martin dit qu'elle ne veut plus vivre.","category":"health","citations":[{"note_id":"note_fr","quote":"Mme Martin dit qu'elle ne veut plus vivre."}]}]}`))
	res, err := b.drafter.Draft(context.Background(), assistant.Request{Kind: assistant.KindSummary, Language: "en", Notes: stakesNotes})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range res.Content.Statements {
		got[s.Text] = s.Category
	}
	if c := got["The family went to the park on Sunday afternoon."]; c != assistant.CategoryHealth {
		t.Errorf("the model's health became %q", c)
	}
	if c := got["Mme Martin dit qu'elle ne veut plus vivre."]; c != assistant.CategoryRisk {
		t.Errorf("the model's health on a statement about wanting to die stayed %q, want risk", c)
	}
}

func TestDrafterReadsTheQuotesOfASoftenedStatement(t *testing.T) {
	t.Parallel()
	b := setup(t, openai.Config{})
	b.server.Enqueue(fakeopenai.Content(`{"language":"en","statements":[` +
		`{"id":"s1","text":"Lucas talked about his evenings at home.","category":"","citations":[{"note_id":"note_en1","quote":"Lucas told the teacher he is afraid to go home."}]}]}`))
	res, err := b.drafter.Draft(context.Background(), assistant.Request{Kind: assistant.KindSummary, Language: "en", Notes: stakesNotes})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Content.Statements[0].Category; c != assistant.CategorySafeguarding {
		t.Errorf("category %q, want safeguarding from the quote", c)
	}
}
