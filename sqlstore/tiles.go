package sqlstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/transparency-dev/merkle/compact"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
)

// The Merkle tree in tiles (audit/tile.go, migration 0013): the sequencer
// adds each batch's tile-level nodes to their tiles in the transaction that
// sequences the batch, and a proof reads the three to six tiles its nodes
// are hashed from, in one query.

var _ audit.TileReader = (*AuditStore)(nil)

// tileRow is an audit_tile row.
type tileRow struct {
	Level  int64  `db:"level"`
	Idx    int64  `db:"idx"`
	Hashes []byte `db:"hashes"`
}

// tileQueryKeys is how many tiles one query reads. The query's text is
// always the same (short lists are padded by repeating a key), so the
// database parses and plans it once per connection: planning a list of
// (level, idx) pairs took longer than running it. One tile, what a proof
// whose other tiles are cached reads, has a query of its own: one index
// lookup instead of eight.
const tileQueryKeys = 8

var (
	tileQuery = `SELECT level, idx, hashes FROM audit_tile WHERE (level, idx) IN ((?, ?)` +
		strings.Repeat(", (?, ?)", tileQueryKeys-1) + `)`
	oneTileQuery = `SELECT level, idx, hashes FROM audit_tile WHERE level = ? AND idx = ?`
)

// The tile cache keeps, per read handle, the hashed levels (audit.TileLevels)
// of the tiles proofs read, the longest version of each tile seen. A tile
// only grows (migration 0013's trigger refuses anything else), so the first
// w hashes of a tile, and every subtree hashed from them, never change once
// stored: a version read once serves every node it holds, at any tree size,
// as any replica would read it from the database. A node beyond it (the
// log grew since) reads the tile again. The partial tiles at the right edge
// of the tree, which every proof's roots need, are then read once per
// growth instead of once per proof, and hashed once too.
//
// Only proofs read through it: the sequencer's writes read the tiles in
// their transaction, and `audit verify` reads every tile from the database
// (TilesFrom) and holds it against the tree it recomputes from the events,
// so a tile changed behind the service's back is still caught.
type tileCache = lru.Cache[audit.TileKey, [][]byte]

// tileCacheTiles bounds the tiles kept per read handle: a full tile's
// levels are 511 hashes, about 16.5 KB with their slices, so at most about
// 17 MB, which keeps an idle service that served many proofs under the
// 60 MB of BENCHMARKS.md's memory target (26–27 MB without it). The tiles
// near the right edge, which recent entries' proofs share, stay; a random
// old entry's level-0 tile (one of 39,000 at ten million entries) is
// read from the database.
const tileCacheTiles = 1024

// tileCacheOf returns r's tile cache, made on first use.
func tileCacheOf(r *readDB) *tileCache {
	r.tilesOnce.Do(func() { r.tiles, _ = lru.New[audit.TileKey, [][]byte](tileCacheTiles) })
	return r.tiles
}

// readTiles reads the tiles of keys through q, tileQueryKeys per query; a
// tile not stored is absent from the map.
func readTiles(ctx context.Context, q queryer, keys []audit.TileKey) (map[audit.TileKey][]byte, error) {
	out := make(map[audit.TileKey][]byte, len(keys))
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), tileQueryKeys)]
		keys = keys[len(chunk):]
		query, n := tileQuery, tileQueryKeys
		if len(chunk) == 1 {
			query, n = oneTileQuery, 1
		}
		args := make([]any, 0, 2*n)
		for i := range n {
			k := chunk[min(i, len(chunk)-1)]
			args = append(args, int64(k.Level), int64(k.Index))
		}
		var rows []tileRow
		if err := q.SelectContext(ctx, &rows, q.Rebind(query), args...); err != nil {
			return nil, fmt.Errorf("read audit tiles: %w", err)
		}
		for _, r := range rows {
			out[audit.TileKey{Level: uint64(r.Level), Index: uint64(r.Idx)}] = r.Hashes
		}
	}
	return out, nil
}

