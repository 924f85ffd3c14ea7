// Package sqlstore is Countersign's one storage adapter: sqlx over PostgreSQL
// (lib/pq) and embedded SQLite (modernc.org/sqlite), with the same queries
// written once with ? placeholders and rebound per dialect. It implements the
// store interfaces of the domain packages, and writes every state change and
// its audit event in one transaction.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/internal/sealbox"
	"github.com/countersign/countersign/migrations"
	"github.com/countersign/countersign/review"
)

func init() {
	// modernc registers itself as "sqlite", which sqlx does not know; tell
	// sqlx it uses ? placeholders.
	sqlx.BindDriver("sqlite", sqlx.QUESTION)
}

// DB is a handle on one Countersign database: one store per aggregate
// (identity, case files, review, audit), each implementing its domain's
// store interface, over one shared connection and transaction helper. The
// stores' methods are promoted, so a *DB serves wherever any of them does.
type DB struct {
	*conn
	*IdentityStore
	*CaseStore
	*ReviewStore
	*AuditStore
	*ClientIdentityStore
	*AgendaStore
	*RetentionStore
}

// IdentityStore keeps teams, users, tokens and web sessions (identity.Store).
type IdentityStore struct{ *conn }

// CaseStore keeps cases, parties, notes and consent (casefile.Store).
type CaseStore struct{ *conn }

// ReviewStore keeps drafts, decisions, the drafting queue and the signed
// record (review.Store).
type ReviewStore struct{ *conn }

// AuditStore keeps the audit log, its tree and checkpoints (audit.Log,
// audit.LogStore, audit.StatsReader).
type AuditStore struct{ *conn }

// conn is what the stores share: the connections, the dialect, the
// transaction helper and the settings every rule reads.
type conn struct {
	// w takes every write. On SQLite it is one connection, because SQLite
	// has a single writer and a pool of writers would only trade waiting
	// for SQLITE_BUSY errors. On PostgreSQL w and r are the same pool.
	w *sqlx.DB
	// r serves reads outside write transactions (WAL lets SQLite readers
	// run beside the writer).
	r *readDB

	dialect dialect
	dsn     string

	// Now returns the current time; tests replace it. It is read once
	// when a transaction begins, so every row of a transaction agrees.
	Now func() time.Time

	// RequireConsent makes draft requests need the client's recorded
	// consent to AI-assisted drafting (see casefile.DraftingAllowed). Open
	// sets it; the service reads COUNTERSIGN_REQUIRE_CONSENT.
	RequireConsent bool

	// Policy holds the sign-off rules; nil means review.DefaultPolicy().
	Policy *review.Policy
	// Location is the service's time zone, in which the agenda reads
	// all-day dates; nil means agenda.DefaultTimeZone.
	Location *time.Location
	// Rand returns uniform numbers in [0, 1) for vigilance checks; tests
	// replace it. nil means math/rand/v2.
	Rand func() float64

	// TokenCache is how long an accepted API token is accepted again
	// without a query; 0 (the default) reads the database on every call.
	// The service sets it from COUNTERSIGN_TOKEN_CACHE.
	TokenCache time.Duration
	tokens     tokenCache
	// scopes holds the read scope of cases read lately (case_read.go).
	scopes scopeCache
	// oldNodes is whether the database holds release 1.0.0's tree nodes
	// (keepsNodes): 0 not asked yet, 1 no, 2 yes.
	oldNodes atomic.Int32
	// tiledTo is the log's size when this process last brought the tiles
	// up to it (sequenceTx).
	tiledTo atomic.Uint64

	// EventKey authenticates the audit events this process writes, and
	// those the sequencer accepts (see sequenceOnce): every process that
	// shares the database must have the same one. Writing or sequencing
	// an event without it fails. The service reads COUNTERSIGN_EVENT_KEY.
	EventKey audit.EventKey
	// OnRefused, if set, is told of each pending event the sequencer
	// refused, after the refusal is committed.
	OnRefused func(RefusedEvent)

	// CaseKeys is the master keyring that wraps the per-case keys sealing
	// case text at rest (casekeys.go): every process that shares the
	// database must read the same file. Writing or reading a case's text
	// without it fails. The service reads COUNTERSIGN_CASE_KEYRING.
	CaseKeys *sealbox.Keyring
	keyCache caseKeyCache

	// group batches SQLite's write transactions; nil on PostgreSQL, where
	// transactions run side by side.
	group *groupCommit

	// sequenced is signalled after each commit that appended audit events,
	// so the sequencer can pick them up without polling.
	mu        sync.Mutex
	sequenced chan struct{}

	stmts stmtCache

	// readLogOff, when set and true, makes staff reads write no access
	// event: the instrument of `countersign bench --unlogged-reads`
	// (BenchReadLogSwitch), never a setting of the service.
	readLogOff *atomic.Bool
}

