package sqlstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
)

// letterSources returns, as notes, the signed entries of a case a letter
// may rest on (review.LetterSources), among ids when ids names some.
func (db *conn) letterSources(ctx context.Context, q queryer, caseID string, ids []string) ([]*casefile.Note, error) {
	var rows []entryRow
	if err := q.SelectContext(ctx, &rows, q.Rebind(recordQuery+` WHERE e.case_id = ? ORDER BY e.signed_at, e.id`), caseID); err != nil {
		return nil, db.translate(fmt.Errorf("find letter sources: %w", err))
	}
	entries := make([]*review.Entry, 0, len(rows))
	o := db.openers(q)
	for i := range rows {
		e, err := rows[i].toDomain(ctx, o)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 || slices.Contains(ids, e.ID) {
			entries = append(entries, e)
		}
	}
	return review.EntriesAsNotes(review.LetterSources(entries)), nil
}

// clientLanguage is the preferred language of a case's client party (the
// first added), "" when the case has none.
func (db *conn) clientLanguage(ctx context.Context, q queryer, caseID string) (string, error) {
	var langs []string
	if err := q.SelectContext(ctx, &langs, q.Rebind(`
		SELECT language FROM parties WHERE case_id = ? AND role = 'client' ORDER BY created_at, id LIMIT 1`), caseID); err != nil {
		return "", db.translate(fmt.Errorf("find client language: %w", err))
	}
	if len(langs) == 0 {
		return "", nil
	}
	return langs[0], nil
}

// decideRequest loads what a draft request is decided from, its notes or,
// for a letter, the signed entries it may rest on and the client's
// language, and asks review.DecideRequest or review.DecideLetterRequest.
func (db *conn) decideRequest(ctx context.Context, tx *Tx, a countersign.Actor, c *casefile.Case, req review.DraftRequest) (*review.Draft, *audit.Record, error) {
	if req.Kind != assistant.KindLetter {
		notes, err := db.findNotes(ctx, tx, c.ID, req.NoteIDs)
		if err != nil {
			return nil, nil, err
		}
		return review.DecideRequest(review.RequestInput{Actor: a, Case: c, Request: req, Notes: notes, Policy: db.policy(), Now: tx.now})
	}
	if err := casefile.CheckWrite(a, c); err != nil {
		return nil, nil, err
	}
	sources, err := db.letterSources(ctx, tx, c.ID, req.NoteIDs)
	if err != nil {
		return nil, nil, err
	}
	lang, err := db.clientLanguage(ctx, tx, c.ID)
	if err != nil {
		return nil, nil, err
	}
	return review.DecideLetterRequest(review.RequestInput{Actor: a, Case: c, Request: req, Notes: sources, Policy: db.policy(), Now: tx.now}, lang)
}

// draftSources returns what a draft is made from: its notes, or a
// letter's entries, as they are now.
func (db *conn) draftSources(ctx context.Context, q queryer, d *review.Draft) ([]*casefile.Note, error) {
	if d.Kind == assistant.KindLetter {
		return db.letterSources(ctx, q, d.CaseID, d.NoteIDs)
	}
	return db.findNotes(ctx, q, d.CaseID, d.NoteIDs)
}
