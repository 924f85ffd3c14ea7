package sqlstore

import (
	"context"
	"database/sql"
	"sync"

	"github.com/jmoiron/sqlx"
)

// stmtCache keeps the write transactions' statements prepared, so the
// database parses and plans each of them once per connection instead of on
// every call (on SQLite, preparing was a fifth of the CPU of a write).
// Queries built with a variable number of placeholders (IN lists,
// multi-row inserts) are many; the cache stops growing at its limit and
// those run unprepared.
type stmtCache struct {
	mu    sync.Mutex
	stmts map[string]*sqlx.Stmt // nil value: being prepared
	// preparing counts the background preparations, and stop cancels
	// them: close waits for them, so that no connection is still in use
	// when the database is closed (on SQLite a late one held the file's
	// lock after Close returned, and a backup check found it locked).
	preparing sync.WaitGroup
	stop      context.CancelFunc
	stopped   context.Context
}

const stmtCacheLimit = 256

// get returns the prepared statement for query, or nil the first time.
// It never prepares while the caller waits: the caller holds a connection
// in a transaction, and on SQLite the writer's one connection is that
// connection, so preparation happens in the background once it is free.
func (c *stmtCache) get(db *sqlx.DB, query string) *sqlx.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.stmts[query]; ok {
		return s
	}
	if len(c.stmts) >= stmtCacheLimit || len(query) > 4096 {
		return nil
	}
	if c.stmts == nil {
		if c.stopped != nil { // closed
			return nil
		}
		c.stmts = map[string]*sqlx.Stmt{}
		c.stopped, c.stop = context.WithCancel(context.Background())
	}
	c.stmts[query] = nil
	c.preparing.Add(1)
	ctx := c.stopped
	go func() {
		defer c.preparing.Done()
		s, err := db.PreparexContext(ctx, query)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil || c.stmts == nil { // failed, or the cache was closed meanwhile
			if s != nil {
				s.Close()
			}
			return
		}
		c.stmts[query] = s
	}()
	return nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	for _, s := range c.stmts {
		if s != nil {
			s.Close()
		}
	}
	c.stmts = nil
	if c.stop == nil {
		c.stopped, c.stop = context.WithCancel(context.Background())
	}
	c.stop()
	c.mu.Unlock()
	c.preparing.Wait()
}

// statementContext is ctx, without its cancellation in a group commit.
func (tx *Tx) statementContext(ctx context.Context) context.Context {
	if tx.batched {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// ExecContext runs query in the transaction through a cached prepared statement.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = tx.statementContext(ctx)
	if s := tx.db.stmts.get(tx.db.w, query); s != nil {
		return tx.StmtxContext(ctx, s).ExecContext(ctx, args...)
	}
	return tx.Tx.ExecContext(ctx, query, args...)
}

// exec runs a statement on its own, outside a transaction, through a cached
// prepared statement of the writer pool.
func (db *conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := db.stmts.get(db.w, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return db.w.ExecContext(ctx, query, args...)
}

// getOnWriter reads one row with a statement of its own on the writer
// pool (one that may also write, in its WITH clause), through a cached
// prepared statement, as exec runs one.
func (db *conn) getOnWriter(ctx context.Context, dest any, query string, args ...any) error {
	if s := db.stmts.get(db.w, query); s != nil {
		return s.GetContext(ctx, dest, args...)
	}
	return db.w.GetContext(ctx, dest, query, args...)
}

// selectOnWriter is getOnWriter for many rows.
func (db *conn) selectOnWriter(ctx context.Context, dest any, query string, args ...any) error {
	if s := db.stmts.get(db.w, query); s != nil {
		return s.SelectContext(ctx, dest, args...)
	}
	return db.w.SelectContext(ctx, dest, query, args...)
}

// GetContext reads one row in the transaction through a cached prepared statement.
func (tx *Tx) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	ctx = tx.statementContext(ctx)
	if s := tx.db.stmts.get(tx.db.w, query); s != nil {
		return tx.StmtxContext(ctx, s).GetContext(ctx, dest, args...)
	}
	return tx.Tx.GetContext(ctx, dest, query, args...)
}

// SelectContext reads rows in the transaction through a cached prepared statement.
func (tx *Tx) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	ctx = tx.statementContext(ctx)
	if s := tx.db.stmts.get(tx.db.w, query); s != nil {
		return tx.StmtxContext(ctx, s).SelectContext(ctx, dest, args...)
	}
	return tx.Tx.SelectContext(ctx, dest, query, args...)
}

// readDB is the reader pool, running reads through cached prepared
// statements as write transactions do.
type readDB struct {
	*sqlx.DB
	stmts stmtCache
	// tiles is the proofs' tile cache of this handle (tileCacheOf); it
	// goes with the handle when the handle is closed.
	tilesOnce sync.Once
	tiles     *tileCache
}

// GetContext reads one row through a cached prepared statement.
func (r *readDB) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	if s := r.stmts.get(r.DB, query); s != nil {
		return s.GetContext(ctx, dest, args...)
	}
	return r.DB.GetContext(ctx, dest, query, args...)
}

// SelectContext reads rows through a cached prepared statement.
func (r *readDB) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	if s := r.stmts.get(r.DB, query); s != nil {
		return s.SelectContext(ctx, dest, args...)
	}
	return r.DB.SelectContext(ctx, dest, query, args...)
}
