package assistant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/countersign/countersign"
)

// DefaultMaxInput is the most note text, in bytes, one draft may be made from.
const DefaultMaxInput = 200_000

// Drafter turns case notes into a draft with a Model. It is safe for
// concurrent use once configured.
type Drafter struct {
	Model Model
	// Directory is the local referral directory; a Request may override it.
	Directory []Service
	// Now returns the current time; it sets "today" in prompts and tells
	// dates of birth from other dates. Defaults to time.Now.
	Now func() time.Time
	// Params are the generation parameters; the zero value means DefaultParams.
	Params Params
	// MaxInput caps the total size of the notes; 0 means DefaultMaxInput.
	MaxInput int
	// ChunkSize is how much note text one model call is given; longer
	// inputs are split and the answers merged. 0 means DefaultChunkSize.
	ChunkSize int
}

// Draft produces a draft for req: it pseudonymises the notes unless the
// model is on the premises, renders the prompt of the draft kind, asks the
// model, validates the answer against the schema (asking once more if it was
// invalid), restores the masked values and checks every citation.
//
// Returns EINVALID for a request that cannot be drafted (unknown kind or
// language, no notes, too much text), an *OutputError when the model's
// answer was still invalid after one retry, and the model's error (usually a
// *ModelError) when it could not answer; FailureReason turns any of them into
// a sentence for the draft's failed status. Once the model has been called,
// a failed Draft still returns a Result, without content, that carries the
// provenance of the last attempt (model, attempts, hashes, tokens, latency)
// for the audit log.
func (d *Drafter) Draft(ctx context.Context, req Request) (*Result, error) {
	if d.Model == nil {
		return nil, fmt.Errorf("draft: no model configured")
	}
	if err := d.validate(req); err != nil {
		return nil, err
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	today := now().UTC()
	params := d.Params
	if params == (Params{}) {
		params = DefaultParams
	}
	directory := req.Directory
	if len(directory) == 0 {
		directory = d.Directory
	}

	lang := req.Language
	if lang == "" && len(req.Notes) == 1 {
		lang = DetectLanguage(req.Notes[0].Body) // as below: a line end adds no word
	} else if lang == "" {
		var all strings.Builder
		for _, n := range req.Notes {
			all.WriteString(n.Body)
			all.WriteByte('\n')
		}
		lang = DetectLanguage(all.String())
	}

	// Pseudonymise: sources keep, per note, what the model sees and how to
	// map it back, so that quotes are checked against what was sent and
	// returned in the note's own words.
	res := &Result{
		Model:         d.Model.Name(),
		Provider:      d.Model.Provider(),
		PromptVersion: PromptVersion(req.Kind),
		Masked:        map[string]int{},
	}
	sources := make(map[string]maskedText, len(req.Notes))
	sent := make([]Note, 0, len(req.Notes))
	var ps *Pseudonymiser
	if !d.Model.OnPremises() {
		ps = NewPseudonymiser(req.Parties, today)
		res.Pseudonymised = true
		// A name found in one note is masked in all of them.
		for _, n := range req.Notes {
			ps.Learn(n.Body)
		}
	}
	for _, n := range req.Notes {
		mt := maskedText{Original: n.Body, Masked: n.Body}
		if ps != nil {
			mt = ps.maskNote(n.Body)
		}
		sources[n.ID] = mt
		sent = append(sent, Note{ID: n.ID, Body: mt.Masked, WrittenAt: n.WrittenAt})
	}
	if ps != nil {
		res.Masked = ps.Counts()
	}

	// What the service reads in this draft's texts, remembered for the
	// draft: the offline drafter and the service's checks read the same
	// sentences (memo.go).
	m := newMemo()
	// Long inputs are drafted in parts and merged; the limits on entries
	// are applied there, never as a failure (chunk.go).
	content, err := d.generate(ctx, req.Kind, lang, sent, directory, today, params, res, m)
	if err != nil {
		return res, err
	}

	// The model's ids are its own numbering; every entry gets an opaque
	// random one instead (assignIDs).
	assignIDs(content)
	restore := func(s string) string { return s }
	if ps != nil {
		restore = ps.Restore
	}
	res.Ungrounded = ground(content, sources, restore, directory)
	for i := range content.Statements {
		content.Statements[i].Text = restore(content.Statements[i].Text)
	}
	for i := range content.Items {
		content.Items[i].Text = restore(content.Items[i].Text)
	}
	m.completeDates(content, req.Notes, today)
	// The service's own reading of what needs a closer look, after every
	// provider alike (highstakes.go).
	classify(content, m)
	res.DetectorVersion = DetectorVersion()
	// At most MaxEntries of each, the high-stakes ones kept first, with a
	// plain note of what was left out (chunk.go).
	if limitEntries(content) {
		res.Ungrounded = countUngrounded(content)
	}
	res.Content = *content
	return res, nil
}

func (d *Drafter) validate(req Request) error {
	switch {
	case !req.Kind.Valid():
		return countersign.Errorf(countersign.EINVALID, "Unknown draft kind; use summary, suggestions or letter.")
	case req.Language != "" && !ValidLanguage(req.Language):
		return countersign.Errorf(countersign.EINVALID, "Unsupported language; use en, fr, nl or de.")
	case len(req.Notes) == 0:
		return countersign.Errorf(countersign.EINVALID, "Choose at least one note to draft from.")
	}
	limit := d.MaxInput
	if limit <= 0 {
		limit = DefaultMaxInput
	}
	total := 0
	seen := map[string]bool{}
	for _, n := range req.Notes {
		if n.ID == "" || seen[n.ID] {
			return countersign.Errorf(countersign.EINVALID, "Each note must appear once, with its id.")
		}
		seen[n.ID] = true
		total += len(n.Body)
	}
	if total > limit {
		return countersign.Errorf(countersign.EINVALID, "The chosen notes are too long to draft from at once; choose fewer notes.")
	}
	return nil
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
