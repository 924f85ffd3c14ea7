package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// progressEvery is how many events pass between two Progress calls.
const progressEvery = 1 << 16

// Verifier checks a stream of events, from the live database or from an
// export file, against a signed checkpoint. It trusts nothing stored next to
// the events: it recomputes every leaf hash from the canonical encoding,
// the hash chain and the Merkle root, and compares them with what is stored
// and what the log's key signed, and, given the stored tiles proofs are
// served from, every tile.
type Verifier struct {
	// Origin is the log's name, the first line of its checkpoints.
	Origin string
	// Keys are the verifier keys accepted for checkpoints; during a key
	// rotation, the old and the new key.
	Keys []note.Verifier
	// Since is the checkpoint the ethics board saved on its previous visit,
	// optional. When set, the log must still hold exactly the history Since
	// signed: this is what catches a history rewritten and re-signed by
	// someone who holds the log's key.
	Since *Checkpoint
	// Progress, when set, is called now and then with the number of events
	// checked so far, and once at the end.
	Progress func(done uint64)
	// Tiles, when set, are the log's stored tiles (the live database's):
	// every stored tile is held against the tree recomputed from the
	// events (CheckTile), read in pages as the events are, and the first
	// that differs, is missing or holds too much fails the verification.
	Tiles TileLister
	// TiledSize is how many entries the stored tiles must cover: the log
	// size the sequencer brought them up to before the verification
	// began (the sequencer writes a batch's tiles in the transaction that
	// sequences it). Past it a tile may be missing or partial, as it is
	// where a replica of release 1.0.0 sequences, but never wrong.
	TiledSize uint64
}

// Report is the outcome of a verification. When OK is false, Problem says in
// a sentence what is wrong and FirstBad, when the fault can be pinned on one
// event, is its sequence number.
type Report struct {
	// Events is the number of events that passed every check.
	Events uint64
	// Root and Chain are the Merkle root and chain head over those events.
	Root  []byte
	Chain []byte
	// Checkpoint is the verified checkpoint, nil if none was given or it was
	// refused. Save it: it is the Since of the next run.
	Checkpoint *Checkpoint
	// CheckpointSize is Checkpoint.Size, or 0.
	CheckpointSize uint64
	// Tiles is how many stored tiles were held against the events: 0 when
	// the Verifier was given no tiles (an export).
	Tiles    uint64
	OK       bool
	FirstBad *uint64
	Problem  string
}

// fail records the first problem; the verification stops there.
func (r *Report) fail(firstBad *uint64, format string, args ...any) *Report {
	r.OK = false
	r.FirstBad = firstBad
	r.Problem = fmt.Sprintf(format, args...)
	return r
}

func seqPtr(n uint64) *uint64 { return &n }

// Verify reads events from next until it returns io.EOF and checks them
// against the signed checkpoint (a signed note; nil to check only the
// integrity of the events among themselves). It holds O(log n) hashes,
// never the list of leaves, so it can check logs of any length.
//
// It checks, in this order: the checkpoint's and Since's signatures and
// origin; for each event, that its seq follows the previous one from 0
// without a gap, that its stored leaf hash equals the hash of its canonical
// encoding, and that its stored chain hash follows from the previous one;
// that the recomputed root and chain at the checkpoint's size and at Since's
// size equal the signed ones; and that the log is not shorter than either.
// Events after the checkpoint are checked as well.
//
// A log that fails a check yields a Report with OK false and a nil error.
// The error is for failures to carry out the check: a bad configuration, a
// cancelled context, or an error from next other than a *FormatError (a
// malformed export line is reported as a problem of the event it held).
func (v *Verifier) Verify(ctx context.Context, next func() (*Event, error), signed []byte) (*Report, error) {
	return v.VerifyEach(ctx, func(_ context.Context, fn func(*Event) error) error {
		for {
			e, err := next()
			if err == io.EOF {
				return nil
			}
			if err == nil && e == nil {
				err = errNoEvent
			}
			if err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
		}
	}, signed)
}

var errNoEvent = errors.New("no event and no error")

