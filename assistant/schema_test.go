package assistant

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseContent(t *testing.T) {
	t.Parallel()
	dir := []Service{{ID: "svc_housing", Name: "Housing"}}
	const cit = `[{"note_id":"n1","quote":"fears eviction"}]`
	summary := func(statements string) string {
		return `{"language":"en","statements":[` + statements + `]}`
	}
	suggestions := func(items string) string {
		return `{"language":"en","statements":[],"items":[` + items + `]}`
	}
	item := func(typ, due, service string) string {
		return `{"id":"i1","type":"` + typ + `","text":"Do it","due":` + due + `,"service_id":` + service + `,"citations":` + cit + `}`
	}
	tests := []struct {
		name   string
		kind   Kind
		text   string
		reason string // "" = valid
	}{
		{"ValidSummary", KindSummary, summary(`{"id":"s1","text":"Fears eviction.","category":"risk","citations":` + cit + `}`), ""},
		{"FencedJSON", KindSummary, "```json\n" + summary(`{"id":"s1","text":"x","category":"","citations":`+cit+`}`) + "\n```", ""},
		{"NotJSON", KindSummary, "The client is fine.", "the answer is not valid JSON"},
		{"Truncated", KindSummary, `{"language":"en","statements":[{"id":"s1","te`, "the answer is empty or incomplete JSON"},
		{"Empty", KindSummary, ``, "the answer is empty or incomplete JSON"},
		{"TrailingText", KindSummary, summary(`{"id":"s1","text":"x","category":"","citations":`+cit+`}`) + " done", "the answer has text after the JSON object"},
		{"UnknownField", KindSummary, `{"language":"en","statements":[],"approved":true}`, `the answer has a field the schema does not allow: "approved"`},
		{"ModelCannotSetUngrounded", KindSummary, summary(`{"id":"s1","text":"x","category":"","citations":` + cit + `,"ungrounded":false}`), `the answer has a field the schema does not allow: "ungrounded"`},
		{"MissingStatements", KindSummary, `{"language":"en"}`, "the answer lacks its language or statements"},
		{"NoStatements", KindSummary, summary(``), "the summary has no statements"},
		{"MissingCitations", KindSummary, summary(`{"id":"s1","text":"x","category":""}`), "statement 1 lacks a required field (id, text, category, citations)"},
		{"EmptyCitations", KindSummary, summary(`{"id":"s1","text":"x","category":"","citations":[]}`), "statement 1 has no citation"},
		{"EmptyQuote", KindSummary, summary(`{"id":"s1","text":"x","category":"","citations":[{"note_id":"n1","quote":" "}]}`), "statement 1, citation 1 has an empty note_id or quote"},
		{"MissingQuote", KindSummary, summary(`{"id":"s1","text":"x","category":"","citations":[{"note_id":"n1"}]}`), "statement 1, citation 1 lacks its note_id or quote"},
		{"UnknownCategory", KindSummary, summary(`{"id":"s1","text":"x","category":"crime","citations":` + cit + `}`), "statement 1 has an unknown category"},
		{"EmptyText", KindSummary, summary(`{"id":"s1","text":"","category":"","citations":` + cit + `}`), "statement 1 has no text"},
		{"DuplicateID", KindSummary, summary(`{"id":"s1","text":"x","category":"","citations":` + cit + `},{"id":"s1","text":"y","category":"","citations":` + cit + `}`), "statement 2 repeats an id used before"},
		{"WrongType", KindSummary, summary(`{"id":1,"text":"x","category":"","citations":` + cit + `}`), `the field "statements.id" has the wrong type`},
		{"BadLanguage", KindSummary, `{"language":"es","statements":[{"id":"s1","text":"x","category":"","citations":` + cit + `}]}`, "the answer's language is not one of en, fr, nl, de"},
		{"ValidSuggestions", KindSuggestions, suggestions(item("appointment", `"2024-05-20"`, "null") + "," + strings.Replace(item("referral", "null", `"svc_housing"`), `"i1"`, `"i2"`, 1)), ""},
		{"NoItemsIsValid", KindSuggestions, suggestions(``), ""},
		{"SuggestionsWithoutItems", KindSuggestions, `{"language":"en","statements":[]}`, "the answer lacks its language, statements or items"},
		{"BadItemType", KindSuggestions, suggestions(item("task", "null", "null")), "item 1 has an unknown type"},
		{"BadDueDate", KindSuggestions, suggestions(item("deadline", `"20/05/2024"`, "null")), "item 1 has a due date that is not a YYYY-MM-DD date"},
		{"ImpossibleDueDate", KindSuggestions, suggestions(item("deadline", `"2024-02-30"`, "null")), "item 1 has a due date that is not a YYYY-MM-DD date"},
		{"ReferralWithoutService", KindSuggestions, suggestions(item("referral", "null", "null")), "item 1 is a referral without a service from the directory"},
		{"ReferralOutsideDirectory", KindSuggestions, suggestions(item("referral", "null", `"svc_casino"`)), "item 1 refers to a service that is not in the directory"},
		{"ServiceOnNonReferral", KindSuggestions, suggestions(item("action", "null", `"svc_housing"`)), "item 1 names a service but is not a referral"},
		{"ItemsInSummary", KindSummary, suggestions(``), `the answer has a field the schema does not allow: "items"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseContent(tt.kind, tt.text, dir)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if c.Language != "en" {
					t.Fatalf("language = %q", c.Language)
				}
				return
			}
			var oe *OutputError
			if !errors.As(err, &oe) {
				t.Fatalf("err = %v, want *OutputError", err)
			}
			if oe.Reason != tt.reason {
				t.Fatalf("reason = %q, want %q", oe.Reason, tt.reason)
			}
		})
	}
}

func TestSchemasAreStrictJSONSchema(t *testing.T) {
	t.Parallel()
	for _, kind := range []Kind{KindSummary, KindSuggestions} {
		var v map[string]any
		if err := json.Unmarshal(Schema(kind), &v); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		// OpenAI strict mode: every object lists all its properties as
		// required and forbids others.
		var walk func(path string, n any)
		walk = func(path string, n any) {
			m, ok := n.(map[string]any)
			if !ok {
				return
			}
			if m["type"] == "object" {
				props, _ := m["properties"].(map[string]any)
				req, _ := m["required"].([]any)
				if m["additionalProperties"] != false || len(req) != len(props) {
					t.Errorf("%s %s: not strict", kind, path)
				}
				for k, p := range props {
					walk(path+"."+k, p)
				}
			}
			if items, ok := m["items"]; ok {
				walk(path+"[]", items)
			}
		}
		walk("$", v)
	}
}

func TestContentText(t *testing.T) {
	t.Parallel()
	c := Content{
		Statements: []Statement{{Text: "Fears\neviction."}},
		Items: []Item{
			{Type: ItemAppointment, Text: "Housing office.", Due: "2024-05-20"},
			{Type: ItemReferral, Text: "Refer.", ServiceID: "svc_housing"},
		},
	}
	want := "Fears eviction.\nAppointment (2024-05-20): Housing office.\nReferral: Refer. [service svc_housing]\n"
	if got := c.Text(); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
