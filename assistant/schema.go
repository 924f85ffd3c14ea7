package assistant

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// reasonNoStatements is the OutputError of a summary without statements.
const reasonNoStatements = "the summary has no statements"

// Limits on a model's answer; beyond them it is not a draft a person can
// review. maxEntries is applied by the service after merging the answers
// (limitEntries), never as a failure.
const (
	maxEntries  = 100
	maxTextLen  = 2000
	maxQuoteLen = 2000
)

// Output schemas, in the subset of JSON Schema that OpenAI's strict
// structured outputs accept: every property required, no additional
// properties, optional values as nullable types.
var (
	citationSchema = `{"type":"object","additionalProperties":false,"required":["note_id","quote"],"properties":{` +
		`"note_id":{"type":"string","description":"id of the note the quote comes from"},` +
		`"quote":{"type":"string","description":"the exact passage of that note, copied word for word"}}}`
	statementSchema = `{"type":"object","additionalProperties":false,"required":["id","text","category","citations"],"properties":{` +
		`"id":{"type":"string"},"text":{"type":"string"},` +
		`"category":{"type":"string","enum":["","risk","safeguarding","capacity","health"]},` +
		`"citations":{"type":"array","minItems":1,"items":` + citationSchema + `}}}`
	itemSchema = `{"type":"object","additionalProperties":false,"required":["id","type","text","due","service_id","citations"],"properties":{` +
		`"id":{"type":"string"},` +
		`"type":{"type":"string","enum":["action","appointment","deadline","referral","risk"]},` +
		`"text":{"type":"string"},` +
		`"due":{"type":["string","null"],"description":"YYYY-MM-DD, only when the notes give the date"},` +
		`"service_id":{"type":["string","null"],"description":"id of a directory service, for referrals only"},` +
		`"citations":{"type":"array","minItems":1,"items":` + citationSchema + `}}}`
	languageSchema = `{"type":"string","enum":["en","fr","nl","de"]}`

	summarySchema = json.RawMessage(`{"type":"object","additionalProperties":false,"required":["language","statements"],"properties":{` +
		`"language":` + languageSchema + `,"statements":{"type":"array","items":` + statementSchema + `}}}`)
	suggestionsSchema = json.RawMessage(`{"type":"object","additionalProperties":false,"required":["language","statements","items"],"properties":{` +
		`"language":` + languageSchema + `,"statements":{"type":"array","items":` + statementSchema + `},` +
		`"items":{"type":"array","items":` + itemSchema + `}}}`)
)

// Schema returns the JSON schema of the answer for kind.
func Schema(kind Kind) json.RawMessage {
	if kind == KindSuggestions {
		return suggestionsSchema
	}
	return summarySchema
}

// wire types mirror the schema exactly. They are separate from Content so
// that a model cannot set fields that are ours to set, such as Ungrounded:
// strict decoding rejects them as unknown.
type wireCitation struct {
	NoteID *string `json:"note_id"`
	Quote  *string `json:"quote"`
}

type wireStatement struct {
	ID        *string         `json:"id"`
	Text      *string         `json:"text"`
	Category  *string         `json:"category"`
	Citations *[]wireCitation `json:"citations"`
}

type wireItem struct {
	ID        *string         `json:"id"`
	Type      *string         `json:"type"`
	Text      *string         `json:"text"`
	Due       *string         `json:"due"`
	ServiceID *string         `json:"service_id"`
	Citations *[]wireCitation `json:"citations"`
}

type wireSummary struct {
	Language   *string          `json:"language"`
	Statements *[]wireStatement `json:"statements"`
}

type wireSuggestions struct {
	Language   *string          `json:"language"`
	Statements *[]wireStatement `json:"statements"`
	Items      *[]wireItem      `json:"items"`
}

// ParseContent decodes and validates a model's answer for kind, strictly:
// unknown or missing fields, entries without citations, unknown item types,
// referrals to services outside directory and malformed due dates are all
// rejected with an *OutputError whose Reason says what was wrong.
// Citations are not checked against the notes here; that is Ground's job.
func ParseContent(kind Kind, text string, directory []Service) (*Content, error) {
	data := []byte(stripFence(text))
	var c Content
	switch kind {
	case KindSummary, KindLetter:
		var w wireSummary
		if err := decodeStrict(data, &w); err != nil {
			return nil, err
		}
		if w.Language == nil || w.Statements == nil {
			return nil, &OutputError{Reason: "the answer lacks its language or statements"}
		}
		c.Language = *w.Language
		if len(*w.Statements) == 0 {
			return nil, &OutputError{Reason: reasonNoStatements}
		}
		sts, err := convertStatements(*w.Statements)
		if err != nil {
			return nil, err
		}
		c.Statements = sts
	case KindSuggestions:
		var w wireSuggestions
		if err := decodeStrict(data, &w); err != nil {
			return nil, err
		}
		if w.Language == nil || w.Statements == nil || w.Items == nil {
			return nil, &OutputError{Reason: "the answer lacks its language, statements or items"}
		}
		c.Language = *w.Language
		sts, err := convertStatements(*w.Statements)
		if err != nil {
			return nil, err
		}
		c.Statements = sts
		items, err := convertItems(*w.Items, directory)
		if err != nil {
			return nil, err
		}
		c.Items = items
	default:
		return nil, fmt.Errorf("parse content: unknown kind %q", kind)
	}
	if !ValidLanguage(c.Language) {
		return nil, &OutputError{Reason: "the answer's language is not one of en, fr, nl, de"}
	}
	return &c, nil
}

