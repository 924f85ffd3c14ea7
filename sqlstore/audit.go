package sqlstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/internal/metrics"
)

var _ audit.Log = (*AuditStore)(nil)

// record appends an audit event to the transaction. It becomes part of the
// log (with its sequence number) when the sequencer runs after commit; if the
// transaction rolls back, the event goes with it.
func (tx *Tx) record(ctx context.Context, actor countersign.Actor, action, subjectType, subjectID, caseID string, payload audit.Payload) error {
	row, err := tx.db.pendingRow(tx.now, actor, action, subjectType, subjectID, caseID, payload)
	if err != nil {
		return err
	}
	return tx.insertPending(ctx, row)
}

// insertPending inserts a row made by pendingRow.
func (tx *Tx) insertPending(ctx context.Context, row []any) error {
	if _, err := tx.ExecContext(ctx, tx.Rebind(`
		INSERT INTO audit_pending (`+pendingColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), row...,
	); err != nil {
		return fmt.Errorf("record %s: %w", row[3], err)
	}
	tx.audited = true
	return nil
}

// pendingColumns are the columns of an audit_pending row, in the order of
// pendingRow's values: the event's eight, its nonce and its MAC.
const pendingColumns = `at, actor_id, role, action, subject_type, subject_id, case_id, payload, nonce, mac`

// pendingRow checks an event and returns the values of its audit_pending
// row, in the order of pendingColumns: the event's columns, a random nonce
// and the MAC under the event key of both, which the sequencer verifies.
func (db *conn) pendingRow(at time.Time, actor countersign.Actor, action, subjectType, subjectID, caseID string, payload audit.Payload) ([]any, error) {
	if len(db.EventKey) == 0 {
		return nil, errNoEventKey
	}
	e := audit.Event{At: at, ActorID: actor.UserID, Role: string(actor.Role), Action: action,
		SubjectType: subjectType, SubjectID: subjectID, CaseID: caseID, Payload: payload}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	p, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode audit payload: %w", err)
	}
	fields := [...]string{e.At.Format(audit.TimeFormat), e.ActorID, e.Role, e.Action, e.SubjectType, e.SubjectID, e.CaseID, string(p)}
	nonce := newNonce(e.At)
	mac := db.EventKey.MAC(nonce, fields[:]...)
	return []any{fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6], fields[7], nonce, mac}, nil
}

// nonceSize is the length of a pending event's nonce: it makes two
// otherwise equal events differ, and a replayed copy recognisable.
const nonceSize = 16

// newNonce returns a nonce for an event at at: the time in nanoseconds
// (big-endian), then 8 random bytes. Unique as a random one is (two events
// would need the same instant and the same 64 random bits), but the log's
// unique index on it (audit_event_nonce_idx) grows at its right edge, as
// the sequence's does, instead of at a random leaf per event: at scale a
// random key touched a different page of a large index for nearly every
// event, each page written whole to the WAL after every checkpoint.
func newNonce(at time.Time) []byte {
	nonce := make([]byte, nonceSize)
	binary.BigEndian.PutUint64(nonce, uint64(at.UnixNano()))
	rand.Read(nonce[8:])
	return nonce
}

// errNoEventKey is returned when events are written or sequenced by a DB
// whose EventKey was not set.
var errNoEventKey = errors.New("sqlstore: no audit event key (set DB.EventKey after Open)")

// wakeSequencer tells the background sequencer that a commit appended events.
func (db *conn) wakeSequencer() {
	select {
	case db.sequenced <- struct{}{}:
	default:
	}
}

type eventRow struct {
	Seq         int64  `db:"seq"`
	ID          int64  `db:"id"`
	At          string `db:"at"`
	ActorID     string `db:"actor_id"`
	Role        string `db:"role"`
	Action      string `db:"action"`
	SubjectType string `db:"subject_type"`
	SubjectID   string `db:"subject_id"`
	CaseID      string `db:"case_id"`
	Payload     string `db:"payload"`
	LeafHash    []byte `db:"leaf_hash"`
	ChainHash   []byte `db:"chain_hash"`
}

func (r *eventRow) toDomain() (*audit.Event, error) {
	at, err := audit.ParseTime(r.At)
	if err != nil {
		return nil, fmt.Errorf("audit event %d: %w", r.Seq, err)
	}
	e := &audit.Event{Seq: uint64(r.Seq), At: at, ActorID: r.ActorID, Role: r.Role, Action: r.Action,
		SubjectType: r.SubjectType, SubjectID: r.SubjectID, CaseID: r.CaseID, LeafHash: r.LeafHash, ChainHash: r.ChainHash}
	if r.Payload != "" && r.Payload != "null" {
		if err := json.Unmarshal([]byte(r.Payload), &e.Payload); err != nil {
			return nil, fmt.Errorf("audit event %d: bad payload: %w", r.Seq, err)
		}
	}
	return e, nil
}