// VerifyEach is Verify over a log read by a function that pushes its events
// one by one, streaming, with memory bounded by the batches in flight. A
// store that can hand over its rows as stored should use VerifyStored,
// which is several times faster.
func (v *Verifier) VerifyEach(ctx context.Context, each func(ctx context.Context, fn func(*Event) error) error, signed []byte) (*Report, error) {
	return verifyPushed(ctx, v, each, func(b *batch, e *Event) int {
		b.events = append(b.events, e)
		return len(b.events)
	}, signed)
}

// StoredEvent is an event as a store keeps it: the text of each column,
// the payload as the JSON object of strings that json.Marshal writes for a
// Payload (empty or "null" for none), the time as text in TimeFormat, and
// the stored hashes. The slices may be reused once the function it was
// passed to returns.
type StoredEvent struct {
	Seq                                                       uint64
	At, ActorID, Role, Action, SubjectType, SubjectID, CaseID []byte
	Payload                                                   []byte
	LeafHash, ChainHash                                       []byte
}

// VerifyStored is Verify over a log read by a function that pushes its
// events in their stored form (sqlstore's AllStoredEvents), one by one.
// The verifier's workers compute the canonical encoding straight from the
// stored columns, with no Event in between. Reading an event fails, as it
// does for a store building Events, when its time is not in TimeFormat or
// its payload is not a JSON object of strings; that is an error, not a
// problem of the log.
func (v *Verifier) VerifyStored(ctx context.Context, each func(ctx context.Context, fn func(*StoredEvent) error) error, signed []byte) (*Report, error) {
	return verifyPushed(ctx, v, each, func(b *batch, e *StoredEvent) int {
		b.addStored(e)
		return len(b.rows)
	}, signed)
}

// verifyPushed is the one way events pushed by a reader reach the
// verifier (Verify, VerifyEach and VerifyStored): each calls fn for every
// event in order, add copies one into a batch and returns how many the
// batch now holds, and full batches go to the pipeline as they fill.
func verifyPushed[T any](ctx context.Context, v *Verifier, each func(context.Context, func(T) error) error, add func(*batch, T) int, signed []byte) (*Report, error) {
	return v.verify(ctx, func(ctx context.Context, p *producer) error {
		b, n := p.batch(), 0
		err := each(ctx, func(e T) error {
			if n = add(b, e); n == batchSize {
				if !p.send(b) {
					return errStopped
				}
				b, n = p.batch(), 0
			}
			return nil
		})
		if errors.Is(err, errStopped) || (n > 0 && !p.send(b)) {
			return errStopped
		}
		return err
	}, signed)
}

// VerifyExport verifies an export stream: the events it holds, against the
// checkpoint in its header. If v.Origin is empty the header's origin is
// used; setting Origin is stronger, since it also catches an export of a
// different log signed by the same key. It also checks that the export
// holds exactly as many events as its header announces.
func (v *Verifier) VerifyExport(ctx context.Context, r io.Reader) (*Report, error) {
	return v.verifyExport(ctx, r, blockSize)
}

// verifyExport is VerifyExport reading blocks of size bytes (tests use
// small ones, to cut lines at every place).
func (v *Verifier) verifyExport(ctx context.Context, r io.Reader, size int) (*Report, error) {
	er, err := NewReader(r)
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			return (&Report{}).fail(nil, "the export cannot be read: %v", err), nil
		}
		return nil, fmt.Errorf("verify audit export: %w", err)
	}
	h := er.Header()
	vv := *v
	if vv.Origin == "" {
		vv.Origin = h.Origin
	}
	if h.Origin != vv.Origin {
		return (&Report{}).fail(nil, "the export comes from log %q, not %q", h.Origin, vv.Origin), nil
	}
	// The reading goroutine only cuts the file into blocks of whole lines;
	// the workers split them into lines, check and hash them.
	er.lr.size = size
	rep, err := vv.verify(ctx, func(_ context.Context, p *producer) error {
		for {
			b := p.batch()
			end := er.lr.fill(b)
			if !p.send(b) {
				return errStopped
			}
			if end != nil {
				return end
			}
		}
	}, []byte(h.Checkpoint))
	return checkExportSize(rep, err, h)
}

