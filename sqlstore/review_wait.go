package sqlstore

import (
	"context"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/review"
)

var _ review.StatusReader = (*ReviewStore)(nil)

// draftStatusRow is the part of a draft's row that says who may read it
// and where it is in its lifecycle: no content.
type draftStatusRow struct {
	ID         string `db:"id"`
	CaseID     string `db:"case_id"`
	Status     string `db:"status"`
	ReviewerID string `db:"reviewer_id"`
	TeamID     string `db:"team_id"`
}

// DraftStatus returns the status of a draft the actor may read, for a
// client waiting until it is generated. It applies the same access rule
// as FindDraftByID (checkDraftAccess) and reads no content, so it writes no
// access event: one indexed row, and the case's row only for someone other
// than the draft's reviewer.
func (db *ReviewStore) DraftStatus(ctx context.Context, id string) (review.Status, error) {
	if _, err := countersign.ActorFrom(ctx); err != nil {
		return "", err
	}
	var r draftStatusRow
	if err := db.r.GetContext(ctx, &r, db.r.Rebind(`SELECT id, case_id, status, reviewer_id, team_id FROM drafts WHERE id = ?`), id); err != nil {
		return "", notFound(db.translate(err), "There is no draft with this id.")
	}
	d := &review.Draft{ID: r.ID, CaseID: r.CaseID, Status: review.Status(r.Status), ReviewerID: r.ReviewerID, TeamID: r.TeamID}
	if err := db.checkDraftAccess(ctx, db.r, d, false); err != nil {
		return "", err
	}
	return d.Status, nil
}