// sequenceBatch bounds one sequencer transaction: big enough to amortise the
// head lock and the commit, small enough to keep the lock short.
const sequenceBatch = 512

// Sequence moves every pending event into the log, giving each its gap-free
// sequence number, and returns the new log size. Several replicas may call it
// at once: the head row lock orders them.
func (db *AuditStore) Sequence(ctx context.Context) (uint64, error) {
	for {
		size, n, err := db.sequenceOnce(ctx, false)
		if err != nil {
			return 0, err
		}
		if n < sequenceBatch {
			return size, nil
		}
	}
}

// sequenceOnce sequences up to one batch. With skipBusy it returns at once
// when another transaction holds the head (on PostgreSQL), so background
// sequencers of several replicas do not queue behind each other.
//
// Only events the service wrote enter the log: a pending row whose MAC
// under the event key does not verify (one inserted by hand into
// audit_pending), or whose nonce the log already holds (a copy of an
// event already sequenced), is moved to audit_refused instead, in the same
// transaction, and OnRefused is told after the commit. n counts both.
func (db *conn) sequenceOnce(ctx context.Context, skipBusy bool) (size uint64, n int, err error) {
	if len(db.EventKey) == 0 {
		return 0, 0, errNoEventKey
	}
	return db.sequence(ctx, skipBusy, 0)
}

// sequence is sequenceOnce; with legacyUpTo > 0 it takes only the pending
// rows with id <= legacyUpTo, written before migration 0007, and accepts
// them without a MAC, as the version that wrote them did (sequenceLegacy).
//
// A batch does not look for its nonces in the log first: the unique index
// on audit_event.nonce refuses a copy of a logged event as the batch is
// inserted, and then the batch is rolled back and sequenced again with the
// look-up, which moves the copy to audit_refused (checkPending). Copies
// are rare (only someone writing audit_pending by hand makes one), and a
// conflict in the INSERT cannot simply skip the row: the sequence numbers
// and hashes after it were computed with it, and must stay gap-free.
func (db *conn) sequence(ctx context.Context, skipBusy bool, legacyUpTo int64) (size uint64, n int, err error) {
	var refused []RefusedEvent
	size, n, refused, err = db.sequenceTx(ctx, skipBusy, legacyUpTo, false)
	if errors.Is(err, errLoggedNonce) {
		size, n, refused, err = db.sequenceTx(ctx, skipBusy, legacyUpTo, true)
	}
	if err == nil && db.OnRefused != nil {
		for _, r := range refused {
			db.OnRefused(r)
		}
	}
	return size, n, err
}

// errLoggedNonce is a batch's INSERT refused by the unique index on
// audit_event.nonce: a pending row copies an event of the log.
var errLoggedNonce = errors.New("a pending audit event has the nonce of a logged one")

