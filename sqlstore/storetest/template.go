package storetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/lib/pq"

	"github.com/countersign/countersign/sqlstore"
)

// templates is what Main sets up, once per test binary and only when a test
// asks for it: a migrated SQLite file and a migrated PostgreSQL database,
// which each test copies instead of migrating a database of its own.
var templates templateSet

type templateSet struct {
	enabled atomic.Bool // set by Main, which removes the templates

	mu         sync.Mutex
	sqliteDone bool
	sqliteDir  string
	sqlitePath string
	sqliteErr  error

	srvDone bool
	srv     *pgServer
	srvErr  error

	// filled holds the templates of FilledLogDSN, by kind and log size.
	filledMu sync.Mutex
	filled   map[filledKey]filledTemplate

	pgDone bool
	pgName string
	pgErr  error
}

// sqlite returns the path of the migrated SQLite template, creating it on
// first use.
func (ts *templateSet) sqlite() (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.sqliteDone {
		return ts.sqlitePath, ts.sqliteErr
	}
	ts.sqliteDone = true
	ts.sqliteDir, ts.sqliteErr = os.MkdirTemp("", "countersign-storetest-")
	if ts.sqliteErr != nil {
		return "", ts.sqliteErr
	}
	path := filepath.Join(ts.sqliteDir, "template.db")
	db, err := sqlstore.Open(context.Background(), path)
	if err != nil {
		ts.sqliteErr = err
		return "", err
	}
	// Fold the write-ahead log into the file, so that the file alone is
	// the migrated database (copySQLite still copies a leftover log).
	_, err = db.Raw().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	if err = errors.Join(err, db.Close()); err != nil {
		ts.sqliteErr = err
		return "", err
	}
	ts.sqlitePath = path
	return path, nil
}

// copySQLite copies the database file src, and its write-ahead log if it
// has one, to dst. The shared-memory index is rebuilt by whoever opens dst.
func copySQLite(src, dst string) error {
	if err := copyFile(src, dst); err != nil {
		return err
	}
	if fi, err := os.Stat(src + "-wal"); err == nil && fi.Size() > 0 {
		return copyFile(src+"-wal", dst+"-wal")
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// server returns the PostgreSQL server of COUNTERSIGN_TEST_DATABASE_URL,
// or nil when the variable is not set.
func (ts *templateSet) server() (*pgServer, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if !ts.srvDone {
		ts.srvDone = true
		if base := os.Getenv(EnvDatabaseURL); base != "" {
			ts.srv, ts.srvErr = openServer(base)
		}
	}
	return ts.srv, ts.srvErr
}

// postgres returns the name of the migrated PostgreSQL template database,
// creating it on first use.
func (ts *templateSet) postgres(srv *pgServer) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.pgDone {
		return ts.pgName, ts.pgErr
	}
	ts.pgDone = true
	name := srv.prefix + "_tpl"
	ts.pgErr = srv.createTemplate(name)
	if ts.pgErr == nil {
		ts.pgName = name
		srv.copyAhead(name)
	}
	return ts.pgName, ts.pgErr
}

// close removes the templates; Main calls it when every test is done.
func (ts *templateSet) close() error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var err error
	if ts.sqliteDir != "" {
		err = os.RemoveAll(ts.sqliteDir)
	}
	if ts.srv != nil {
		ts.srv.stopCopying()
		err = errors.Join(err, ts.srv.waitDropped())
		if ts.pgName != "" {
			err = errors.Join(err, ts.srv.drop(ts.pgName))
		}
		for k, f := range ts.filled {
			if k.postgres && f.name != "" {
				err = errors.Join(err, ts.srv.drop(f.name))
			}
		}
		err = errors.Join(err, ts.srv.admin.Close())
	}
	return err
}