// BenchReadLogSwitch installs the benchmark's switch of the access log of
// staff reads: while off is true, readEvent writes nothing. Only
// `countersign bench --unlogged-reads` calls it, to compare a logged read
// with an unlogged one under the same load; the service never does.
func (db *DB) BenchReadLogSwitch(off *atomic.Bool) { db.readLogOff = off }

// IsPostgres reports whether dsn names a PostgreSQL database, as Open
// reads it: a dsn starting with postgres:// or postgresql://.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open connects to the database named by dsn and applies the migrations.
// A dsn starting with postgres:// or postgresql:// selects PostgreSQL
// (IsPostgres); anything else is a SQLite file path (or a sqlite: / file:
// URI).
func Open(ctx context.Context, dsn string) (*DB, error) {
	db := &conn{dsn: dsn, Now: time.Now, RequireConsent: true, sequenced: make(chan struct{}, 1)}
	var private []string // files of a new SQLite database, for the service's user only
	if IsPostgres(dsn) {
		db.dialect = postgres{}
		x, err := sqlx.Open("postgres", withBinaryParameters(dsn))
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		x.SetMaxOpenConns(32)
		x.SetMaxIdleConns(32)
		x.SetConnMaxIdleTime(5 * time.Minute)
		db.w, db.r = x, &readDB{DB: x}
	} else {
		db.dialect = sqliteDialect{}
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
		}
		created, err := createPrivate(path)
		if err != nil {
			return nil, err
		}
		if created {
			private = []string{path + "-wal", path + "-shm"}
		}
		// foreign_keys: SQLite does not enforce REFERENCES without it.
		// WAL: readers do not block the writer, nor the writer readers.
		// busy_timeout: wait for the write lock instead of failing.
		// synchronous=NORMAL: in WAL mode a commit survives a process
		// crash; only an OS crash may lose the last commits.
		// _txlock=immediate: a write transaction takes the write lock at
		// BEGIN, so two transactions never deadlock upgrading read locks.
		// _time_integer_format=unix_micro: times are stored as integer
		// microseconds, so SQL comparisons and ordering are exact (the
		// default text form trims trailing zeros and compares wrongly).
		q := url.Values{"_time_integer_format": {"unix_micro"}, "_inttotime": {"1"}}
		for _, p := range []string{"foreign_keys(1)", "journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)",
			// secure_delete: freed cells are overwritten with zeros, so an
			// erased text does not linger in the file (retention.go).
			"secure_delete(1)"} {
			q.Add("_pragma", p)
		}
		wq := url.Values{"_txlock": {"immediate"}}
		for k, v := range q {
			wq[k] = v
		}
		w, err := sqlx.Open("sqlite", "file:"+path+"?"+wq.Encode())
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		w.SetMaxOpenConns(1)
		r, err := sqlx.Open("sqlite", "file:"+path+"?"+q.Encode()+"&mode=ro")
		if err != nil {
			return nil, fmt.Errorf("open sqlite reader: %w", err)
		}
		r.SetMaxOpenConns(4)
		db.w, db.r = w, &readDB{DB: r}
		db.group = newGroupCommit(db)
	}
	if err := db.w.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	// SQLite made the WAL and shared-memory files with the database's
	// mode; chmod says so whatever the platform's SQLite does.
	for _, p := range private {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			db.Close()
			return nil, fmt.Errorf("restrict %s: %w", p, err)
		}
	}
	return &DB{conn: db, IdentityStore: &IdentityStore{db}, CaseStore: &CaseStore{db}, ReviewStore: &ReviewStore{db},
		AuditStore: &AuditStore{db}, ClientIdentityStore: &ClientIdentityStore{db},
		AgendaStore: &AgendaStore{db}, RetentionStore: &RetentionStore{db}}, nil
}