// sequenceTx is one sequencing transaction; lookUp looks for the batch's
// nonces in the log before inserting it (see sequence).
func (db *conn) sequenceTx(ctx context.Context, skipBusy bool, legacyUpTo int64, lookUp bool) (size uint64, n int, refused []RefusedEvent, err error) {
	err = db.withTx(ctx, func(tx *Tx) error {
		refused = refused[:0]
		lock := db.dialect.forUpdate()
		if skipBusy {
			lock = db.dialect.skipLocked()
		}
		h, err := readHead(ctx, tx, lock)
		if err != nil {
			if skipBusy && errors.Is(err, sql.ErrNoRows) {
				return nil // another replica holds the head and is sequencing
			}
			return fmt.Errorf("lock audit head: %w", err)
		}
		where, args := "", []any{sequenceBatch}
		if legacyUpTo > 0 {
			where, args = "WHERE id <= ?", []any{legacyUpTo, sequenceBatch}
		}
		var pending []pendingEventRow
		if err := tx.SelectContext(ctx, &pending, tx.Rebind(`
			SELECT id, `+pendingColumns+`
			FROM audit_pending
			`+where+`
			ORDER BY id
			LIMIT ?`), args...); err != nil {
			return fmt.Errorf("read pending audit events: %w", err)
		}
		before := h.Size
		size, n = h.Size, len(pending)
		if n == 0 {
			// Nothing to sequence: if the log grew since this process
			// last tiled it, another wrote it, and a replica of release
			// 1.0.0 (during a rolling upgrade) writes no tiles. They are
			// brought up to the log here rather than at this replica's
			// next event, so its proofs of those entries do not fail
			// meanwhile.
			if h.Size > db.tiledTo.Load() {
				if err := syncTiles(ctx, tx, h.Size); err != nil {
					return err
				}
				db.tiledTo.Store(h.Size)
			}
			return nil
		}
		reasons, err := db.checkPending(ctx, tx, pending, legacyUpTo > 0, lookUp)
		if err != nil {
			return err
		}
		accepted := make([]pendingEventRow, 0, n)
		events := make([]*audit.Event, 0, n)
		var nodes []audit.Node
		ids := make([]int64, 0, n)
		for i := range pending {
			p := &pending[i]
			ids = append(ids, p.ID)
			if reasons[i] == "" {
				e, err := p.toDomain()
				if err == nil {
					var ns []audit.Node
					if ns, err = h.Append(e); err == nil {
						accepted, events, nodes = append(accepted, *p), append(events, e), append(nodes, ns...)
						continue
					}
				}
				reasons[i] = RefusedMalformed // h is unchanged: Append checks before it appends
			}
			refused = append(refused, RefusedEvent{PendingID: p.ID, ActorID: p.ActorID, Action: p.Action, Reason: reasons[i], RefusedAt: tx.now})
		}
		if len(events) > 0 {
			// The tiles, in the same transaction: never behind the log.
			// This release reads the tree from them alone; audit_node,
			// where release 1.0.0 keeps it, is written only where 1.0.0
			// may still run (keepsNodes).
			err := writeTiles(ctx, tx, before, nodes)
			if errors.Is(err, errTilesBehind) {
				if err = syncTiles(ctx, tx, before); err == nil {
					err = writeTiles(ctx, tx, before, nodes)
				}
			}
			if err != nil {
				return err
			}
		}
		// The batch's writes, one statement on PostgreSQL: the events, the
		// refused rows, the pending rows cleared, the head moved on.
		var ws []write
		if len(events) > 0 {
			ws = append(ws, eventsInsert(tx, accepted, events))
			keep, err := db.keepsNodes(ctx, tx)
			if err != nil {
				return err
			}
			if keep {
				ws = append(ws, nodesInserts(nodes)...)
			}
		}
		if len(refused) > 0 {
			ws = append(ws, refusedInsert(tx, pending, reasons))
		}
		del, delArgs := tx.db.dialect.rows(ids)
		ws = append(ws, write{query: `DELETE FROM audit_pending WHERE id IN (` + del + `)`, args: delArgs,
			check: func(rows int64) error {
				if rows != int64(len(ids)) {
					return fmt.Errorf("clear pending audit events: %d of %d rows deleted", rows, len(ids))
				}
				return nil
			}})
		if len(events) > 0 {
			ws = append(ws, headWrite(h))
		}
		conflict := errLoggedNonce
		if lookUp {
			conflict = nil // looked up: a conflict now is no copy, and says what it is
		}
		if err := tx.writes(ctx, conflict, ws...); err != nil {
			return err
		}
		size = h.Size
		if len(events) > 0 {
			db.tiledTo.Store(h.Size)
		}
		return nil
	})
	return size, n, refused, err
}

// pendingEventRow is an audit_pending row.
type pendingEventRow struct {
	eventRow
	Nonce []byte `db:"nonce"`
	MAC   []byte `db:"mac"`
}

// The reasons a pending event is refused, as audit_refused.reason and
// RefusedEvent.Reason say them. Append only.
const (
	RefusedMissingMAC = "missing_mac" // the row has no MAC: not written by this version of the service
	RefusedInvalidMAC = "invalid_mac" // the MAC does not verify under the event key: forged or altered
	RefusedReplayed   = "replayed"    // a valid row whose nonce the log (or an earlier row) already has: a copy
	RefusedMalformed  = "malformed"   // a row with a valid MAC that is not a valid event
)

// checkPending returns, for each pending row, why it is refused, or ""
// when it may enter the log. legacy accepts every row, MAC or not. A
// row whose nonce an earlier row of the batch has is a copy; a copy of a
// logged event is found only with lookUp, which reads the log's nonces.
func (db *conn) checkPending(ctx context.Context, tx *Tx, pending []pendingEventRow, legacy, lookUp bool) ([]string, error) {
	reasons := make([]string, len(pending))
	if legacy {
		return reasons, nil
	}
	seen := make(map[string]int, len(pending))
	nonces := make([][]byte, 0, len(pending))
	for i := range pending {
		p := &pending[i]
		switch {
		case len(p.MAC) == 0:
			reasons[i] = RefusedMissingMAC
		case !db.EventKey.Verify(p.MAC, p.Nonce, p.At, p.ActorID, p.Role, p.Action, p.SubjectType, p.SubjectID, p.CaseID, p.Payload):
			reasons[i] = RefusedInvalidMAC
		default:
			if _, dup := seen[string(p.Nonce)]; dup {
				reasons[i] = RefusedReplayed
				continue
			}
			seen[string(p.Nonce)] = i
			nonces = append(nonces, p.Nonce)
		}
	}
	if len(nonces) == 0 || !lookUp {
		return reasons, nil
	}
	// The unique index on audit_event.nonce makes this a lookup per row.
	var logged [][]byte
	in, args := tx.db.dialect.rows(nonces)
	if err := tx.SelectContext(ctx, &logged, tx.Rebind(`SELECT nonce FROM audit_event WHERE nonce IN (`+in+`)`), args...); err != nil {
		return nil, fmt.Errorf("look for replayed audit events: %w", err)
	}
	for _, nonce := range logged {
		reasons[seen[string(nonce)]] = RefusedReplayed
	}
	return reasons, nil
}

