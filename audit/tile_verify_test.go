package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/countersign/countersign/audit"
)

// TestCheckTile is the rule a stored tile is held to: as long as the log
// needs, never longer than the log gives, and equal to the events' hashes
// as far as both go.
func TestCheckTile(t *testing.T) {
	t.Parallel()
	hashes := func(n int, seed byte) []byte {
		out := make([]byte, 0, n*sha256.Size)
		for i := range n {
			h := sha256.Sum256([]byte{seed, byte(i), byte(i >> 8)})
			out = append(out, h[:]...)
		}
		return out
	}
	want := hashes(200, 1)
	changed := func(pos int) []byte {
		c := bytes.Clone(want)
		c[pos*sha256.Size+31] ^= 0x01
		return c
	}
	key := audit.TileKey{Level: 1, Index: 12}
	for _, tc := range []struct {
		name       string
		stored     []byte
		found      bool
		want       []byte
		need, most int
		problem    string // "" when the tile passes
	}{
		{name: "EqualToTheEvents", stored: want, found: true, want: want, need: 200, most: 200},
		{name: "ShorterWhileTheLogGrowsIntoIt", stored: want[:150*sha256.Size], found: true, want: want, need: 120, most: 200},
		{name: "AnEmptyTileTheLogDoesNotNeedYet", found: false, want: want, need: 0, most: 200},
		{name: "LongerAsTheLogGrewWhileItWasRead", stored: append(bytes.Clone(want), hashes(5, 2)...), found: true, want: want, need: 200, most: 205},
		{name: "Missing", found: false, want: want, need: 200, most: 200,
			problem: "The stored tile at level 1, index 12 is missing, though the log's entries need 200 hashes there. Proofs of those entries cannot be served."},
		{name: "CutShort", stored: want[:150*sha256.Size], found: true, want: want, need: 151, most: 200,
			problem: "The stored tile at level 1, index 12 holds 150 hashes, but the log's entries need 151 there: it was cut short. Proofs of those entries cannot be served."},
		{name: "LongerThanTheLog", stored: append(bytes.Clone(want), hashes(1, 2)...), found: true, want: want, need: 200, most: 200,
			problem: "The stored tile at level 1, index 12 holds 201 hashes, more than the 200 the log's entries give it. Proofs served from it would be wrong."},
		{name: "BeyondTheLog", stored: hashes(3, 2), found: true, want: nil, need: 0, most: 0,
			problem: "The stored tile at level 1, index 12 holds 3 hashes, more than the 0 the log's entries give it. Proofs served from it would be wrong."},
		{name: "FirstHashDiffers", stored: changed(0), found: true, want: want, need: 200, most: 200,
			problem: "The stored tile at level 1, index 12 does not match the events: hash 0 differs. Proofs served from it would be wrong."},
		{name: "Hash37Differs", stored: changed(37), found: true, want: want, need: 200, most: 200,
			problem: "The stored tile at level 1, index 12 does not match the events: hash 37 differs. Proofs served from it would be wrong."},
		{name: "LastHashDiffers", stored: changed(199), found: true, want: want, need: 200, most: 200,
			problem: "hash 199 differs"},
		{name: "DiffersInThePartItHolds", stored: changed(99)[:100*sha256.Size], found: true, want: want, need: 0, most: 200,
			problem: "hash 99 differs"},
		{name: "DamagedHash", stored: want[:50*sha256.Size+7], found: true, want: want, need: 0, most: 200,
			problem: "The stored tile at level 1, index 12 is damaged: it holds 1607 bytes, not a whole number of hashes. Proofs served from it would be wrong."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := audit.CheckTile(key, tc.stored, tc.found, tc.want, tc.need, tc.most)
			switch {
			case tc.problem == "" && got != "":
				t.Fatalf("the tile is refused: %s", got)
			case tc.problem != "" && !strings.Contains(got, tc.problem):
				t.Fatalf("problem %q, want %q", got, tc.problem)
			}
		})
	}
}

// memTiles is a TileLister over tiles held in memory, built from a test
// log's nodes as the sequencer builds them.
type memTiles struct {
	tiles map[audit.TileKey][]byte
	head  *audit.Head
	reads atomic.Int64 // pages read
}