// pgServer creates and drops the tests' databases on the server of
// COUNTERSIGN_TEST_DATABASE_URL, through a connection to the database that
// URL names. The databases are named after that one, so test runs pointed
// at different databases (CI creates one per run) never meet:
//
//	<database>__<host>_<pid>_tpl   the migrated template of one test binary
//	<database>__<host>_<pid>_<n>   the n-th test database of that binary
//
// where host is a short hash of the machine's name and pid the test
// binary's process id.
type pgServer struct {
	base   *url.URL
	admin  *sql.DB
	prefix string
	seq    atomic.Int64

	// PostgreSQL (up to 15 at least) checkpoints on every DROP DATABASE,
	// which takes from 0.1 s to over 1 s on a busy machine. Under Main the
	// tests do not wait for it: their databases are dropped in the
	// background, up to eight at a time, since drops that wait together
	// share one checkpoint; Main waits until all are gone.
	dropMu      sync.Mutex
	dropQueue   []string
	dropRunning int
	dropErr     error
	dropIdle    *sync.Cond

	// Copying the template takes as long (CREATE DATABASE writes the
	// whole copy to the WAL), so copies are made ahead, one at a time,
	// while the tests run: a test takes a ready one, and waits only when
	// the tests use them up faster than they are made.
	ahead     chan string // copies of aheadFrom, ready for a test
	aheadFrom string
	aheadStop chan struct{}
}

func openServer(base string) (*pgServer, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %v", EnvDatabaseURL, err)
	}
	admin, err := sql.Open("postgres", base)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", redact(base), err)
	}
	// Room for the background drops and a few creations beside them.
	admin.SetMaxOpenConns(12)
	if err := admin.Ping(); err != nil {
		admin.Close()
		return nil, fmt.Errorf("connect to %s: %w", redact(base), err)
	}
	db := dbNamePart(strings.TrimPrefix(u.Path, "/"))
	host, _ := os.Hostname()
	h := sha256.Sum256([]byte(host))
	hostTag := hex.EncodeToString(h[:2])
	s := &pgServer{base: u, admin: admin, prefix: fmt.Sprintf("%s__%s_%d", db, hostTag, os.Getpid())}
	s.dropIdle = sync.NewCond(&s.dropMu)
	s.dropStale(db, hostTag)
	return s, nil
}

// dbNamePart turns a database name into a prefix that leaves room, within
// PostgreSQL's 63 bytes, for the suffixes pgServer adds: lower-case
// letters, digits and underscores, at most 31 of them.
func dbNamePart(name string) string {
	if name == "" {
		name = "postgres"
	}
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '_'
	}, name)
	if clean == name && len(clean) <= 31 {
		return clean
	}
	h := sha256.Sum256([]byte(name))
	return fmt.Sprintf("%.24s_%x", clean, h[:3])
}

// dropStale drops the databases that earlier test binaries on this machine
// left behind when they were killed before their cleanup ran: those named
// after the same database and host, whose process no longer exists.
// Failing to, it leaves them.
func (s *pgServer) dropStale(db, hostTag string) {
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(db+"__"+hostTag) + `_([0-9]+)_(tpl|[0-9]+)$`)
	rows, err := s.admin.Query(`SELECT datname FROM pg_database`)
	if err != nil {
		return
	}
	var stale []string
	for rows.Next() {
		var name string
		if rows.Scan(&name) != nil {
			break
		}
		if m := re.FindStringSubmatch(name); m != nil {
			if pid, err := strconv.Atoi(m[1]); err == nil && pid != os.Getpid() && !processExists(pid) {
				stale = append(stale, name)
			}
		}
	}
	rows.Close()
	for _, name := range stale {
		_ = s.drop(name)
	}
}

