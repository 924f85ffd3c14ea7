package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/countersign/countersign"
)

// groupCommit runs SQLite's write transactions a batch at a time. SQLite
// has one writer, so concurrent writers queue for it anyway; the profile of
// the audited write path showed a third of the CPU in the commit, writing
// the same pages to the WAL once per transaction. Here one BEGIN … COMMIT
// holds every transaction that was waiting, each inside its own SAVEPOINT
// so that one that fails rolls back alone, and each caller learns its
// outcome only after the COMMIT: a write is never reported before it is
// durable, and nothing partial is ever kept.
type groupCommit struct {
	db    *conn
	start sync.Once
	reqs  chan *commitReq
	quit  chan struct{}
	done  chan struct{}
	// batches counts the transactions committed, for tests.
	batches atomic.Int64
}

type commitReq struct {
	ctx context.Context
	fn  func(*Tx) error
	err chan error
}

// groupCommitMax bounds a batch, so one COMMIT never holds too much work.
const groupCommitMax = 64

var errClosed = errors.New("the database is closed")

func newGroupCommit(db *conn) *groupCommit {
	return &groupCommit{db: db, reqs: make(chan *commitReq), quit: make(chan struct{}), done: make(chan struct{})}
}

// do runs fn in the next batch and returns its outcome once the batch has
// committed (or fn's own error, its changes rolled back).
func (g *groupCommit) do(ctx context.Context, fn func(*Tx) error) error {
	g.start.Do(func() { go g.run() })
	r := &commitReq{ctx: ctx, fn: fn, err: make(chan error, 1)}
	select {
	case g.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.quit:
		return errClosed
	}
	// Once taken, the outcome must be awaited even if ctx ends: only the
	// batch knows whether fn's changes were committed.
	return <-r.err
}

// close stops the batcher after the batch in progress.
func (g *groupCommit) close() {
	select {
	case <-g.quit:
		return
	default:
	}
	close(g.quit)
	g.start.Do(func() { close(g.done) }) // never started
	<-g.done
}

func (g *groupCommit) run() {
	defer close(g.done)
	for {
		var batch []*commitReq
		select {
		case r := <-g.reqs:
			batch = append(batch, r)
		case <-g.quit:
			return
		}
	more:
		for len(batch) < groupCommitMax {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		errs := g.runBatch(batch)
		for i, r := range batch {
			r.err <- errs[i]
		}
	}
}

// runBatch runs the batch in one transaction and returns each request's outcome.
func (g *groupCommit) runBatch(batch []*commitReq) []error {
	db := g.db
	errs := make([]error, len(batch))
	failAll := func(err error) []error {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	// Statements are not cancelled half way: on SQLite an interrupted
	// write rolls back the whole transaction, every request of the batch
	// with it. A request whose context has ended is not started.
	bg := context.Background()
	sqlTx, err := db.w.BeginTxx(bg, nil)
	if err != nil {
		return failAll(db.translate(fmt.Errorf("begin: %w", err)))
	}
	defer sqlTx.Rollback()
	audited := false
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if _, err := sqlTx.ExecContext(bg, `SAVEPOINT request`); err != nil {
			return failAll(db.translate(fmt.Errorf("savepoint: %w", err)))
		}
		tx := &Tx{Tx: sqlTx, db: db, now: db.stamp(), batched: true}
		if err := runRecovered(r.fn, tx); err != nil {
			errs[i] = db.translate(err)
			if _, err := sqlTx.ExecContext(bg, `ROLLBACK TO request`); err != nil {
				// The transaction itself is gone: so is every change of the batch.
				return failAll(db.translate(fmt.Errorf("roll back to savepoint: %w", err)))
			}
		}
		if _, err := sqlTx.ExecContext(bg, `RELEASE request`); err != nil {
			return failAll(db.translate(fmt.Errorf("release savepoint: %w", err)))
		}
		audited = audited || (errs[i] == nil && tx.audited)
	}
	if err := sqlTx.Commit(); err != nil {
		return failAll(db.translate(fmt.Errorf("commit: %w", err)))
	}
	g.batches.Add(1)
	if audited {
		db.wakeSequencer()
	}
	return errs
}

// runRecovered runs fn, turning a panic into an error so the batch, and the
// other requests in it, go on.
func runRecovered(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = countersign.Errorf(countersign.EINTERNAL, "write transaction panicked: %v", p)
		}
	}()
	return fn(tx)
}
