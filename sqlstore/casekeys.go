package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/internal/sealbox"
)

// Per-case keys (issue 19, item 3; migration 0017). Every case has a
// random data key that seals its text at rest (sealbox.CaseKey), kept in
// case_keys only wrapped by the master keyring (DB.CaseKeys), a file
// outside the database. The text is sealed where a row is written and
// opened where it is read, in one place per kind of row, with the row's
// table, column and id as the seal's additional data, so a sealed text
// opens only in its own place. Plaintext of an earlier release opens as
// it is, until `countersign keys encrypt-existing` seals it.
//
// Unwrapped keys are cached in memory (bounded, by the key's own random
// id), but every write reads its case's key row in its transaction (on
// PostgreSQL locking it against a concurrent erasure, or holding the
// case's write lock, which an erasure must take first: review_decide.go),
// so a key shredded by any replica is never used to write again; reads
// also look at the row, so a shredded key opens nothing anywhere once its
// erasure commits.

// caseKeyCacheSize bounds the unwrapped keys kept in memory: a few
// thousand open cases per replica at 32 bytes (and an AES-GCM state) each.
const caseKeyCacheSize = 4096

// caseKeyCache is what each connection keeps of the case keys.
type caseKeyCache struct {
	once sync.Once
	// keys maps a data key's id to the key, unwrapped.
	keys *lru.Cache[string, *sealbox.CaseKey]
	// ids maps a case id to its data key's id: a hint, which the single
	// statement that adds a note checks against case_keys in SQL.
	ids *lru.Cache[string, string]
	// sealing is set once a write saw case_text_sealing's row: the
	// database seals text when written, for good (migration 0017).
	sealing atomic.Bool
}

func (db *conn) caseKeyCache() *caseKeyCache {
	c := &db.keyCache
	c.once.Do(func() {
		c.keys, _ = lru.New[string, *sealbox.CaseKey](caseKeyCacheSize)
		c.ids, _ = lru.New[string, string](caseKeyCacheSize)
	})
	return c
}

// errNoCaseKeyring is returned when case text is written or opened by a
// DB whose CaseKeys was not set.
var errNoCaseKeyring = errors.New("sqlstore: no case master keyring (set DB.CaseKeys after Open)")

// errCaseKeyShredded refuses a write to a case whose key was destroyed by
// its erasure.
var errCaseKeyShredded = countersign.Errorf(countersign.ECONFLICT, "This case's content has been erased: nothing can be written to it any more.")

type caseKeyRow struct {
	CaseID      string     `db:"case_id"`
	KeyID       string     `db:"key_id"`
	MasterKeyID string     `db:"master_key_id"`
	Wrapped     []byte     `db:"wrapped_key"`
	CreatedAt   time.Time  `db:"created_at"`
	ShreddedAt  *time.Time `db:"shredded_at"`
}

const caseKeyColumns = `case_id, key_id, master_key_id, wrapped_key, created_at, shredded_at`

// unwrap returns the data key of a row that is not shredded, from the
// cache or unwrapped by the keyring.
func (db *conn) unwrap(r *caseKeyRow) (*sealbox.CaseKey, error) {
	c := db.caseKeyCache()
	if k, ok := c.keys.Get(r.KeyID); ok {
		return k, nil
	}
	if db.CaseKeys == nil {
		return nil, errNoCaseKeyring
	}
	dek, err := db.CaseKeys.Unwrap(r.MasterKeyID, r.CaseID, r.KeyID, r.Wrapped)
	if err != nil {
		return nil, fmt.Errorf("unwrap the key of case %s: %w", r.CaseID, err)
	}
	k, err := sealbox.NewCaseKey(dek)
	if err != nil {
		return nil, err
	}
	c.keys.Add(r.KeyID, k)
	c.ids.Add(r.CaseID, r.KeyID)
	return k, nil
}

