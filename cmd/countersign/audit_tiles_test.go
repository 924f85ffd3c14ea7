package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestAuditVerifyChecksTheTiles: `audit verify` on the live database holds
// every stored tile, which proofs are served from, against the tree the
// events give, and fails (exit 1), naming the tile and the first differing
// hash, when one was changed, cut short or deleted behind the service's
// back, on both databases.
func TestAuditVerifyChecksTheTiles(t *testing.T) {
	t.Parallel()
	// 2,100 entries: level-0 tiles 0 to 7 full, tile 8 with 52 hashes,
	// and the level-1 tile 0 with 8.
	const entries = 2100
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			setup := func(t *testing.T) (*boardBundle, *sqlstore.DB) {
				t.Helper()
				d := dsn(t)
				b := newBoardBundle(t, d)
				db := storetest.MustOpen(t, d)
				storetest.MustFillLog(t, db, entries)
				return b, db
			}
			tile := func(t *testing.T, db *sqlstore.DB, level, idx uint64) []byte {
				t.Helper()
				h, err := db.ReadTile(context.Background(), level, idx)
				if err != nil {
					t.Fatal(err)
				}
				return h
			}
			changed := func(h []byte, pos int) []byte {
				c := bytes.Clone(h)
				c[pos*sha256.Size+17] ^= 0x40
				return c
			}

			t.Run("EveryTileMatches", func(t *testing.T) {
				t.Parallel()
				b, db := setup(t)
				if n := len(tile(t, db, 1, 0)) / sha256.Size; n != 8 {
					t.Fatalf("the level-1 tile holds %d hashes, want 8", n)
				}
				out := b.mustRun(t, 0, "audit", "verify", "--quiet")
				if !strings.Contains(out, "OK: tiles: 10 stored tiles match the events") {
					t.Fatalf("verify said %q, want 10 tiles checked (9 at level 0, 1 at level 1)", out)
				}
			})
			for _, tc := range []struct {
				name    string
				tamper  func(t *testing.T, db *sqlstore.DB)
				problem string
			}{
				{"ALevel0TileChanged", func(t *testing.T, db *sqlstore.DB) {
					storetest.MustTamperTile(t, db, 0, 3, changed(tile(t, db, 0, 3), 37))
				}, "FAILED: The stored tile at level 0, index 3 does not match the events: hash 37 differs. Proofs served from it would be wrong.\n"},
				{"TheLevel1TileChanged", func(t *testing.T, db *sqlstore.DB) {
					storetest.MustTamperTile(t, db, 1, 0, changed(tile(t, db, 1, 0), 5))
				}, "FAILED: The stored tile at level 1, index 0 does not match the events: hash 5 differs. Proofs served from it would be wrong.\n"},
				{"ATileTheLogNeedsCutShort", func(t *testing.T, db *sqlstore.DB) {
					storetest.MustTamperTile(t, db, 0, 2, tile(t, db, 0, 2)[:100*sha256.Size])
				}, "FAILED: The stored tile at level 0, index 2 holds 100 hashes, but the log's entries need 256 there: it was cut short. Proofs of those entries cannot be served.\n"},
				{"ATileMissing", func(t *testing.T, db *sqlstore.DB) {
					storetest.MustTamperTile(t, db, 0, 5, nil)
				}, "FAILED: The stored tile at level 0, index 5 is missing, though the log's entries need 256 hashes there. Proofs of those entries cannot be served.\n"},
				{"TheLevel1TileMissing", func(t *testing.T, db *sqlstore.DB) {
					storetest.MustTamperTile(t, db, 1, 0, nil)
				}, "FAILED: The stored tile at level 1, index 0 is missing, though the log's entries need 8 hashes there."},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					b, db := setup(t)
					tc.tamper(t, db)
					out := b.mustRun(t, 1, "audit", "verify", "--quiet")
					if !strings.Contains(out, tc.problem) {
						t.Fatalf("verify said %q, want %q", out, tc.problem)
					}
					if strings.Contains(out, "cas_filler") || strings.Contains(out, "usr_filler") {
						t.Fatalf("verify printed the events' identifiers: %q", out)
					}
				})
			}
		})
	}
}
