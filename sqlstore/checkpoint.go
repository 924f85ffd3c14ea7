package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/countersign/countersign/audit"
)

var _ audit.LogStore = (*AuditStore)(nil)

// LatestCheckpoint returns the largest stored checkpoint.
func (db *AuditStore) LatestCheckpoint(ctx context.Context) (*audit.Checkpoint, error) {
	var r struct {
		Size  int64  `db:"size"`
		Root  []byte `db:"root"`
		Chain []byte `db:"chain"`
		Note  string `db:"note"`
	}
	if err := db.r.GetContext(ctx, &r, `SELECT size, root, chain, note FROM audit_checkpoint ORDER BY size DESC LIMIT 1`); err != nil {
		return nil, notFound(db.translate(err), "No checkpoint has been signed yet.")
	}
	// The signed note is the body, a blank line, then the signature lines.
	body, _, _ := strings.Cut(r.Note, "\n\n")
	cp, err := audit.ParseCheckpointBody([]byte(body + "\n"))
	if err != nil {
		return nil, fmt.Errorf("stored checkpoint %d: %w", r.Size, err)
	}
	cp.Note = []byte(r.Note)
	return cp, nil
}

// AddCheckpoint stores a signed checkpoint unless one of that size exists.
// Checkpoints are not audit events: signing one would grow the log it signs.
func (db *AuditStore) AddCheckpoint(ctx context.Context, cp *audit.Checkpoint) error {
	_, err := db.w.ExecContext(ctx, db.w.Rebind(`
		INSERT INTO audit_checkpoint (size, root, chain, note, created_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (size) DO NOTHING`), int64(cp.Size), cp.Root, cp.Chain, string(cp.Note), db.stamp())
	if err != nil {
		return db.translate(fmt.Errorf("store checkpoint %d: %w", cp.Size, err))
	}
	return nil
}
