package review

import (
	"fmt"
	"slices"
	"strings"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
)

// HighStakes reports whether statements of category must each be confirmed
// or removed by the reviewer before a draft can be approved.
func HighStakes(category string) bool {
	switch category {
	case assistant.CategoryRisk, assistant.CategorySafeguarding, assistant.CategoryCapacity, assistant.CategoryHealth:
		return true
	}
	return false
}

// Final is what an approval signs, computed by Finalize.
type Final struct {
	// Drafted is the text as the model drafted it, without any vigilance
	// statement: the baseline of the diff and of the edit ratio.
	Drafted string
	// Text is the text signed into the record; a vigilance statement is
	// never part of it.
	Text      string
	Edited    bool
	EditRatio float64
	Diff      []DiffOp
	// Vigilance is "" when the draft held no check, otherwise
	// VigilanceCaught or VigilanceMissed.
	Vigilance string
}

// NeedsDecision reports whether s must be confirmed or removed by the
// reviewer before its draft can be approved: a high-stakes statement, one
// the service's detector could place neither as high-stakes nor as
// ordinary (assistant.CategoryUnclear: what the gate's measured recall
// counts, so it must gate), or one the service could not trace to the
// notes (assistant.Ground).
func NeedsDecision(s assistant.Statement) bool {
	return HighStakes(s.Category) || s.Category == assistant.CategoryUnclear || s.Ungrounded
}

// MaxDecisionComment is the longest comment on one statement or item, in bytes.
const MaxDecisionComment = 500

