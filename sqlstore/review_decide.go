package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/internal/sealbox"
	"github.com/countersign/countersign/review"
)

// A decision on a draft (approval, rejection, countersignature,
// reassignment) reads everything it decides on in one statement: the
// draft, locked; its case, under the case's write lock, for
// casefile.CheckOpen and the access check; the case's key row and whether
// the database seals, which open the draft's texts and seal the decision's;
// the vigilance check and when the actor opened the draft. One round trip
// where there were five.
//
// Lock order: on PostgreSQL the statement locks the case (FOR NO KEY
// UPDATE) before the draft (FOR UPDATE): the locking clauses are taken in
// the order they are written, for each row the join returns. That is the
// order closing, erasing, consent withdrawal and retries take them (the
// case first, then its drafts), so a decision cannot deadlock with them.
// The key row is read, not locked (a lock cannot reach the outer side of
// a LEFT JOIN, and a case opened before migration 0017 has no key row):
// the case's write lock covers it, because the only write that shreds a
// key is an erasure, which holds the case FOR UPDATE and marks it erased in
// the same transaction. A decision that waited for an erasure reads the
// case again once it is free (PostgreSQL rechecks locked rows), finds it
// erased and writes nothing; one that holds the case first makes the
// erasure wait for its commit.

// decideRow is one row of decideQuery.
type decideRow struct {
	draftRow
	joinedKey
	decideInputs
	OpenedAtThisStage *time.Time `db:"o_opened_at"`
}

// decideInputs are the columns of decideRow besides the draft's, its key
// row's and the actor's opening: a later read of a draft on PostgreSQL
// reads them too (decideInputColumns), for an approval that follows it
// (rememberedDecision).
type decideInputs struct {
	Case             caseRow `db:"c"`
	Sealing          int     `db:"sealing"`
	VigilanceID      *string `db:"v_statement_id"`
	VigilanceText    *string `db:"v_text"`
	VigilanceOutcome *string `db:"v_outcome"`
	// CaseVersion and DraftVersion are the versions (xmin) of the case's
	// and the draft's rows, read on PostgreSQL without a lock for a
	// decision written by one fenced statement (decideByStatement).
	CaseVersion  *string `db:"c_version"`
	DraftVersion *string `db:"d_version"`
}

// decideInputColumns read decideInputs from a query that joins the
// draft's case as c and its vigilance check as v (PostgreSQL only).
var decideInputColumns = qualify("c", "c", caseReadColumns) + ", " + sealingColumn + `,
	v.statement_id AS v_statement_id, v.text AS v_text, v.outcome AS v_outcome,
	c.xmin::text AS c_version, d.xmin::text AS d_version`

// qualify prefixes each of a column list's columns with table, aliased
// as sqlx reads them into a struct tagged db:"<as>" (or as itself when
// as is "").
func qualify(table, as, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		c = strings.TrimSpace(c)
		cols[i] = table + "." + c
		if as != "" {
			cols[i] += ` AS "` + as + "." + c + `"`
		}
	}
	return strings.Join(cols, ", ")
}

// decideColumns are the columns decideQuery reads.
var decideColumns = qualify("d", "", draftColumns) + ", " + qualify("c", "c", caseReadColumns) + ", " +
	joinedKeyColumns + ", " + sealingColumn + `,
	v.statement_id AS v_statement_id, v.text AS v_text, v.outcome AS v_outcome, o.opened_at AS o_opened_at`

// decideQuery returns the statement that reads draft id for a decision,
// with when the actor first opened it at stage ("" for the stage of the
// draft's status), and its arguments. With lock, on PostgreSQL, it locks
// the case and the draft; without, it reads their rows' versions instead,
// which the fenced write of decideByStatement checks.
func (db *conn) decideQuery(id, userID string, stage review.Status, lock bool) (string, []any) {
	args := []any{userID}
	onStage := "d.status"
	if stage != "" {
		onStage, args = "?", append(args, string(stage))
	}
	columns, locking := decideColumns, ""
	if db.dialect.name() == "postgres" {
		if lock {
			locking = " FOR NO KEY UPDATE OF c FOR UPDATE OF d"
		} else {
			columns += ", c.xmin::text AS c_version, d.xmin::text AS d_version"
		}
	}
	return `SELECT ` + columns + `
		FROM drafts d
		JOIN cases c ON c.id = d.case_id
		LEFT JOIN case_keys k ON k.case_id = d.case_id
		LEFT JOIN vigilance_checks v ON v.draft_id = d.id
		LEFT JOIN draft_openings o ON o.draft_id = d.id AND o.user_id = ? AND o.stage = ` + onStage + `
		WHERE d.id = ?` + locking, append(args, id)
}