// checkExportSize checks that a verified export held exactly the events its
// header announces.
func checkExportSize(rep *Report, err error, h Header) (*Report, error) {
	if err != nil || !rep.OK {
		return rep, err
	}
	switch {
	case rep.Events < h.Size:
		return rep.fail(seqPtr(rep.Events), "the export ends after %d events but its header announces %d", rep.Events, h.Size), nil
	case rep.Events > h.Size:
		return rep.fail(seqPtr(h.Size), "the export holds %d events but its header announces %d", rep.Events, h.Size), nil
	}
	return rep, nil
}

// verify checks the events that produce sends, in batches, through the
// pipeline (see pipeline).
func (v *Verifier) verify(ctx context.Context, produce func(context.Context, *producer) error, signed []byte) (*Report, error) {
	rep := &Report{Root: Hasher.EmptyRoot(), Chain: append([]byte(nil), ZeroChain...)}
	if err := validOrigin(v.Origin); err != nil {
		return nil, fmt.Errorf("verify audit log: %w", err)
	}
	if (len(signed) > 0 || v.Since != nil) && len(v.Keys) == 0 {
		return nil, errors.New("verify audit log: a verifier key is needed to check a checkpoint")
	}

	var cp, since *Checkpoint
	if len(signed) > 0 {
		var err error
		if cp, err = OpenCheckpoint(signed, v.Origin, v.Keys[0], v.Keys[1:]...); err != nil {
			return rep.fail(nil, "the checkpoint is refused: %v", err), nil
		}
		rep.Checkpoint, rep.CheckpointSize = cp, cp.Size
	}
	if v.Since != nil {
		if len(v.Since.Note) == 0 {
			return nil, errors.New("verify audit log: the saved checkpoint has no signed note")
		}
		var err error
		// Re-open the note rather than trusting the struct's fields.
		if since, err = OpenCheckpoint(v.Since.Note, v.Origin, v.Keys[0], v.Keys[1:]...); err != nil {
			return rep.fail(nil, "the saved checkpoint is refused: %v", err), nil
		}
		if cp != nil && since.Size > cp.Size {
			return rep.fail(seqPtr(cp.Size), "the checkpoint covers %d events, fewer than the %d of the saved checkpoint: events were removed from the log, or the checkpoint is an old one", cp.Size, since.Size), nil
		}
	}

	// match compares the state after n events with the signed checkpoints
	// of size n; it returns a problem sentence or "".
	match := func(n uint64, root, chain []byte) string {
		if cp != nil && cp.Size == n {
			if !bytes.Equal(root, cp.Root) {
				return fmt.Sprintf("the first %d events do not have the root hash signed in the checkpoint: they were changed after it was signed", n)
			}
			if !bytes.Equal(chain, cp.Chain) {
				return fmt.Sprintf("the first %d events do not have the chain hash signed in the checkpoint: they were changed after it was signed", n)
			}
		}
		if since != nil && since.Size == n {
			if !bytes.Equal(root, since.Root) || !bytes.Equal(chain, since.Chain) {
				return fmt.Sprintf("the first %d events are not the ones the saved checkpoint signed: the log's history was rewritten since the board's last visit", n)
			}
		}
		return ""
	}
	if p := match(0, rep.Root, rep.Chain); p != "" {
		return rep.fail(nil, "%s", p), nil
	}

	// The state is the number of events checked, the last chain hash and
	// the compact range; rep is brought up to date before returning.
	var (
		n     uint64
		prev  [sha256.Size]byte // chain[-1] is 32 zero bytes
		link  [1 + 2*sha256.Size]byte
		slab  hashSlab
		cr    = (&compact.RangeFactory{Hash: slab.hashChildren}).NewEmptyRange(0)
		tiles *tileCheck
		visit compact.VisitFn
		state = func() *Report {
			rep.Events, rep.Chain = n, append(rep.Chain[:0:0], prev[:]...)
			if tiles != nil {
				rep.Tiles = tiles.checked
			}
			return rep
		}
		fail = func(firstBad *uint64, format string, args ...any) (*Report, error) {
			return state().fail(firstBad, format, args...), nil
		}
		// tileFail reports the first tile found wrong, or the failure to
		// read the tiles.
		tileFail = func() (*Report, error) {
			if tiles.err != nil {
				return state(), fmt.Errorf("verify audit log: %w", tiles.err)
			}
			return fail(nil, "%s", tiles.problem)
		}
	)
	if v.Tiles != nil {
		tiles = newTileCheck(ctx, v.Tiles, v.TiledSize)
		defer tiles.stop()
		visit = tiles.visit
	}
	batches, recycle, stop := pipeline(ctx, produce)
	defer stop()
	for b := range batches {
		if err := ctx.Err(); err != nil {
			return state(), fmt.Errorf("verify audit log at event %d: %w", n, err)
		}
		<-b.done
		for i := range b.recs {
			r := &b.recs[i]
			switch {
			case r.seq > n:
				return fail(seqPtr(n), "event %d is missing: the next event found is %d", n, r.seq)
			case r.seq < n:
				return fail(seqPtr(n), "event %d is missing: event %d was found in its place, out of order", n, r.seq)
			}
			// The workers computed sum = SHA-256(0x00 || canonical), RFC
			// 6962's leaf hash; the chain link is SHA-256(0x02 || prev || leaf).
			if r.ok&leafOK == 0 || r.leaf != r.sum {
				return fail(seqPtr(n), "event %d: leaf hash does not match its contents", n)
			}
			link[0] = 0x02
			copy(link[1:], prev[:])
			copy(link[1+sha256.Size:], r.sum[:])
			chain := sha256.Sum256(link[:])
			if r.ok&chainOK == 0 || r.chain != chain {
				return fail(seqPtr(n), "event %d: chain hash does not follow from the previous event", n)
			}
			if err := cr.Append(slab.hash(&r.sum), visit); err != nil {
				return state(), fmt.Errorf("verify audit log: append leaf %d: %w", n, err)
			}
			n++
			prev = chain
			if tiles != nil && tiles.failed() {
				return tileFail()
			}
			if (cp != nil && cp.Size == n) || (since != nil && since.Size == n) {
				root, err := cr.GetRootHash(nil)
				if err != nil {
					return state(), fmt.Errorf("verify audit log: root at %d: %w", n, err)
				}
				if p := match(n, root, prev[:]); p != "" {
					return fail(nil, "%s", p)
				}
			}
			if v.Progress != nil && n%progressEvery == 0 {
				v.Progress(n)
			}
		}
		if b.err == io.EOF {
			break
		}
		var fe *FormatError
		if errors.As(b.err, &fe) {
			return fail(seqPtr(n), "event %d: %v", n, b.err)
		} else if b.err != nil {
			return state(), fmt.Errorf("verify audit log: read event %d: %w", n, b.err)
		}
		recycle(b)
	}
	state()
	if n > 0 {
		root, err := cr.GetRootHash(nil)
		if err != nil {
			return rep, fmt.Errorf("verify audit log: root at %d: %w", n, err)
		}
		rep.Root = append([]byte(nil), root...)
	}
	if v.Progress != nil {
		v.Progress(n)
	}
	if cp != nil && n < cp.Size {
		return rep.fail(seqPtr(n), "the log ends after %d events but the checkpoint covers %d: events %d to %d are missing", n, cp.Size, n, cp.Size-1), nil
	}
	if since != nil && n < since.Size {
		return rep.fail(seqPtr(n), "the log ends after %d events but the saved checkpoint covers %d: events %d to %d are missing", n, since.Size, n, since.Size-1), nil
	}
	if tiles != nil {
		tiles.finish()
		if tiles.failed() {
			return tileFail()
		}
		state()
	}
	rep.OK = true
	return rep, nil
}