// Finalize checks an approval against the draft content c and computes the
// text to sign. check is the draft's vigilance check, or nil. It returns
// EINVALID naming every field at fault: an empty or too long edit, unknown
// or repeated item and statement ids, unknown actions or reason codes,
// high-stakes, unclear and ungrounded statements left neither confirmed nor removed
// (the field "statements", listing their ids), an ungrounded statement
// confirmed without a comment saying why ("statements[i].comment"), and an
// ungrounded item accepted without one ("items[i].comment", or "items"
// listing the ids of those the approval does not mention). Unsupported
// means not signable as it stands: a person says why they sign it anyway.
func Finalize(c *assistant.Content, ap Approval, check *VigilanceCheck) (*Final, error) {
	if c == nil {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This draft has no content to approve.")
	}
	var fields []countersign.FieldError
	bad := func(field, format string, args ...any) {
		fields = append(fields, countersign.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	edited := ap.Content != ""
	switch {
	case !edited:
	case strings.TrimSpace(ap.Content) == "":
		bad("content", "The edited text is empty; leave it out to approve the text as drafted.")
	case len(ap.Content) > MaxContentBytes:
		bad("content", "The edited text is too long: at most %d bytes.", MaxContentBytes)
	case !ValidText(ap.Content):
		bad("content", "The text contains a NUL character or invalid UTF-8.")
	case slices.Equal(strings.Fields(ap.Content), strings.Fields(c.Text())):
		// The text sent back as drafted, line ends and spacing aside (a
		// browser's text box re-wraps them), is no edit: the draft's own
		// text is signed, whichever door the approval came through.
		edited = false
	}
	if ap.ReasonCode != "" && !ValidEditReason(ap.ReasonCode) {
		bad("reason_code", "Choose one of: %s.", strings.Join(EditReasons, ", "))
	}

	statements := map[string]assistant.Statement{}
	for _, s := range c.Statements {
		statements[s.ID] = s
	}
	removed, decided := map[string]bool{}, map[string]bool{}
	for i, sd := range ap.Statements {
		f := fmt.Sprintf("statements[%d]", i)
		if _, ok := statements[sd.ID]; !ok {
			bad(f+".id", "There is no statement %q in this draft.", sd.ID)
			continue
		}
		if decided[sd.ID] {
			bad(f+".id", "Statement %q is listed twice.", sd.ID)
			continue
		}
		decided[sd.ID] = true
		switch sd.Action {
		case StatementConfirmed:
		case StatementRemoved:
			removed[sd.ID] = true
		default:
			bad(f+".action", "Choose %s or %s.", StatementConfirmed, StatementRemoved)
		}
		if sd.ReasonCode != "" && !ValidEditReason(sd.ReasonCode) {
			bad(f+".reason_code", "Choose one of: %s.", strings.Join(EditReasons, ", "))
		}
		switch {
		case len(sd.Comment) > MaxDecisionComment || !ValidText(sd.Comment):
			bad(f+".comment", "The comment must be text of at most %d bytes.", MaxDecisionComment)
		case sd.Action == StatementConfirmed && statements[sd.ID].Ungrounded && strings.TrimSpace(sd.Comment) == "":
			bad(f+".comment", "Say in a short comment why you confirm statement %q: the service could not trace it to the notes.", sd.ID)
		}
	}
	var unconfirmed []string
	for _, s := range c.Statements {
		if NeedsDecision(s) && !decided[s.ID] {
			unconfirmed = append(unconfirmed, s.ID)
		}
	}
	if len(unconfirmed) > 0 {
		bad("statements", "Confirm or remove each high-stakes, unclear or unsupported statement first: %s.", strings.Join(unconfirmed, ", "))
	}

	items := map[string]bool{}
	ungroundedItems := map[string]bool{}
	for _, it := range c.Items {
		items[it.ID] = true
		ungroundedItems[it.ID] = it.Ungrounded
	}
	rejected, seen := map[string]bool{}, map[string]bool{}
	for i, id := range ap.Items {
		f := fmt.Sprintf("items[%d]", i)
		if !items[id.ID] {
			bad(f+".id", "There is no item %q in this draft.", id.ID)
			continue
		}
		if seen[id.ID] {
			bad(f+".id", "Item %q is listed twice.", id.ID)
			continue
		}
		seen[id.ID] = true
		if !id.Accepted {
			rejected[id.ID] = true
		}
		if id.ReasonCode != "" && !ValidEditReason(id.ReasonCode) {
			bad(f+".reason_code", "Choose one of: %s.", strings.Join(EditReasons, ", "))
		}
		switch {
		case len(id.Comment) > MaxDecisionComment || !ValidText(id.Comment):
			bad(f+".comment", "The comment must be text of at most %d bytes.", MaxDecisionComment)
		case id.Accepted && ungroundedItems[id.ID] && strings.TrimSpace(id.Comment) == "":
			bad(f+".comment", "Say in a short comment why you accept item %q: the service could not trace it to the notes.", id.ID)
		}
	}
	var unchecked []string
	for _, it := range c.Items {
		if it.Ungrounded && !seen[it.ID] {
			unchecked = append(unchecked, it.ID)
		}
	}
	if len(unchecked) > 0 {
		bad("items", "Accept with a comment, or reject, each unsupported item first: %s.", strings.Join(unchecked, ", "))
	}
	// A high-stakes item, as the service reads it, is accepted or rejected
	// explicitly, as a high-stakes statement is confirmed or removed.
	var undecidedItems []string
	for _, it := range c.Items {
		if HighStakes(it.Category) && !seen[it.ID] {
			undecidedItems = append(undecidedItems, it.ID)
		}
	}
	if len(undecidedItems) > 0 {
		bad("items", "Accept or reject each high-stakes item first: %s.", strings.Join(undecidedItems, ", "))
	}
	if len(fields) > 0 {
		return nil, countersign.InvalidFields("The draft could not be approved.", fields...)
	}

	checkID := ""
	if check != nil {
		checkID = check.StatementID
	}
	drafted := &assistant.Content{Language: c.Language, Items: c.Items}
	chosen := &assistant.Content{Language: c.Language}
	for _, s := range c.Statements {
		if s.ID == checkID {
			continue
		}
		drafted.Statements = append(drafted.Statements, s)
		if !removed[s.ID] {
			chosen.Statements = append(chosen.Statements, s)
		}
	}
	for _, it := range c.Items {
		if !rejected[it.ID] {
			chosen.Items = append(chosen.Items, it)
		}
	}
	f := &Final{Drafted: drafted.Text()}
	if edited {
		// The reviewer edited the text and also removed statements or
		// rejected items: their lines go, wherever the reviewer left them.
		f.Text = ap.Content
		for _, s := range c.Statements {
			if removed[s.ID] {
				f.Text = removeLine(f.Text, (&assistant.Content{Statements: []assistant.Statement{s}}).Text())
			}
		}
		for _, it := range c.Items {
			if rejected[it.ID] {
				f.Text = removeLine(f.Text, (&assistant.Content{Items: []assistant.Item{it}}).Text())
			}
		}
	} else {
		f.Text = chosen.Text()
	}
	if check != nil {
		missed := !removed[checkID]
		if edited {
			missed = strings.Contains(f.Text, check.Text)
			f.Text = stripLine(f.Text, check.Text)
		}
		f.Vigilance = map[bool]string{true: VigilanceMissed, false: VigilanceCaught}[missed]
	}
	if strings.TrimSpace(f.Text) == "" {
		return nil, countersign.InvalidFields("The draft could not be approved.", countersign.FieldError{Field: "statements",
			Message: "Nothing would be left to sign; reject the draft instead."})
	}
	f.Edited = !slices.Equal(strings.Fields(f.Drafted), strings.Fields(f.Text))
	f.EditRatio = EditRatio(f.Drafted, f.Text)
	f.Diff = WordDiff(f.Drafted, f.Text)
	return f, nil
}

// removeLine takes every line of text equal to line, spaces aside, out of it.
func removeLine(text, line string) string {
	line = strings.Join(strings.Fields(line), " ")
	if line == "" {
		return text
	}
	lines := strings.SplitAfter(text, "\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.Join(strings.Fields(l), " ") != line {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// stripLine removes every occurrence of s from text, and the lines it leaves empty.
func stripLine(text, s string) string {
	if !strings.Contains(text, s) {
		return text
	}
	lines := strings.SplitAfter(text, "\n")
	out := lines[:0]
	for _, l := range lines {
		if !strings.Contains(l, s) {
			out = append(out, l)
			continue
		}
		if l = strings.ReplaceAll(l, s, ""); strings.TrimSpace(l) != "" {
			out = append(out, strings.Replace(l, "  ", " ", -1))
		}
	}
	return strings.Join(out, "")
}
