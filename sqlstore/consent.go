package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/internal/sealbox"
)

const consentColumns = `id, case_id, seq, given, note, recorded_by, recorded_at`

type consentRow struct {
	ID         string    `db:"id"`
	CaseID     string    `db:"case_id"`
	Seq        int       `db:"seq"`
	Given      bool      `db:"given"`
	Note       string    `db:"note"`
	RecordedBy string    `db:"recorded_by"`
	RecordedAt time.Time `db:"recorded_at"`
}

func (r *consentRow) toDomain() *casefile.Consent {
	return &casefile.Consent{ID: r.ID, CaseID: r.CaseID, Seq: r.Seq, Given: r.Given, Note: r.Note,
		RecordedBy: r.RecordedBy, RecordedAt: r.RecordedAt.UTC()}
}

// consentNote is the place of a consent's note, sealed with its case's key.
func consentNote(id string) sealbox.Where {
	return sealbox.Where{Table: "consents", Column: "note", Row: id}
}

// selectConsents reads a case's consent rows through q, their notes opened:
// the one place consents are read for the service.
func (db *conn) selectConsents(ctx context.Context, q queryer, caseID, order string) ([]*casefile.Consent, error) {
	var rows []consentRow
	if err := q.SelectContext(ctx, &rows, q.Rebind(`
		SELECT `+consentColumns+`
		FROM consents
		WHERE case_id = ?
		ORDER BY `+order), caseID); err != nil {
		return nil, db.translate(fmt.Errorf("find consents: %w", err))
	}
	o := db.openers(q)
	out := make([]*casefile.Consent, len(rows))
	for i := range rows {
		note, err := o.open(ctx, caseID, consentNote(rows[i].ID), rows[i].Note)
		if err != nil {
			return nil, err
		}
		rows[i].Note = note
		out[i] = rows[i].toDomain()
	}
	return out, nil
}

// RecordConsent appends the client's answer about AI-assisted drafting. A
// refusal or withdrawal also fails, in the same transaction, the case's
// drafts that are queued or being generated, so that no more case text goes
// to a model. The audit events carry the facts (given or not, sequence, what
// it replaced, the hash of the note), never the note.
func (db *CaseStore) RecordConsent(ctx context.Context, c *casefile.Consent) error {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return err
	}
	if err := casefile.ValidateConsent(c); err != nil {
		return err
	}
	return db.withTx(ctx, func(tx *Tx) error {
		cs, err := db.findCase(ctx, tx, c.CaseID, true)
		if err != nil {
			return err
		}
		if err := db.lockCase(ctx, tx, c.CaseID); err != nil {
			return err
		}
		// A new version of the case's row: a draft request decided
		// without a transaction is fenced on the version it read
		// (requestByStatement), so it never passes this consent.
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE cases SET id = id WHERE id = ?`), c.CaseID); err != nil {
			return fmt.Errorf("mark the case's consent changed: %w", err)
		}
		prev, err := db.latestConsent(ctx, tx, c.CaseID)
		if err != nil {
			return err
		}
		dec, err := casefile.DecideConsent(a, cs, c, prev, tx.now)
		if err != nil {
			return err
		}
		k, err := tx.sealer(ctx, c.CaseID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`
			INSERT INTO consents (`+consentColumns+`, salt)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			c.ID, c.CaseID, c.Seq, c.Given, k.Seal(consentNote(c.ID), c.Note), c.RecordedBy, c.RecordedAt, c.Salt); err != nil {
			if isConflict(db.translate(err)) {
				return countersign.Errorf(countersign.ECONFLICT, "Someone recorded the client's consent at the same moment; look at it and try again.")
			}
			return fmt.Errorf("insert consent: %w", err)
		}
		if dec.StopDrafts {
			n, err := db.failUngenerated(ctx, tx, a, c)
			if err != nil {
				return err
			}
			dec.Event.Payload["drafts_stopped"] = strconv.Itoa(n)
		}
		return tx.apply(ctx, []audit.Record{*dec.Event})
	})
}

