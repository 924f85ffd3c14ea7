package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestSequencerRefusesAHigherTileMissingOrShort: the log ends one entry
// short of the ninth full level-0 tile and the level-1 tile, where the
// pending entry's completed tile adds a hash, was deleted or cut short
// behind the service's back. Catch-up cannot rebuild it (the level-0
// tiles end where the log does), so the sequencer's refusal is a finding
// about the stored log: it unwraps to audit.ErrTileDiffers, which the
// board's page and `audit verify` tell from an operational failure, and
// TileProblem gives the sentence verify gives the same tile; nothing is
// written. The partial last level-0 tile deleted under an intact level-1
// tile is still the tiles behind the log, rebuilt, not a finding. On
// SQLite and PostgreSQL.
func TestSequencerRefusesAHigherTileMissingOrShort(t *testing.T) {
	t.Parallel()
	const entries = 9*audit.TileWidth - 1 // level-0 tiles 0 to 7 full, 8 with 255 hashes, level-1 tile 0 with 8
	l0, l1 := audit.TileKey{Level: 0, Index: 8}, audit.TileKey{Level: 1, Index: 0}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name string
				tile func([]byte) []byte // nil result: deleted
			}{
				{"Deleted", func([]byte) []byte { return nil }},
				{"CutShort", func(h []byte) []byte { return h[:4*sha256.Size] }},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					ctx := context.Background()
					db := storetest.MustOpen(t, storetest.FilledLogDSN(t, name == "postgres", entries))
					want := storedTilesOf(t, db)
					damageTiles(t, db, want, map[audit.TileKey]func([]byte) []byte{l1: tc.tile})
					before := storedTilesOf(t, db)
					storetest.MustAddPending(t, db, 1)
					_, err := db.Sequence(ctx)
					if !errors.Is(err, audit.ErrTileDiffers) {
						t.Fatalf("sequencing over the level-1 tile: %v, want audit.ErrTileDiffers", err)
					}
					rep := verifyLogAndTiles(t, db, entries)
					if problem, ok := sqlstore.TileProblem(err); !ok || rep.OK || problem != rep.Problem {
						t.Fatalf("TileProblem said %q (%v), verify %q: want verify's sentence", problem, ok, rep.Problem)
					}
					if got := storedTilesOf(t, db); len(got) != len(before) || !bytes.Equal(got[l0], before[l0]) || !bytes.Equal(got[l1], before[l1]) {
						t.Fatal("the refused batch wrote tiles")
					}
				})
			}

			t.Run("PartialLastTileDeleted", func(t *testing.T) {
				t.Parallel()
				db := storetest.MustOpen(t, storetest.FilledLogDSN(t, name == "postgres", entries))
				want := storedTilesOf(t, db)
				damageTiles(t, db, want, map[audit.TileKey]func([]byte) []byte{l0: func([]byte) []byte { return nil }})
				storetest.MustAddPending(t, db, 1)
				if size, err := db.Sequence(context.Background()); err != nil || size != entries+1 {
					t.Fatalf("sequencing after the partial last tile was deleted: %d, %v, want %d", size, err, entries+1)
				}
				mustStillHoldTiles(t, db, want)
				mustVerifyLogAndTiles(t, db, entries+1)
			})
		})
	}
}
