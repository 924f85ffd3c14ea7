package assistant_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/assistant"
)

// The offline letter restates the signed entries in the client's language,
// every statement grounded in the entry it quotes, decisions first and
// next steps after, and leaves lines about risk to the worker.
func TestExtractiveLetter(t *testing.T) {
	entries := []assistant.Note{
		{ID: "rec_1", WrittenAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
			Body: "Marie has two months of rent arrears and the heating was cut off.\nMarie agreed to a referral to the budget advice service.\n"},
		{ID: "rec_2", WrittenAt: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC),
			Body: "Appointment (2026-12-14): Marie has an appointment at the job centre on 14 December 2026.\n" +
				"Deadline (2026-12-15): She must send the energy fund form before 15 December 2026.\n" +
				"Referral: Budget advice: Marie agreed to a referral to the budget advice service. [service svc_budget]\n" +
				"Risk: Her son threatened to hit her with a knife last week.\n"},
	}
	d := &assistant.Drafter{Model: assistant.Extractive{}, Now: func() time.Time { return time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC) }}
	for lang, want := range map[string][]string{
		"en": {"In your file: Marie has two months", "Appointment on 2026-12-14: Marie", "To do by 2026-12-15: She must", "Next step: Budget advice"},
		"fr": {"Dans votre dossier : Marie", "Rendez-vous le 2026-12-14 : Marie", "À faire avant le 2026-12-15 :", "Prochaine étape : Budget advice"},
		"nl": {"In uw dossier: Marie", "Afspraak op 2026-12-14: Marie", "Te doen vóór 2026-12-15:", "Volgende stap: Budget advice"},
		"de": {"In Ihrer Akte: Marie", "Termin am 2026-12-14: Marie", "Zu erledigen bis 2026-12-15:", "Nächster Schritt: Budget advice"},
	} {
		res, err := d.Draft(context.Background(), assistant.Request{Kind: assistant.KindLetter, Language: lang, Notes: entries})
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		c := res.Content
		if c.Language != lang || res.PromptVersion != assistant.LetterPromptVersion || res.Ungrounded != 0 {
			t.Fatalf("%s: language %q, prompt %q, %d ungrounded: %+v", lang, c.Language, res.PromptVersion, res.Ungrounded, c.Statements)
		}
		text := c.Text()
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: the letter lacks %q:\n%s", lang, w, text)
			}
		}
		if strings.Contains(text, "knife") || strings.Contains(text, "svc_budget") {
			t.Errorf("%s: the letter holds a risk line or a service id:\n%s", lang, text)
		}
		if !strings.HasPrefix(c.Statements[0].Text, strings.Fields(want[0])[0]) || len(c.Statements) != 5 {
			t.Errorf("%s: decisions come first, five statements in all:\n%s", lang, text)
		}
		for _, s := range c.Statements {
			if len(s.Citations) != 1 || s.Citations[0].NoteID != "rec_1" && s.Citations[0].NoteID != "rec_2" || s.Citations[0].Unverified {
				t.Errorf("%s: %q cites %+v", lang, s.Text, s.Citations)
			}
		}
	}
	p, err := assistant.RenderPrompt(assistant.KindLetter, "nl", entries, nil, time.Now(), assistant.DefaultParams)
	if err != nil || !strings.Contains(p.System, "Dutch") || !strings.Contains(p.User, "Task: letter") {
		t.Fatalf("letter prompt: %v", err)
	}
	back, err := assistant.ParseUserMessage(p.User)
	if err != nil || back.Kind != assistant.KindLetter || len(back.Notes) != 2 {
		t.Fatalf("the letter prompt does not read back: %v", err)
	}
}
