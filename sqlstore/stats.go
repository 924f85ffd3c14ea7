package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/countersign/countersign/audit"
)

var _ audit.StatsReader = (*DB)(nil)

// statsPage is how many events one statistics query reads; pages keep
// memory flat however many events the bounds select.
const statsPage = 5000

// AuditStats computes the ethics board's statistics from the sequenced
// draft events within opts' bounds, streaming them in pages of statsPage.
func (db *DB) AuditStats(ctx context.Context, opts audit.StatsOptions) (*audit.Stats, error) {
	// Only draft events count; the action index serves the prefix, and
	// at is canonical fixed-width UTC text, so text order is time order.
	where, args := []string{"action LIKE 'draft.%'"}, []any{}
	if v := opts.Since; v != nil {
		where, args = append(where, "at >= ?"), append(args, v.UTC().Format(audit.TimeFormat))
	}
	if v := opts.Until; v != nil {
		where, args = append(where, "at < ?"), append(args, v.UTC().Format(audit.TimeFormat))
	}
	query := db.r.Rebind(`
		SELECT ` + eventColumns + `
		FROM audit_event
		WHERE ` + strings.Join(where, " AND ") + ` AND seq > ?
		ORDER BY seq
		LIMIT ?`)
	agg := audit.NewAggregator(opts)
	var after int64 = -1
	rows := make([]eventRow, 0, statsPage)
	for {
		rows = rows[:0]
		if err := db.r.SelectContext(ctx, &rows, query, append(args, after, statsPage)...); err != nil {
			return nil, db.translate(fmt.Errorf("read audit events for statistics after %d: %w", after, err))
		}
		for i := range rows {
			e, err := rows[i].toDomain()
			if err != nil {
				return nil, err
			}
			agg.Add(e)
		}
		if len(rows) < statsPage {
			return agg.Stats(), nil
		}
		after = rows[len(rows)-1].Seq
	}
}