// decidable is what a decision reads about a draft.
type decidable struct {
	draft *review.Draft
	// check is the draft's vigilance check (nil when it has none), and
	// outcome its outcome ("" while undecided).
	check   *review.VigilanceCheck
	outcome string
	// openedAt is when the actor first opened the draft at the stage asked.
	openedAt *time.Time
	// key seals the decision's texts, once keyRead (see sealer); keyID is
	// the id of the key row read with the draft ("" when the case had none
	// yet), which a decision written by one fenced statement holds
	// (keyHeld).
	key     *sealbox.CaseKey
	keyRead bool
	keyID   string
	// caseVersion and draftVersion are the rows' versions read without a
	// lock (readForDecision without lock, on PostgreSQL), "" otherwise.
	caseVersion, draftVersion string
}

// sealer returns what seals the texts the decision writes to the draft's
// case: the key read with the draft, under the case's lock, or, for a case
// that had no key row yet, tx.sealer's (which creates it), read once.
func (dd *decidable) sealer(ctx context.Context, tx *Tx) (*sealbox.CaseKey, error) {
	if !dd.keyRead {
		k, err := tx.sealer(ctx, dd.draft.CaseID)
		if err != nil {
			return nil, err
		}
		dd.key, dd.keyRead = k, true
	}
	return dd.key, nil
}

// lockForDecision locks draft id and its case for a decision by the actor
// (see above), checks that the actor may decide on it and that its case is
// open, and returns it with its vigilance check and when the actor opened
// it at stage ("" for its current status). The caller checks its status
// and who may decide. The case's key is kept for the decision's writes
// (decidable.sealer).
func (db *conn) lockForDecision(ctx context.Context, tx *Tx, id string, stage review.Status) (*decidable, error) {
	return db.readForDecision(ctx, tx, id, stage, true)
}

// readForDecision is lockForDecision through q; without lock it reads the
// draft and its case unlocked, with their rows' versions on PostgreSQL (a
// decision's fenced write, decideByStatement).
func (db *conn) readForDecision(ctx context.Context, q queryer, id string, stage review.Status, lock bool) (*decidable, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	query, args := db.decideQuery(id, a.UserID, stage, lock)
	var r decideRow
	if err := q.GetContext(ctx, &r, q.Rebind(query), args...); err != nil {
		return nil, notFound(db.translate(err), "There is no draft with this id.")
	}
	return db.decidableFrom(ctx, a, q, &r)
}

// decidableFrom is what a decision by a decides on, from the row r read
// for it: by decideQuery, or, for an approval just after this process read
// or opened the draft, by that read (rememberedDecision), whose versions
// the decision's fenced write then checks. Either way the same checks run
// here, and the texts are opened through q only where r's key row does not
// open them.
func (db *conn) decidableFrom(ctx context.Context, a countersign.Actor, q queryer, r *decideRow) (*decidable, error) {
	// Who may decide and whether the case takes it, before any text is
	// opened: as checkDraftAccess and findCase decide for a write.
	c := r.Case.toDomain()
	d := &review.Draft{ReviewerID: r.ReviewerID, TeamID: r.TeamID}
	var err error
	if !review.IsReviewer(a, d) {
		if err := casefile.CheckWrite(a, c); err != nil {
			return nil, err
		}
	}
	if err := casefile.CheckOpen(c); err != nil {
		return nil, err
	}
	op, err := db.joinedOpener(r.CaseID, &r.joinedKey)
	if err != nil {
		return nil, err
	}
	o := db.openers(q)
	o.cases[r.CaseID] = op
	if d, err = r.draftRow.toDomain(ctx, o); err != nil {
		return nil, err
	}
	out := &decidable{draft: d, openedAt: utcPtr(r.OpenedAtThisStage), caseVersion: deref(r.CaseVersion), draftVersion: deref(r.DraftVersion)}
	if r.KeyID != nil {
		if out.key, err = db.keyFor(&sealRow{caseKeyRow: caseKeyRow{CaseID: r.CaseID, KeyID: *r.KeyID, MasterKeyID: deref(r.Master),
			Wrapped: r.Wrapped}, Sealing: r.Sealing}); err != nil {
			return nil, err
		}
		out.keyRead, out.keyID = true, *r.KeyID
	}
	if r.VigilanceID != nil && r.VigilanceText != nil {
		text, err := o.open(ctx, r.CaseID, vigilanceText(d.ID), *r.VigilanceText)
		if err != nil {
			return nil, err
		}
		out.check = &review.VigilanceCheck{DraftID: d.ID, StatementID: *r.VigilanceID, Text: text}
		out.outcome = deref(r.VigilanceOutcome)
	}
	return out, nil
}
