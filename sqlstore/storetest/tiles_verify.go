package storetest

import (
	"bytes"
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
	ok(t, fillLog(context.Background(), db, n))
}

// fillLog is MustFillLog, for the templates of FilledLogDSN too.
func fillLog(ctx context.Context, db *sqlstore.DB, n int) error {
	if err := addFiller(ctx, db, time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), n); err != nil {
		return err
	}
	_, err := db.Sequence(ctx)
	return err
}

// MustAddPending adds n events to db as MustFillLog does but leaves them
// pending, waiting for the sequencer. Their dates, and so their nonces,
// follow the day MustFillLog's take, so the two never collide.
func MustAddPending(t testing.TB, db *sqlstore.DB, n int) {
	t.Helper()
	ok(t, addFiller(context.Background(), db, time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC), n))
}

// addFiller writes n pending rows with their MACs under EventKey, as the
// service writes them, dated a millisecond apart from at, many to a
// statement.
func addFiller(ctx context.Context, db *sqlstore.DB, at time.Time, n int) error {
	const perStatement = 200
	payload, err := json.Marshal(audit.Payload{"reason": "visit"})
	if err != nil {
		return err
	}
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
		if _, err := db.Raw().ExecContext(ctx, db.Raw().Rebind(`
			INSERT INTO audit_pending (at, actor_id, role, action, subject_type, subject_id, case_id, payload, nonce, mac)
			VALUES `+values), args...); err != nil {
			return err
		}
		done += rows
	}
	return nil
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

// exerciseTileVerify: the store hands `audit verify` every stored tile,
// in pages, and after Sequence the tiles cover the whole log, which is
// what lets verify count a tile missing there as a failure.
func exerciseTileVerify(t *testing.T, open func(t testing.TB) *sqlstore.DB) {
	ctx := context.Background()
	const entries = 2100 // level-0 tiles 0 to 8 (the last 52 hashes), level-1 tile 0 (8)
	db := open(t)
	MustFillLog(t, db, entries)

	t.Run("TilesFromReadsEveryTileInPages", func(t *testing.T) {
		var got []audit.Tile
		for from := uint64(0); ; {
			page, err := db.TilesFrom(ctx, 0, from, 4)
			ok(t, err)
			got = append(got, page...)
			if len(page) < 4 {
				break
			}
			from = page[len(page)-1].Index + 1
		}
		if len(got) != 9 {
			t.Fatalf("%d level-0 tiles, want 9", len(got))
		}
		for i, tile := range got {
			want, err := db.ReadTile(ctx, 0, uint64(i))
			ok(t, err)
			if tile.Level != 0 || tile.Index != uint64(i) || !bytes.Equal(tile.Hashes, want) {
				t.Fatalf("tile %d read as (%d, %d), %d bytes; ReadTile gives %d bytes", i, tile.Level, tile.Index, len(tile.Hashes), len(want))
			}
			if w := audit.TileWidthAt(0, uint64(i), entries) * 32; len(tile.Hashes) != w {
				t.Fatalf("tile %d holds %d bytes, want %d", i, len(tile.Hashes), w)
			}
		}
		level1, err := db.TilesFrom(ctx, 1, 0, 32)
		ok(t, err)
		if len(level1) != 1 || len(level1[0].Hashes) != 8*32 {
			t.Fatalf("level 1: %d tiles", len(level1))
		}
		for _, q := range []struct{ level, from uint64 }{{0, 9}, {2, 0}, {7, 0}} {
			none, err := db.TilesFrom(ctx, q.level, q.from, 32)
			ok(t, err)
			if len(none) != 0 {
				t.Fatalf("level %d from %d: %d tiles, want none", q.level, q.from, len(none))
			}
		}
	})
	t.Run("AfterSequencingEveryTileOfTheLogIsStored", func(t *testing.T) {
		size, err := db.Sequence(ctx)
		ok(t, err)
		v := &audit.Verifier{Origin: testOrigin, Tiles: db, TiledSize: size}
		rep, err := v.VerifyStored(ctx, db.AllStoredEvents, nil)
		ok(t, err)
		if !rep.OK || rep.Events != entries || rep.Tiles != 10 {
			t.Fatalf("verified %d events and %d tiles: %s", rep.Events, rep.Tiles, rep.Problem)
		}
	})
}