// hashSlab hands out the tree's hashes as 32-byte pieces of larger blocks:
// one allocation per 128 hashes instead of one or more per hash. The
// compact range keeps at most 64 of them.
type hashSlab struct{ free []byte }

func (s *hashSlab) hash(h *[sha256.Size]byte) []byte {
	if len(s.free) < sha256.Size {
		s.free = make([]byte, 128*sha256.Size)
	}
	out := s.free[:sha256.Size:sha256.Size]
	s.free = s.free[sha256.Size:]
	copy(out, h[:])
	return out
}

// hashChildren is RFC 6962's node hash, SHA-256(0x01 || l || r), as
// Hasher.HashChildren computes it, for 32-byte children.
func (s *hashSlab) hashChildren(l, r []byte) []byte {
	var b [1 + 2*sha256.Size]byte
	b[0] = rfc6962.RFC6962NodeHashPrefix
	copy(b[1:], l)
	copy(b[1+sha256.Size:], r)
	h := sha256.Sum256(b[:])
	return s.hash(&h)
}

// rec is what the sequential check needs of one event: its seq, its stored
// hashes and its recomputed leaf hash.
type rec struct {
	seq         uint64
	leaf, chain [sha256.Size]byte // as stored
	sum         [sha256.Size]byte // SHA-256(0x00 || canonical)
	ok          uint8             // leafOK, chainOK: the stored hash has 32 bytes
}