// createPrivate creates the SQLite file at path, empty and readable by
// the service's user only, unless it exists. SQLite gives the -wal and
// -shm files it creates beside it the same mode, whatever the umask.
func createPrivate(path string) (bool, error) {
	if path == "" || strings.HasPrefix(path, ":memory:") {
		return false, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create database file: %w", err)
	}
	// The mode given to open is filtered by the umask, which can only take
	// permissions away; chmod makes it exactly 0600 all the same.
	err = f.Chmod(0o600)
	return err == nil, errors.Join(err, f.Close())
}

// Close closes the database handles.
func (db *conn) Close() error {
	if db.group != nil {
		db.group.close()
	}
	db.stmts.close()
	err := db.w.Close()
	db.r.stmts.close()
	if db.r.DB != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// Dialect returns "postgres" or "sqlite".
func (db *conn) Dialect() string { return db.dialect.name() }

// Ping checks that the database answers; /readyz uses it.
func (db *conn) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return countersign.Errorf(countersign.EUNAVAILABLE, "The database is not reachable.")
	}
	return nil
}

// Migrate applies every migration not yet recorded in schema_migrations, each
// in its own transaction. Migrations are forward-only.
func (db *conn) Migrate(ctx context.Context) error {
	dir := db.dialect.name()
	// Look before creating: a service role without CREATE on the schema
	// (AUDIT.md, "Least privilege on PostgreSQL") can then start once the
	// owner has migrated.
	var applied []string
	if err := db.w.SelectContext(ctx, &applied, `SELECT name FROM schema_migrations`); err != nil {
		if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
	}
	names, err := fs.Glob(migrations.FS, dir+"/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		// A migration recorded stays applied (they are forward-only), so
		// an up-to-date database is opened with this one read, not a
		// locked transaction per migration; migrateFile checks again
		// under the lock.
		if slices.Contains(applied, filepath.Base(name)) {
			continue
		}
		if err := db.migrateFile(ctx, name); err != nil {
			return err
		}
	}
	// After every migration, so that it runs on the schema this code knows.
	// The tiles first: the legacy events are then sequenced onto them.
	if err := db.backfillTiles(ctx); err != nil {
		return err
	}
	return db.sequenceLegacy(ctx)
}

func (db *conn) migrateFile(ctx context.Context, name string) error {
	base := filepath.Base(name)
	tx, err := db.w.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration %s: %w", base, err)
	}
	defer tx.Rollback()
	// Replicas starting together must not apply a migration twice.
	if err := db.dialect.lockMigrations(ctx, tx); err != nil {
		return fmt.Errorf("lock migrations: %w", err)
	}
	var n int
	if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE name = ?`), base); err != nil {
		return fmt.Errorf("check migration %s: %w", base, err)
	} else if n > 0 {
		return nil
	}
	buf, err := fs.ReadFile(migrations.FS, name)
	if err != nil {
		return fmt.Errorf("read migration %s: %w", base, err)
	}
	if _, err := tx.ExecContext(ctx, string(buf)); err != nil {
		return fmt.Errorf("apply migration %s: %w", base, err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO schema_migrations (name) VALUES (?)`), base); err != nil {
		return fmt.Errorf("record migration %s: %w", base, err)
	}
	return tx.Commit()
}

// Tx is a write transaction with the time fixed when it began, and the audit
// events it appends.
type Tx struct {
	*sqlx.Tx
	db      *conn
	now     time.Time
	audited bool
	// batched: the transaction is one savepoint of a group commit
	// (SQLite), whose statements must not be cancelled half way.
	batched bool
}