// insertCaseKey creates caseID's data key in tx, wrapped by the primary
// master key. It writes nothing when the case has a key already (another
// transaction made it first), and reports whether it wrote.
func (tx *Tx) insertCaseKey(ctx context.Context, caseID string) (bool, error) {
	db := tx.db
	if db.CaseKeys == nil {
		return false, errNoCaseKeyring
	}
	keyID := countersign.NewID("ck")
	dek := sealbox.NewDataKey()
	master, wrapped, err := db.CaseKeys.Wrap(caseID, keyID, dek)
	if err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, tx.Rebind(`
		INSERT INTO case_keys (case_id, key_id, master_key_id, wrapped_key, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (case_id) DO NOTHING`), caseID, keyID, master, wrapped, tx.now)
	if err != nil {
		return false, fmt.Errorf("insert case key: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// sealRow is a case key row read for a write, with whether the database
// seals text yet.
type sealRow struct {
	caseKeyRow
	Sealing int `db:"sealing"`
}

// sealingColumn says, in a write's query, whether the database seals text.
const sealingColumn = `(SELECT COUNT(*) FROM case_text_sealing) AS sealing`

// keyFor returns the key a write seals with: nil while a database
// upgraded from 1.0 does not seal yet (the text is then written as it is,
// for the replicas of 1.0 to read), and an error for a shredded key.
func (db *conn) keyFor(r *sealRow) (*sealbox.CaseKey, error) {
	if r.Wrapped == nil {
		db.forgetCaseKey(r.CaseID)
		return nil, errCaseKeyShredded
	}
	if r.Sealing == 0 {
		return nil, nil
	}
	db.caseKeyCache().sealing.Store(true)
	return db.unwrap(&r.caseKeyRow)
}

// sealer returns what seals caseID's text in tx: the case's key, read from
// its row in tx (locked on PostgreSQL until tx ends, so an erasure waits
// for this write, or this write sees the key gone), or nil while the
// database does not seal yet (keyFor). A case opened before migration
// 0017 gets its key here. A shredded key refuses the write.
func (tx *Tx) sealer(ctx context.Context, caseID string) (*sealbox.CaseKey, error) {
	lock := ""
	if tx.db.dialect.name() == "postgres" {
		lock = " FOR SHARE OF case_keys"
	}
	for range 2 {
		var r sealRow
		err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+caseKeyColumns+`, `+sealingColumn+` FROM case_keys WHERE case_id = ?`+lock), caseID)
		switch {
		case err == nil:
			return tx.db.keyFor(&r)
		case !errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("find case key: %w", err)
		}
		if _, err := tx.insertCaseKey(ctx, caseID); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("case %s: its key could not be created", caseID)
}

// textOpener opens the texts of one case.
type textOpener struct {
	key      *sealbox.CaseKey // nil when the case has no key (yet) or it was shredded
	shredded bool
}

// open returns the text in place w: sealed text opened with the case's
// key, plaintext of an earlier release as it is, and "" for a sealed text
// whose key was shredded by the case's erasure.
func (o textOpener) open(w sealbox.Where, s string) (string, error) {
	if o.shredded && sealbox.IsSealed(s) {
		return "", nil
	}
	t, err := o.key.Open(w, s)
	if err != nil {
		return "", fmt.Errorf("open %s.%s of %s: %w", w.Table, w.Column, w.Row, err)
	}
	return t, nil
}

// opener returns what opens caseID's texts read through q.
func (db *conn) opener(ctx context.Context, q queryer, caseID string) (textOpener, error) {
	var r caseKeyRow
	err := q.GetContext(ctx, &r, q.Rebind(`SELECT `+caseKeyColumns+` FROM case_keys WHERE case_id = ?`), caseID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return textOpener{}, nil
	case err != nil:
		return textOpener{}, db.translate(fmt.Errorf("find case key: %w", err))
	case r.Wrapped == nil:
		db.forgetCaseKey(caseID)
		return textOpener{shredded: true}, nil
	}
	k, err := db.unwrap(&r)
	if err != nil {
		return textOpener{}, err
	}
	return textOpener{key: k}, nil
}

// openers opens the texts of several cases read through q, each case's
// key looked up once.
type openers struct {
	db    *conn
	q     queryer
	cases map[string]textOpener
}

func (db *conn) openers(q queryer) *openers {
	return &openers{db: db, q: q, cases: map[string]textOpener{}}
}

func (o *openers) open(ctx context.Context, caseID string, w sealbox.Where, s string) (string, error) {
	if !sealbox.IsSealed(s) {
		return s, nil
	}
	op, ok := o.cases[caseID]
	if !ok {
		var err error
		if op, err = o.db.opener(ctx, o.q, caseID); err != nil {
			return "", err
		}
		o.cases[caseID] = op
	}
	return op.open(w, s)
}

// forgetCaseKey drops caseID's key from this replica's cache.
func (db *conn) forgetCaseKey(caseID string) {
	c := db.caseKeyCache()
	if id, ok := c.ids.Peek(caseID); ok {
		c.keys.Remove(id)
		c.ids.Remove(caseID)
	}
}

// shredCaseKey destroys, in tx, the key that encrypts caseID's text at
// rest, and returns how many keys it destroyed (0 when the case had none
// or it was destroyed before). The row stays, with its wrapped key gone,
// so that no later write creates a new key for the case. From then on no
// replica writes or opens the case's text with it: each reads the row in
// its transaction. A copy of the database made before (a backup) still
// holds the wrapped key, and opens the text with the master key that
// wrapped it, until that master key is rotated out and retired
// (`countersign keys rotate`, then `keys retire`; SECURITY.md, "Case keys
// and backups"). Erasure calls it in the transaction that writes
// case.erased.
//
// Contract between the retention work (which calls it) and the per-case
// keys work (which fills it in, in this file).
func shredCaseKey(ctx context.Context, tx *Tx, caseID string) (int, error) {
	// A case that never had a key gets a destroyed one, so that no later
	// write gives it a new key.
	if _, err := tx.ExecContext(ctx, tx.Rebind(`
		INSERT INTO case_keys (case_id, key_id, master_key_id, wrapped_key, created_at, shredded_at)
		VALUES (?, ?, '', NULL, ?, ?) ON CONFLICT (case_id) DO NOTHING`), caseID, countersign.NewID("ck"), tx.now, tx.now); err != nil {
		return 0, fmt.Errorf("shred case key: %w", err)
	}
	res, err := tx.ExecContext(ctx, tx.Rebind(`
		UPDATE case_keys SET wrapped_key = NULL, master_key_id = '', shredded_at = ?
		WHERE case_id = ? AND wrapped_key IS NOT NULL`), tx.now, caseID)
	if err != nil {
		return 0, fmt.Errorf("shred case key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	tx.db.forgetCaseKey(caseID)
	return int(n), nil
}

// caseKeyHint returns caseID's key and its id for a write outside a
// transaction, which must check in its own SQL that case_keys still holds
// that key id, unshredded. It returns nil when the case has no usable key:
// the caller then takes the transactional path (sealer), which creates or
// refuses it.
func (db *conn) caseKeyHint(ctx context.Context, caseID string) (*sealbox.CaseKey, string, error) {
	c := db.caseKeyCache()
	if !c.sealing.Load() {
		// Not known to seal yet: the transactional path finds out.
		return nil, "", nil
	}
	if id, ok := c.ids.Get(caseID); ok {
		if k, ok := c.keys.Get(id); ok {
			return k, id, nil
		}
	}
	var r caseKeyRow
	err := db.r.GetContext(ctx, &r, db.r.Rebind(`SELECT `+caseKeyColumns+` FROM case_keys WHERE case_id = ?`), caseID)
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && r.Wrapped == nil):
		return nil, "", nil
	case err != nil:
		return nil, "", db.translate(fmt.Errorf("find case key: %w", err))
	}
	k, err := db.unwrap(&r)
	if err != nil {
		return nil, "", err
	}
	return k, r.KeyID, nil
}

// caseKeySet holds every case's key row, read at once, for a pass over
// many rows of many cases (the case data check), which cannot query while
// it streams.
type caseKeySet struct {
	db   *conn
	rows map[string]*caseKeyRow
}

// loadCaseKeys reads every case key row through q.
func (db *conn) loadCaseKeys(ctx context.Context, q queryer) (*caseKeySet, error) {
	var rows []caseKeyRow
	if err := q.SelectContext(ctx, &rows, `SELECT `+caseKeyColumns+` FROM case_keys`); err != nil {
		return nil, fmt.Errorf("read case keys: %w", err)
	}
	s := &caseKeySet{db: db, rows: make(map[string]*caseKeyRow, len(rows))}
	for i := range rows {
		s.rows[rows[i].CaseID] = &rows[i]
	}
	return s, nil
}

func (s *caseKeySet) opener(caseID string) (textOpener, error) {
	r, ok := s.rows[caseID]
	switch {
	case !ok:
		return textOpener{}, nil
	case r.Wrapped == nil:
		return textOpener{shredded: true}, nil
	}
	k, err := s.db.unwrap(r)
	return textOpener{key: k}, err
}

// openOrKeep returns the text sealed in v, or v itself when it does not
// open: a check then finds that it is not the text committed to.
func (s *caseKeySet) openOrKeep(caseID string, w sealbox.Where, v string) string {
	o, err := s.opener(caseID)
	if err != nil {
		return v
	}
	t, err := o.open(w, v)
	if err != nil {
		return v
	}
	return t
}

// openParty opens a party's personal data in place, each field that does
// not open kept as it is.
func (s *caseKeySet) openParty(r *partyRow) {
	for _, f := range r.partyFields() {
		*f.v = s.openOrKeep(r.CaseID, sealbox.Where{Table: "parties", Column: f.col, Row: r.ID}, *f.v)
	}
}

// Rotation is what RotateCaseKeys did.
type Rotation struct {
	// MasterKeyID is the primary master key every case key is now wrapped by.
	MasterKeyID string
	// Rewrapped counts the case keys this run rewrapped, in Batches
	// transactions; Total counts the case keys (shredded ones aside).
	Rewrapped, Batches, Total int
}

// RotateCaseKeys rewraps every case key that an older master key wraps
// with the keyring's primary key, batch keys per transaction (each batch
// commits on its own, so a run that stops is resumed by running it again:
// it picks up the keys still under older masters). The last transaction,
// once no key is left under an older master, records one
// case_keys.rotated event with the counts. progress, if set, is told after
// each batch.
func (db *AuditStore) RotateCaseKeys(ctx context.Context, batch int, progress func(done int)) (*Rotation, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if db.CaseKeys == nil {
		return nil, errNoCaseKeyring
	}
	if batch <= 0 {
		batch = 500
	}
	primary := db.CaseKeys.Primary()
	rot := &Rotation{MasterKeyID: primary}
	lock := db.dialect.forUpdate()
	for done := false; !done; {
		n := 0 // keys rewrapped by this batch, counted once it commits
		err := db.withTx(ctx, func(tx *Tx) error {
			var rows []caseKeyRow
			if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT `+caseKeyColumns+` FROM case_keys
				WHERE master_key_id <> ? AND wrapped_key IS NOT NULL ORDER BY case_id LIMIT ?`+lock), primary, batch); err != nil {
				return fmt.Errorf("find case keys to rewrap: %w", err)
			}
			for _, r := range rows {
				dek, err := db.CaseKeys.Unwrap(r.MasterKeyID, r.CaseID, r.KeyID, r.Wrapped)
				if err != nil {
					return fmt.Errorf("rewrap the key of case %s: %w", r.CaseID, err)
				}
				m, w, err := db.CaseKeys.Wrap(r.CaseID, r.KeyID, dek)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE case_keys SET master_key_id = ?, wrapped_key = ? WHERE case_id = ? AND key_id = ?`),
					m, w, r.CaseID, r.KeyID); err != nil {
					return fmt.Errorf("rewrap the key of case %s: %w", r.CaseID, err)
				}
			}
			n, done = len(rows), len(rows) < batch
			if !done {
				return nil
			}
			// The last batch: nothing is left under an older master.
			if err := tx.GetContext(ctx, &rot.Total, `SELECT COUNT(*) FROM case_keys WHERE wrapped_key IS NOT NULL`); err != nil {
				return fmt.Errorf("count case keys: %w", err)
			}
			return tx.record(ctx, a, sealbox.ActionMasterKeyRotated, "case_keys", primary, "", audit.Payload{
				"master_key_id": primary,
				"rewrapped":     strconv.Itoa(rot.Rewrapped + n),
				"batches":       strconv.Itoa(rot.Batches + 1),
				"case_keys":     strconv.Itoa(rot.Total),
			})
		})
		if err != nil {
			return rot, err
		}
		rot.Rewrapped, rot.Batches = rot.Rewrapped+n, rot.Batches+1
		if progress != nil {
			progress(rot.Rewrapped)
		}
	}
	return rot, nil
}

