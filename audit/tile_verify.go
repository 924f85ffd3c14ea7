package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/transparency-dev/merkle/compact"
)

// Proofs are served from the stored tiles (tile.go), not from the events,
// so the verifier holds every stored tile against the tree it recomputes
// from the events: a tile that differs (a bug, a restore gone wrong, a
// change made with database access) would serve wrong proofs while the
// events themselves verify.

// Tile is a stored tile: its key and the hashes it holds, 32 bytes each.
type Tile struct {
	TileKey
	Hashes []byte
}

// TileLister is what the verifier reads the stored tiles through
// (sqlstore's AuditStore).
type TileLister interface {
	// TilesFrom returns up to limit of the stored tiles of level with an
	// index from from up, in index order.
	TilesFrom(ctx context.Context, level, from uint64, limit int) ([]Tile, error)
	// Head returns the head of the sequenced log.
	Head(ctx context.Context) (*Head, error)
}

// CheckTile holds the stored tile key (stored, or found false when no tile
// is stored there) against the hashes the events give it (want, 32 bytes
// each) and returns what is wrong in a sentence, or "" when nothing is. It
// must hold at least need hashes (those of the entries the sequencer had
// written its tiles for) and at most most; the hashes it holds must equal
// those of want, as far as both go. A stored tile may thus be shorter than
// want while the log grows into it, never shorter than need, and never
// longer than the log justifies. The sentence names the tile and the first
// differing hash, nothing of the events.
func CheckTile(key TileKey, stored []byte, found bool, want []byte, need, most int) string {
	name := fmt.Sprintf("The stored tile at level %d, index %d", key.Level, key.Index)
	if !found {
		if need > 0 {
			return fmt.Sprintf("%s is missing, though the log's entries need %d hashes there. Proofs of those entries cannot be served.", name, need)
		}
		return ""
	}
	if len(stored)%sha256.Size != 0 {
		return fmt.Sprintf("%s is damaged: it holds %d bytes, not a whole number of hashes. Proofs served from it would be wrong.", name, len(stored))
	}
	have := len(stored) / sha256.Size
	if have < need {
		return fmt.Sprintf("%s holds %s, but the log's entries need %d there: it was cut short. Proofs of those entries cannot be served.", name, hashCount(have), need)
	}
	if have > most {
		return fmt.Sprintf("%s holds %s, more than the %d the log's entries give it. Proofs served from it would be wrong.", name, hashCount(have), most)
	}
	common := min(len(stored), len(want)) / sha256.Size * sha256.Size
	if !bytes.Equal(stored[:common], want[:common]) {
		for i := 0; i < common; i += sha256.Size {
			if !bytes.Equal(stored[i:i+sha256.Size], want[i:i+sha256.Size]) {
				return TileDiffers(key, i/sha256.Size)
			}
		}
	}
	return ""
}

// TileDiffers is the sentence of the stored tile key whose hash at
// position hash differs from the one the events give: CheckTile's, and the
// store's when it refuses to rebuild a tile over it (sqlstore.TileProblem),
// so the board reads one sentence whichever found it.
func TileDiffers(key TileKey, hash int) string {
	return fmt.Sprintf("The stored tile at level %d, index %d does not match the events: hash %d differs. Proofs served from it would be wrong.",
		key.Level, key.Index, hash)
}

// hashCount says n hashes in words.
func hashCount(n int) string {
	if n == 1 {
		return "1 hash"
	}
	return fmt.Sprintf("%d hashes", n)
}

// tileLevels is how many tile levels a tree can have: 8 levels of 8 node
// levels hold a tree of 2^64 leaves (migration 0013 allows levels 0 to 7).
const tileLevels = 64 / TileHeight

// tilePage is how many tiles one read of the stored tiles returns, 256 KB
// when they are full: a level's reader holds at most three pages (the one
// being checked, one waiting, one being read).
const tilePage = 32