// ReadNodes returns the tree node hashes of ids, in order, hashed from the
// tiles that hold them (audit.TileSpan): at most one query for every node
// of a proof and its roots, none when the tile cache holds them all.
func (db *AuditStore) ReadNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	hashes, err := readTileNodes(ctx, db.r, tileCacheOf(db.r), ids)
	return hashes, db.translate(err)
}

// readTileNodes is ReadNodes through q, and through cache unless it is nil.
func readTileNodes(ctx context.Context, q queryer, cache *tileCache, ids []compact.NodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	// need is how many of its hashes each tile must hold for these nodes.
	need := make(map[audit.TileKey]int, 8)
	var keys []audit.TileKey
	for _, id := range ids {
		k, _, end := audit.TileSpan(id)
		n, seen := need[k]
		if !seen {
			keys = append(keys, k)
		}
		need[k] = max(n, end)
	}
	// Each tile is hashed once for all its nodes.
	levels := make(map[audit.TileKey][][]byte, len(keys))
	missing := keys[:0:0]
	for _, k := range keys {
		if cache != nil {
			if l, ok := cache.Get(k); ok && len(l[0]) >= need[k]*sha256.Size {
				levels[k] = l
				continue
			}
		}
		missing = append(missing, k)
	}
	if len(missing) > 0 {
		tiles, err := readTiles(ctx, q, missing)
		if err != nil {
			return nil, err
		}
		for k, t := range tiles {
			l := audit.TileLevels(t)
			levels[k] = l
			if cache != nil {
				if old, ok := cache.Peek(k); !ok || len(old[0]) < len(l[0]) {
					cache.Add(k, l)
				}
			}
		}
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		k, _, _ := audit.TileSpan(id)
		l, ok := levels[k]
		if !ok {
			return nil, fmt.Errorf("audit tree node (%d, %d): its tile (%d, %d) is missing", id.Level, id.Index, k.Level, k.Index)
		}
		var err error
		if out[i], err = audit.NodeFromLevels(id, l); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReadTile returns the hashes tile (level, index) holds so far: what
// GET /v1/audit/tile/{L}/{N} serves. ENOTFOUND when it is not begun.
func (db *AuditStore) ReadTile(ctx context.Context, level, index uint64) ([]byte, error) {
	if level >= 8 || index > 1<<62 {
		return nil, countersign.Errorf(countersign.ENOTFOUND, "The audit log has no such tile.")
	}
	key := audit.TileKey{Level: level, Index: index}
	if l, ok := tileCacheOf(db.r).Peek(key); ok && len(l[0]) == audit.TileWidth*sha256.Size {
		return bytes.Clone(l[0]), nil // a full tile is final
	}
	tiles, err := readTiles(ctx, db.r, []audit.TileKey{key})
	if err != nil {
		return nil, db.translate(err)
	}
	t, ok := tiles[key]
	if !ok {
		return nil, countersign.Errorf(countersign.ENOTFOUND, "The audit log has no such tile yet.")
	}
	return t, nil
}

// TilesFrom returns up to limit of the stored tiles of level with an index
// from from up, in index order: how `audit verify` streams every tile,
// page by page, to hold it against the events (audit.TileLister).
func (db *AuditStore) TilesFrom(ctx context.Context, level, from uint64, limit int) ([]audit.Tile, error) {
	var rows []tileRow
	if err := db.r.SelectContext(ctx, &rows, db.r.Rebind(`
		SELECT level, idx, hashes
		FROM audit_tile
		WHERE level = ? AND idx >= ?
		ORDER BY idx
		LIMIT ?`), int64(level), int64(min(from, 1<<62)), limit); err != nil {
		return nil, db.translate(fmt.Errorf("read audit tiles of level %d from %d: %w", level, from, err))
	}
	out := make([]audit.Tile, len(rows))
	for i, r := range rows {
		out[i] = audit.Tile{TileKey: audit.TileKey{Level: uint64(r.Level), Index: uint64(r.Idx)}, Hashes: r.Hashes}
	}
	return out, nil
}

// errTilesBehind is writeTiles' answer when the tiles do not end where the
// log did before the batch: a log sequenced before migration 0013, or by a
// replica of an older version. catchUpTiles then builds what is missing.
var errTilesBehind = errors.New("the audit tiles do not end where the log ends")

// tileDiffersError is writeTiles' answer when a stored tile holds, where a
// node the events give goes, a different hash: the tree was changed behind
// the service's back. It is a finding for `audit verify`, not something a
// rebuild may write over, so the tiles are left as they are.
type tileDiffersError struct {
	key  audit.TileKey
	hash int // the position in the tile
}

// Error is what the service prints when it refuses to start over the
// tile: it names the tile and the hash and says where the finding is read.
func (e *tileDiffersError) Error() string {
	return fmt.Sprintf("the stored audit tile at level %d, index %d does not match the events: hash %d differs from the one they give, so the tiles are not rebuilt over it: the tree was changed behind the service's back; run `countersign audit verify` for the finding",
		e.key.Level, e.key.Index, e.hash)
}

// Unwrap is audit.ErrTileDiffers, so a caller outside sqlstore can tell
// with errors.Is that Open (or the sequencer) refused because of a finding
// about the stored log (TileProblem gives its sentence).
func (e *tileDiffersError) Unwrap() error { return audit.ErrTileDiffers }

// tileShortError is writeTiles' answer when the level-0 tiles end where
// the log does but a higher tile the batch continues holds fewer hashes
// than the log gives it (none when it is missing). Every tile is written
// in the transaction that sequences its entries (or catchUpTiles'), so
// with the level-0 tiles up to date a higher tile can only be short
// because it was deleted or cut short behind the service's back, and
// catchUpTiles, which rebuilds from the last level-0 tile and reads the
// nodes before it from the higher tiles, cannot rebuild it: not
// errTilesBehind, which it repairs, but a finding about the stored log,
// like a tile that differs (it unwraps to audit.ErrTileDiffers).
type tileShortError struct {
	key   audit.TileKey
	found bool
	held  []byte
	need  int // the hashes the log gives it before the batch
}

func (e *tileShortError) Error() string {
	return fmt.Sprintf("the stored audit tile at level %d, index %d holds %d hashes, but the log has %d there, so the tiles cannot be continued: it was deleted or cut short behind the service's back; run `countersign audit verify` for the finding",
		e.key.Level, e.key.Index, len(e.held)/sha256.Size, e.need)
}

// Unwrap is audit.ErrTileDiffers: the stored tiles do not match the events.
func (e *tileShortError) Unwrap() error { return audit.ErrTileDiffers }

// TileProblem returns the sentence of the stored tile that differs from
// the events, or is missing or short, when err is (or wraps) one: the
// sentence a verification report gives the same finding (audit.TileDiffers,
// audit.CheckTile).
func TileProblem(err error) (string, bool) {
	var d *tileDiffersError
	if errors.As(err, &d) {
		return audit.TileDiffers(d.key, d.hash), true
	}
	var s *tileShortError
	if errors.As(err, &s) {
		return audit.CheckTile(s.key, s.held, s.found, nil, s.need, s.need), true
	}
	return "", false
}

// writeTiles adds the tile-level nodes among nodes (what Head.Append
// reported for a batch appended to a log of size leaves) to their tiles:
// one query reads the tiles the batch touches, one statement writes every
// tile it extended. It first checks that the tiles end exactly where the log
// did (errTilesBehind if not), so a tile never gets a hash at a wrong place;
// a higher tile that then holds fewer hashes than the log gives it is
// refused as tileShortError.
//
// A higher tile may already hold some of the nodes: catchUpTiles rebuilds a
// full last level-0 tile that was deleted or cut short, and the level-1
// tile (and above) has had its hash since the tile was first completed.
// The events are the authority, so a stored hash equal to the one they give
// is kept and the tile extended past it; one that differs is refused as
// tileDiffersError, naming the tile, never overwritten (nor could it be: a
// tile only grows).
func writeTiles(ctx context.Context, tx *Tx, size uint64, nodes []audit.Node) error {
	type run struct {
		key    audit.TileKey
		start  int
		hashes [][]byte
	}
	var runs []*run
	byKey := map[audit.TileKey]*run{}
	for _, n := range audit.TileNodes(nodes) {
		k := audit.TileKey{Level: uint64(n.Level / audit.TileHeight), Index: n.Index / audit.TileWidth}
		r := byKey[k]
		if r == nil {
			r = &run{key: k, start: int(n.Index % audit.TileWidth)}
			byKey[k] = r
			runs = append(runs, r)
		}
		if want := r.start + len(r.hashes); int(n.Index%audit.TileWidth) != want {
			return fmt.Errorf("audit tile (%d, %d): node %d comes after %d hashes", k.Level, k.Index, n.Index, want)
		}
		r.hashes = append(r.hashes, n.Hash)
	}
	if len(runs) == 0 {
		return nil
	}
	// The tile of the log's last leaf, which must hold exactly the leaves
	// up to it, and every tile written to: one the batch begins (start 0)
	// is stored already when a rebuilt level-0 tile completes a higher
	// node the higher tile holds. A batch's few keys take one query
	// (tileQueryKeys to a query), a tile begun or not.
	var load []audit.TileKey
	var last audit.TileKey
	if size > 0 {
		last = audit.TileKey{Level: 0, Index: (size - 1) / audit.TileWidth}
		load = append(load, last)
	}
	for _, r := range runs {
		if !(size > 0 && r.key == last) {
			load = append(load, r.key)
		}
	}
	stored, err := readTiles(ctx, tx, load)
	if err != nil {
		return err
	}
	if size > 0 && len(stored[last]) != audit.TileWidthAt(0, last.Index, size)*sha256.Size {
		return errTilesBehind
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO audit_tile (level, idx, hashes) VALUES `)
	args := make([]any, 0, 3*len(runs))
	for _, r := range runs {
		old, found := stored[r.key]
		held := len(old) / sha256.Size
		if held < r.start {
			// The last level-0 tile is up to date (above), so this is a
			// higher tile: damage, not a log the tiles are behind.
			return &tileShortError{key: r.key, found: found, held: old, need: r.start}
		}
		// The hashes the tile holds already (none but in a rebuild) must
		// be the events'; only the rest is written.
		have := min(held-r.start, len(r.hashes))
		for j, h := range r.hashes[:have] {
			if at := r.start + j; !bytes.Equal(old[at*sha256.Size:(at+1)*sha256.Size], h) {
				return &tileDiffersError{key: r.key, hash: at}
			}
		}
		if have == len(r.hashes) {
			continue
		}
		data := make([]byte, 0, len(old)+(len(r.hashes)-have)*sha256.Size)
		data = append(data, old...)
		for _, h := range r.hashes[have:] {
			data = append(data, h...)
		}
		if len(args) > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?, ?, ?)`)
		args = append(args, int64(r.key.Level), int64(r.key.Index), data)
	}
	if len(args) == 0 {
		return nil // every hash was stored already
	}
	b.WriteString(` ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes`)
	if _, err := tx.ExecContext(ctx, tx.Rebind(b.String()), args...); err != nil {
		return fmt.Errorf("write audit tiles: %w", err)
	}
	return nil
}

// tileCatchUp bounds the leaves catchUpTiles reads in one call, so
// building the tiles of a long log never holds it all in memory.
const tileCatchUp = 1 << 16

// tiledSize returns how many leaves the tiles hold: the level-0 tiles are
// written in order, so the last one tells.
func tiledSize(ctx context.Context, q queryer) (uint64, error) {
	var rows []struct {
		Idx int64 `db:"idx"`
		N   int64 `db:"n"`
	}
	if err := q.SelectContext(ctx, &rows, `SELECT idx, length(hashes) AS n FROM audit_tile WHERE level = 0 ORDER BY idx DESC LIMIT 1`); err != nil {
		return 0, fmt.Errorf("read the last audit tile: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	return uint64(rows[0].Idx)*audit.TileWidth + uint64(rows[0].N)/sha256.Size, nil
}

// catchUpTiles builds the tiles of at most tileCatchUp more of the first
// size leaves, from the leaf hashes in audit_event, and returns how many
// leaves the tiles then hold. The caller holds the head's lock, so two
// replicas opening at once build the tiles one after the other: the second
// finds them built (tiledSize is read under the lock).
//
// It also repairs the last level-0 tile cut short or deleted, from the
// events (AUDIT.md section 8). When that tile was full, the level-1 tile
// holds its hash already, and writeTiles accepts it only if it equals the
// rebuilt one. So every node above level 0 is hashed from the events: the
// compact range starts at the first leaf of the last level-0 tile, read
// from the higher tiles alone, and the leaves before tiled in that tile
// are hashed again rather than read from what is left of it, so a changed
// hash there cannot make the rebuilt node differ and the level-1 tile be
// blamed for it (verify reports the level-0 tile itself).
func catchUpTiles(ctx context.Context, tx *Tx, size uint64) (uint64, error) {
	tiled, err := tiledSize(ctx, tx)
	if err != nil {
		return 0, err
	}
	switch {
	case tiled > size:
		return 0, fmt.Errorf("the audit tiles hold %d leaves but the log only %d: entries were removed from the log", tiled, size)
	case tiled == size:
		return size, nil
	}
	from := tiled - tiled%audit.TileWidth
	r, err := audit.RangeAt(ctx, txNodes{tx}, from)
	if err != nil {
		return 0, err
	}
	end := min(size, tiled+tileCatchUp)
	rows, err := tx.QueryContext(ctx, tx.Rebind(`SELECT seq, leaf_hash FROM audit_event WHERE seq >= ? AND seq < ? ORDER BY seq`), int64(from), int64(end))
	if err != nil {
		return 0, fmt.Errorf("read leaf hashes from %d: %w", from, err)
	}
	defer rows.Close()
	var nodes []audit.Node
	next := from
	for rows.Next() {
		var seq int64
		var leaf []byte
		if err := rows.Scan(&seq, &leaf); err != nil {
			return 0, fmt.Errorf("read leaf hashes from %d: %w", from, err)
		}
		if uint64(seq) != next || len(leaf) != sha256.Size {
			return 0, fmt.Errorf("audit event %d is missing or has no leaf hash: the tiles cannot be built", next)
		}
		if err := r.Append(leaf, func(id compact.NodeID, hash []byte) {
			// The leaves before tiled are in their tile already.
			if id.Level%audit.TileHeight == 0 && (id.Level > 0 || id.Index >= tiled) {
				nodes = append(nodes, audit.Node{Level: id.Level, Index: id.Index, Hash: hash})
			}
		}); err != nil {
			return 0, fmt.Errorf("append leaf %d: %w", seq, err)
		}
		next++
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read leaf hashes from %d: %w", from, err)
	}
	rows.Close()
	if next != end {
		return 0, fmt.Errorf("audit event %d is missing: the tiles cannot be built", next)
	}
	if err := writeTiles(ctx, tx, tiled, nodes); err != nil {
		return 0, err
	}
	return end, nil
}

// syncTiles makes the tiles hold the first size leaves, in tx.
func syncTiles(ctx context.Context, tx *Tx, size uint64) error {
	for tiled := uint64(0); tiled < size; {
		var err error
		if tiled, err = catchUpTiles(ctx, tx, size); err != nil {
			return err
		}
	}
	return nil
}

// txNodes reads tree nodes from the tiles inside a transaction.
type txNodes struct{ tx *Tx }

func (n txNodes) ReadNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	return readTileNodes(ctx, n.tx, nil, ids)
}

// backfillTiles builds the tiles of a log sequenced before migration 0013
// (or by a replica of an older version), a bounded part per transaction
// under the head's lock. Migrate calls it, before this process sequences
// anything.
func (db *conn) backfillTiles(ctx context.Context) error {
	for {
		done := false
		err := db.withTx(ctx, func(tx *Tx) error {
			h, err := readHead(ctx, tx, db.dialect.forUpdate())
			if err != nil {
				return fmt.Errorf("lock audit head: %w", err)
			}
			tiled, err := catchUpTiles(ctx, tx, h.Size)
			done = tiled >= h.Size
			return err
		})
		if err != nil {
			return fmt.Errorf("build the audit tiles: %w", err)
		}
		if done {
			return nil
		}
	}
}
