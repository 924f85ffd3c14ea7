package assistant

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"
)

// DefaultChunkSize is how much note text, in bytes, one model call is given
// when the Drafter sets no ChunkSize: about 4,000 tokens, which leaves room
// for the instructions and the answer in the 8,000-token context of the
// smallest models the service is run with.
const DefaultChunkSize = 16_000

// MaxEntries is the most statements, and the most items, a draft holds:
// beyond them it is no longer a draft a person can review. The service
// applies it after merging the answers, keeping every high-stakes entry
// first, and says how many it left out (Content.Omitted).
const MaxEntries = maxEntries

// Omitted says how many entries the service left out of a draft to keep it
// within MaxEntries, with a sentence saying so.
type Omitted struct {
	Statements int    `json:"statements,omitempty"`
	Items      int    `json:"items,omitempty"`
	Note       string `json:"note"`
}

// chunk is the notes of one model call: whole notes, or parts of one long
// note under its own id (quotes are checked against the whole note).
type chunk []Note

// chunkNotes splits notes, in order, into chunks of at most size bytes of
// text. A note longer than size is cut between paragraphs, else between
// sentences, else between words, never inside a placeholder.
func chunkNotes(notes []Note, size int) []chunk {
	var out []chunk
	var cur chunk
	used := 0
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
			cur, used = nil, 0
		}
	}
	for _, n := range notes {
		parts := []string{n.Body}
		if len(n.Body) > size {
			parts = splitText(n.Body, size)
		}
		for _, p := range parts {
			if used > 0 && used+len(p) > size {
				flush()
			}
			cur = append(cur, Note{ID: n.ID, Body: p, WrittenAt: n.WrittenAt})
			used += len(p)
		}
	}
	flush()
	return out
}

