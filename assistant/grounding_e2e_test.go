package assistant_test

import (
	"context"
	"strings"
	"testing"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/assistant/openai"
	"github.com/countersign/countersign/assistant/openai/fakeopenai"
)

// TestCarelessModel drafts through the go-openai provider from a stand-in
// model that labels nothing and cites one-word quotes: whatever the model
// says, the service's own grounding check leaves every entry ungrounded,
// with its reason, and gives every entry a random id of its own.
func TestCarelessModel(t *testing.T) {
	t.Parallel()
	for _, kind := range []assistant.Kind{assistant.KindSummary, assistant.KindSuggestions} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			b := setup(t, openai.Config{})
			f := fakeopenai.OneWordQuotes()
			b.server.Always(&f)
			res, err := b.drafter.Draft(context.Background(), request(kind))
			if err != nil {
				t.Fatal(err)
			}
			n := len(res.Content.Statements) + len(res.Content.Items)
			if n == 0 || res.Ungrounded != n {
				t.Fatalf("%d of %d entries ungrounded: %+v", res.Ungrounded, n, res.Content)
			}
			ids := map[string]bool{}
			check := func(id, code, reason string, cits []assistant.Citation) {
				if code != assistant.UngroundedQuoteTooShort || !strings.Contains(reason, "shorter than 5 words") {
					t.Errorf("entry %s: code %q, reason %q", id, code, reason)
				}
				if len(cits) == 0 || len(strings.Fields(cits[0].Quote)) > 3 { // one word, or the name behind a placeholder
					t.Errorf("entry %s: the model's one-word quote is not what the reviewer sees: %+v", id, cits)
				}
				if ids[id] || len(id) != len("st_")+12 || (kind == assistant.KindSummary && !strings.HasPrefix(id, "st_")) {
					t.Errorf("entry id %q is not opaque and unique", id)
				}
				ids[id] = true
			}
			for _, s := range res.Content.Statements {
				check(s.ID, s.UngroundedCode, s.UngroundedReason, s.Citations)
			}
			for _, it := range res.Content.Items {
				check(it.ID, it.UngroundedCode, it.UngroundedReason, it.Citations)
			}
		})
	}
}
