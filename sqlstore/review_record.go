package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
)

const entryColumns = `id, case_id, draft_id, kind, content, ai_drafted, model, prompt_version, drafted_at, edited, edited_by,
	signed_by, signed_at, supersedes, correction, countersigned_by, countersigned_at`

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
	SupersededBy    *string    `db:"superseded_by"`
	EditRatio       *float64   `db:"edit_ratio"`
	Diff            *string    `db:"diff"`
}

func (r *entryRow) toDomain() (*review.Entry, error) {
	e := &review.Entry{ID: r.ID, CaseID: r.CaseID, Kind: r.Kind, Content: r.Content, AIDrafted: r.AIDrafted, Model: r.Model,
		PromptVersion: r.PromptVersion, DraftedAt: utcPtr(r.DraftedAt), Edited: r.Edited, EditedBy: r.EditedBy,
		SignedBy: r.SignedBy, SignedAt: r.SignedAt.UTC(), Correction: r.Correction, CountersignedAt: utcPtr(r.CountersignedAt)}
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

func insertEntry(ctx context.Context, tx *Tx, e *review.Entry) error {
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
	if _, err := tx.ExecContext(ctx, tx.Rebind(`
		INSERT INTO record_entries (`+entryColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		e.ID, e.CaseID, draftID, e.Kind, e.Content, e.AIDrafted, e.Model, e.PromptVersion, e.DraftedAt, e.Edited,
		e.EditedBy, e.SignedBy, e.SignedAt, supersedes, e.Correction, countersignedBy, e.CountersignedAt); err != nil {
		return fmt.Errorf("insert record entry: %w", err)
	}
	return nil
}

// recordQuery selects entries with the entry that supersedes each and the
// diff of the decision that signed it.
const recordQuery = `
	SELECT e.id, e.case_id, e.draft_id, e.kind, e.content, e.ai_drafted, e.model, e.prompt_version, e.drafted_at,
		e.edited, e.edited_by, e.signed_by, e.signed_at, e.supersedes, e.correction, e.countersigned_by,
		e.countersigned_at, s.id AS superseded_by, d.edit_ratio, d.diff
	FROM record_entries e
	LEFT JOIN record_entries s ON s.supersedes = e.id
	LEFT JOIN decisions d ON d.draft_id = e.draft_id`

// FindRecord returns the signed entries of a case, oldest first, corrected
// entries included.
func (db *DB) FindRecord(ctx context.Context, caseID string) ([]*review.Entry, error) {
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
	entries := make([]*review.Entry, len(rows))
	for i := range rows {
		e, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		entries[i] = e
	}
	return entries, nil
}

// CorrectEntry signs a new entry of the case record that supersedes an
// earlier one, with a reason. The earlier entry is locked and stays visible;
// each entry can be corrected once, so corrections form a chain whose last
// link is the current text. The correction is written by a person, so it is
// not marked AI-drafted.
func (db *DB) CorrectEntry(ctx context.Context, caseID, entryID string, c review.Correction) (*review.Entry, error) {
	if _, err := countersign.ActorFrom(ctx); err != nil {
		return nil, err
	}
	var fields []countersign.FieldError
	switch {
	case strings.TrimSpace(c.Content) == "":
		fields = append(fields, countersign.FieldError{Field: "content", Message: "Give the corrected text."})
	case len(c.Content) > review.MaxContentBytes:
		fields = append(fields, countersign.FieldError{Field: "content", Message: fmt.Sprintf("The text is too long: at most %d bytes.", review.MaxContentBytes)})
	case !review.ValidText(c.Content):
		fields = append(fields, countersign.FieldError{Field: "content", Message: "The text contains a NUL character or invalid UTF-8."})
	}
	switch {
	case strings.TrimSpace(c.Reason) == "":
		fields = append(fields, countersign.FieldError{Field: "reason", Message: "Say why the entry is corrected."})
	case len(c.Reason) > 2000 || !review.ValidText(c.Reason):
		fields = append(fields, countersign.FieldError{Field: "reason", Message: "The reason must be text of at most 2000 bytes."})
	}
	if len(fields) > 0 {
		return nil, countersign.InvalidFields("The entry could not be corrected.", fields...)
	}
	a := actor(ctx)
	if a.Role != countersign.RoleWorker && a.Role != countersign.RoleSupervisor {
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only the case's worker or a supervisor of its team can correct the record.")
	}
	var e *review.Entry
	err := db.withTx(ctx, func(tx *Tx) error {
		if _, err := db.findCase(ctx, tx, caseID, true); err != nil {
			return err
		}
		var old entryRow
		if err := tx.GetContext(ctx, &old, tx.Rebind(recordQuery+` WHERE e.id = ? AND e.case_id = ?`), entryID, caseID); err != nil {
			return notFound(db.translate(err), "There is no entry with this id in the case's record.")
		}
		if old.SupersededBy != nil {
			return countersign.Errorf(countersign.ECONFLICT, "This entry has already been corrected by %s; correct the latest version.", *old.SupersededBy)
		}
		e = &review.Entry{ID: countersign.NewID(countersign.PrefixEntry), CaseID: caseID, Kind: old.Kind, Content: c.Content,
			SignedBy: a.UserID, SignedAt: tx.now, Supersedes: old.ID, Correction: c.Reason}
		if err := insertEntry(ctx, tx, e); err != nil {
			if isConflict(db.translate(err)) {
				return countersign.Errorf(countersign.ECONFLICT, "This entry has just been corrected by someone else; correct the latest version.")
			}
			return err
		}
		return tx.record(ctx, a, audit.ActionRecordCorrected, "record_entry", e.ID, caseID, audit.Payload{
			"supersedes": old.ID, "content_sha256": sha256Hex(c.Content), "reason_sha256": sha256Hex(c.Reason),
			"previous_sha256": sha256Hex(old.Content),
		})
	})
	return e, err
}
