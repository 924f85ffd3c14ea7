package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"strings"
	"sync"
	"testing"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestFullLastTileRepairedOnOpen: a full last level-0 tile (tile 7 of a
// log of 2,048 entries, whose hash the level-1 tile holds at position 7)
// deleted or cut short is rebuilt from the events when the database is
// opened, as a partial one always was, and the tiles then pass `audit
// verify`'s check; before, opening failed ("tile (1, 0) holds 8 hashes,
// the log has 7 there") and the service did not start. A level-1 tile
// whose hash there differs from the rebuilt one is refused with a sentence
// naming it, and nothing is written. On SQLite and PostgreSQL.
func TestFullLastTileRepairedOnOpen(t *testing.T) {
	t.Parallel()
	const entries = 8 * audit.TileWidth // level-0 tiles 0 to 7 full, level-1 tile 0 with 8 hashes
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// setup fills a log of n entries and returns its handle and its
			// tiles as the sequencer wrote them.
			setup := func(t *testing.T, n int) (string, *sqlstore.DB, map[audit.TileKey][]byte) {
				t.Helper()
				dsn := storetest.FilledLogDSN(t, name == "postgres", n)
				db := storetest.MustOpen(t, dsn)
				return dsn, db, storedTilesOf(t, db)
			}
			cut := func(h []byte, n int) []byte { return h[:n*sha256.Size] }
			changed := func(h []byte, pos int) []byte {
				c := bytes.Clone(h)
				c[pos*sha256.Size+9] ^= 0x20
				return c
			}
			l0 := func(i uint64) audit.TileKey { return audit.TileKey{Level: 0, Index: i} }
			l1 := audit.TileKey{Level: 1, Index: 0}

			for _, tc := range []struct {
				name    string
				entries int
				damage  map[audit.TileKey]func([]byte) []byte // nil result: deleted
			}{
				{"Deleted", entries, map[audit.TileKey]func([]byte) []byte{l0(7): func([]byte) []byte { return nil }}},
				{"CutShort", entries, map[audit.TileKey]func([]byte) []byte{l0(7): func(h []byte) []byte { return cut(h, 100) }}},
				{"CutToOneHash", entries, map[audit.TileKey]func([]byte) []byte{l0(7): func(h []byte) []byte { return cut(h, 1) }}},
				// 2,100 entries: the partial tile 8 after it (52 hashes) is
				// deleted too, or cut short, so tile 7 is the last again.
				{"DeletedWithThePartialTileAfterIt", entries + 52, map[audit.TileKey]func([]byte) []byte{
					l0(8): func([]byte) []byte { return nil }, l0(7): func([]byte) []byte { return nil }}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					dsn, db, want := setup(t, tc.entries)
					damageTiles(t, db, want, tc.damage)
					reopened := storetest.MustOpen(t, dsn) // failed before the repair
					mustStillHoldTiles(t, reopened, want)
					mustVerifyLogAndTiles(t, reopened, uint64(tc.entries))
				})
			}

			// The sequencer meets the damage first (the tiles end before
			// the log when it continues them): it rebuilds the tile in the
			// batch's transaction and the batch begins tile 8.
			t.Run("DeletedThenSequenced", func(t *testing.T) {
				t.Parallel()
				_, db, want := setup(t, entries)
				damageTiles(t, db, want, map[audit.TileKey]func([]byte) []byte{l0(7): func([]byte) []byte { return nil }})
				storetest.MustAddPending(t, db, 3)
				size, err := db.Sequence(context.Background())
				if err != nil {
					t.Fatalf("sequencing after the last full tile was deleted: %v", err)
				}
				if size != entries+3 {
					t.Fatalf("the log holds %d entries, want %d", size, entries+3)
				}
				mustStillHoldTiles(t, db, want)
				if n := len(readTileOf(t, db, l0(8))) / sha256.Size; n != 3 {
					t.Fatalf("tile 8 holds %d hashes, want 3", n)
				}
				mustVerifyLogAndTiles(t, db, entries+3)
			})

			// Two replicas starting at once: the head's lock orders their
			// rebuilds, and the second finds the tile rebuilt.
			t.Run("DeletedAndOpenedByTwoAtOnce", func(t *testing.T) {
				t.Parallel()
				dsn, db, want := setup(t, entries)
				damageTiles(t, db, want, map[audit.TileKey]func([]byte) []byte{l0(7): func([]byte) []byte { return nil }})
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i := range errs {
					wg.Go(func() {
						other, err := sqlstore.Open(context.Background(), dsn)
						if err == nil {
							other.Close()
						}
						errs[i] = err
					})
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Fatalf("opening %d of 2: %v", i+1, err)
					}
				}
				mustStillHoldTiles(t, db, want)
				mustVerifyLogAndTiles(t, db, entries)
			})

			// The rebuilt tile 7 hashes to a node the level-1 tile holds
			// otherwise: the tiles were changed, and the events, which are
			// the authority, are not written over it.
			for _, tc := range []struct {
				name string
				tile func([]byte) []byte
			}{
				{"Deleted", func([]byte) []byte { return nil }},
				{"CutShort", func(h []byte) []byte { return cut(h, 100) }},
			} {
				t.Run(tc.name+"UnderALevel1TileThatDiffers", func(t *testing.T) {
					t.Parallel()
					dsn, db, want := setup(t, entries)
					damageTiles(t, db, want, map[audit.TileKey]func([]byte) []byte{l1: func(h []byte) []byte { return changed(h, 7) }, l0(7): tc.tile})
					before := storedTilesOf(t, db)
					other, err := sqlstore.Open(context.Background(), dsn)
					if err == nil {
						other.Close()
						t.Fatal("opened over a level-1 tile that differs from the events, want refused")
					}
					if msg := err.Error(); !strings.Contains(msg, "the stored audit tile at level 1, index 0 does not match the events: hash 7 differs") {
						t.Fatalf("refused with %q, want the tile and the hash named", msg)
					}
					if got := storedTilesOf(t, db); len(got) != len(before) || !bytes.Equal(got[l0(7)], before[l0(7)]) || !bytes.Equal(got[l1], before[l1]) {
						t.Fatal("the refused rebuild wrote tiles")
					}
				})
			}

			// What is left of a cut tile was changed too, the level-1 tile
			// not: the node above it is hashed from the events, so it
			// equals the level-1 tile's and the tile is completed, and
			// verify names the changed level-0 hash, not the level-1 tile.
			t.Run("CutShortAndChangedBelowTheCut", func(t *testing.T) {
				t.Parallel()
				dsn, db, want := setup(t, entries)
				damageTiles(t, db, want, map[audit.TileKey]func([]byte) []byte{l0(7): func(h []byte) []byte { return changed(cut(h, 100), 40) }})
				reopened := storetest.MustOpen(t, dsn)
				if got := readTileOf(t, reopened, l0(7)); len(got) != audit.TileWidth*sha256.Size || !bytes.Equal(got[100*sha256.Size:], want[l0(7)][100*sha256.Size:]) {
					t.Fatalf("tile 7 holds %d hashes, or the rebuilt ones are wrong", len(got)/sha256.Size)
				}
				if !bytes.Equal(readTileOf(t, reopened, l1), want[l1]) {
					t.Fatal("the level-1 tile changed")
				}
				rep := verifyLogAndTiles(t, reopened, entries)
				if rep.OK || !strings.Contains(rep.Problem, "level 0, index 7 does not match the events: hash 40 differs") {
					t.Fatalf("verify said %q, want tile 7's hash 40 named", rep.Problem)
				}
			})
		})
	}
}