const (
	leafOK uint8 = 1 << iota
	chainOK
)

// eventRec hashes an Event, with canon as scratch space.
func eventRec(e *Event, canon []byte) ([]byte, rec, error) {
	canon = e.AppendCanonical(append(canon[:0], 0x00))
	r := rec{seq: e.Seq, sum: sha256.Sum256(canon)}
	if len(e.LeafHash) == sha256.Size {
		r.leaf, r.ok = [sha256.Size]byte(e.LeafHash), r.ok|leafOK
	}
	if len(e.ChainHash) == sha256.Size {
		r.chain, r.ok = [sha256.Size]byte(e.ChainHash), r.ok|chainOK
	}
	return canon, r, nil
}

// storedFields is the number of byte columns of a StoredEvent.
const storedFields = 10

// storedRow locates a StoredEvent copied into a batch's arena: its
// columns end at end[i], each starting where the one before ended.
type storedRow struct {
	seq   uint64
	start int
	end   [storedFields]int
}

func (b *batch) addStored(e *StoredEvent) {
	r := storedRow{seq: e.Seq, start: len(b.arena)}
	for i, f := range [storedFields][]byte{e.At, e.ActorID, e.Role, e.Action, e.SubjectType, e.SubjectID, e.CaseID, e.Payload, e.LeafHash, e.ChainHash} {
		b.arena = append(b.arena, f...)
		r.end[i] = len(b.arena)
	}
	b.rows = append(b.rows, r)
}

func (b *batch) stored(i int, e *StoredEvent) {
	r := &b.rows[i]
	var f [storedFields][]byte
	start := r.start
	for i, end := range r.end {
		f[i] = b.arena[start:end:end]
		start = end
	}
	*e = StoredEvent{Seq: r.seq, At: f[0], ActorID: f[1], Role: f[2], Action: f[3], SubjectType: f[4], SubjectID: f[5],
		CaseID: f[6], Payload: f[7], LeafHash: f[8], ChainHash: f[9]}
}

// event decodes e as sqlstore did before the fast way: time.Parse for the
// time, json.Unmarshal for the payload.
func (e *StoredEvent) event() (*Event, error) {
	at, err := ParseTime(string(e.At))
	if err != nil {
		return nil, fmt.Errorf("audit event %d: %w", int64(e.Seq), err)
	}
	ev := &Event{Seq: e.Seq, At: at, ActorID: string(e.ActorID), Role: string(e.Role), Action: string(e.Action),
		SubjectType: string(e.SubjectType), SubjectID: string(e.SubjectID), CaseID: string(e.CaseID)}
	if p := string(e.Payload); p != "" && p != "null" {
		if err := json.Unmarshal(e.Payload, &ev.Payload); err != nil {
			return nil, fmt.Errorf("audit event %d: bad payload: %w", int64(e.Seq), err)
		}
	}
	return ev, nil
}

// batchSize is how many events travel together through the pipeline;
// batches keep channel operations rare next to the work per event. An
// export travels in blocks of blockSize bytes instead.
const batchSize = 512