// tilesOf returns the tiles of the first size leaves of l.
func tilesOf(l *testLog, size uint64) *memTiles {
	m := &memTiles{tiles: map[audit.TileKey][]byte{}, head: l.head}
	for level := uint64(0); level < 8; level++ {
		for idx := uint64(0); ; idx++ {
			w := audit.TileWidthAt(level, idx, size)
			if w == 0 {
				break
			}
			nodes := l.nodes.levels[level*audit.TileHeight]
			start := idx * audit.TileWidth * sha256.Size
			m.tiles[audit.TileKey{Level: level, Index: idx}] = bytes.Clone(nodes[start : start+uint64(w)*sha256.Size])
		}
	}
	return m
}

func (m *memTiles) TilesFrom(_ context.Context, level, from uint64, limit int) ([]audit.Tile, error) {
	m.reads.Add(1)
	var out []audit.Tile
	// Indexes below 1,000 are all a test log of 17,000 entries has, and
	// all an attacker adds here.
	for idx := from; idx < 1000 && len(out) < limit; idx++ {
		if h, ok := m.tiles[audit.TileKey{Level: level, Index: idx}]; ok {
			out = append(out, audit.Tile{TileKey: audit.TileKey{Level: level, Index: idx}, Hashes: bytes.Clone(h)})
		}
	}
	return out, nil
}

func (m *memTiles) Head(context.Context) (*audit.Head, error) { return m.head, nil }