// storedTilesOf reads every stored tile of the first two levels.
func storedTilesOf(t *testing.T, db *sqlstore.DB) map[audit.TileKey][]byte {
	t.Helper()
	out := map[audit.TileKey][]byte{}
	for level := range uint64(2) {
		tiles, err := db.TilesFrom(context.Background(), level, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, tile := range tiles {
			out[tile.TileKey] = tile.Hashes
		}
	}
	return out
}

// damageTiles applies damage to the tiles, as an attacker with the database's
// rights could: each function gets the tile's hashes and returns what to
// store, nil to delete it.
func damageTiles(t *testing.T, db *sqlstore.DB, tiles map[audit.TileKey][]byte, damage map[audit.TileKey]func([]byte) []byte) {
	t.Helper()
	for k, f := range damage {
		storetest.MustTamperTile(t, db, k.Level, k.Index, f(tiles[k]))
	}
}

func readTileOf(t *testing.T, db *sqlstore.DB, k audit.TileKey) []byte {
	t.Helper()
	h, err := db.ReadTile(context.Background(), k.Level, k.Index)
	if err != nil {
		t.Fatalf("tile (%d, %d): %v", k.Level, k.Index, err)
	}
	return h
}

// mustStillHoldTiles checks that every tile of want is stored as it was, or
// extended by the entries sequenced since.
func mustStillHoldTiles(t *testing.T, db *sqlstore.DB, want map[audit.TileKey][]byte) {
	t.Helper()
	for k, w := range want {
		if got := readTileOf(t, db, k); !bytes.HasPrefix(got, w) {
			t.Errorf("tile (%d, %d) holds %d hashes, not the %d it held before the damage", k.Level, k.Index, len(got)/sha256.Size, len(w)/sha256.Size)
		}
	}
}

// verifyLogAndTiles runs `audit verify`'s check of the log and of every stored
// tile against the events, the first size entries tiled.
func verifyLogAndTiles(t *testing.T, db *sqlstore.DB, size uint64) *audit.Report {
	t.Helper()
	v := &audit.Verifier{Origin: "test.countersign.local/audit", Tiles: db, TiledSize: size}
	rep, err := v.VerifyStored(context.Background(), db.AllStoredEvents, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func mustVerifyLogAndTiles(t *testing.T, db *sqlstore.DB, size uint64) {
	t.Helper()
	if rep := verifyLogAndTiles(t, db, size); !rep.OK || rep.Events != size {
		t.Fatalf("verified %d of %d events: %s", rep.Events, size, rep.Problem)
	}
}