// batch is a run of consecutive events on their way through the pipeline,
// in one of three forms, which a worker turns into recs.
type batch struct {
	events []*Event // from Verify
	// lines are whole export lines, from VerifyExport, in block;
	// firstLine is the number of the first.
	lines     []byte
	block     []byte
	firstLine int
	// rows are stored events, from VerifyStored, copied into arena.
	rows  []storedRow
	arena []byte

	recs []rec
	// err ends the stream after recs: io.EOF, a *FormatError or a reading
	// error. The producer sets it on the last batch, which holds nothing
	// else; a worker sets it where an event cannot be read, and the events
	// after it are never looked at.
	err  error
	done chan struct{} // receives once the worker is through
}

// work turns the batch's events, lines or rows into recs.
func (b *batch) work(canon []byte) []byte {
	defer func() { b.done <- struct{}{} }()
	var r rec
	var err error
	for _, e := range b.events {
		canon, r, _ = eventRec(e, canon)
		b.recs = append(b.recs, r)
	}
	for rest, no := b.lines, b.firstLine; len(rest) > 0; no++ {
		var line []byte
		line, rest = cutLine(rest)
		if err = checkLine(line, no); err == nil {
			canon, r, err = eventLeaf(dropCR(line), no, canon)
		}
		if err != nil {
			b.err = err
			return canon
		}
		b.recs = append(b.recs, r)
	}
	var e StoredEvent
	for i := range b.rows {
		b.stored(i, &e)
		if canon, r, err = storedRec(&e, canon); err != nil {
			b.err = err
			return canon
		}
		b.recs = append(b.recs, r)
	}
	return canon
}

// producer is the pipeline's reading side.
type producer struct {
	free    chan *batch
	jobs    chan *batch
	ordered chan *batch
	quit    chan struct{}
}

// errStopped ends a producer when the verification stopped early.
var errStopped = errors.New("verification stopped")

// batch returns an empty batch, one the verifier is done with if any.
func (p *producer) batch() *batch {
	select {
	case b := <-p.free:
		clear(b.events) // let the events go
		b.events, b.lines, b.rows, b.arena, b.recs, b.err = b.events[:0], nil, b.rows[:0], b.arena[:0], b.recs[:0], nil
		return b
	default:
		return &batch{done: make(chan struct{}, 1)}
	}
}

// send hands b to a worker and queues it for the verifier; it reports
// false if the verification stopped.
func (p *producer) send(b *batch) bool {
	select {
	case p.jobs <- b:
	case <-p.quit:
		return false
	}
	select {
	case p.ordered <- b:
		return true
	case <-p.quit:
		return false
	}
}

// pipeline runs produce in a goroutine to read batches, and hands each batch
// to one of a few workers that parse and hash it, so that reading, parsing
// and hashing use every core. It yields the batches in their order, each
// before its worker is done with it (the caller waits on done), and ends
// with a batch holding only the error produce returned (io.EOF for nil).
// The caller hands batches it is done with to recycle. At most a few
// batches per worker are in flight, so memory stays bounded. stop must be
// called when the caller is done, even early: it cancels the context given
// to produce, ends the goroutines and waits for them.
func pipeline(ctx context.Context, produce func(context.Context, *producer) error) (batches <-chan *batch, recycle func(*batch), stop func()) {
	workers := min(runtime.GOMAXPROCS(0), 8)
	p := &producer{
		free:    make(chan *batch, 3*workers+2),
		jobs:    make(chan *batch, workers),
		ordered: make(chan *batch, 2*workers),
		quit:    make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(p.ordered)
		defer close(p.jobs)
		err := produce(ctx, p)
		if errors.Is(err, errStopped) {
			return
		}
		if err == nil {
			err = io.EOF
		}
		b := p.batch()
		b.err = err
		p.send(b)
	})
	for range workers {
		wg.Go(func() {
			canon := make([]byte, 0, 1024)
			for b := range p.jobs {
				canon = b.work(canon)
			}
		})
	}
	recycle = func(b *batch) {
		select {
		case p.free <- b:
		default:
		}
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			close(p.quit)
			wg.Wait()
		})
	}
	return p.ordered, recycle, stop
}
