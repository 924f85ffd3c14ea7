package assistant

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign"
)

// Kind is the kind of draft a worker asks for; each kind has its own prompt
// template and output schema.
type Kind string

// Draft kinds. Append only: kinds are stored with drafts and in the audit log.
const (
	KindSummary     Kind = "summary"
	KindSuggestions Kind = "suggestions"
	// KindLetter is a plain-language letter to the client, in their
	// language, drafted from the case's signed record entries (letter.go).
	KindLetter Kind = "letter"
)

// Valid reports whether k is a known draft kind.
func (k Kind) Valid() bool {
	return k == KindSummary || k == KindSuggestions || k == KindLetter
}

// Languages lists the languages a draft can be written in, as ISO 639-1 codes.
var Languages = []string{"en", "fr", "nl", "de"}

// ValidLanguage reports whether lang is one of Languages.
func ValidLanguage(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// Note is a case note as the drafter sees it: the text a worker wrote.
type Note struct {
	ID        string
	Body      string
	WrittenAt time.Time
}

// Party is a person linked to a case. Its values are what pseudonymisation
// looks for in the notes; they never appear in a prompt themselves.
type Party struct {
	ID          string
	Role        string // "client" or "other"
	FullName    string
	DateOfBirth string
	Address     string
	Phone       string
	Email       string
	NationalID  string
}

// Service is an entry of the local referral directory. Referrals may only
// point to a service of the directory, by its ID.
type Service struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Request is what a caller asks the Drafter for.
type Request struct {
	Kind Kind
	// Language is the language of the draft: "" follows the notes, otherwise
	// one of Languages.
	Language  string
	Notes     []Note
	Parties   []Party
	Directory []Service // overrides Drafter.Directory when not empty
}

// Citation points to the passage of a note that a statement or item rests on.
// Unverified is set by the grounding check when the quote could not be
// found in the cited note; the model cannot set it.
type Citation struct {
	NoteID     string `json:"note_id"`
	Quote      string `json:"quote"`
	Unverified bool   `json:"unverified,omitempty"`
}

// Statement categories. The empty category is an ordinary statement; the
// others are high-stakes and reviewers are expected to check them closely.
const (
	CategoryRisk         = "risk"
	CategorySafeguarding = "safeguarding"
	CategoryCapacity     = "capacity"
	CategoryHealth       = "health"
	// CategoryUnclear is set by the service only: the detector could place
	// the text neither as high-stakes nor as ordinary (stakes.Unclear), so
	// the reviewer is asked to look closely. It is shown and recorded but,
	// unlike the four above, does not by itself hold back an approval
	// (review.HighStakes), and a model may not use it.
	CategoryUnclear = "unclear"
)

// Categories lists the statement categories a model may use ("" included).
var Categories = []string{"", CategoryRisk, CategorySafeguarding, CategoryCapacity, CategoryHealth}

// Statement is one sentence of a draft with the citations it rests on.
// Ungrounded is set by our grounding check, never by the model, with why:
// UngroundedCode (one of UngroundedCodes), UngroundedTerm (the number,
// name or word at fault, when there is one) and UngroundedReason (a
// sentence). ID is opaque and random, given by the Drafter.
type Statement struct {
	ID               string     `json:"id"`
	Text             string     `json:"text"`
	Citations        []Citation `json:"citations"`
	Category         string     `json:"category,omitempty"`
	Ungrounded       bool       `json:"ungrounded,omitempty"`
	UngroundedCode   string     `json:"ungrounded_code,omitempty"`
	UngroundedTerm   string     `json:"ungrounded_term,omitempty"`
	UngroundedReason string     `json:"ungrounded_reason,omitempty"`
	// CompletedDates are the dates of the text that the notes wrote
	// without a year and the service completed, for the reviewer to confirm.
	CompletedDates []CompletedDate `json:"completed_dates,omitempty"`
	// UnclearWords are the words that made the service read the statement
	// as CategoryUnclear (neither a high-stakes rule nor ordinary case-note
	// vocabulary, a number or a name): why the reviewer is asked to look.
	UnclearWords []string `json:"unclear_words,omitempty"`
}

// Item types of a suggestions draft.
const (
	ItemAction      = "action"
	ItemAppointment = "appointment"
	ItemDeadline    = "deadline"
	ItemReferral    = "referral"
	ItemRisk        = "risk"
)

// ItemTypes lists the item types a model may use.
var ItemTypes = []string{ItemAction, ItemAppointment, ItemDeadline, ItemReferral, ItemRisk}

// Item is one suggested next step. Due is a date (YYYY-MM-DD) when the notes
// give one; ServiceID names a directory entry and is set only on referrals.
// Its grounding fields are those of Statement.
type Item struct {
	ID               string     `json:"id"`
	Type             string     `json:"type"`
	Text             string     `json:"text"`
	Due              string     `json:"due,omitempty"`
	ServiceID        string     `json:"service_id,omitempty"`
	Citations        []Citation `json:"citations"`
	Ungrounded       bool       `json:"ungrounded,omitempty"`
	UngroundedCode   string     `json:"ungrounded_code,omitempty"`
	UngroundedTerm   string     `json:"ungrounded_term,omitempty"`
	UngroundedReason string     `json:"ungrounded_reason,omitempty"`
	// CompletedDates: as for Statement; Due is one of them when the notes
	// gave it without a year.
	CompletedDates []CompletedDate `json:"completed_dates,omitempty"`
	// Category is set by the service, never by the model: the detector's
	// reading of the item, at least CategoryRisk for a risk item. A
	// high-stakes item must be accepted or rejected explicitly.
	Category string `json:"category,omitempty"`
	// UnclearWords: as for Statement.
	UnclearWords []string `json:"unclear_words,omitempty"`
}

// Content is the body of a draft: statements for a summary, items (and
// optional statements) for suggestions.
type Content struct {
	Language   string      `json:"language"`
	Statements []Statement `json:"statements"`
	Items      []Item      `json:"items,omitempty"`
	// Omitted is set when the service left entries out to keep the draft
	// within MaxEntries.
	Omitted *Omitted `json:"omitted,omitempty"`
}

// Text renders c as plain text, one statement or item per line. It is what a
// reviewer edits when approving with changes, and what the record keeps.
func (c *Content) Text() string {
	var b strings.Builder
	for _, s := range c.Statements {
		b.WriteString(oneLine(s.Text))
		b.WriteByte('\n')
	}
	for _, it := range c.Items {
		b.WriteString(itemLabel(it.Type))
		if it.Due != "" {
			b.WriteString(" (" + it.Due + ")")
		}
		b.WriteString(": ")
		b.WriteString(oneLine(it.Text))
		if it.ServiceID != "" {
			b.WriteString(" [service " + it.ServiceID + "]")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func itemLabel(typ string) string {
	if typ == "" {
		return "Item"
	}
	return strings.ToUpper(typ[:1]) + typ[1:]
}

// oneLine keeps the one-line-per-entry promise of Text even when a model
// wrote a line break inside a statement.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Result is a draft as produced by the Drafter, with the facts the audit log
// and the reviewer need about how it was made.
type Result struct {
	Content       Content
	Model         string
	Provider      string
	PromptVersion string
	// Params holds the generation parameters (temperature, max tokens, output
	// mode…), rendered deterministically so they can be hashed and compared.
	Params map[string]string
	// RequestHash and ResponseHash are hex SHA-256 digests of the bytes sent
	// to and received from the model for the final attempt; for a draft made
	// in parts (Params["chunks"]), of each part's final attempt one after
	// the other.
	RequestHash      string
	ResponseHash     string
	PromptTokens     int
	CompletionTokens int
	Latency          time.Duration
	// Attempts counts the calls to Model.Generate (2 when the first answer
	// was invalid); transport retries inside a provider are not counted.
	Attempts      int
	Pseudonymised bool
	Masked        map[string]int // category -> number of values masked
	Ungrounded    int            // statements and items flagged ungrounded
	// DetectorVersion is the version of the high-stakes detector that
	// classified the content (DetectorVersion()).
	DetectorVersion string
}

// Model is one language-model provider. Implementations must be safe for
// concurrent use.
type Model interface {
	// Name returns the model name, e.g. "gpt-4o-mini" or "extractive-v1".
	Name() string
	// Provider returns the provider name, e.g. "openai" or "offline".
	Provider() string
	// OnPremises reports whether the model runs under the operator's control,
	// in which case it may receive notes that are not pseudonymised.
	OnPremises() bool
	// Generate asks the model to answer p. Errors are *ModelError values when
	// the provider could not produce an answer.
	Generate(ctx context.Context, p *Prompt) (*Completion, error)
}

// Params are the generation parameters sent with a prompt.
type Params struct {
	Temperature float64
	MaxTokens   int
	Seed        int // 0 = not sent
}

// DefaultParams are the parameters used when a Drafter sets none: a low
// temperature, because a draft should restate the notes, not invent.
var DefaultParams = Params{Temperature: 0.2, MaxTokens: 4096}

// Map renders p as strings, for Result.Params.
func (p Params) Map() map[string]string {
	m := map[string]string{
		"temperature": strconv.FormatFloat(p.Temperature, 'g', -1, 64), // as %g
		"max_tokens":  strconv.Itoa(p.MaxTokens),
	}
	if p.Seed != 0 {
		m["seed"] = strconv.Itoa(p.Seed)
	}
	return m
}

// Prompt is everything a Model needs to answer: the rendered messages and
// the output schema, plus the structured inputs they were rendered from so
// that an offline model can work without parsing text.
type Prompt struct {
	Kind    Kind
	Version string // template version, e.g. "summary/v1"
	System  string
	User    string
	// Schema is the JSON schema of the answer; SchemaName names it for
	// providers that want a name (OpenAI's json_schema response format).
	Schema     json.RawMessage
	SchemaName string
	Notes      []Note // already pseudonymised when the model is off-premises
	Directory  []Service
	Language   string
	Today      time.Time
	Params     Params
	// memo is what the service read in the draft's texts, which the
	// offline drafter shares with the service's own checks; nil outside
	// Drafter.Draft.
	memo *memo
}

// Completion is a model's raw answer.
type Completion struct {
	Text             string
	PromptTokens     int
	CompletionTokens int
	FinishReason     string
	// RequestBody and ResponseBody are the bytes on the wire, hashed into
	// Result.RequestHash and Result.ResponseHash.
	RequestBody  []byte
	ResponseBody []byte
	// Params are provider-side facts worth recording, such as the output
	// mode actually used ("response_format": "json_schema" or "json_object").
	Params map[string]string
}

// ErrCutOff reports that the model stopped before finishing its answer,
// usually because it hit its token limit.
var ErrCutOff = errors.New("the model's answer was cut off")

// OutputError reports that the model's answer could not be used: it was not
// valid JSON or did not follow the schema. Reason is a readable sentence
// meant for the draft's failure reason.
type OutputError struct {
	Reason string
	Err    error
}

// Error implements the error interface.
func (e *OutputError) Error() string {
	if e.Err != nil {
		return "invalid model output: " + e.Reason + ": " + e.Err.Error()
	}
	return "invalid model output: " + e.Reason
}

// Unwrap returns the underlying cause, if any.
func (e *OutputError) Unwrap() error { return e.Err }

// ModelError reports that a provider could not produce an answer. Op labels
// the failing operation for the logs ("openai.generate"); Reason is a
// readable sentence; Err is the provider's raw error, for the logs only.
// Temporary reports that trying again later may succeed (rate limits,
// outages), and RetryAfter how long the provider asked to wait, if it said.
type ModelError struct {
	Op         string
	Reason     string
	Temporary  bool
	RetryAfter time.Duration
	Err        error
}

// Error implements the error interface.
func (e *ModelError) Error() string {
	s := e.Op + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the provider's raw error.
func (e *ModelError) Unwrap() error { return e.Err }

// FailureReason returns what a worker reads on a failed draft: what went
// wrong, in plain words, and what to do, since a failed draft can be tried
// again (POST /v1/drafts/{id}/retry). It never exposes provider internals;
// an output error names at most a field of the answer.
func FailureReason(err error) string {
	var oe *OutputError
	var me *ModelError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrCutOff):
		return "The model's answer was too long and was cut off. Try again; if it happens again, draft from fewer notes."
	case errors.As(err, &oe):
		return "The model's answer was not a draft the service could check, even when asked a second time (" + oe.Reason +
			"). Try again; if it happens again, draft from fewer notes."
	case errors.As(err, &me):
		reason := strings.TrimSpace(me.Reason)
		if !strings.HasSuffix(reason, ".") && !strings.HasSuffix(reason, "!") && !strings.HasSuffix(reason, "?") {
			reason += "."
		}
		if me.Temporary || me.RetryAfter > 0 {
			return reason + " Try again in a few minutes."
		}
		return reason + " Try again; if it keeps failing, tell your administrator."
	case errors.Is(err, context.DeadlineExceeded):
		return "The model took too long to answer. Try again in a few minutes."
	case errors.Is(err, context.Canceled):
		return "The draft was cancelled. Try again."
	case countersign.ErrorCode(err) != countersign.EINTERNAL:
		return countersign.ErrorMessage(err)
	}
	return "The draft could not be produced. Try again; if it keeps failing, tell your administrator."
}