func processExists(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// createTemplate creates the database name and applies the migrations to
// it, then closes every connection to it: PostgreSQL copies a database
// only while nobody is connected to it.
func (s *pgServer) createTemplate(name string) error {
	if err := s.drop(name); err != nil {
		return err
	}
	if _, err := s.admin.Exec(`CREATE DATABASE ` + pq.QuoteIdentifier(name) + ` TEMPLATE template0`); err != nil {
		return fmt.Errorf("create database %s: %w (the role of %s needs CREATEDB)", name, err, EnvDatabaseURL)
	}
	db, err := sqlstore.Open(context.Background(), s.url(name))
	if err != nil {
		return errors.Join(err, s.drop(name))
	}
	if err := db.Close(); err != nil {
		return errors.Join(err, s.drop(name))
	}
	// Nobody may connect to the template by mistake (which would make
	// every later copy fail); dropping it still works.
	if _, err := s.admin.Exec(`ALTER DATABASE ` + pq.QuoteIdentifier(name) + ` WITH ALLOW_CONNECTIONS false`); err != nil {
		return errors.Join(fmt.Errorf("close template %s: %w", name, err), s.drop(name))
	}
	return nil
}

// copyAhead starts making copies of the template from before the tests
// ask for them, two at most. It stops at the first error: create then
// makes each copy itself, and reports the error to the test.
func (s *pgServer) copyAhead(from string) {
	s.ahead, s.aheadFrom, s.aheadStop = make(chan string, 1), from, make(chan struct{})
	go func() {
		defer close(s.ahead)
		for {
			name, err := s.createNow(from)
			if err != nil {
				return
			}
			select {
			case s.ahead <- name:
			case <-s.aheadStop:
				s.dropLater(name)
				return
			}
		}
	}()
}

// stopCopying stops copyAhead and drops the copies no test took.
func (s *pgServer) stopCopying() {
	if s.ahead == nil {
		return
	}
	close(s.aheadStop)
	for name := range s.ahead {
		s.dropLater(name)
	}
}

// create returns a new database, a copy of the database from: one that
// copyAhead made, or a new one.
func (s *pgServer) create(from string) (string, error) {
	if s.ahead != nil && from == s.aheadFrom {
		if name, ok := <-s.ahead; ok {
			return name, nil
		}
	}
	return s.createNow(from)
}

// createNow creates a new database as a copy of the database from and
// returns its name.
func (s *pgServer) createNow(from string) (string, error) {
	name := fmt.Sprintf("%s_%d", s.prefix, s.seq.Add(1))
	if _, err := s.admin.Exec(`CREATE DATABASE ` + pq.QuoteIdentifier(name) + ` TEMPLATE ` + pq.QuoteIdentifier(from)); err != nil {
		return "", fmt.Errorf("create database %s from %s: %w (the role of %s needs CREATEDB)", name, from, err, EnvDatabaseURL)
	}
	return name, nil
}

// dropLater queues the database name to be dropped in the background.
func (s *pgServer) dropLater(name string) {
	const droppers = 8
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	s.dropQueue = append(s.dropQueue, name)
	if s.dropRunning < droppers {
		s.dropRunning++
		go s.dropQueued()
	}
}

func (s *pgServer) dropQueued() {
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	for len(s.dropQueue) > 0 {
		name := s.dropQueue[0]
		s.dropQueue = s.dropQueue[1:]
		s.dropMu.Unlock()
		err := s.drop(name)
		s.dropMu.Lock()
		s.dropErr = errors.Join(s.dropErr, err)
	}
	s.dropRunning--
	s.dropIdle.Broadcast()
}

// waitDropped waits until every database queued by dropLater is dropped,
// and returns the errors of the drops.
func (s *pgServer) waitDropped() error {
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	for s.dropRunning > 0 {
		s.dropIdle.Wait()
	}
	return s.dropErr
}

// drop drops the database name, closing whatever connections it still has.
func (s *pgServer) drop(name string) error {
	if _, err := s.admin.Exec(`DROP DATABASE IF EXISTS ` + pq.QuoteIdentifier(name) + ` WITH (FORCE)`); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// url returns the URL of the database name: the base URL, with its
// credentials and parameters, naming another database.
func (s *pgServer) url(name string) string {
	u := *s.base
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}