// TestVerifierChecksTheStoredTiles verifies a log of 17,000 entries, whose
// tiles span two levels and more than one page of reading, with its tiles,
// and finds every kind of damage to them.
func TestVerifierChecksTheStoredTiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const size = 17000 // 66 full level-0 tiles, one of 104 hashes; 66 hashes at level 1
	l := mustBuildLog(t, size+100)
	cp := l.mustCheckpoint(t, size)
	head := l.headAt(t, size)

	verify := func(t *testing.T, tiles *memTiles, tiled uint64) *audit.Report {
		t.Helper()
		v := &audit.Verifier{Origin: testOrigin, Keys: l.keys, Tiles: tiles, TiledSize: tiled}
		rep, err := v.Verify(ctx, stream(l.copies()[:size]), cp.Note)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	at := func(level, idx uint64) audit.TileKey { return audit.TileKey{Level: level, Index: idx} }

	t.Run("EveryTileMatches", func(t *testing.T) {
		t.Parallel()
		tiles := tilesOf(l, size)
		tiles.head = head
		rep := verify(t, tiles, size)
		if !rep.OK || rep.Events != size {
			t.Fatalf("the log does not verify: %+v", rep)
		}
		if rep.Tiles != 68 {
			t.Fatalf("%d tiles checked, want 68 (67 at level 0, 1 at level 1)", rep.Tiles)
		}
		if n := tiles.reads.Load(); n < 2+7 {
			t.Fatalf("the tiles were read in %d pages, want the level-0 tiles in two and every other level asked", n)
		}
	})
	t.Run("TheLogGrewWhileItWasRead", func(t *testing.T) {
		t.Parallel()
		// 100 more entries sequenced after the verifier read the last
		// events, their tiles with them.
		rep := verify(t, tilesOf(l, size+100), size)
		if !rep.OK || rep.Tiles != 68 {
			t.Fatalf("tiles of a log that grew meanwhile are refused: %+v", rep)
		}
	})
	t.Run("TilesNotYetWrittenPastTheTiledSize", func(t *testing.T) {
		t.Parallel()
		// A replica of release 1.0.0 sequenced the last 1,000 entries
		// and wrote no tiles for them: 63 level-0 tiles hold the rest.
		tiles := tilesOf(l, size-1000)
		tiles.head = head
		rep := verify(t, tiles, size-1000)
		if !rep.OK || rep.Tiles != 64 {
			t.Fatalf("tiles still to be written are refused: %+v", rep)
		}
	})

	for _, tc := range []struct {
		name    string
		tamper  func(m map[audit.TileKey][]byte)
		problem string
	}{
		{"ALeafHashChanged", func(m map[audit.TileKey][]byte) { m[at(0, 3)][37*sha256.Size] ^= 1 },
			"The stored tile at level 0, index 3 does not match the events: hash 37 differs. Proofs served from it would be wrong."},
		{"ALevel1HashChanged", func(m map[audit.TileKey][]byte) { m[at(1, 0)][5*sha256.Size+9] ^= 1 },
			"The stored tile at level 1, index 0 does not match the events: hash 5 differs."},
		{"TheLastPartialTileChanged", func(m map[audit.TileKey][]byte) { m[at(0, 66)][103*sha256.Size] ^= 1 },
			"The stored tile at level 0, index 66 does not match the events: hash 103 differs."},
		{"ATileOfTheSecondPageChanged", func(m map[audit.TileKey][]byte) { m[at(0, 65)][255*sha256.Size] ^= 1 },
			"The stored tile at level 0, index 65 does not match the events: hash 255 differs."},
		{"AFullTileCutShort", func(m map[audit.TileKey][]byte) { m[at(0, 2)] = m[at(0, 2)][:100*sha256.Size] },
			"The stored tile at level 0, index 2 holds 100 hashes, but the log's entries need 256 there: it was cut short."},
		{"ALevel1TileCutShort", func(m map[audit.TileKey][]byte) { m[at(1, 0)] = m[at(1, 0)][:65*sha256.Size] },
			"The stored tile at level 1, index 0 holds 65 hashes, but the log's entries need 66 there"},
		{"ATileMissing", func(m map[audit.TileKey][]byte) { delete(m, at(0, 5)) },
			"The stored tile at level 0, index 5 is missing"},
		{"TheFirstTileOfTheSecondPageMissing", func(m map[audit.TileKey][]byte) { delete(m, at(0, 64)) },
			"The stored tile at level 0, index 64 is missing"},
		{"TheLastTileMissing", func(m map[audit.TileKey][]byte) { delete(m, at(0, 66)) },
			"The stored tile at level 0, index 66 is missing, though the log's entries need 104 hashes there."},
		{"TheLevel1TileMissing", func(m map[audit.TileKey][]byte) { delete(m, at(1, 0)) },
			"The stored tile at level 1, index 0 is missing"},
		{"TheLastTileLongerThanTheLog", func(m map[audit.TileKey][]byte) {
			m[at(0, 66)] = append(m[at(0, 66)], make([]byte, sha256.Size)...)
		}, "The stored tile at level 0, index 66 holds 105 hashes, more than the 104 the log's entries give it."},
		{"ATileBeyondTheLog", func(m map[audit.TileKey][]byte) { m[at(0, 400)] = make([]byte, sha256.Size) },
			"The stored tile at level 0, index 400 holds 1 hash, more than the 0 the log's entries give it."},
		{"ATileAtALevelTheTreeHasNot", func(m map[audit.TileKey][]byte) { m[at(3, 0)] = make([]byte, sha256.Size) },
			"The stored tile at level 3, index 0 holds 1 hash,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tiles := tilesOf(l, size)
			tiles.head = head
			tc.tamper(tiles.tiles)
			rep := verify(t, tiles, size)
			if rep.OK {
				t.Fatalf("the damaged tiles verify (%d checked)", rep.Tiles)
			}
			if rep.FirstBad != nil || !strings.Contains(rep.Problem, tc.problem) {
				t.Fatalf("problem %q (first bad %v), want %q", rep.Problem, rep.FirstBad, tc.problem)
			}
		})
	}

	t.Run("AFailureToReadIsAnError", func(t *testing.T) {
		t.Parallel()
		v := &audit.Verifier{Origin: testOrigin, Keys: l.keys, Tiles: failingTiles{}, TiledSize: size}
		if _, err := v.Verify(ctx, stream(l.copies()[:size]), cp.Note); !errors.Is(err, errTilesDown) {
			t.Fatalf("err = %v, want the store's", err)
		}
	})
}

var errTilesDown = errors.New("the tiles cannot be read")

type failingTiles struct{}

func (failingTiles) TilesFrom(context.Context, uint64, uint64, int) ([]audit.Tile, error) {
	return nil, errTilesDown
}

func (failingTiles) Head(context.Context) (*audit.Head, error) { return nil, errTilesDown }