// RefusedEvent is a pending event the sequencer kept out of the log. The
// claimed actor and action are what the row said, not a fact.
type RefusedEvent struct {
	ID        int64     `db:"id"`
	PendingID int64     `db:"pending_id"`
	ActorID   string    `db:"actor_id"`
	Action    string    `db:"action"`
	Reason    string    `db:"reason"`
	RefusedAt time.Time `db:"refused_at"`
}

// keepsNodes reports whether the sequencer must also write the tree into
// audit_node, where release 1.0.0 keeps it and reads it for its proofs:
// during a rolling upgrade its replicas share the database with this
// release's (docs/OPERATIONS.md, "Upgrading": release N writes the old
// shape too). A database that holds 1.0.0's nodes keeps getting them
// until a later release drops the table; one that began with this release
// has none and is spared a row and an index entry per node on every
// append. It is asked once per handle: a 1.0.0 log still empty when a
// replica of this release first sequences gets no nodes from it, and a
// 1.0.0 replica then answers proofs of those entries with an error, never
// a wrong proof.
func (db *conn) keepsNodes(ctx context.Context, tx *Tx) (bool, error) {
	switch db.oldNodes.Load() {
	case 1:
		return false, nil
	case 2:
		return true, nil
	}
	var found bool
	if err := tx.GetContext(ctx, &found, `SELECT EXISTS (SELECT 1 FROM audit_node)`); err != nil {
		return false, fmt.Errorf("look for release 1.0.0's tree nodes: %w", err)
	}
	state := int32(1)
	if found {
		state = 2
	}
	db.oldNodes.Store(state)
	return found, nil
}

// nodesInserts are the writes of the perfect subtree roots above the
// leaves into audit_node, as release 1.0.0 stores them (keepsNodes).
// Leaves (level 0) are not stored there: their hashes are
// audit_event.leaf_hash.
func nodesInserts(all []audit.Node) []write {
	var ws []write
	nodes := make([]audit.Node, 0, len(all))
	for _, n := range all {
		if n.Level > 0 {
			nodes = append(nodes, n)
		}
	}
	for len(nodes) > 0 {
		chunk := nodes[:min(len(nodes), 1000)]
		nodes = nodes[len(chunk):]
		var b strings.Builder
		b.WriteString(`INSERT INTO audit_node (level, idx, hash) VALUES `)
		args := make([]any, 0, len(chunk)*3)
		for i, n := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`(?,?,?)`)
			args = append(args, int(n.Level), int64(n.Index), n.Hash)
		}
		ws = append(ws, write{query: b.String(), args: args})
	}
	return ws
}