// stripFence removes a Markdown code fence around the JSON, which models in
// plain JSON mode sometimes add despite being told not to.
func stripFence(s string) string {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "```") {
		return s
	}
	t = strings.TrimPrefix(t, "```")
	t = strings.TrimPrefix(t, "json")
	return strings.TrimSuffix(strings.TrimSpace(t), "```")
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return &OutputError{Reason: "the answer is empty or incomplete JSON", Err: err}
		case errors.As(err, &se):
			return &OutputError{Reason: "the answer is not valid JSON", Err: err}
		case errors.As(err, &te):
			return &OutputError{Reason: fmt.Sprintf("the field %q has the wrong type", te.Field), Err: err}
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return &OutputError{Reason: "the answer has a field the schema does not allow: " + truncate(strings.TrimPrefix(err.Error(), "json: unknown field "), 40), Err: err}
		}
		return &OutputError{Reason: "the answer does not follow the schema", Err: err}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &OutputError{Reason: "the answer has text after the JSON object"}
	}
	return nil
}

func convertStatements(ws []wireStatement) ([]Statement, error) {
	out := make([]Statement, 0, len(ws))
	ids := map[string]bool{}
	for i, w := range ws {
		where := "statement " + strconv.Itoa(i+1)
		if w.ID == nil || w.Text == nil || w.Category == nil || w.Citations == nil {
			return nil, &OutputError{Reason: where + " lacks a required field (id, text, category, citations)"}
		}
		s := Statement{ID: strings.TrimSpace(*w.ID), Text: strings.TrimSpace(*w.Text), Category: *w.Category}
		if err := checkEntry(where, s.ID, s.Text, ids); err != nil {
			return nil, err
		}
		if !slices.Contains(Categories, s.Category) {
			return nil, &OutputError{Reason: where + " has an unknown category"}
		}
		cits, err := convertCitations(where, *w.Citations)
		if err != nil {
			return nil, err
		}
		s.Citations = cits
		out = append(out, s)
	}
	return out, nil
}

func convertItems(ws []wireItem, directory []Service) ([]Item, error) {
	out := make([]Item, 0, len(ws))
	ids := map[string]bool{}
	for i, w := range ws {
		where := "item " + strconv.Itoa(i+1)
		if w.ID == nil || w.Type == nil || w.Text == nil || w.Citations == nil {
			return nil, &OutputError{Reason: where + " lacks a required field (id, type, text, citations)"}
		}
		it := Item{ID: strings.TrimSpace(*w.ID), Type: *w.Type, Text: strings.TrimSpace(*w.Text)}
		if w.Due != nil {
			it.Due = strings.TrimSpace(*w.Due)
		}
		if w.ServiceID != nil {
			it.ServiceID = strings.TrimSpace(*w.ServiceID)
		}
		if err := checkEntry(where, it.ID, it.Text, ids); err != nil {
			return nil, err
		}
		if !slices.Contains(ItemTypes, it.Type) {
			return nil, &OutputError{Reason: where + " has an unknown type"}
		}
		if it.Due != "" {
			if _, err := time.Parse(time.DateOnly, it.Due); err != nil {
				return nil, &OutputError{Reason: fmt.Sprintf("%s has a due date that is not a YYYY-MM-DD date", where)}
			}
		}
		switch {
		case it.Type == ItemReferral && it.ServiceID == "":
			return nil, &OutputError{Reason: where + " is a referral without a service from the directory"}
		case it.Type == ItemReferral && !slices.ContainsFunc(directory, func(s Service) bool { return s.ID == it.ServiceID }):
			return nil, &OutputError{Reason: where + " refers to a service that is not in the directory"}
		case it.Type != ItemReferral && it.ServiceID != "":
			return nil, &OutputError{Reason: where + " names a service but is not a referral"}
		}
		cits, err := convertCitations(where, *w.Citations)
		if err != nil {
			return nil, err
		}
		it.Citations = cits
		out = append(out, it)
	}
	return out, nil
}

func checkEntry(where, id, text string, ids map[string]bool) error {
	switch {
	case id == "":
		return &OutputError{Reason: where + " has no id"}
	case ids[id]:
		return &OutputError{Reason: where + " repeats an id used before"}
	case text == "":
		return &OutputError{Reason: where + " has no text"}
	case len(text) > maxTextLen:
		return &OutputError{Reason: where + " is too long"}
	}
	ids[id] = true
	return nil
}

func convertCitations(where string, ws []wireCitation) ([]Citation, error) {
	if len(ws) == 0 {
		return nil, &OutputError{Reason: where + " has no citation"}
	}
	out := make([]Citation, 0, len(ws))
	for j, w := range ws {
		if w.NoteID == nil || w.Quote == nil {
			return nil, &OutputError{Reason: fmt.Sprintf("%s, citation %d lacks its note_id or quote", where, j+1)}
		}
		c := Citation{NoteID: strings.TrimSpace(*w.NoteID), Quote: strings.TrimSpace(*w.Quote)}
		switch {
		case c.NoteID == "" || c.Quote == "":
			return nil, &OutputError{Reason: fmt.Sprintf("%s, citation %d has an empty note_id or quote", where, j+1)}
		case len(c.Quote) > maxQuoteLen:
			return nil, &OutputError{Reason: fmt.Sprintf("%s, citation %d quotes too much", where, j+1)}
		}
		out = append(out, c)
	}
	return out, nil
}

// truncate shortens model-supplied text quoted in a reason. Reasons end up
// in failure messages and the audit log, so they quote at most a field name
// and never the model's prose.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
