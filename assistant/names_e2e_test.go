package assistant_test

import (
	"context"
	"strings"
	"testing"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/assistant/openai"
)

// TestPeopleNotRecordedStayInside drafts through the fake OpenAI server (a
// model that is not on the premises) notes naming people who are not parties
// of the case, and checks what left the service.
func TestPeopleNotRecordedStayInside(t *testing.T) {
	t.Parallel()
	b := setup(t, openai.Config{})
	notes := []assistant.Note{
		{ID: "n1", WrittenAt: today.AddDate(0, 0, -3), Body: "Van den Berghe heeft opnieuw aangebeld en dreigde de politie te bellen."},
		{ID: "n2", WrittenAt: today.AddDate(0, 0, -1), Body: "Huisbezoek bij Jean-Pierre Müller. Zijn buurman, meneer Van den Berghe, klaagt over lawaai.\n" +
			"Zijn zus Lies vangt de kinderen op. Mme Martin van de school belde, en Karim Bouzid ook."},
	}
	res, err := b.drafter.Draft(context.Background(), assistant.Request{Kind: assistant.KindSummary, Notes: notes, Parties: []assistant.Party{client}})
	if err != nil {
		t.Fatal(err)
	}
	sent := string(b.server.Sent())
	for _, name := range []string{"Berghe", "Lies", "Martin", "Karim", "Bouzid", "Müller", "M\\u00fcller"} {
		if strings.Contains(sent, name) {
			t.Errorf("%q was sent to the model", name)
		}
	}
	for _, kept := range []string{"meneer", "buurman", "zus", "Mme"} {
		if !strings.Contains(sent, kept) {
			t.Errorf("%q was masked too: the model needs it", kept)
		}
	}
	// What comes back reads as the notes did.
	text := res.Content.Text()
	if !strings.Contains(text, "Van den Berghe") || strings.Contains(text, "[PERSON_") {
		t.Fatalf("names not restored:\n%s", text)
	}
	if res.Masked[assistant.MaskPerson] < 6 {
		t.Fatalf("masked = %v", res.Masked)
	}
}