// sealedTable names the sealed columns of a table: its rows' key, the
// column of their case, and the columns sealed with the case's key, each
// in its own place (table, column, key).
type sealedTable struct {
	table, key, caseCol string
	cols                []string
}

// sealedTables are the tables with text sealed at rest, for `countersign
// keys encrypt-existing`. The store seals and opens each where its rows
// are written and read.
var sealedTables = []sealedTable{
	{"notes", "id", "case_id", []string{"body"}},
	{"parties", "id", "case_id", []string{"full_name", "date_of_birth", "address", "phone", "email", "national_id"}},
	{"drafts", "id", "case_id", []string{"content"}},
	{"record_entries", "id", "case_id", []string{"content"}},
	{"client_responses", "id", "case_id", []string{"text", "reason"}},
	{"agenda_entries", "id", "case_id", []string{"title", "reason"}},
	{"consents", "id", "case_id", []string{"note"}},
	{"record_corrections", "id", "case_id", []string{"content", "reason", "comment", "refusal_reason"}},
	{"countersignatures", "draft_id", "(SELECT d.case_id FROM drafts d WHERE d.id = countersignatures.draft_id)", []string{"reason", "comment"}},
	{"vigilance_checks", "draft_id", "(SELECT d.case_id FROM drafts d WHERE d.id = vigilance_checks.draft_id)", []string{"text"}},
	{"decisions", "draft_id", "(SELECT d.case_id FROM drafts d WHERE d.id = decisions.draft_id)", []string{"final_text", "reason", "comment", "diff", "items", "statements"}},
}

