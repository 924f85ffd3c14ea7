package sqlstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/review"
)

// An approval on PostgreSQL reads what it decides on in one statement
// (readForDecision) and writes in another, fenced on the versions of the
// case's and the draft's rows it read (signOffByStatement). A reviewer
// approves a draft moments after opening it, and the opening read all of
// it already: the draft, its case, the case's key row, the vigilance check
// and the reviewer's opening, the first two with their rows' versions
// (readDraftScopeQuery). This process remembers that row for the reader
// (rememberedDecision), and their approval decides on it and goes straight
// to the fenced write, one statement instead of two.
//
// The fence makes a stale memory harmless, input by input:
//   - the draft's row (status, reviewer, team, content, clock) and its
//     vigilance check, written with the draft's row and changed only with
//     it (a decision sets its outcome and the draft's status in one
//     statement): the draft's version. A first opening's clock gives the
//     draft a version of its own; it is remembered only when the opening's
//     statement locked the row at the version read (openingWrites), so the
//     new version is the row read plus that clock;
//   - the case's row (its team, worker and status for casefile.CheckWrite
//     and CheckOpen): the case's version;
//   - the case's key row: an erasure shreds it and marks the case erased in
//     one transaction (the case's version), and the write also holds the
//     key itself: its first write changes nothing unless the key id read is
//     still there, unshredded (keyHeld);
//   - the reader's opening at the draft's stage: a row that is written
//     once (its primary key, ON CONFLICT DO NOTHING) and never changed, so
//     only a row read is remembered, never its absence;
//   - whether the database seals: it never stops once it starts, and only
//     a row read while it seals is remembered;
//   - the actor: the memory is the reader's, by draft and user; anyone
//     else's approval reads, and the checks (review.IsReviewer,
//     casefile.CheckWrite, CheckOpen, review.DecideApproval) run on the
//     approving actor either way (decidableFrom).
//
// A fence that fails writes nothing (errFenceLost) and the approval reads
// and decides as it always did; so does any refusal decided on the memory,
// which may be stale where a write is not. An entry is used once, kept at
// most rememberFor, and holds sealed text only (the draft's content and
// the vigilance statement as stored, the key wrapped; not the case's
// title).

// rememberFor is how long a read of a draft is remembered for its
// reader's approval; rememberLimit bounds how many are.
const (
	rememberFor   = time.Minute
	rememberLimit = 1024
)

// rememberKey is whose memory of which draft: a handle's (one replica's
// in production, several in tests), by draft and reader.
type rememberKey struct {
	db              *conn
	draftID, userID string
}

// stamped is what a handle keeps in its process for a moment (a row
// remembered, a claim hint), and when it kept it (the handle's Now, which
// tests move).
type stamped[V any] struct {
	v  V
	at time.Time
}

// stampedCache is an LRU of stamped values that also drops them from
// memory once their time is up (by the wall clock; takeStamped holds them
// to the handle's clock, which tests move).
type stampedCache[K comparable, V any] = expirable.LRU[K, stamped[V]]

// keepStamped keeps v in c under k, stamped with db's clock.
func keepStamped[K comparable, V any](db *conn, c *stampedCache[K, V], k K, v V) {
	c.Add(k, stamped[V]{v: v, at: db.Now()})
}

// takeStamped returns and forgets what c keeps under k, and whether it
// was kept there at most limit ago by db's clock: anything kept longer (or
// stamped after now, the clock moved back) is forgotten and not returned.
func takeStamped[K comparable, V any](db *conn, c *stampedCache[K, V], k K, limit time.Duration) (V, bool) {
	var none V
	s, ok := c.Peek(k)
	if !ok {
		return none, false
	}
	c.Remove(k)
	if age := db.Now().Sub(s.at); age < 0 || age > limit {
		return none, false
	}
	return s.v, true
}

// decisionMemory holds every handle's remembered rows, the least recently
// used forgotten first, and each dropped from memory once its minute is up
// (an approval that never comes leaves nothing behind for longer).
var decisionMemory = sync.OnceValue(func() *expirable.LRU[rememberKey, stamped[*decideRow]] {
	return expirable.NewLRU[rememberKey, stamped[*decideRow]](rememberLimit, nil, rememberFor)
})

