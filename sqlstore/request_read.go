package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
)

// requestReadRow is a row of requestRead: the case with its row's version,
// its key row and its latest consent answer (NULL when none), and one of
// the notes named, whose columns are all NULL when no note matches.
type requestReadRow struct {
	caseRow
	Version string `db:"version"`
	joinedKey
	latestConsentCols
	NoteID        *string    `db:"n_id"`
	NoteAuthorID  *string    `db:"n_author_id"`
	NoteBody      *string    `db:"n_body"`
	NoteWrittenAt *time.Time `db:"n_written_at"`
	NoteAmends    *string    `db:"n_amends"`
	NoteCreatedAt *time.Time `db:"n_created_at"`
}

// latestConsentCols are a case's latest consent answer as
// latestConsentJoin reads it (consent_seq, consent_given; NULL when none).
type latestConsentCols struct {
	ConsentSeq   *int  `db:"consent_seq"`
	ConsentGiven *bool `db:"consent_given"`
}

// consent is the answer read of case caseID, nil when there is none.
func (r *latestConsentCols) consent(caseID string) *casefile.Consent {
	if r.ConsentGiven == nil {
		return nil
	}
	return &casefile.Consent{CaseID: caseID, Seq: *r.ConsentSeq, Given: *r.ConsentGiven}
}

// latestConsentJoin joins a case's latest consent answer as cs, the case
// being the one whose id caseCol holds (none: its columns are NULL).
func latestConsentJoin(caseCol string) string {
	return `LEFT JOIN consents cs ON cs.case_id = ` + caseCol + ` AND cs.seq = (SELECT MAX(seq) FROM consents WHERE case_id = ` + caseCol + `)`
}

// requestRead reads, for a draft request made without a transaction
// (PostgreSQL), everything it is decided from in one statement: the case
// read unlocked with its row's version (xmin) for the write to fence on
// (fencedWrites), its key row, its latest consent answer, and its notes
// among req.NoteIDs (all when there are none), in the order they were
// written. The case is checked as findCase checks a write (checkCase)
// before any note is opened, so a refusal answers as it did when the case
// was read on its own; a request whose ids match no note still reads the
// consent, whose refusal comes first (decideOnNotes). Every row is of one
// snapshot, where the case, its notes and its consent were read in turn.
func (db *conn) requestRead(ctx context.Context, req review.DraftRequest) (*casefile.Case, string, []*casefile.Note, *casefile.Consent, error) {
	query, args := `
		SELECT c.*, `+joinedKeyColumns+`, cs.seq AS consent_seq, cs.given AS consent_given,
			n.id AS n_id, n.author_id AS n_author_id, n.body AS n_body, n.written_at AS n_written_at,
			n.amends AS n_amends, n.created_at AS n_created_at
		FROM (SELECT `+caseReadColumns+`, xmin::text AS version FROM cases WHERE id = ?) c
		LEFT JOIN case_keys k ON k.case_id = c.id
		`+latestConsentJoin("c.id")+`
		LEFT JOIN notes n ON n.case_id = c.id`, []any{req.CaseID}
	if len(req.NoteIDs) > 0 {
		query += ` AND n.id IN (?` + strings.Repeat(",?", len(req.NoteIDs)-1) + `)`
		for _, id := range req.NoteIDs {
			args = append(args, id)
		}
	}
	var rows []requestReadRow
	if err := db.r.SelectContext(ctx, &rows, db.r.Rebind(query+` ORDER BY n.written_at, n.id`), args...); err != nil {
		return nil, "", nil, nil, db.translate(fmt.Errorf("find case and notes: %w", err))
	}
	if len(rows) == 0 {
		return nil, "", nil, nil, countersign.Errorf(countersign.ENOTFOUND, "There is no case with this id.")
	}
	first := &rows[0]
	c := first.toDomain()
	if err := checkCase(ctx, c, true); err != nil {
		return nil, "", nil, nil, err
	}
	cur := first.consent(c.ID)
	if first.NoteID == nil {
		return c, first.Version, nil, cur, nil
	}
	o, err := db.joinedOpener(c.ID, &first.joinedKey)
	if err != nil {
		return nil, "", nil, nil, err
	}
	notes := make([]*casefile.Note, len(rows))
	for i := range rows {
		r := &rows[i]
		n := noteRow{ID: *r.NoteID, CaseID: c.ID, AuthorID: *r.NoteAuthorID, Body: *r.NoteBody, WrittenAt: *r.NoteWrittenAt,
			Amends: r.NoteAmends, CreatedAt: *r.NoteCreatedAt}
		if notes[i], err = n.toDomain(o); err != nil {
			return nil, "", nil, nil, err
		}
	}
	return c, first.Version, notes, cur, nil
}

// decideOnNotes decides req, a request of any kind but a letter, in the
// case c at now, from the notes it names and the case's latest consent
// answer cur (nil: none), as requestNotes or requestRead read them: the
// consent checked first (casefile.CheckDrafting), then
// review.DecideRequest. The transaction (decideFromNotes) and
// requestByStatement both decide through it.
func (db *conn) decideOnNotes(a countersign.Actor, c *casefile.Case, req review.DraftRequest, notes []*casefile.Note, cur *casefile.Consent, now time.Time) (*review.Draft, *audit.Record, error) {
	if err := casefile.CheckDrafting(db.RequireConsent, cur); err != nil {
		return nil, nil, err
	}
	return review.DecideRequest(review.RequestInput{Actor: a, Case: c, Request: req, Notes: notes, Policy: db.policy(), Now: now})
}
