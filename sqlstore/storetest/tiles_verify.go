package storetest

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/sqlstore"
)

// MustFillLog adds n events to the log of db and sequences them: pending
// rows with their MACs under EventKey, as the service writes them, many
// to a statement, so that a test gets a log of thousands of entries (and
// tiles at two levels) in a moment. The events are reads of a case that
// does not exist: no row of case data is bound to them.
func MustFillLog(t testing.TB, db *sqlstore.DB, n int) {
	t.Helper()
	ctx := context.Background()
	const perStatement = 200
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	payload, err := json.Marshal(audit.Payload{"reason": "visit"})
	ok(t, err)
	for done := 0; done < n; {
		rows := min(perStatement, n-done)
		args := make([]any, 0, rows*10)
		for i := range rows {
			seq := done + i
			when := at.Add(time.Duration(seq) * time.Millisecond)
			fields := []string{when.Format(audit.TimeFormat), "usr_filler", "worker", audit.ActionCaseRead, "case",
				fmt.Sprintf("cas_filler_%06d", seq), fmt.Sprintf("cas_filler_%06d", seq), string(payload)}
			nonce := make([]byte, 16)
			binary.BigEndian.PutUint64(nonce, uint64(when.UnixNano()))
			binary.BigEndian.PutUint64(nonce[8:], uint64(seq))
			for _, f := range fields {
				args = append(args, f)
			}
			args = append(args, nonce, EventKey.MAC(nonce, fields...))
		}
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", rows), ", ")
		_, err := db.Raw().ExecContext(ctx, db.Raw().Rebind(`
			INSERT INTO audit_pending (at, actor_id, role, action, subject_type, subject_id, case_id, payload, nonce, mac)
			VALUES `+values), args...)
		ok(t, err)
		done += rows
	}
	_, err = db.Sequence(ctx)
	ok(t, err)
}

// MustTamperTile stores hashes as tile (level, idx), or deletes the tile
// when hashes is nil, as an attacker with database access could: with
// audit_tile's extend-only triggers out of the way (asAttacker).
func MustTamperTile(t testing.TB, db *sqlstore.DB, level, idx uint64, hashes []byte) {
	t.Helper()
	stmt := fmt.Sprintf(`DELETE FROM audit_tile WHERE level = %d AND idx = %d`, level, idx)
	if hashes != nil {
		lit := "X'" + hex.EncodeToString(hashes) + "'"
		if db.Dialect() == "postgres" {
			lit = "decode('" + hex.EncodeToString(hashes) + "', 'hex')"
		}
		stmt = fmt.Sprintf(`UPDATE audit_tile SET hashes = %s WHERE level = %d AND idx = %d`, lit, level, idx)
	}
	asAttacker(t, db, []string{"audit_tile"}, stmt)
}