// splitText cuts s into pieces of at most size bytes (a single word longer
// than that stays whole), preferring paragraph breaks, then sentence ends,
// then spaces. The pieces, joined, give s back.
func splitText(s string, size int) []string {
	var out []string
	for len(s) > size {
		cut := -1
		for _, sep := range []string{"\n\n", "\n", ". ", "! ", "? ", "; ", " "} {
			if i := strings.LastIndex(s[:size], sep); i > size/4 {
				cut = i + len(sep)
				break
			}
		}
		if cut < 0 {
			if i := strings.IndexAny(s[size:], " \n"); i >= 0 {
				cut = size + i + 1
			} else {
				break
			}
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return append(out, s)
}

// generate asks the model for a draft of notes (as sent: pseudonymised when
// the model is off the premises), one call per chunk, and merges the
// answers in the order of the notes. It fills res with the provenance of the
// calls: attempts and tokens add up; with several chunks the hashes are of
// the chunks' final requests and responses one after another, and
// Params["chunks"] counts them.
func (d *Drafter) generate(ctx context.Context, kind Kind, lang string, notes []Note, directory []Service, today time.Time, params Params, res *Result, m *memo) (*Content, error) {
	size := d.ChunkSize
	if size <= 0 {
		size = DefaultChunkSize
	}
	chunks := chunkNotes(notes, size)
	res.Params = params.Map()
	if len(chunks) > 1 {
		res.Params["chunks"] = fmt.Sprintf("%d", len(chunks))
	}
	var reqBodies, respBodies []byte
	merged := &Content{Language: lang}
	start := time.Now()
	for i, ch := range chunks {
		c, comp, err := d.generateChunk(ctx, kind, lang, ch, directory, today, params, res, m)
		res.Latency = time.Since(start)
		if comp != nil && len(chunks) == 1 { // the bodies as they are, not a copy
			res.RequestHash, res.ResponseHash = hashHex(comp.RequestBody), hashHex(comp.ResponseBody)
		} else if comp != nil {
			reqBodies = append(reqBodies, comp.RequestBody...)
			respBodies = append(respBodies, comp.ResponseBody...)
			res.RequestHash, res.ResponseHash = hashHex(reqBodies), hashHex(respBodies)
		}
		if err != nil {
			if len(chunks) > 1 {
				return nil, fmt.Errorf("part %d of %d: %w", i+1, len(chunks), err)
			}
			return nil, err
		}
		if i == 0 {
			merged.Language = c.Language
		}
		merged.Statements = append(merged.Statements, c.Statements...)
		merged.Items = append(merged.Items, c.Items...)
	}
	if (kind == KindSummary || kind == KindLetter) && len(merged.Statements) == 0 {
		return nil, &OutputError{Reason: reasonNoStatements}
	}
	return merged, nil
}

// generateChunk asks the model for one chunk, once more if the answer broke
// the schema, telling it what was wrong.
func (d *Drafter) generateChunk(ctx context.Context, kind Kind, lang string, notes []Note, directory []Service, today time.Time, params Params, res *Result, m *memo) (*Content, *Completion, error) {
	prompt, err := RenderPrompt(kind, lang, notes, directory, today, params)
	if err != nil {
		return nil, nil, fmt.Errorf("draft: %w", err)
	}
	prompt.memo = m
	for attempt := 1; ; attempt++ {
		res.Attempts++
		comp, err := d.Model.Generate(ctx, prompt)
		if err != nil {
			return nil, nil, fmt.Errorf("draft %s: generate: %w", kind, err)
		}
		res.PromptTokens += comp.PromptTokens
		res.CompletionTokens += comp.CompletionTokens
		maps.Copy(res.Params, comp.Params)
		if comp.FinishReason == "length" {
			return nil, comp, fmt.Errorf("draft %s: %w", kind, &ModelError{Op: "draft", Reason: "The model's answer was cut off.", Err: ErrCutOff})
		}
		content, err := parseChunk(kind, comp.Text, directory)
		if err == nil {
			return content, comp, nil
		}
		var oe *OutputError
		if !errors.As(err, &oe) || attempt >= 2 {
			return nil, comp, fmt.Errorf("draft %s: %w", kind, err)
		}
		// One more try, telling the model what was wrong. The reason names
		// fields, never note content, so it is safe to send.
		retry := *prompt
		retry.User = prompt.User + "\nYour previous answer was rejected: " + oe.Reason +
			". Answer again with one JSON object that follows the schema exactly.\n"
		prompt = &retry
	}
}

// parseChunk is ParseContent for the answer about one chunk: a part of a
// summary may have nothing to say (the merged summary may not).
func parseChunk(kind Kind, text string, directory []Service) (*Content, error) {
	c, err := ParseContent(kind, text, directory)
	var oe *OutputError
	if (kind == KindSummary || kind == KindLetter) && errors.As(err, &oe) && oe.Reason == reasonNoStatements {
		return &Content{}, nil
	}
	return c, err
}

// limitEntries keeps at most MaxEntries statements and items: the
// high-stakes ones (a category, after the service's own reading, or a risk
// item) first, then the others in order, and the kept ones in the order of
// the notes. It says in c.Omitted how many it left out, and reports
// whether it left out any.
func limitEntries(c *Content) bool {
	// High-stakes as the model labelled them or as the service reads them
	// (classify runs later, on the entries kept): a model that labels
	// nothing does not get its risky statements dropped first.
	keepS := keepIndexes(len(c.Statements), func(i int) bool {
		return highStakes(c.Statements[i].Category) || Categorize(c.Statements[i].Text) != ""
	})
	keepI := keepIndexes(len(c.Items), func(i int) bool {
		return highStakes(c.Items[i].Category) || c.Items[i].Type == ItemRisk || Categorize(c.Items[i].Text) != ""
	})
	droppedS, droppedI := len(c.Statements)-len(keepS), len(c.Items)-len(keepI)
	if droppedS == 0 && droppedI == 0 {
		return false
	}
	sts := make([]Statement, 0, len(keepS))
	for _, i := range keepS {
		sts = append(sts, c.Statements[i])
	}
	items := make([]Item, 0, len(keepI))
	for _, i := range keepI {
		items = append(items, c.Items[i])
	}
	c.Statements, c.Items = sts, items
	c.Omitted = &Omitted{Statements: droppedS, Items: droppedI, Note: omittedNote(droppedS, droppedI)}
	return true
}

// countUngrounded counts the statements and items of c flagged ungrounded.
func countUngrounded(c *Content) int {
	n := 0
	for _, s := range c.Statements {
		if s.Ungrounded {
			n++
		}
	}
	for _, it := range c.Items {
		if it.Ungrounded {
			n++
		}
	}
	return n
}

func keepIndexes(n int, first func(int) bool) []int {
	if n <= maxEntries {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	keep := make([]bool, n)
	kept := 0
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < n && kept < maxEntries; i++ {
			if !keep[i] && (pass == 1 || first(i)) {
				keep[i] = true
				kept++
			}
		}
	}
	out := make([]int, 0, kept)
	for i, k := range keep {
		if k {
			out = append(out, i)
		}
	}
	return out
}

// omittedNote says in plain words what limitEntries left out.
func omittedNote(statements, items int) string {
	var parts []string
	if statements > 0 {
		parts = append(parts, plural(statements, "more statement was", "more statements were"))
	}
	if items > 0 {
		parts = append(parts, plural(items, "more suggestion was", "more suggestions were"))
	}
	return fmt.Sprintf("%s left out: a draft holds at most %d of each.", strings.Join(parts, " and "), maxEntries)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
