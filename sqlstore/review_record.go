package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/internal/sealbox"
	"github.com/countersign/countersign/review"
)

const entryColumns = `id, case_id, draft_id, kind, content, ai_drafted, model, prompt_version, drafted_at, edited, edited_by,
	signed_by, signed_at, supersedes, correction, countersigned_by, countersigned_at, salt, sharing, withheld_reason`

type entryRow struct {
	ID              string     `db:"id"`
	CaseID          string     `db:"case_id"`
	DraftID         *string    `db:"draft_id"`
	Kind            string     `db:"kind"`
	Content         string     `db:"content"`
	AIDrafted       bool       `db:"ai_drafted"`
	Model           string     `db:"model"`
	PromptVersion   string     `db:"prompt_version"`
	DraftedAt       *time.Time `db:"drafted_at"`
	Edited          bool       `db:"edited"`
	EditedBy        string     `db:"edited_by"`
	SignedBy        string     `db:"signed_by"`
	SignedAt        time.Time  `db:"signed_at"`
	Supersedes      *string    `db:"supersedes"`
	Correction      string     `db:"correction"`
	CountersignedBy *string    `db:"countersigned_by"`
	CountersignedAt *time.Time `db:"countersigned_at"`
	Salt            string     `db:"salt"`
	Sharing         string     `db:"sharing"`
	WithheldReason  string     `db:"withheld_reason"`
	SupersededBy    *string    `db:"superseded_by"`
	EditRatio       *float64   `db:"edit_ratio"`
	Diff            *string    `db:"diff"`
}

// entryContent is the place of a record entry's content, its seal's
// additional data.
func entryContent(id string) sealbox.Where {
	return sealbox.Where{Table: "record_entries", Column: "content", Row: id}
}

