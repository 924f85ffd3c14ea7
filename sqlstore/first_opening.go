package sqlstore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/countersign/countersign"
)

// A reviewer opens a draft moments after it was generated, and on
// PostgreSQL most often in the process that requested and generated it,
// which kept what a first opening decides on and writes from (draftScope:
// the draft's case, kind, status, reviewer and team, and its case's read
// scope). The statement that reads the draft then writes the opening too
// (firstOpeningQuery), where a read followed by the opening's own
// statement took two.
//
// The prediction is checked, not trusted: every write is guarded on the
// row read still having each input the opening was decided and built on
// (predictedReadGuard and the kind its event names), the draft's row is
// locked before the opening writes (as openingWrites locks it), and the
// reader's row in draft_openings is written once (its primary key). A
// guard that fails writes nothing, and the row read decides as it did
// before (checkDraftAccess, then OpenDraft's own writes).

// firstOpeningQuery returns the statement of a's read of draft id as p
// predicts it, a read by someone who may decide the draft at its stage
// (p.first): it reads the draft as readDraftScopeQuery does and, only
// where the row has the inputs predicted, writes a's first opening (ws,
// p.first's writes, the opening's row first) when a never opened the
// draft at its stage, or the read's event alone (p.event) when a did.
// The statement returns the row read, with the rows each of ws and then
// the read's event wrote (counts), and the draft's versions around the
// opening (openedByRead).
func (db *conn) firstOpeningQuery(a countersign.Actor, id string, p *readPrediction) (string, []any, []write, error) {
	ws, err := p.first.writes(db.statementTx())
	if err != nil {
		return "", nil, nil, err
	}
	with := []string{
		"r AS (" + readDraftScopeQuery + ")",
		"g AS (SELECT r.reader_opened_at FROM r WHERE " + predictedReadGuard + " AND r.kind = ?)",
		// The draft's row, locked at its newest version for an opening
		// alone: the lock its clock's UPDATE takes anyway, before any
		// write.
		"p AS (SELECT xmin::text::bigint AS v FROM drafts WHERE id = ? AND EXISTS (SELECT 1 FROM g WHERE reader_opened_at IS NULL) FOR NO KEY UPDATE)",
	}
	args := append(append([]any{a.UserID, id}, p.guard...), id)
	counts := make([]string, 0, len(ws)+1)
	for i, w := range ws {
		cond := "EXISTS (SELECT 1 FROM p)"
		if i > 0 {
			cond = "EXISTS (SELECT 1 FROM w0) AND " + cond
		}
		q, err := gated(w, cond)
		if err != nil {
			return "", nil, nil, err
		}
		with = append(with, fmt.Sprintf("w%d AS (%s RETURNING 1)", i, q))
		args = append(args, w.args...)
		counts = append(counts, fmt.Sprintf("(SELECT COUNT(*) FROM w%d)", i))
	}
	if p.event != nil {
		// A later read by a: its event alone, as readDraftLoggedQuery
		// writes it.
		with = append(with, `e AS (INSERT INTO audit_pending (`+pendingColumns+`)
			SELECT ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS BYTEA), CAST(? AS BYTEA)
			WHERE EXISTS (SELECT 1 FROM g WHERE reader_opened_at IS NOT NULL) RETURNING 1)`)
		args = append(args, p.event...)
		counts = append(counts, "(SELECT COUNT(*) FROM e)")
	}
	// The opening's transaction id (low 32 bits) is the xmin it gives the
	// draft's row; a statement that opens nothing is given none.
	query := "WITH " + strings.Join(with, ",\n") + "\nSELECT r.*, ARRAY[" + strings.Join(counts, ", ") + "] AS counts," +
		" (SELECT v FROM p) AS version_before," +
		" CASE WHEN EXISTS (SELECT 1 FROM p) THEN txid_current() % 4294967296 END AS version_after FROM r"
	return query, args, ws, nil
}

// openedByRead says what firstOpeningQuery wrote, from the rows each of
// its writes wrote (counts: those of ws, then the read's event's when it
// had one) and the draft's versions around the opening: o, when the first
// opening was written (its checks run on the counts, which set its review
// clock), and whether what the read writes was written, with the opening
// or as the read's event alone.
func openedByRead(o *firstOpening, ws []write, counts []int64, before, after *int64) (*firstOpening, bool, error) {
	if len(counts) < len(ws) {
		return nil, false, fmt.Errorf("first opening: %d counts for %d writes", len(counts), len(ws))
	}
	if counts[0] != 1 {
		return nil, len(counts) > len(ws) && counts[len(ws)] == 1, nil
	}
	if _, err := checkWrites(ws, counts[:len(ws)]); err != nil {
		return nil, false, err
	}
	if before != nil {
		o.versions.before = strconv.FormatInt(*before, 10)
	}
	if after != nil {
		o.versions.after = strconv.FormatInt(*after, 10)
	}
	return o, true, nil
}
