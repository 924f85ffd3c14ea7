package sqlstore

import (
	"context"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
)

// ReadCase returns the case id for a staff read of its content, with the
// read's access event (client.ReadEvent, through readEvent) durable before
// it returns; a refused read writes no event.
//
// The plain path is FindCaseByID (the read and casefile.CheckRead), then
// recordRead: on PostgreSQL two round trips, the second an autocommit
// INSERT and its WAL flush. Whether the read is allowed depends only on
// the case's read scope (casefile.ReadScope: its team and worker), so on
// PostgreSQL ReadCase predicts it from the scope this process last read
// for the case, and verifies the prediction in SQL: one statement reads
// the case and inserts the event only if the row's scope still equals the
// one predicted (readCaseLogged), in autocommit, durable when it returns.
// A row whose scope changed (another replica moved the case) inserts
// nothing, and the row just read decides as FindCaseByID would. So the
// cache can be stale, or empty, without a read being logged that was not
// allowed or allowed without its event; it holds ids only, nothing an
// erasure must remove.
//
// On SQLite the event joins the group commit (recordRead), which costs a
// read little; the plain path is kept there.
func (db *CaseStore) ReadCase(ctx context.Context, id string) (*casefile.Case, error) {
	read := client.Read{CaseID: id, What: client.ReadCase}
	if db.group == nil {
		if c, done, err := db.readCaseLogged(ctx, read); done {
			return c, err
		}
	}
	c, err := db.FindCaseByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if db.group == nil {
		db.scopes.put(c.ID, casefile.ScopeOf(c))
	}
	if err := db.recordRead(ctx, read); err != nil {
		return nil, err
	}
	return c, nil
}

// readCaseLogged is ReadCase's one statement, when the cached scope of
// the case lets the actor read it and the read has an event; done is
// false when it did not apply (then nothing was read or written, and the
// plain path gives the answer, its errors in their usual order).
func (db *CaseStore) readCaseLogged(ctx context.Context, read client.Read) (c *casefile.Case, done bool, err error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, false, nil
	}
	scope, ok := db.scopes.get(read.CaseID)
	if !ok || !casefile.CanReadScope(a, scope) {
		return nil, false, nil
	}
	ev, err := db.readEvent(ctx, read)
	if err != nil || ev == nil {
		return nil, false, nil
	}
	// The event's row is built as recordRead builds it (pendingRow: the
	// event checked, its nonce and MAC).
	row, err := db.pendingRow(db.stamp(), ev.Actor, ev.Action, ev.SubjectType, ev.SubjectID, ev.CaseID, ev.Payload)
	if err != nil {
		return nil, true, err
	}
	args := make([]any, 0, 3+len(row))
	args = append(args, read.CaseID)
	args = append(args, row...)
	args = append(args, scope.TeamID, scope.WorkerID)
	var r struct {
		caseRow
		Logged bool `db:"logged"`
	}
	if err := db.getOnWriter(ctx, &r, db.w.Rebind(readCaseLoggedQuery), args...); err != nil {
		return nil, true, notFound(db.translate(err), "There is no case with this id.")
	}
	c = r.toDomain()
	if r.Logged {
		db.wakeSequencer()
		return c, true, nil
	}
	// The scope changed since this process read it: the row just read
	// decides, as in FindCaseByID, and its scope is kept for the next read.
	db.scopes.put(c.ID, casefile.ScopeOf(c))
	if err := casefile.CheckRead(a, c); err != nil {
		return nil, true, err
	}
	if err := db.recordRead(ctx, read); err != nil {
		return nil, true, err
	}
	return c, true, nil
}

// readCaseLoggedQuery reads a case and inserts one pending event (the
// values of a pendingRow) only if the case's team and worker are the
// ones given, in one statement on PostgreSQL: the INSERT sees the row the
// SELECT read, and the statement's own transaction commits both.
const readCaseLoggedQuery = `
	WITH c AS (SELECT ` + caseReadColumns + ` FROM cases WHERE id = ?),
	e AS (
		INSERT INTO audit_pending (` + pendingColumns + `)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS BYTEA), CAST(? AS BYTEA) FROM c WHERE c.team_id = ? AND c.worker_id = ?
		RETURNING 1
	)
	SELECT ` + caseReadColumns + `, EXISTS (SELECT 1 FROM e) AS logged FROM c`

// scopeCache holds the read scope of the cases this process read lately,
// by case id, and what the access rule reads of the drafts it read lately,
// by draft id (draftScope, draft_read.go): ids and codes only, the least
// recently used forgotten first. It is a prediction, checked by the
// statement that uses it.
type scopeCache struct {
	once   sync.Once
	lru    *lru.Cache[string, casefile.ReadScope]
	drafts *lru.Cache[string, draftScope]
}

// scopeCacheLimit bounds a process's scopes: about 100 bytes each for a
// case, 200 for a draft.
const scopeCacheLimit = 1 << 16

func (c *scopeCache) cache() *lru.Cache[string, casefile.ReadScope] {
	c.once.Do(func() {
		c.lru, _ = lru.New[string, casefile.ReadScope](scopeCacheLimit)
		c.drafts, _ = lru.New[string, draftScope](scopeCacheLimit)
	})
	return c.lru
}

func (c *scopeCache) get(id string) (casefile.ReadScope, bool) { return c.cache().Get(id) }

func (c *scopeCache) put(id string, s casefile.ReadScope) { c.cache().Add(id, s) }