// rememberDecision keeps r, read by a (readDraftLogged, then the opening's
// writes), for a's approval of its draft; anything it cannot keep makes
// it forget what it kept of the draft for a before. r is kept only when
// every input an approval fences or reads as written once is there: a
// pending draft with content, the rows' versions, the key row unshredded
// while the database seals, and a's opening at the pending stage.
func (db *conn) rememberDecision(a countersign.Actor, id string, r *decideRow) {
	k := rememberKey{db: db, draftID: id, userID: a.UserID}
	if r == nil || r.Status != string(review.StatusPendingReview) || r.Content == nil || r.CaseVersion == nil ||
		r.DraftVersion == nil || r.KeyID == nil || r.Wrapped == nil || r.Sealing == 0 || r.OpenedAtThisStage == nil {
		decisionMemory().Remove(k)
		return
	}
	// The case's title and reference are decided on by nothing here
	// (casefile.CheckWrite and CheckOpen read its team, worker and
	// status), and are not kept.
	c := *r
	c.Case.Title, c.Case.Reference = "", ""
	keepStamped(db, decisionMemory(), k, &c)
}

// rememberedDecision returns, and forgets, the row a's read of draft id
// left for their approval, or nil: none, or kept longer than rememberFor.
func (db *conn) rememberedDecision(a countersign.Actor, id string) *decideRow {
	r, _ := takeStamped(db, decisionMemory(), rememberKey{db: db, draftID: id, userID: a.UserID}, rememberFor)
	return r
}

// keyHeld is w, the first write of a decision written by one fenced
// statement (an UPDATE; signOffFenced, on a read or on remembered rows),
// writing only while the case's key row still holds keyID unshredded.
func keyHeld(w write, caseID, keyID string) write {
	w.query = strings.TrimSpace(w.query) + ` AND EXISTS (SELECT 1 FROM case_keys WHERE case_id = ? AND key_id = ? AND wrapped_key IS NOT NULL)`
	w.args = append(append([]any(nil), w.args...), caseID, keyID)
	return w
}

// openedVersions are the versions of a draft's row around its first
// opening's statement (openingWrites): before is the row's version it
// locked and updated, after the version it gave the row (the statement's
// transaction id), "" when not known.
type openedVersions struct {
	before, after string
}

// openingWrites is fencedWrites(ctx, nil, nil, ws...) for a first opening
// of draft id (ws: its row in draft_openings, the draft's review clock,
// the events) that also says which version of the draft's row it updated:
// the statement locks the row first (FOR NO KEY UPDATE, the lock the
// clock's UPDATE takes anyway, and nothing else, so no lock order
// changes), and every write after the first waits for that lock. Only the
// versions are new; what is written, and when, is fencedWrites'.
func (db *conn) openingWrites(ctx context.Context, id string, ws []write) (openedVersions, error) {
	before := []string{"p AS (SELECT xmin::text::bigint AS v FROM drafts WHERE id = ? FOR NO KEY UPDATE)"}
	args := []any{id}
	queries := make([]string, len(ws))
	for i, w := range ws {
		q, wargs := strings.TrimSpace(w.query), w.args
		if i > 0 {
			var err error
			if q, err = gated(w, "EXISTS (SELECT 1 FROM w0) AND EXISTS (SELECT 1 FROM p)"); err != nil {
				return openedVersions{}, err
			}
		}
		queries[i] = q
		args = append(args, wargs...)
	}
	// The row's version as locked, and the statement's own transaction id
	// (low 32 bits: the xmin of the rows it writes).
	query := cteWrites(before, queries) + "\nUNION ALL SELECT -1 AS i, v AS n FROM p" +
		"\nUNION ALL SELECT -2 AS i, txid_current() % 4294967296 AS n"
	var v openedVersions
	err := db.runCTEWrites(ctx, query, args, ws, nil, func(r writeCount) {
		if r.I == -1 {
			v.before = strconv.FormatInt(r.N, 10)
		} else {
			v.after = strconv.FormatInt(r.N, 10)
		}
	})
	if errors.Is(err, errFenceLost) {
		return openedVersions{}, err
	}
	return v, err
}

// rememberOpening remembers seen, the row a's first opening of its draft
// read, for a's approval, as the opening's statement left it: opened at
// (a's opening at the pending stage), and, when the statement started the
// draft's review clock (clock), the row with that clock at the version the
// statement gave it. It is remembered only when the statement updated the
// row at the version read (v.before): otherwise something else changed
// the draft between the read and the opening, and the approval reads.
func (db *conn) rememberOpening(a countersign.Actor, id string, seen *decideRow, v openedVersions, at time.Time, clock *time.Time) {
	if seen == nil || seen.DraftVersion == nil || v.before == "" || v.before != *seen.DraftVersion {
		db.rememberDecision(a, id, nil)
		return
	}
	r := *seen
	if clock != nil {
		if v.after == "" {
			db.rememberDecision(a, id, nil)
			return
		}
		r.OpenedAt, r.UpdatedAt, r.DraftVersion = clock, *clock, &v.after
	}
	r.OpenedAtThisStage = &at
	db.rememberDecision(a, id, &r)
}

// afterOpeningRead holds, for tests only (AfterOpeningRead), what runs
// between a first opening's read of a draft, by draft id, and its writes.
var afterOpeningRead sync.Map