// failUngenerated fails the drafts of c's case that no model has answered
// yet, after the client withdrew consent. A worker generating one of them
// loses its lease fence and cannot put it up for review.
func (db *conn) failUngenerated(ctx context.Context, tx *Tx, a countersign.Actor, c *casefile.Consent) (int, error) {
	var rows []struct {
		ID       string `db:"id"`
		Attempts int    `db:"attempts"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`
		SELECT id, attempts FROM drafts
		WHERE case_id = ? AND `+ungenerated+`
		ORDER BY id`+db.dialect.forUpdate()), c.CaseID); err != nil {
		return 0, fmt.Errorf("find drafts to stop: %w", err)
	}
	reason := casefile.ConsentWithdrawn
	for _, r := range rows {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`
			UPDATE drafts SET status = `+stFailed+`, failure_reason = ?, lease_owner = '', lease_until = NULL, updated_at = ?
			WHERE id = ? AND `+ungenerated), reason, tx.now, r.ID); err != nil {
			return 0, fmt.Errorf("stop draft %s: %w", r.ID, err)
		}
		if err := tx.record(ctx, a, audit.ActionDraftFailed, "draft", r.ID, c.CaseID, audit.Payload{
			"attempt": strconv.Itoa(r.Attempts), "reason_sha256": audit.Digest(reason), "cause": "consent_withdrawn", "consent": c.ID,
		}); err != nil {
			return 0, err
		}
	}
	return len(rows), nil
}

// FindConsent returns the consent state of a case and its history.
func (db *CaseStore) FindConsent(ctx context.Context, caseID string) (*casefile.ConsentState, error) {
	if _, err := countersign.ActorFrom(ctx); err != nil {
		return nil, err
	}
	if _, err := db.findCase(ctx, db.r, caseID, false); err != nil {
		return nil, err
	}
	history, err := db.selectConsents(ctx, db.r, caseID, `seq`)
	if err != nil {
		return nil, err
	}
	st := &casefile.ConsentState{CaseID: caseID, Required: db.RequireConsent, History: history}
	if len(history) > 0 {
		st.Current = history[len(history)-1]
		st.Given = st.Current.Given
	}
	st.DraftingAllowed = casefile.DraftingAllowed(st.Required, st.Current)
	return st, nil
}

// checkConsent refuses a draft request the client's consent does not allow
// (see casefile.DraftingAllowed) with ECONFLICT and the reason. It locks the
// case row first, so a withdrawal committing meanwhile either sees the new
// draft and stops it, or is seen by this check (PostgreSQL; SQLite has a
// single writer).
func (db *conn) checkConsent(ctx context.Context, tx *Tx, caseID string) error {
	if err := db.lockCase(ctx, tx, caseID); err != nil {
		return err
	}
	cur, err := db.latestConsent(ctx, tx, caseID)
	if err != nil {
		return err
	}
	return casefile.CheckDrafting(db.RequireConsent, cur)
}

// lockCase locks a case row until the transaction ends, serialising consent
// changes and draft retries of one case. (A draft request is serialised
// with consent changes by the case's write lock, forCaseWrite, which
// RecordConsent takes first too, see requestDraft; or, made without a
// transaction, by its fence on the case's row version, which
// RecordConsent changes, see requestByStatement.)
func (db *conn) lockCase(ctx context.Context, tx *Tx, caseID string) error {
	var id string
	if err := tx.GetContext(ctx, &id, tx.Rebind(`SELECT id FROM cases WHERE id = ?`+db.dialect.forUpdate()), caseID); err != nil {
		return notFound(db.translate(err), "There is no case with this id.")
	}
	return nil
}

// latestConsent returns the newest consent row of a case, or nil.
func (db *conn) latestConsent(ctx context.Context, q queryer, caseID string) (*casefile.Consent, error) {
	rows, err := db.selectConsents(ctx, q, caseID, `seq DESC LIMIT 1`)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0], nil
}