// refusedInsert moves the refused rows (those with a reason) into
// audit_refused, whole: nothing is lost, nothing enters the log.
func refusedInsert(tx *Tx, pending []pendingEventRow, reasons []string) write {
	var b strings.Builder
	b.WriteString(`INSERT INTO audit_refused (pending_id, ` + pendingColumns + `, reason, refused_at) VALUES `)
	var args []any
	for i := range pending {
		if reasons[i] == "" {
			continue
		}
		if len(args) > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?,?,?,?,?,?,?,?,?,?,?,?,?)`)
		p := &pending[i]
		args = append(args, p.ID, p.At, p.ActorID, p.Role, p.Action, p.SubjectType, p.SubjectID, p.CaseID, p.Payload, p.Nonce, p.MAC, reasons[i], tx.now)
	}
	return write{query: b.String(), args: args}
}

// RefusedEvents returns every pending event the sequencer refused, oldest
// first: `countersign audit verify` reports them.
func (db *AuditStore) RefusedEvents(ctx context.Context) ([]RefusedEvent, error) {
	var out []RefusedEvent
	if err := db.r.SelectContext(ctx, &out, `
		SELECT id, pending_id, actor_id, action, reason, refused_at
		FROM audit_refused
		ORDER BY id`); err != nil {
		return nil, db.translate(fmt.Errorf("read refused audit events: %w", err))
	}
	for i := range out {
		out[i].RefusedAt = out[i].RefusedAt.UTC()
	}
	return out, nil
}

// UnauthenticatedEvents returns the sequence numbers of the events in the
// log, from the first that carries a MAC on, whose MAC does not verify
// under the event key, in order: events that someone who does not hold the
// key wrote straight into audit_event (moving the head on as the sequencer
// does), or sequenced with a key of their own. Every event the service
// sequenced since migration 0007 carries its MAC, so once one does, every
// later one must; the events before the first are those sequenced before
// the migration. At most limit are returned (all when limit is 0), and n
// counts them all. It reads the log in pages, as EachStoredEvent does.
func (db *AuditStore) UnauthenticatedEvents(ctx context.Context, limit int) (seqs []uint64, n int, err error) {
	if len(db.EventKey) == 0 {
		return nil, 0, errNoEventKey
	}
	var first int64
	if err := db.r.GetContext(ctx, &first, `SELECT COALESCE(MIN(seq), -1) FROM audit_event WHERE mac IS NOT NULL`); err != nil {
		return nil, 0, db.translate(fmt.Errorf("find the first authenticated audit event: %w", err))
	}
	if first < 0 {
		return nil, 0, nil
	}
	for after := first - 1; ; {
		var page []pendingEventRow
		if err := db.r.SelectContext(ctx, &page, db.r.Rebind(`
			SELECT seq, `+pendingColumns+`
			FROM audit_event
			WHERE seq > ?
			ORDER BY seq
			LIMIT ?`), after, storedPageSize); err != nil {
			return nil, 0, db.translate(fmt.Errorf("read audit events after %d: %w", after, err))
		}
		for _, r := range page {
			if !db.EventKey.Verify(r.MAC, r.Nonce, r.At, r.ActorID, r.Role, r.Action, r.SubjectType, r.SubjectID, r.CaseID, r.Payload) {
				if n++; limit == 0 || len(seqs) < limit {
					seqs = append(seqs, uint64(r.Seq))
				}
			}
			after = r.Seq
		}
		if len(page) < storedPageSize {
			return seqs, n, ctx.Err()
		}
	}
}

// sequenceLegacy sequences, once, the events left pending by the version
// before migration 0007 (which wrote no MACs), as that version would have:
// migration 0007 recorded the last of their ids in audit_legacy_pending,
// and this deletes that row when they are all in the log. Migrate calls
// it, so it runs before this process sequences anything else.
func (db *conn) sequenceLegacy(ctx context.Context) error {
	var upTo []int64
	if err := db.w.SelectContext(ctx, &upTo, `SELECT up_to FROM audit_legacy_pending`); err != nil {
		return fmt.Errorf("read legacy pending audit events: %w", err)
	}
	if len(upTo) == 0 {
		return nil
	}
	for {
		_, n, err := db.sequence(ctx, false, upTo[0])
		if err != nil {
			return fmt.Errorf("sequence legacy pending audit events: %w", err)
		}
		if n < sequenceBatch {
			break
		}
	}
	if _, err := db.w.ExecContext(ctx, `DELETE FROM audit_legacy_pending`); err != nil {
		return fmt.Errorf("clear legacy pending audit events: %w", err)
	}
	return nil
}

// eventsInsert appends the sequenced events, each with its pending row's
// nonce and MAC (NULL for an event written before migration 0007): the
// nonce lets the sequencer recognise a replayed copy, and the MAC lets
// UnauthenticatedEvents check the log itself. Its text is the same for
// every batch on PostgreSQL (dialect.rows).
func eventsInsert(tx *Tx, rows []pendingEventRow, events []*audit.Event) write {
	n := len(events)
	var (
		seqs                                                               = make([]int64, n)
		at, actorID, role, action, subjectType, subjectID, caseID, payload = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		leaf, chain, nonce, mac                                            = make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n)
	)
	for i, e := range events {
		r := &rows[i]
		seqs[i], at[i], actorID[i], role[i], action[i], subjectType[i], subjectID[i], caseID[i], payload[i] =
			int64(e.Seq), r.At, r.ActorID, r.Role, r.Action, r.SubjectType, r.SubjectID, r.CaseID, r.Payload
		leaf[i], chain[i], nonce[i], mac[i] = e.LeafHash, e.ChainHash, r.Nonce, r.MAC
	}
	q, args := tx.db.dialect.rows(seqs, at, actorID, role, action, subjectType, subjectID, caseID, payload, leaf, chain, nonce, mac)
	return write{query: `INSERT INTO audit_event (seq, at, actor_id, role, action, subject_type, subject_id, case_id, payload, leaf_hash, chain_hash, nonce, mac) ` + q, args: args,
		check: func(rows int64) error {
			if rows != int64(n) {
				return fmt.Errorf("insert audit events: %d of %d rows inserted", rows, n)
			}
			return nil
		}}
}

// sequenceCoalesce is the least time between two background sequencing
// passes that were not full. Waiting lets the events of many commits go in
// one transaction, so the head lock is taken once per batch instead of once
// per commit; it stays far inside the one second a checkpoint may lag.
const sequenceCoalesce = 25 * time.Millisecond

// RunSequencer sequences pending events whenever a local commit appended
// some, and every interval for events appended by other replicas, until ctx
// ends. Errors are passed to onError and retried on the next tick.
//
// Of several replicas, only the one that holds the sequencer's lead (see
// leadSequencer) sequences; the others stand by and take over when it goes.
// Correctness never rests on the lead, since every pass locks the head row:
// the lead only spares the database passes that would find the head busy
// or hold a handful of events each.
func (db *AuditStore) RunSequencer(ctx context.Context, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var lead *sequencerLead
	defer func() { lead.release() }()
	for {
		select {
		case <-ctx.Done():
			return
		case <-db.sequenced:
		case <-t.C:
		}
		if !lead.held(ctx) {
			lead.release()
			var err error
			if lead, err = db.leadSequencer(ctx); err != nil && ctx.Err() == nil && onError != nil {
				onError(err)
			}
			if lead == nil {
				// Another replica sequences; try again next tick.
				if err := db.tilesUp(ctx); err != nil && ctx.Err() == nil && onError != nil {
					onError(err)
				}
				continue
			}
		}
		for {
			_, n, err := db.sequenceOnce(ctx, true)
			metrics.SequencedBatch(n)
			if err != nil {
				if ctx.Err() == nil && onError != nil {
					onError(err)
				}
				break
			}
			if n < sequenceBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(sequenceCoalesce):
		}
	}
}

// tilesUp brings the tiles up to the log when the replica that sequences
// it wrote none: a replica of release 1.0.0, which holds the sequencer's
// lead during a rolling upgrade and knows no tiles, would otherwise leave
// this release's proofs of its entries failing until it is replaced. A
// replica that is not the lead asks at each tick, with two reads when the
// log grew and none of the head's lock while the tiles are up to date.
func (db *conn) tilesUp(ctx context.Context) error {
	h, err := readHead(ctx, db.r, "")
	if err != nil {
		return fmt.Errorf("read audit head: %w", err)
	}
	if h.Size <= db.tiledTo.Load() {
		return nil
	}
	tiled, err := tiledSize(ctx, db.r)
	if err != nil {
		return err
	}
	if tiled < h.Size {
		if err := db.backfillTiles(ctx); err != nil {
			return err
		}
	}
	db.tiledTo.Store(h.Size)
	return nil
}

// sequencerLead is this replica's lead of the sequencer: on PostgreSQL a
// session advisory lock held on a connection of its own, which the
// database releases if the replica dies or its connection breaks.
type sequencerLead struct {
	conn    *sql.Conn // nil on SQLite, where one process sequences
	checked time.Time
}

// sequencerLockKey is the advisory lock key of the sequencer's lead; the
// schema's name is the second key, so deployments sharing a database in
// schemas of their own each have a lead.
const sequencerLockKey = 7263511

// leadSequencer takes the lead if no other replica holds it; nil if one does.
func (db *conn) leadSequencer(ctx context.Context) (*sequencerLead, error) {
	if !db.dialect.advisoryLocks() {
		return &sequencerLead{}, nil
	}
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return nil, db.translate(fmt.Errorf("sequencer lead: %w", err))
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, hashtext(current_schema()))`, sequencerLockKey).Scan(&ok); err != nil || !ok {
		conn.Close()
		if err != nil {
			return nil, db.translate(fmt.Errorf("sequencer lead: %w", err))
		}
		return nil, nil
	}
	return &sequencerLead{conn: conn, checked: time.Now()}, nil
}

