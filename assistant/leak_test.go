package assistant_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/assistant/openai"
)

// TestNoPersonalDataLeaves drafts both kinds through a fake OpenAI server,
// including a retry and a fallback, and checks that nothing the server ever
// received holds a party value or a recognised identifier, in any of the
// forms the notes use.
func TestNoPersonalDataLeaves(t *testing.T) {
	t.Parallel()
	b := setup(t, openai.Config{})
	b.server.RejectJSONSchema(true)
	for _, kind := range []assistant.Kind{assistant.KindSummary, assistant.KindSuggestions} {
		if _, err := b.drafter.Draft(context.Background(), request(kind)); err != nil {
			t.Fatal(err)
		}
	}
	var sent strings.Builder
	for _, r := range b.server.Requests() {
		var body struct {
			Messages []struct{ Content string } `json:"messages"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		for _, m := range body.Messages {
			sent.WriteString(m.Content + "\n")
		}
	}
	text := plain(sent.String())
	if !strings.Contains(text, "[person_1]") {
		t.Fatal("no placeholder was sent; the test checks nothing")
	}

	words := []string{
		// names, in part and in full, in the forms the notes use
		"jean-pierre", "jean", "pierre", "muller", "mueller", "anneke", "van der berg",
		// email, address
		"jp.muller@example.org", "example.org", "rue de la loi", "1000 bruxelles",
		// date of birth, written three ways
		"12 march 1985", "12/03/1985", "1985-03-12",
	}
	for _, w := range words {
		if regexp.MustCompile(`\b` + regexp.QuoteMeta(w) + `\b`).MatchString(text) {
			t.Errorf("sent text holds %q", w)
		}
	}
	numbers := []string{
		"0470123456",       // client phone, any separators
		"32470123456",      // and international
		"0612345678",       // other party's phone
		"85031212345",      // Belgian national number
		"BE68539007547034", // IBAN
		"111222333",        // Dutch BSN
	}
	for _, n := range numbers {
		var parts []string
		for _, c := range strings.ToLower(n) {
			parts = append(parts, string(c))
		}
		if regexp.MustCompile(strings.Join(parts, `[^0-9a-z]{0,3}`)).MatchString(text) {
			t.Errorf("sent text holds the number %s", n)
		}
	}
	if t.Failed() {
		t.Logf("sent:\n%s", sent.String())
	}
}

// plain lowers case and strips accents, as a person searching would.
func plain(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}