// Sealing is what SealExisting did.
type Sealing struct {
	// Keys counts the case keys created for cases opened before
	// migration 0017; Rows the rows whose plaintext was sealed, by table.
	Keys int
	Rows map[string]int
}

// SealExisting seals the plaintext written by a release before migration
// 0017 (`countersign keys encrypt-existing`): it gives every case without
// a key one, then seals each row's plaintext columns in place, batch rows
// per transaction, so a run that stops is resumed by running it again.
// Cases whose key was shredded are left to their erasure. The last
// transaction records one case_keys.existing_sealed event with the counts.
func (db *AuditStore) SealExisting(ctx context.Context, batch int) (*Sealing, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if db.CaseKeys == nil {
		return nil, errNoCaseKeyring
	}
	if batch <= 0 {
		batch = 500
	}
	s := &Sealing{Rows: map[string]int{}}
	// From now on every replica seals what it writes: run this once every
	// replica runs this release (migration 0017, case_text_sealing).
	if err := db.withTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO case_text_sealing (id, since)
			SELECT 1, ? WHERE NOT EXISTS (SELECT 1 FROM case_text_sealing)`), tx.now)
		return err
	}); err != nil {
		return s, fmt.Errorf("switch sealing on: %w", err)
	}
	for done := false; !done; {
		n := 0 // keys made by this batch, counted once it commits
		if err := db.withTx(ctx, func(tx *Tx) error {
			var ids []string
			if err := tx.SelectContext(ctx, &ids, tx.Rebind(`SELECT id FROM cases c
				WHERE NOT EXISTS (SELECT 1 FROM case_keys k WHERE k.case_id = c.id) ORDER BY id LIMIT ?`), batch); err != nil {
				return fmt.Errorf("find cases without a key: %w", err)
			}
			n, done = 0, len(ids) < batch
			for _, id := range ids {
				made, err := tx.insertCaseKey(ctx, id)
				if err != nil {
					return err
				}
				if made {
					n++
				}
			}
			return nil
		}); err != nil {
			return s, err
		}
		s.Keys += n
	}
	for ti, t := range sealedTables {
		var plain []string
		for _, c := range t.cols {
			plain = append(plain, fmt.Sprintf("(%s <> '' AND %s NOT LIKE 'cs1:%%')", c, c))
		}
		query := `SELECT ` + t.key + `, ` + t.caseCol + `, ` + strings.Join(t.cols, ", ") + ` FROM ` + t.table + `
			WHERE (` + strings.Join(plain, " OR ") + `)
			AND ` + t.caseCol + ` IN (SELECT case_id FROM case_keys WHERE wrapped_key IS NOT NULL)
			ORDER BY ` + t.key + ` LIMIT ?` + db.dialect.forUpdate()
		var sets []string
		for _, c := range t.cols {
			sets = append(sets, c+" = ?")
		}
		update := `UPDATE ` + t.table + ` SET ` + strings.Join(sets, ", ") + ` WHERE ` + t.key + ` = ?`
		for done := false; !done; {
			n := 0
			if err := db.withTx(ctx, func(tx *Tx) error {
				rows, err := tx.QueryContext(ctx, tx.Rebind(query), batch)
				if err != nil {
					return fmt.Errorf("find plaintext in %s: %w", t.table, err)
				}
				var found [][]string
				for rows.Next() {
					v := make([]string, 2+len(t.cols))
					dest := make([]any, len(v))
					for i := range v {
						dest[i] = &v[i]
					}
					if err := rows.Scan(dest...); err != nil {
						rows.Close()
						return fmt.Errorf("find plaintext in %s: %w", t.table, err)
					}
					found = append(found, v)
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					return fmt.Errorf("find plaintext in %s: %w", t.table, err)
				}
				for _, v := range found {
					k, err := tx.sealer(ctx, v[1])
					if err != nil {
						return err
					}
					args := make([]any, 0, len(t.cols)+1)
					for i, c := range t.cols {
						text := v[2+i]
						if !sealbox.IsSealed(text) {
							text = k.Seal(sealbox.Where{Table: t.table, Column: c, Row: v[0]}, text)
						}
						args = append(args, text)
					}
					if _, err := tx.ExecContext(ctx, tx.Rebind(update), append(args, v[0])...); err != nil {
						return fmt.Errorf("seal %s %s: %w", t.table, v[0], err)
					}
				}
				n, done = len(found), len(found) < batch
				if !done || ti < len(sealedTables)-1 {
					return nil
				}
				// The last batch of all records the run.
				payload := audit.Payload{"case_keys_created": strconv.Itoa(s.Keys)}
				for _, o := range sealedTables {
					payload[o.table+"_sealed"] = strconv.Itoa(s.Rows[o.table])
				}
				payload[t.table+"_sealed"] = strconv.Itoa(s.Rows[t.table] + n)
				return tx.record(ctx, a, sealbox.ActionExistingSealed, "case_keys", "existing", "", payload)
			}); err != nil {
				return s, err
			}
			s.Rows[t.table] += n
		}
	}
	return s, nil
}

// CaseKeysWrappedBy counts the case keys the master key masterID wraps,
// which must be none before it is retired.
func (db *AuditStore) CaseKeysWrappedBy(ctx context.Context, masterID string) (int, error) {
	var n int
	if err := db.r.GetContext(ctx, &n, db.r.Rebind(`SELECT COUNT(*) FROM case_keys WHERE master_key_id = ? AND wrapped_key IS NOT NULL`), masterID); err != nil {
		return 0, db.translate(fmt.Errorf("count case keys: %w", err))
	}
	return n, nil
}

// preload reads the keys of the cases of rows in one query, for a list
// that spans cases (the review queue).
func preload[R any](ctx context.Context, o *openers, rows []R, caseOf func(*R) string) error {
	var ids []any
	seen := map[string]bool{}
	for i := range rows {
		if id := caseOf(&rows[i]); !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var keys []caseKeyRow
	if err := o.q.SelectContext(ctx, &keys, o.q.Rebind(`SELECT `+caseKeyColumns+` FROM case_keys WHERE case_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`), ids...); err != nil {
		return o.db.translate(fmt.Errorf("find case keys: %w", err))
	}
	for _, id := range ids {
		o.cases[id.(string)] = textOpener{} // no key: plaintext only
	}
	for i := range keys {
		r := &keys[i]
		if r.Wrapped == nil {
			o.cases[r.CaseID] = textOpener{shredded: true}
			continue
		}
		k, err := o.db.unwrap(r)
		if err != nil {
			return err
		}
		o.cases[r.CaseID] = textOpener{key: k}
	}
	return nil
}

// openPtr is openOrKeep for a column that may be NULL.
func (s *caseKeySet) openPtr(caseID string, w sealbox.Where, v *string) *string {
	if v == nil {
		return nil
	}
	t := s.openOrKeep(caseID, w, *v)
	return &t
}

// decisionText is the place of a text of a decision: decisions are one a
// draft, and named by their draft's id (as the record's query joins them).
func decisionText(draftID, column string) sealbox.Where {
	return sealbox.Where{Table: "decisions", Column: column, Row: draftID}
}

// decisionTexts are a decision's sealed columns, by name, each pointing
// at its value: its final text, reason, comment, the diff (which quotes
// the text), and the verdicts on items and statements (JSON with the
// reviewer's comments on each).
type decisionTexts map[string]*string

// sealDecision seals the texts of a decision in place.
func sealDecision(k *sealbox.CaseKey, draftID string, cols decisionTexts) {
	for col, v := range cols {
		*v = k.Seal(decisionText(draftID, col), *v)
	}
}

// openDecision opens the texts of a decision of a draft of caseID in
// place ("" when the case is not known yet: it is looked up).
func (o *openers) openDecision(ctx context.Context, caseID, draftID string, cols decisionTexts) error {
	for col, v := range cols {
		if v == nil || !sealbox.IsSealed(*v) {
			continue
		}
		if caseID == "" {
			if err := o.q.GetContext(ctx, &caseID, o.q.Rebind(`SELECT case_id FROM drafts WHERE id = ?`), draftID); err != nil {
				return o.db.translate(fmt.Errorf("find the case of draft %s: %w", draftID, err))
			}
		}
		t, err := o.open(ctx, caseID, decisionText(draftID, col), *v)
		if err != nil {
			return err
		}
		*v = t
	}
	return nil
}

// joinedKey is a case's key row joined into a read of the case's rows
// (LEFT JOIN case_keys k), saving the opener's own query.
type joinedKey struct {
	KeyID   *string `db:"k_key_id"`
	Master  *string `db:"k_master_key_id"`
	Wrapped []byte  `db:"k_wrapped_key"`
}

const joinedKeyColumns = `k.key_id AS k_key_id, k.master_key_id AS k_master_key_id, k.wrapped_key AS k_wrapped_key`

// joinedOpener is opener for a key row read with the case's rows.
func (db *conn) joinedOpener(caseID string, j *joinedKey) (textOpener, error) {
	switch {
	case j.KeyID == nil:
		return textOpener{}, nil
	case j.Wrapped == nil:
		db.forgetCaseKey(caseID)
		return textOpener{shredded: true}, nil
	}
	k, err := db.unwrap(&caseKeyRow{CaseID: caseID, KeyID: *j.KeyID, MasterKeyID: deref(j.Master), Wrapped: j.Wrapped})
	if err != nil {
		return textOpener{}, err
	}
	return textOpener{key: k}, nil
}