// beginTx starts a write transaction.
func (db *conn) beginTx(ctx context.Context) (*Tx, error) {
	tx, err := db.w.BeginTxx(ctx, nil)
	if err != nil {
		return nil, db.translate(fmt.Errorf("begin: %w", err))
	}
	return &Tx{Tx: tx, db: db, now: db.stamp()}, nil
}

// stamp is the current time (Now) as both databases keep it: UTC, to the
// microsecond (PostgreSQL keeps no more, so both dialects agree). Every
// row a transaction writes takes its time from here (Tx.now), as do the
// writes made without one.
func (db *conn) stamp() time.Time {
	return db.Now().UTC().Truncate(time.Microsecond)
}

// statementTx is a Tx that runs no statement of its own: the writes'
// builders take one for its time and its database, for writes that then
// go out as one statement without a transaction (fencedWrites).
func (db *conn) statementTx() *Tx {
	return &Tx{db: db, now: db.stamp()}
}

// Commit commits the transaction and wakes the sequencer if it appended events.
func (tx *Tx) Commit() error {
	if err := tx.Tx.Commit(); err != nil {
		return tx.db.translate(fmt.Errorf("commit: %w", err))
	}
	if tx.audited {
		tx.db.wakeSequencer()
	}
	return nil
}

// withTx runs fn in a write transaction and commits it, or rolls back on error.
func (db *conn) withTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	ctx, end := db.traceTx(ctx)
	defer func() { end(err) }()
	if db.group != nil {
		return db.group.do(ctx, fn)
	}
	tx, err := db.beginTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return db.translate(err)
	}
	return tx.Commit()
}