// toDomain returns the entry, its content opened through o.
func (r *entryRow) toDomain(ctx context.Context, o *openers) (*review.Entry, error) {
	content, err := o.open(ctx, r.CaseID, entryContent(r.ID), r.Content)
	if err != nil {
		return nil, err
	}
	if r.DraftID != nil && r.Diff != nil {
		// The diff of the decision that signed it, joined in.
		if err := o.openDecision(ctx, r.CaseID, *r.DraftID, decisionTexts{"diff": r.Diff}); err != nil {
			return nil, err
		}
	}
	e := &review.Entry{ID: r.ID, CaseID: r.CaseID, Kind: r.Kind, Content: content, AIDrafted: r.AIDrafted, Model: r.Model,
		PromptVersion: r.PromptVersion, DraftedAt: utcPtr(r.DraftedAt), Edited: r.Edited, EditedBy: r.EditedBy,
		SignedBy: r.SignedBy, SignedAt: r.SignedAt.UTC(), Correction: r.Correction, CountersignedAt: utcPtr(r.CountersignedAt),
		Salt: r.Salt, Sharing: r.Sharing, WithheldReason: r.WithheldReason}
	for _, f := range []struct {
		src *string
		dst *string
	}{{r.DraftID, &e.DraftID}, {r.Supersedes, &e.Supersedes}, {r.CountersignedBy, &e.CountersignedBy}, {r.SupersededBy, &e.SupersededBy}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if r.EditRatio != nil {
		e.EditRatio = *r.EditRatio
	}
	if r.Diff != nil && *r.Diff != "" {
		if err := json.Unmarshal([]byte(*r.Diff), &e.Diff); err != nil {
			return nil, fmt.Errorf("record entry %s diff: %w", r.ID, err)
		}
	}
	return e, nil
}

// insertEntry stores a signed entry, sealed with its case's key read in tx.
func insertEntry(ctx context.Context, tx *Tx, e *review.Entry) error {
	k, err := tx.sealer(ctx, e.CaseID)
	if err != nil {
		return err
	}
	return tx.writes(ctx, nil, entryWriteWith(k, e))
}

// entryWrite is the write of the entry a decision on dd's draft signs,
// sealed with the key the decision read.
func entryWrite(ctx context.Context, tx *Tx, dd *decidable, e *review.Entry) (write, error) {
	k, err := dd.sealer(ctx, tx)
	if err != nil {
		return write{}, err
	}
	return entryWriteWith(k, e), nil
}

// entryWriteWith is the INSERT of e, its content sealed with k.
func entryWriteWith(k *sealbox.CaseKey, e *review.Entry) write {
	var draftID, supersedes, countersignedBy *string
	if e.DraftID != "" {
		draftID = &e.DraftID
	}
	if e.Supersedes != "" {
		supersedes = &e.Supersedes
	}
	if e.CountersignedBy != "" {
		countersignedBy = &e.CountersignedBy
	}
	return write{query: `INSERT INTO record_entries (` + entryColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args: []any{
		e.ID, e.CaseID, draftID, e.Kind, k.Seal(entryContent(e.ID), e.Content), e.AIDrafted, e.Model, e.PromptVersion, e.DraftedAt, e.Edited,
		e.EditedBy, e.SignedBy, e.SignedAt, supersedes, e.Correction, countersignedBy, e.CountersignedAt, e.Salt,
		e.Sharing, e.WithheldReason}}
}

// recordQuery selects entries with the entry that supersedes each and the
// diff of the decision that signed it.
const recordQuery = `
	SELECT e.id, e.case_id, e.draft_id, e.kind, e.content, e.ai_drafted, e.model, e.prompt_version, e.drafted_at,
		e.edited, e.edited_by, e.signed_by, e.signed_at, e.supersedes, e.correction, e.countersigned_by,
		e.countersigned_at, e.salt, e.sharing, e.withheld_reason, s.id AS superseded_by, d.edit_ratio, d.diff
	FROM record_entries e
	LEFT JOIN record_entries s ON s.supersedes = e.id
	LEFT JOIN decisions d ON d.draft_id = e.draft_id`

// FindRecord returns the signed entries of a case, oldest first, corrected
// entries included.
func (db *ReviewStore) FindRecord(ctx context.Context, caseID string) ([]*review.Entry, error) {
	if _, err := countersign.ActorFrom(ctx); err != nil {
		return nil, err
	}
	if _, err := db.findCase(ctx, db.r, caseID, false); err != nil {
		return nil, err
	}
	var rows []entryRow
	if err := db.r.SelectContext(ctx, &rows, db.r.Rebind(recordQuery+` WHERE e.case_id = ? ORDER BY e.signed_at, e.id`), caseID); err != nil {
		return nil, db.translate(fmt.Errorf("find record: %w", err))
	}
	pending, err := db.pendingCorrections(ctx, db.r, caseID)
	if err != nil {
		return nil, err
	}
	entries := make([]*review.Entry, 0, len(rows)+len(pending))
	o := db.openers(db.r)
	for i := range rows {
		e, err := rows[i].toDomain(ctx, o)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
		if p := pending[e.ID]; p != nil {
			// The correction waits beside the entry it corrects, which
			// stays in force until a supervisor countersigns it.
			e.PendingCorrection = p.ID
			entries = append(entries, p)
		}
	}
	return entries, nil
}

// correctionColumns are the columns of a pending or decided correction,
// read as an entry.
const correctionColumns = `id, case_id, supersedes, kind, content, reason, signed_by, signed_at, status, salt, sharing, withheld_reason`

type correctionRow struct {
	ID         string    `db:"id"`
	CaseID     string    `db:"case_id"`
	Supersedes string    `db:"supersedes"`
	Kind       string    `db:"kind"`
	Content    string    `db:"content"`
	Reason     string    `db:"reason"`
	SignedBy   string    `db:"signed_by"`
	SignedAt   time.Time `db:"signed_at"`
	Status     string    `db:"status"`
	Salt       string    `db:"salt"`
	Sharing    string    `db:"sharing"`
	Withheld   string    `db:"withheld_reason"`
}

func (r *correctionRow) toDomain() *review.Entry {
	return &review.Entry{ID: r.ID, CaseID: r.CaseID, Kind: r.Kind, Content: r.Content, SignedBy: r.SignedBy,
		SignedAt: r.SignedAt.UTC(), Supersedes: r.Supersedes, Correction: r.Reason, Pending: r.Status == correctionPending,
		Salt: r.Salt, Sharing: r.Sharing, WithheldReason: r.Withheld}
}

// correctionText is the place of a text of a correction (its proposed
// content, its reason, the countersigner's comment or the refusal's
// reason), sealed with its case's key.
func correctionText(id, column string) sealbox.Where {
	return sealbox.Where{Table: "record_corrections", Column: column, Row: id}
}

// open opens the proposed content and the reason of a correction in
// place: the one place a correction row's texts are opened for the
// service.
func (r *correctionRow) open(ctx context.Context, o *openers) error {
	for col, v := range map[string]*string{"content": &r.Content, "reason": &r.Reason} {
		t, err := o.open(ctx, r.CaseID, correctionText(r.ID, col), *v)
		if err != nil {
			return err
		}
		*v = t
	}
	return nil
}

// Statuses of record_corrections rows.
const (
	correctionPending       = "pending"
	correctionCountersigned = "countersigned"
	correctionRefused       = "refused"
)

// pendingCorrections returns the corrections of a case waiting for a
// countersignature, by the id of the entry each corrects.
func (db *conn) pendingCorrections(ctx context.Context, q queryer, caseID string) (map[string]*review.Entry, error) {
	var rows []correctionRow
	if err := q.SelectContext(ctx, &rows, q.Rebind(`
		SELECT `+correctionColumns+` FROM record_corrections WHERE case_id = ? AND status = ?`), caseID, correctionPending); err != nil {
		return nil, db.translate(fmt.Errorf("find pending corrections: %w", err))
	}
	out := make(map[string]*review.Entry, len(rows))
	o := db.openers(q)
	for i := range rows {
		if err := rows[i].open(ctx, o); err != nil {
			return nil, err
		}
		out[rows[i].Supersedes] = rows[i].toDomain()
	}
	return out, nil
}

// lockedEntry locks a case, then reads one of its signed entries with the
// correction waiting on it, if any.
func (db *conn) lockedEntry(ctx context.Context, tx *Tx, caseID, entryID string) (*review.Entry, error) {
	if err := db.lockCase(ctx, tx, caseID); err != nil {
		return nil, err
	}
	var row entryRow
	if err := tx.GetContext(ctx, &row, tx.Rebind(recordQuery+` WHERE e.id = ? AND e.case_id = ?`), entryID, caseID); err != nil {
		return nil, notFound(db.translate(err), "There is no entry with this id in the case's record.")
	}
	e, err := row.toDomain(ctx, db.openers(tx))
	if err != nil {
		return nil, err
	}
	pending, err := db.pendingCorrections(ctx, tx, caseID)
	if err != nil {
		return nil, err
	}
	if p := pending[e.ID]; p != nil {
		e.PendingCorrection = p.ID
	}
	return e, nil
}

// CorrectEntry applies review.DecideCorrection: a new entry supersedes an
// earlier one at once, or waits for a countersignature with the earlier
// entry still in force. The case is locked, so a correction signed and one
// left pending cannot both be made of the same entry.
func (db *ReviewStore) CorrectEntry(ctx context.Context, caseID, entryID string, c review.Correction) (*review.Entry, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	var e *review.Entry
	err = db.withTx(ctx, func(tx *Tx) error {
		cs, err := db.findCase(ctx, tx, caseID, true)
		if err != nil {
			return err
		}
		old, err := db.lockedEntry(ctx, tx, caseID, entryID)
		if err != nil {
			return err
		}
		res, err := review.DecideCorrection(review.CorrectionInput{Actor: a, Case: cs, Old: old, Correction: c,
			Policy: db.policy(), Now: tx.now})
		if err != nil {
			return err
		}
		e = res.Entry
		if err := db.insertCorrection(ctx, tx, e); err != nil {
			return err
		}
		return tx.apply(ctx, res.Events)
	})
	return e, err
}

// CountersignCorrection applies review.DecideCorrectionVerdict: a pending
// correction becomes the entry in force, with both signers.
func (db *ReviewStore) CountersignCorrection(ctx context.Context, caseID, correctionID, comment string) (*review.Entry, error) {
	return db.decideCorrection(ctx, caseID, correctionID, true, comment, "")
}

// RefuseCorrection applies review.DecideCorrectionVerdict: the pending
// correction is turned down and the entry it corrects stays in force.
func (db *ReviewStore) RefuseCorrection(ctx context.Context, caseID, correctionID, reason string) (*review.Entry, error) {
	return db.decideCorrection(ctx, caseID, correctionID, false, "", reason)
}

func (db *conn) decideCorrection(ctx context.Context, caseID, correctionID string, sign bool, comment, reason string) (*review.Entry, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	var e *review.Entry
	err = db.withTx(ctx, func(tx *Tx) error {
		cs, err := db.findCase(ctx, tx, caseID, true)
		if err != nil {
			return err
		}
		var row correctionRow
		if err := tx.GetContext(ctx, &row, tx.Rebind(`
			SELECT `+correctionColumns+` FROM record_corrections WHERE id = ? AND case_id = ?`), correctionID, caseID); err != nil {
			return notFound(db.translate(err), "There is no correction with this id in the case's record.")
		}
		if err := row.open(ctx, db.openers(tx)); err != nil {
			return err
		}
		pending := row.toDomain()
		old, err := db.lockedEntry(ctx, tx, caseID, row.Supersedes)
		if err != nil {
			return err
		}
		res, err := review.DecideCorrectionVerdict(review.CorrectionVerdictInput{Actor: a, Case: cs, Pending: pending, Old: old,
			Countersign: sign, Comment: comment, Reason: reason, Now: tx.now})
		if err != nil {
			return err
		}
		status := correctionRefused
		if sign {
			status = correctionCountersigned
		}
		k, err := tx.sealer(ctx, caseID)
		if err != nil {
			return err
		}
		up, err := tx.ExecContext(ctx, tx.Rebind(`
			UPDATE record_corrections SET status = ?, decided_by = ?, decided_at = ?, comment = ?, refusal_reason = ?
			WHERE id = ? AND status = ?`), status, a.UserID, tx.now, k.Seal(correctionText(correctionID, "comment"), comment),
			k.Seal(correctionText(correctionID, "refusal_reason"), reason), correctionID, correctionPending)
		if err != nil {
			return fmt.Errorf("decide correction: %w", err)
		}
		if n, _ := up.RowsAffected(); n != 1 {
			return countersign.Errorf(countersign.ECONFLICT, "This correction has just been decided by someone else.")
		}
		e = res.Entry
		if sign {
			if err := insertEntry(ctx, tx, e); err != nil {
				if isConflict(db.translate(err)) {
					return countersign.Errorf(countersign.ECONFLICT, "The entry has been corrected since; this correction can no longer be signed.")
				}
				return err
			}
		}
		return tx.apply(ctx, res.Events)
	})
	return e, err
}