// tileCheck holds the stored tiles against the tree the verifier
// recomputes, as its compact range reports the nodes (visit): the hashes
// of the tile being computed at each level (at most 8 × 8 KB), and the
// stored tiles of each level read ahead, in pages, by a goroutine of its
// own. Memory stays flat however long the log is.
type tileCheck struct {
	ctx context.Context
	src TileLister
	// tiled is how many entries the stored tiles must cover (Verifier.TiledSize).
	tiled   uint64
	levels  [tileLevels]tileLevel
	checked uint64
	// problem is the first tile found wrong; err the first failure to read.
	problem string
	err     error

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// tileLevel is the tile being computed at one level, and the stored tiles
// of that level being read.
type tileLevel struct {
	index  uint64
	hashes []byte
	stored *tileStream
}

func newTileCheck(ctx context.Context, src TileLister, tiled uint64) *tileCheck {
	ctx, cancel := context.WithCancel(ctx)
	return &tileCheck{ctx: ctx, src: src, tiled: tiled, cancel: cancel}
}

// stop ends the reading goroutines and waits for them.
func (c *tileCheck) stop() {
	c.cancel()
	c.wg.Wait()
}

// failed reports whether a tile was found wrong or could not be read.
func (c *tileCheck) failed() bool { return c.problem != "" || c.err != nil }

// visit is the compact range's visitor: it collects the nodes at tile
// levels, in the order the range computes them (left to right at every
// level), and checks each tile as it is complete.
func (c *tileCheck) visit(id compact.NodeID, hash []byte) {
	if id.Level%TileHeight != 0 || c.failed() {
		return
	}
	lv := &c.levels[id.Level/TileHeight]
	if want := lv.index*TileWidth + uint64(len(lv.hashes)/sha256.Size); id.Index != want {
		c.err = fmt.Errorf("audit tree node (%d, %d) computed where node %d was expected", id.Level, id.Index, want)
		return
	}
	lv.hashes = append(lv.hashes, hash...)
	if len(lv.hashes) == TileWidth*sha256.Size {
		c.check(uint64(id.Level/TileHeight), lv)
		lv.index++
		lv.hashes = lv.hashes[:0]
	}
}

// check holds the stored tile lv is computing against the hashes computed
// so far.
func (c *tileCheck) check(level uint64, lv *tileLevel) {
	key := TileKey{Level: level, Index: lv.index}
	t, err := c.stream(level).next(key.Index)
	if err != nil {
		c.err = err
		return
	}
	c.compare(key, t, lv.hashes)
}

// compare holds the stored tile t (nil when none is stored) against want.
func (c *tileCheck) compare(key TileKey, t *Tile, want []byte) {
	var stored []byte
	if t != nil {
		stored = t.Hashes
		c.checked++
	}
	need := TileWidthAt(key.Level, key.Index, c.tiled)
	most := len(want) / sha256.Size
	if len(stored)/sha256.Size > most {
		// Longer than the events read: the log may have grown while the
		// verifier read it, the tile in the same transaction as its
		// events. The head, read after the tile, says whether it did.
		h, err := c.src.Head(c.ctx)
		if err != nil {
			c.err = fmt.Errorf("read the audit head: %w", err)
			return
		}
		most = max(most, TileWidthAt(key.Level, key.Index, h.Size))
	}
	if p := CheckTile(key, stored, t != nil, want, need, most); p != "" {
		c.problem = p
	}
}

// finish checks, once the verifier has read every event, the tiles still
// being filled at the right edge of the tree, and that no tile is stored
// beyond them: such a tile holds hashes no event gives.
func (c *tileCheck) finish() {
	for level := range uint64(tileLevels) {
		lv := &c.levels[level]
		if len(lv.hashes) > 0 && !c.failed() {
			c.check(level, lv)
		}
		for s := c.stream(level); !c.failed(); {
			t, err := s.rest()
			if err != nil {
				c.err = err
			}
			if t == nil {
				break
			}
			c.compare(t.TileKey, t, nil)
		}
	}
}

// stream returns the reader of the stored tiles of level, started at the
// first tile asked.
func (c *tileCheck) stream(level uint64) *tileStream {
	lv := &c.levels[level]
	if lv.stored == nil {
		lv.stored = c.read(level, lv.index)
	}
	return lv.stored
}

// tileStream is the stored tiles of one level, in index order, read a page
// ahead of the verifier.
type tileStream struct {
	pages <-chan tilesRead
	page  []Tile
	done  bool
}

type tilesRead struct {
	tiles []Tile
	err   error
}

// read starts reading the stored tiles of level from index from on.
func (c *tileCheck) read(level, from uint64) *tileStream {
	pages := make(chan tilesRead, 1)
	c.wg.Go(func() {
		defer close(pages)
		for {
			ts, err := c.src.TilesFrom(c.ctx, level, from, tilePage)
			if err != nil {
				err = fmt.Errorf("read the audit tiles of level %d from %d: %w", level, from, err)
			}
			select {
			case pages <- tilesRead{ts, err}:
			case <-c.ctx.Done():
				return
			}
			if err != nil || len(ts) < tilePage {
				return
			}
			from = ts[len(ts)-1].Index + 1
		}
	})
	return &tileStream{pages: pages}
}

// next returns the stored tile at index, nil when none is stored there.
// The verifier asks the tiles of a level in order from the first, so a
// stored tile before index is one the store returned out of order.
func (s *tileStream) next(index uint64) (*Tile, error) {
	t, err := s.peek()
	switch {
	case err != nil || t == nil || t.Index > index:
		return nil, err
	case t.Index < index:
		return nil, fmt.Errorf("the audit tiles of level %d were read out of order: tile %d after %d", t.Level, t.Index, index)
	}
	s.page = s.page[1:]
	return t, nil
}

// rest returns the next stored tile, nil when there is none left.
func (s *tileStream) rest() (*Tile, error) {
	t, err := s.peek()
	if t != nil {
		s.page = s.page[1:]
	}
	return t, err
}

// peek returns the next stored tile without taking it.
func (s *tileStream) peek() (*Tile, error) {
	for len(s.page) == 0 {
		if s.done {
			return nil, nil
		}
		p, ok := <-s.pages
		if !ok {
			s.done = true
			continue
		}
		if p.err != nil {
			return nil, p.err
		}
		s.page = p.tiles
	}
	return &s.page[0], nil
}