// translate turns driver errors into domain errors by their codes.
func (db *conn) translate(err error) error {
	if err == nil || countersign.ErrorCode(err) != countersign.EINTERNAL {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return countersign.Errorf(countersign.ENOTFOUND, "Not found.")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return db.dialect.translate(err)
}

// dialect holds the few things PostgreSQL and SQLite do differently; one
// method per difference, so callers never branch on the driver name.
type dialect interface {
	name() string
	// forUpdate is appended to a SELECT that must lock its rows until commit.
	forUpdate() string
	// forCaseWrite is appended to the SELECT of the case a transaction adds
	// content to: it waits for, and is waited for by, the FOR UPDATE of
	// closing and erasing the case, but not the key checks of inserts.
	forCaseWrite() string
	// skipLocked is appended to a SELECT that claims rows other
	// transactions may be claiming at the same time.
	skipLocked() string
	lockMigrations(ctx context.Context, tx *sqlx.Tx) error
	translate(err error) error
	// advisoryLocks reports whether session advisory locks exist, with
	// which replicas elect one of them to sequence the audit log.
	advisoryLocks() bool
	// writableCTE reports whether a statement's WITH clause may insert
	// rows, so that a change and its audit event can be one statement:
	// one round trip, and atomic without BEGIN and COMMIT.
	writableCTE() bool
	// rows returns a query of the rows whose columns are cols, with its
	// arguments (sqlstore/rows.go).
	rows(cols ...any) (string, []any)
	// explain returns the query plan of query, one line per plan node.
	explain(ctx context.Context, q *sqlx.DB, query string, args ...any) (string, error)
	// snapshot returns the options of a read transaction that sees one
	// state of the whole database throughout (sqlstore/casedata.go).
	snapshot() *sql.TxOptions
}

type postgres struct{}

func (postgres) name() string        { return "postgres" }
func (postgres) writableCTE() bool   { return true }
func (postgres) advisoryLocks() bool { return true }
func (postgres) forUpdate() string   { return " FOR UPDATE" }
func (postgres) skipLocked() string  { return " FOR UPDATE SKIP LOCKED" }
func (postgres) lockMigrations(ctx context.Context, tx *sqlx.Tx) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7263510)`)
	return err
}

// forCaseWrite: FOR NO KEY UPDATE rather than FOR SHARE, so a write that
// goes on to update the case row (an assignment) or to lock it FOR UPDATE
// (consent, drafts) needs no stronger lock than it holds: no deadlock.
func (postgres) forCaseWrite() string { return " FOR NO KEY UPDATE" }

func (postgres) translate(err error) error {
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return &conflictError{err: err}
		case "57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004", "53300":
			return unavailable(err)
		case "40P01", "40001":
			// A deadlock or a serialization failure: PostgreSQL rolled the
			// transaction back, so nothing of it was written, and the same
			// request may well pass a moment later. A person reads a
			// conflict to try again, not an internal error.
			return &contendedError{cause: err}
		}
		return err
	}
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, driverBadConn) || isNetError(err) {
		return unavailable(err)
	}
	return err
}

func (postgres) explain(ctx context.Context, q *sqlx.DB, query string, args ...any) (string, error) {
	var lines []string
	err := q.SelectContext(ctx, &lines, "EXPLAIN "+query, args...)
	return strings.Join(lines, "\n"), err
}

type sqliteDialect struct{}

func (sqliteDialect) explain(ctx context.Context, q *sqlx.DB, query string, args ...any) (string, error) {
	var rows []struct {
		ID     int    `db:"id"`
		Parent int    `db:"parent"`
		Unused int    `db:"notused"`
		Detail string `db:"detail"`
	}
	err := q.SelectContext(ctx, &rows, "EXPLAIN QUERY PLAN "+query, args...)
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = r.Detail
	}
	return strings.Join(lines, "\n"), err
}

func (sqliteDialect) name() string                                          { return "sqlite" }
func (sqliteDialect) advisoryLocks() bool                                   { return false }
func (sqliteDialect) writableCTE() bool                                     { return false }
func (sqliteDialect) forUpdate() string                                     { return "" }
func (sqliteDialect) forCaseWrite() string                                  { return "" }
func (sqliteDialect) skipLocked() string                                    { return "" }
func (sqliteDialect) lockMigrations(ctx context.Context, tx *sqlx.Tx) error { return nil }
func (sqliteDialect) translate(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &conflictError{err: err}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return unavailable(err)
		}
	}
	return err
}

// conflictError is a unique violation; callers turn it into a readable
// ECONFLICT where they know which value was taken.
type conflictError struct{ err error }

func (e *conflictError) Error() string { return "unique violation: " + e.err.Error() }
func (e *conflictError) Unwrap() error { return e.err }

func isConflict(err error) bool {
	var c *conflictError
	return errors.As(err, &c)
}

// unavailableError keeps the driver's error for the log while the person
// sees EUNAVAILABLE ("try again").
type unavailableError struct {
	public *countersign.Error
	cause  error
}

func (e *unavailableError) Error() string   { return "database unavailable: " + e.cause.Error() }
func (e *unavailableError) Unwrap() []error { return []error{e.public, e.cause} }

func unavailable(err error) error {
	return &unavailableError{public: countersign.Errorf(countersign.EUNAVAILABLE, "The database is briefly unavailable. Please try again in a moment."), cause: err}
}

// contendedError keeps the driver's deadlock or serialization failure for
// the log while the person sees ECONFLICT.
type contendedError struct{ cause error }

func (e *contendedError) Error() string {
	return "transaction rolled back by the database: " + e.cause.Error()
}
func (e *contendedError) Unwrap() []error {
	return []error{countersign.Errorf(countersign.ECONFLICT, "Someone changed the same records at the same moment, so nothing was saved. Please try again."), e.cause}
}

// queryer is what reads need from either the reader pool or a transaction.
type queryer interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
	Rebind(query string) string
}

// Raw returns the write handle, for tests that play an attacker with
// database access and for maintenance tools. The service never uses it.
func (db *conn) Raw() *sqlx.DB { return db.w }

// withBinaryParameters asks lib/pq to send each parameterised statement in
// one round trip (Parse, Bind, Execute together) instead of two, unless the
// DSN says otherwise. Every statement pays the saving.
func withBinaryParameters(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Query().Has("binary_parameters") {
		return dsn
	}
	q := u.Query()
	q.Set("binary_parameters", "yes")
	u.RawQuery = q.Encode()
	return u.String()
}
