package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestAuditVerifyChecksTheTiles: `audit verify` on the live database holds
// every stored tile, which proofs are served from, against the tree the
// events give, and fails (exit 1), naming the tile and the first differing
// hash, when one was changed, cut short or deleted behind the service's
// back, on both databases: also when the damage keeps the sequencer, which
// verify runs first, from continuing the tile. It repairs rather than
// reports a last level-0 tile it can rewrite (AUDIT.md section 8), and a
// sequencer failing on an intact log is an operational failure (exit 2),
// as is a database that cannot be reached; one that refuses to open over
// a tile that differs from the events is a finding (exit 1).
func TestAuditVerifyChecksTheTiles(t *testing.T) {
	t.Parallel()
	// 2,100 entries: level-0 tiles 0 to 7 full, tile 8 with 52 hashes,
	// and the level-1 tile 0 with 8.
	const entries = 2100
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			setupN := func(t *testing.T, entries int) (*boardBundle, *sqlstore.DB) {
				t.Helper()
				d := storetest.FilledLogDSN(t, name == "postgres", entries)
				b := newBoardBundle(t, d)
				return b, storetest.MustOpen(t, d)
			}
			setup := func(t *testing.T) (*boardBundle, *sqlstore.DB) {
				t.Helper()
				return setupN(t, entries)
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

			// Damage that keeps the sequencer from continuing a tile made
			// it fail before verify looked at the tiles, and verify exited
			// 2 as if the database had gone away.
			for _, tc := range []struct {
				name    string
				entries int
				pending int // events waiting for the sequencer when verify runs
				tamper  func(t *testing.T, db *sqlstore.DB)
				problem string
			}{
				// The pending event completes the ninth level-0 tile, whose
				// hash goes at position 8 of the deleted level-1 tile.
				{"TheLevel1TileTheSequencerContinuesMissing", 2303, 1, func(t *testing.T, db *sqlstore.DB) {
					storetest.MustTamperTile(t, db, 1, 0, nil)
				}, "FAILED: The stored tile at level 1, index 0 is missing, though the log's entries need 8 hashes there. Proofs of those entries cannot be served.\n"},
				{"TheLevel1TileTheSequencerContinuesCutShort", 2303, 1, func(t *testing.T, db *sqlstore.DB) {
					storetest.MustTamperTile(t, db, 1, 0, tile(t, db, 1, 0)[:5*sha256.Size])
				}, "FAILED: The stored tile at level 1, index 0 holds 5 hashes, but the log's entries need 8 there: it was cut short. Proofs of those entries cannot be served.\n"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					b, db := setupN(t, tc.entries)
					tc.tamper(t, db)
					storetest.MustAddPending(t, db, tc.pending)
					out := b.mustRun(t, 1, "audit", "verify", "--quiet")
					if !strings.Contains(out, tc.problem) {
						t.Fatalf("verify said %q, want %q", out, tc.problem)
					}
				})
			}

			// AUDIT.md section 8: the last level-0 tile, not full, cut short
			// or deleted, is rewritten from the events by the sequencing
			// verify runs first, and the run then passes.
			for _, tc := range []struct {
				name    string
				pending int
				hashes  func(t *testing.T, db *sqlstore.DB) []byte
			}{
				{"TheLastLevel0TileDeletedIsRepaired", 0, func(*testing.T, *sqlstore.DB) []byte { return nil }},
				{"TheLastLevel0TileDeletedIsRepairedWithEventsPending", 3, func(*testing.T, *sqlstore.DB) []byte { return nil }},
				{"TheLastLevel0TileCutShortIsRepaired", 0, func(t *testing.T, db *sqlstore.DB) []byte { return tile(t, db, 0, 8)[:20*sha256.Size] }},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					b, db := setup(t)
					storetest.MustTamperTile(t, db, 0, 8, tc.hashes(t, db))
					storetest.MustAddPending(t, db, tc.pending)
					out := b.mustRun(t, 0, "audit", "verify", "--quiet")
					if !strings.Contains(out, "OK: tiles: 10 stored tiles match the events") {
						t.Fatalf("verify said %q, want the 10 tiles checked", out)
					}
					if n := len(tile(t, db, 0, 8)) / sha256.Size; n != 52+tc.pending {
						t.Fatalf("the last level-0 tile holds %d hashes after verify, want %d", n, 52+tc.pending)
					}
				})
			}

			// A full last level-0 tile (tile 7 of 2,048 entries), whose hash
			// the level-1 tile holds already, is rebuilt from the events too,
			// when verify opens the database, and the run passes; before,
			// opening failed and verify exited 2.
			for _, tc := range []struct {
				name    string
				pending int
				hashes  func(t *testing.T, db *sqlstore.DB) []byte
				tiles   string
			}{
				{"TheFullLastLevel0TileDeletedIsRepaired", 0, func(*testing.T, *sqlstore.DB) []byte { return nil }, "OK: tiles: 9 stored tiles"},
				{"TheFullLastLevel0TileCutShortIsRepaired", 0, func(t *testing.T, db *sqlstore.DB) []byte { return tile(t, db, 0, 7)[:100*sha256.Size] }, "OK: tiles: 9 stored tiles"},
				{"TheFullLastLevel0TileDeletedIsRepairedWithEventsPending", 3, func(*testing.T, *sqlstore.DB) []byte { return nil }, "OK: tiles: 10 stored tiles"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					b, db := setupN(t, 8*256)
					want := tile(t, db, 0, 7)
					storetest.MustTamperTile(t, db, 0, 7, tc.hashes(t, db))
					storetest.MustAddPending(t, db, tc.pending)
					out := b.mustRun(t, 0, "audit", "verify", "--quiet")
					if !strings.Contains(out, tc.tiles+" match the events") {
						t.Fatalf("verify said %q, want %q", out, tc.tiles)
					}
					if !bytes.Equal(tile(t, db, 0, 7), want) {
						t.Fatal("the full last level-0 tile is not back with its hashes after verify")
					}
				})
			}

			// A level-1 tile whose hash there differs from the rebuilt
			// tile's is not written over: opening the database refuses,
			// naming the tile (sqlstore's TestFullLastTileRepairedOnOpen).
			// That is damage to the stored log, so verify reports it as a
			// finding (exit 1) in the report's words, saying the run
			// checked nothing else; before, it exited 2 as if the database
			// could not be reached.
			t.Run("TheFullLastLevel0TileDeletedUnderALevel1TileThatDiffers", func(t *testing.T) {
				t.Parallel()
				b, db := setupN(t, 8*256)
				storetest.MustTamperTile(t, db, 1, 0, changed(tile(t, db, 1, 0), 7))
				storetest.MustTamperTile(t, db, 0, 7, nil)
				out := b.mustRun(t, 1, "audit", "verify", "--quiet")
				want := "FAILED: The stored tile at level 1, index 0 does not match the events: hash 7 differs. Proofs served from it would be wrong.\n" +
					"Opening the database refuses to rebuild the tiles over it, so the rest of the log and the case data were not checked"
				if !strings.HasPrefix(out, want) {
					t.Fatalf("verify said %q, want %q", out, want)
				}
				if _, err := db.ReadTile(context.Background(), 0, 7); err == nil {
					t.Fatal("verify rebuilt the deleted level-0 tile under the level-1 tile that differs")
				}
				// What verify tells by: the refusal is recognisable outside
				// sqlstore.
				if other, err := sqlstore.Open(context.Background(), b.vars["DATABASE_URL"]); !errors.Is(err, audit.ErrTileDiffers) {
					if err == nil {
						other.Close()
					}
					t.Fatalf("opening over the tile: %v, want audit.ErrTileDiffers", err)
				}
				// The service does not start over it either, and says which
				// tile and where the finding is read. The timeout only ends
				// a service that started by mistake.
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				var stdout, stderr bytes.Buffer
				if code := run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, &stdout, &stderr, b.env); code != 1 {
					t.Fatalf("serve exited %d, want 1\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
				}
				for _, want := range []string{"the stored audit tile at level 1, index 0 does not match the events: hash 7 differs", "run `countersign audit verify`"} {
					if !strings.Contains(stderr.String(), want) {
						t.Fatalf("serve said %q, want %q", stderr.String(), want)
					}
				}
			})

			// A database that cannot be opened for a reason of its own (no
			// server listening, a path that cannot be a file) is still an
			// operational failure: exit 2, nothing reported as a finding.
			t.Run("ADatabaseThatCannotBeOpenedExits2", func(t *testing.T) {
				t.Parallel()
				b := newBoardBundle(t, "")
				dsn := filepath.Join(b.file(t, "not-a-directory", ""), "countersign.db")
				if name == "postgres" {
					dsn = "postgres://postgres@127.0.0.1:1/countersign?sslmode=disable&connect_timeout=5"
				}
				b.set("DATABASE_URL", dsn)
				var stdout, stderr bytes.Buffer
				if code := run(context.Background(), []string{"audit", "verify", "--quiet"}, &stdout, &stderr, b.env); code != 2 {
					t.Fatalf("verify exited %d, want 2\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
				}
				if stdout.Len() > 0 || stderr.Len() == 0 {
					t.Fatalf("verify said %q and %q, want only the failure to open, on stderr", stdout.String(), stderr.String())
				}
			})

			// The sequencer fails for a reason of the database's, not the
			// log's (a trigger refuses every new entry as a full disk
			// would), while the log is intact: that stays an operational
			// failure, though verify then checked the log as it stands.
			t.Run("TheSequencerFailingOnAnIntactLogExits2", func(t *testing.T) {
				t.Parallel()
				b, db := setup(t)
				stmts := []string{`CREATE TRIGGER disk_full BEFORE INSERT ON audit_event BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`}
				if db.Dialect() == "postgres" {
					stmts = []string{`CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'database or disk is full'; END $$`,
						`CREATE TRIGGER disk_full BEFORE INSERT ON audit_event FOR EACH STATEMENT EXECUTE FUNCTION disk_full()`}
				}
				for _, q := range stmts {
					if _, err := db.Raw().ExecContext(context.Background(), q); err != nil {
						t.Fatal(err)
					}
				}
				storetest.MustAddPending(t, db, 1)
				var stdout, stderr bytes.Buffer
				if code := run(context.Background(), []string{"audit", "verify", "--quiet"}, &stdout, &stderr, b.env); code != 2 {
					t.Fatalf("verify exited %d, want 2\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
				}
				if strings.Contains(stdout.String(), "FAILED") || !strings.Contains(stderr.String(), "database or disk is full") {
					t.Fatalf("verify said %q and %q, want only the sequencer's failure", stdout.String(), stderr.String())
				}
			})
		})
	}
}