// held reports whether the lead is still this replica's, checking its
// connection at most once a second.
func (l *sequencerLead) held(ctx context.Context) bool {
	if l == nil {
		return false
	}
	if l.conn == nil || time.Since(l.checked) < time.Second {
		return true
	}
	if _, err := l.conn.ExecContext(ctx, `SELECT 1`); err != nil {
		return false
	}
	l.checked = time.Now()
	return true
}

// release gives the lead up; closing the connection ends its session and
// so its advisory lock.
func (l *sequencerLead) release() {
	if l != nil && l.conn != nil {
		l.conn.Raw(func(driverConn any) error { return driver.ErrBadConn }) // discard, do not pool
		l.conn.Close()
	}
}

const eventColumns = `seq, at, actor_id, role, action, subject_type, subject_id, case_id, payload, leaf_hash, chain_hash`

// FindEvents returns sequenced events matching f, in sequence order.
func (db *AuditStore) FindEvents(ctx context.Context, f audit.EventFilter) ([]*audit.Event, error) {
	// Reads of the log are a person's or the service's; a path that forgot
	// to authenticate reads nothing.
	if _, err := countersign.ActorFrom(ctx); err != nil {
		return nil, err
	}
	where, args := []string{"1 = 1"}, []any{}
	if v := f.CaseID; v != nil {
		where, args = append(where, "case_id = ?"), append(args, *v)
	}
	if v := f.ActorID; v != nil {
		where, args = append(where, "actor_id = ?"), append(args, *v)
	}
	if v := f.Action; v != nil {
		where, args = append(where, "action = ?"), append(args, *v)
	}
	// at is canonical text in a fixed-width UTC layout, so text order is time order.
	if v := f.Since; v != nil {
		where, args = append(where, "at >= ?"), append(args, v.UTC().Format(audit.TimeFormat))
	}
	if v := f.Until; v != nil {
		where, args = append(where, "at < ?"), append(args, v.UTC().Format(audit.TimeFormat))
	}
	if v := f.After; v != nil {
		where, args = append(where, "seq > ?"), append(args, int64(*v))
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	args = append(args, limit)
	rows, err := db.r.QueryxContext(ctx, db.r.Rebind(`
		SELECT `+eventColumns+`
		FROM audit_event
		WHERE `+strings.Join(where, " AND ")+`
		ORDER BY seq
		LIMIT ?`), args...)
	if err != nil {
		return nil, db.translate(fmt.Errorf("find audit events: %w", err))
	}
	defer rows.Close()
	var events []*audit.Event
	for rows.Next() {
		var r eventRow
		if err := rows.StructScan(&r); err != nil {
			return nil, fmt.Errorf("scan audit event: %w", err)
		}
		e, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, db.translate(rows.Err())
}

// FindEventBySeq returns the event at seq. Returns ENOTFOUND if the log is not that long.
func (db *AuditStore) FindEventBySeq(ctx context.Context, seq uint64) (*audit.Event, error) {
	// Reads of the log are a person's or the service's; a path that forgot
	// to authenticate reads nothing.
	if _, err := countersign.ActorFrom(ctx); err != nil {
		return nil, err
	}
	var r eventRow
	if err := db.r.GetContext(ctx, &r, db.r.Rebind(`SELECT `+eventColumns+` FROM audit_event WHERE seq = ?`), int64(seq)); err != nil {
		if countersign.ErrorCode(db.translate(err)) == countersign.ENOTFOUND {
			return nil, countersign.Errorf(countersign.ENOTFOUND, "The audit log has no entry %d.", seq)
		}
		return nil, db.translate(fmt.Errorf("find audit event %d: %w", seq, err))
	}
	return r.toDomain()
}

// EachEvent calls fn for every sequenced event with seq < size (all when
// size is 0) in order, decoded into Events, streaming, so memory stays flat
// however long the log is. It reads the rows as EachStoredEvent does.
func (db *AuditStore) EachEvent(ctx context.Context, size uint64, fn func(*audit.Event) error) error {
	return db.eachStoredEvent(ctx, "", nil, size, decoded(fn))
}

// AllEvents is EachEvent over the whole log, in the form
// audit.Verifier.VerifyEach takes.
func (db *AuditStore) AllEvents(ctx context.Context, fn func(*audit.Event) error) error {
	return db.EachEvent(ctx, 0, fn)
}

// AllStoredEvents is EachStoredEvent over the whole log, in the form
// audit.Verifier.VerifyStored takes. It is what `countersign audit verify`
// and the board's "Verify the log" read.
func (db *AuditStore) AllStoredEvents(ctx context.Context, fn func(*audit.StoredEvent) error) error {
	return db.EachStoredEvent(ctx, 0, fn)
}

// EachStoredEvent calls fn for every sequenced event with seq < size (all
// when size is 0) in order, with its columns as stored: the payload is not
// decoded and no Event is built, so the verifier's workers, not this
// loop, turn the columns into the canonical encoding. The columns are
// scanned into reused buffers; fn must copy what it keeps.
func (db *AuditStore) EachStoredEvent(ctx context.Context, size uint64, fn func(*audit.StoredEvent) error) error {
	return db.eachStoredEvent(ctx, "", nil, size, fn)
}

// decoded turns a function of Events into one of stored events, decoding
// each as FindEvents does.
func decoded(fn func(*audit.Event) error) func(*audit.StoredEvent) error {
	return func(s *audit.StoredEvent) error {
		// The stored columns are reused for the next row: copy them.
		r := eventRow{Seq: int64(s.Seq), At: string(s.At), ActorID: string(s.ActorID), Role: string(s.Role),
			Action: string(s.Action), SubjectType: string(s.SubjectType), SubjectID: string(s.SubjectID),
			CaseID: string(s.CaseID), Payload: string(s.Payload), LeafHash: bytes.Clone(s.LeafHash), ChainHash: bytes.Clone(s.ChainHash)}
		e, err := r.toDomain()
		if err != nil {
			return err
		}
		return fn(e)
	}
}

// eachStoredEvent is the one loop that reads the log in order: every
// sequenced event with seq < size (all when size is 0) that also meets
// cond (SQL over the event's columns with ? for args, or "" for all), in
// pages of storedPageSize, each page streamed row by row into fn.
func (db *conn) eachStoredEvent(ctx context.Context, cond string, args []any, size uint64, fn func(*audit.StoredEvent) error) error {
	if cond != "" {
		cond += " AND "
	}
	// Prepared, PostgreSQL sends the bytea and bigint columns in binary,
	// sparing lib/pq the hex decoding of two hashes a row.
	stmt, err := db.r.PrepareContext(ctx, db.r.Rebind(`
		SELECT `+eventColumns+`
		FROM audit_event
		WHERE `+cond+`seq > ?
		ORDER BY seq
		LIMIT ?`))
	if err != nil {
		return db.translate(fmt.Errorf("read audit events: %w", err))
	}
	defer stmt.Close()
	var (
		seq  int64
		cols [10]sql.RawBytes
		e    audit.StoredEvent
	)
	dest := []any{&seq}
	for i := range cols {
		dest = append(dest, &cols[i])
	}
	for after := int64(-1); size == 0 || after+1 < int64(size); {
		rows, err := stmt.QueryContext(ctx, append(args[:len(args):len(args)], after, storedPageSize)...)
		if err != nil {
			return db.translate(fmt.Errorf("read audit events after %d: %w", after, err))
		}
		n, err := func() (int, error) {
			defer rows.Close()
			n := 0
			for rows.Next() {
				if err := rows.Scan(dest...); err != nil {
					return n, fmt.Errorf("scan audit event after %d: %w", after, err)
				}
				n++
				if size > 0 && uint64(seq) >= size {
					return n, nil
				}
				e = audit.StoredEvent{Seq: uint64(seq), At: cols[0], ActorID: cols[1], Role: cols[2], Action: cols[3],
					SubjectType: cols[4], SubjectID: cols[5], CaseID: cols[6], Payload: cols[7], LeafHash: cols[8], ChainHash: cols[9]}
				if err := fn(&e); err != nil {
					return n, err
				}
			}
			if err := rows.Err(); err != nil {
				return n, db.translate(fmt.Errorf("read audit events after %d: %w", after, err))
			}
			return n, nil
		}()
		if err != nil {
			return err
		}
		if n < storedPageSize || (size > 0 && uint64(seq) >= size) {
			break
		}
		after = seq
	}
	return ctx.Err()
}

// storedPageSize is the number of events EachStoredEvent reads per query:
// rows stream from the database as they are scanned, so a page bounds the
// length of a query, not the memory.
const storedPageSize = 20000

// Head returns the current head of the sequenced log.
func (db *AuditStore) Head(ctx context.Context) (*audit.Head, error) {
	h, err := readHead(ctx, db.r, "")
	if err != nil {
		return nil, db.translate(fmt.Errorf("read audit head: %w", err))
	}
	return h, nil
}

// readHead reads the log's head through q, with lock appended to the
// SELECT (the sequencer locks it; readers do not).
func readHead(ctx context.Context, q queryer, lock string) (*audit.Head, error) {
	var row struct {
		Size  int64  `db:"size"`
		Chain []byte `db:"chain"`
		Range []byte `db:"range_hashes"`
	}
	if err := q.GetContext(ctx, &row, `SELECT size, chain, range_hashes FROM audit_head WHERE id = 1`+lock); err != nil {
		return nil, err
	}
	h := &audit.Head{Size: uint64(row.Size), Chain: row.Chain}
	return h, h.UnmarshalRange(row.Range)
}

// headWrite moves the head to h; the table's trigger refuses a move back.
func headWrite(h *audit.Head) write {
	return write{query: `UPDATE audit_head SET size = ?, chain = ?, range_hashes = ? WHERE id = 1`,
		args: []any{int64(h.Size), h.Chain, h.MarshalRange()},
		check: func(rows int64) error {
			if rows != 1 {
				return fmt.Errorf("move audit head: %d rows updated", rows)
			}
			return nil
		}}
}

// Export writes the NDJSON export of the first cp.Size events, headed by cp,
// streaming in pages so memory stays flat however long the log is.
func (db *AuditStore) Export(ctx context.Context, w io.Writer, cp *audit.Checkpoint) error {
	ew := audit.NewWriter(w)
	if err := ew.WriteHeader(audit.Header{Origin: cp.Origin, Size: cp.Size, Checkpoint: string(cp.Note)}); err != nil {
		return err
	}
	if cp.Size > 0 {
		if err := db.EachEvent(ctx, cp.Size, ew.WriteEvent); err != nil {
			return err
		}
	}
	return ew.Flush()
}
