package sqlstore

import (
	"bytes"
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/client"
)

// RecordRead writes the audit event of the actor's read of a case's
// content, as client.ReadEvent decides it, and returns once it is durable:
// the caller returns the content only after that, so no read goes
// unlogged. The event goes into audit_pending through the ordinary append
// path (pendingRow: checked and MACed), and the sequencer gives it its
// place in the log as it does every event.
//
// It is the cheapest durable write each dialect has. On SQLite it joins
// the group commit (one COMMIT for every write waiting, reads included).
// On PostgreSQL a read changes nothing else, so the event is one INSERT
// in autocommit: one round trip instead of BEGIN, INSERT and COMMIT, and
// durable when it returns, as any commit is. (Batching concurrent reads
// into one INSERT was measured and was no faster: PostgreSQL already
// shares one WAL flush among concurrent commits, and a batch in flight
// made the next reads wait for it; BENCHMARKS.md.)
func (db *AuditStore) RecordRead(ctx context.Context, r client.Read) error {
	return db.recordRead(ctx, r)
}

// recordRead is RecordRead, for every store that serves a read (ReadCase).
func (db *conn) recordRead(ctx context.Context, r client.Read) error {
	ev, err := db.readEvent(ctx, r)
	if err != nil || ev == nil {
		return err
	}
	if db.group != nil {
		return db.withTx(ctx, func(tx *Tx) error { return tx.apply(ctx, []audit.Record{*ev}) })
	}
	row, err := db.pendingRow(db.stamp(), ev.Actor, ev.Action, ev.SubjectType, ev.SubjectID, ev.CaseID, ev.Payload)
	if err != nil {
		return err
	}
	if _, err := db.w.ExecContext(ctx, db.w.Rebind(insertPendingRows(1)), row...); err != nil {
		return db.translate(fmt.Errorf("record %s: %w", ev.Action, err))
	}
	db.wakeSequencer()
	return nil
}

// readEvent is the audit event of the actor's read r of a case's content,
// as client.ReadEvent decides it, or nil when the read writes none. Every
// path that serves case content to staff takes its event from here, so the
// rule and the benchmark's switch (BenchReadLogSwitch) are in one place.
func (c *conn) readEvent(ctx context.Context, r client.Read) (*audit.Record, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if c.readLogOff != nil && c.readLogOff.Load() {
		return nil, nil
	}
	return client.ReadEvent(a, r)
}

// accessRow is a read of a case as the access log finds it, in the log or
// still pending: the event's row and its nonce.
type accessRow struct {
	eventRow
	Nonce []byte `db:"nonce"`
}

// FindAccessLog returns the staff reads of the signed-in client's cases,
// newest first, at most limit (client.MaxAccessLog when limit is not in
// (0, MaxAccessLog]): first those still being recorded (pending, without
// a place in the log), then the sequenced ones with their place. Proofs
// are added by client.Prove.
func (db *AuditStore) FindAccessLog(ctx context.Context, limit int) (*client.AccessLog, error) {
	p, err := client.PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	lang := p.Language
	if !client.ValidLanguage(lang) {
		lang = client.DefaultLanguage
	}
	out := &client.AccessLog{Language: lang, Entries: []client.Access{}}
	cases := principalCases(p)
	if len(cases) == 0 {
		return out, nil
	}
	if limit <= 0 || limit > client.MaxAccessLog {
		limit = client.MaxAccessLog
	}
	// Pending rows are read first: one the sequencer moves meanwhile is
	// then read again from the log, and dropped here by its nonce, rather
	// than missed by both reads.
	pq, pargs, err := sqlx.In(`
		SELECT 0 AS seq, at, actor_id, role, action, subject_type, subject_id, case_id, payload, nonce
		FROM audit_pending
		WHERE action = ? AND case_id IN (?)
		ORDER BY id DESC`, audit.ActionCaseRead, cases)
	if err != nil {
		return nil, fmt.Errorf("access log query: %w", err)
	}
	var pending []accessRow
	if err := db.r.SelectContext(ctx, &pending, db.r.Rebind(pq), pargs...); err != nil {
		return nil, db.translate(fmt.Errorf("find pending reads: %w", err))
	}
	eq, eargs, err := sqlx.In(`
		SELECT seq, at, actor_id, role, action, subject_type, subject_id, case_id, payload, leaf_hash, chain_hash, nonce
		FROM audit_event
		WHERE case_id IN (?) AND action = ?
		ORDER BY seq DESC
		LIMIT ?`, cases, audit.ActionCaseRead, limit)
	if err != nil {
		return nil, fmt.Errorf("access log query: %w", err)
	}
	var logged []accessRow
	if err := db.r.SelectContext(ctx, &logged, db.r.Rebind(eq), eargs...); err != nil {
		return nil, db.translate(fmt.Errorf("find reads: %w", err))
	}
	var actors []string
	for _, r := range append(pending[:len(pending):len(pending)], logged...) {
		actors = append(actors, r.ActorID)
	}
	staff, err := db.staffNames(ctx, db.r, actors)
	if err != nil {
		return nil, err
	}
	add := func(r accessRow, sequenced bool) error {
		if len(out.Entries) >= limit {
			return nil
		}
		e, err := r.toDomain()
		if err != nil {
			return err
		}
		out.Entries = append(out.Entries, client.AccessView(e, sequenced, staff, lang))
		return nil
	}
	for _, r := range pending {
		moved := false
		for _, l := range logged {
			if len(r.Nonce) > 0 && bytes.Equal(r.Nonce, l.Nonce) {
				moved = true
				break
			}
		}
		if !moved {
			if err := add(r, false); err != nil {
				return nil, err
			}
		}
	}
	for _, r := range logged {
		if err := add(r, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}
