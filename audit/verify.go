package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"golang.org/x/mod/sumdb/note"
)

// progressEvery is how many events pass between two Progress calls.
const progressEvery = 1 << 16

// Verifier checks a stream of events, from the live database or from an
// export file, against a signed checkpoint. It trusts nothing stored next to
// the events: it recomputes every leaf hash from the canonical encoding,
// the hash chain and the Merkle root, and compares them with what is stored
// and what the log's key signed.
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
	OK             bool
	FirstBad       *uint64
	Problem        string
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
	return v.verify(ctx, func(b *batch) {
		for len(b.events) < batchSize {
			e, err := next()
			if err != nil {
				b.err = err
				return
			}
			if e == nil {
				b.err = errNoEvent
				return
			}
			b.events = append(b.events, e)
		}
	}, signed)
}

var errNoEvent = errors.New("no event and no error")

// verify is Verify with events supplied in batches by fill (see pipeline).
func (v *Verifier) verify(ctx context.Context, fill func(*batch), signed []byte) (*Report, error) {
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

	cr := rangeFactory.NewEmptyRange(0)
	prev := rep.Chain
	var link [1 + 2*sha256.Size]byte
	var n uint64
	batches, stop := pipeline(fill)
	defer stop()
	for b := range batches {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("verify audit log at event %d: %w", n, err)
		}
		<-b.done
		for i, e := range b.events {
			switch {
			case e.Seq > n:
				return rep.fail(seqPtr(n), "event %d is missing: the next event found is %d", n, e.Seq), nil
			case e.Seq < n:
				return rep.fail(seqPtr(n), "event %d is missing: event %d was found in its place, out of order", n, e.Seq), nil
			}
			// The workers computed SHA-256(0x00 || canonical), RFC 6962's
			// leaf hash; the chain link is SHA-256(0x02 || prev || leaf).
			leafSum := &b.leaves[i]
			if !bytes.Equal(leafSum[:], e.LeafHash) {
				return rep.fail(seqPtr(n), "event %d: leaf hash does not match its contents", n), nil
			}
			link[0] = 0x02
			copy(link[1:], prev)
			copy(link[33:], leafSum[:])
			chainSum := sha256.Sum256(link[:])
			if !bytes.Equal(chainSum[:], e.ChainHash) {
				return rep.fail(seqPtr(n), "event %d: chain hash does not follow from the previous event", n), nil
			}
			chain := e.ChainHash // equal to chainSum; kept, so no copy is made
			if err := cr.Append(e.LeafHash, nil); err != nil {
				return rep, fmt.Errorf("verify audit log: append leaf %d: %w", n, err)
			}
			n++
			prev = chain
			rep.Events, rep.Chain = n, chain
			if (cp != nil && cp.Size == n) || (since != nil && since.Size == n) {
				root, err := cr.GetRootHash(nil)
				if err != nil {
					return rep, fmt.Errorf("verify audit log: root at %d: %w", n, err)
				}
				if p := match(n, root, chain); p != "" {
					return rep.fail(nil, "%s", p), nil
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
			return rep.fail(seqPtr(n), "event %d: %v", n, b.err), nil
		} else if b.err != nil {
			return rep, fmt.Errorf("verify audit log: read event %d: %w", n, b.err)
		}
	}
	if n > 0 {
		root, err := cr.GetRootHash(nil)
		if err != nil {
			return rep, fmt.Errorf("verify audit log: root at %d: %w", n, err)
		}
		rep.Root = root
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
	rep.OK = true
	return rep, nil
}

// VerifyExport verifies an export stream: the events it holds, against the
// checkpoint in its header. If v.Origin is empty the header's origin is
// used; setting Origin is stronger, since it also catches an export of a
// different log signed by the same key. It also checks that the export
// holds exactly as many events as its header announces.
func (v *Verifier) VerifyExport(ctx context.Context, r io.Reader) (*Report, error) {
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
	rep, err := vv.verify(ctx, er.fillLines, []byte(h.Checkpoint))
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

// batchSize is how many events travel together through the pipeline;
// batches keep channel operations rare next to the work per event.
const batchSize = 512

// batch is a run of consecutive events (or export lines still to parse)
// on their way through the pipeline.
type batch struct {
	events []*Event
	// lines are raw export lines, parsed by a worker into events;
	// firstLine is the line number of lines[0].
	lines     [][]byte
	firstLine int
	chunks    [][]byte // the pooled memory lines points into
	// leaves[i] is the recomputed leaf hash of events[i].
	leaves [][sha256.Size]byte
	// err ends the stream after the events: io.EOF, a *FormatError or a
	// reading error.
	err  error
	done chan struct{} // closed when the worker is through
}

// work parses the batch's lines, if any, and hashes its events.
func (b *batch) work(canon []byte) []byte {
	defer close(b.done)
	if b.lines != nil {
		b.events = make([]*Event, 0, len(b.lines))
		for i, line := range b.lines {
			e, err := parseLine(line, b.firstLine+i)
			if err != nil {
				b.err = err // the lines after it are never looked at
				break
			}
			b.events = append(b.events, e)
		}
		b.lines = nil
		putChunks(b.chunks)
		b.chunks = nil
	}
	b.leaves = make([][sha256.Size]byte, len(b.events))
	for i, e := range b.events {
		canon = e.AppendCanonical(append(canon[:0], 0x00))
		b.leaves[i] = sha256.Sum256(canon)
	}
	return canon
}

// pipeline runs fill in a goroutine to read batches, and hands each batch
// to one of a few workers that parse and hash it, so that reading, parsing
// and hashing use every core. It yields the batches in their order, each
// after its worker is done with it (the caller waits on done). At most a
// few batches per worker are in flight, so memory stays bounded. stop must
// be called when the caller is done, even early: it ends the goroutines
// and waits for them.
func pipeline(fill func(*batch)) (batches <-chan *batch, stop func()) {
	workers := min(runtime.GOMAXPROCS(0), 8)
	jobs := make(chan *batch, workers)
	ordered := make(chan *batch, 2*workers)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(ordered)
		defer close(jobs)
		for {
			b := &batch{events: make([]*Event, 0, batchSize), done: make(chan struct{})}
			fill(b)
			last := b.err != nil // read before a worker may set b.err
			select {
			case jobs <- b:
			case <-quit:
				return
			}
			select {
			case ordered <- b:
			case <-quit:
				return
			}
			if last {
				return
			}
		}
	})
	for range workers {
		wg.Go(func() {
			canon := make([]byte, 0, 1024)
			for b := range jobs {
				canon = b.work(canon)
			}
		})
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(quit)
			wg.Wait()
		})
	}
	return ordered, stop
}

// VerifyEach is Verify over a log read by a function that pushes its events
// one by one (sqlstore's EachEvent does), streaming, with memory bounded by
// a small buffer between the reader and the verifier.
func (v *Verifier) VerifyEach(ctx context.Context, each func(ctx context.Context, fn func(*Event) error) error, signed []byte) (*Report, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan *Event, 1024)
	errc := make(chan error, 1)
	go func() {
		defer close(events)
		errc <- each(ctx, func(e *Event) error {
			select {
			case events <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	next := func() (*Event, error) {
		if e, ok := <-events; ok {
			return e, nil
		}
		if err := <-errc; err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	return v.Verify(ctx, next, signed)
}
