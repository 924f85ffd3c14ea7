package sqlstore

import (
	"context"
	"strings"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
)

var _ audit.StatsReader = (*AuditStore)(nil)

// AuditStats computes the ethics board's statistics from the sequenced
// draft events within opts' bounds, streaming them through the log's one
// reading loop (eachStoredEvent), so memory stays flat however many events
// the bounds select.
func (db *AuditStore) AuditStats(ctx context.Context, opts audit.StatsOptions) (*audit.Stats, error) {
	// Reads of the log are a person's or the service's; a path that forgot
	// to authenticate reads nothing.
	if _, err := countersign.ActorFrom(ctx); err != nil {
		return nil, err
	}
	// Only draft events count; the action index serves the prefix, and
	// at is canonical fixed-width UTC text, so text order is time order.
	where, args := []string{"action LIKE 'draft.%'"}, []any{}
	if v := opts.Since; v != nil {
		where, args = append(where, "at >= ?"), append(args, v.UTC().Format(audit.TimeFormat))
	}
	if v := opts.Until; v != nil {
		where, args = append(where, "at < ?"), append(args, v.UTC().Format(audit.TimeFormat))
	}
	agg := audit.NewAggregator(opts)
	err := db.eachStoredEvent(ctx, strings.Join(where, " AND "), args, 0, decoded(func(e *audit.Event) error {
		agg.Add(e)
		return nil
	}))
	if err != nil {
		return nil, err
	}
	return agg.Stats(), nil
}
