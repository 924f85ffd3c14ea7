package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/agenda"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/internal/sealbox"
	"github.com/countersign/countersign/review"
)

// AgendaStore keeps the agenda: entries, their reminders, notifications
// and calendar feeds (agenda.Store).
type AgendaStore struct{ *conn }

var _ agenda.Store = (*AgendaStore)(nil)

// location returns the service's time zone.
func (db *conn) location() *time.Location {
	if db.Location != nil {
		return db.Location
	}
	loc, err := time.LoadLocation(agenda.DefaultTimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

const agendaColumns = `id, case_id, team_id, owner_id, kind, due_date, due_time, due_at, title, shared, source_draft, source_item,
	source_notes, status, outcome, reason, closed_by, closed_at, next_id, previous_id, uid, sequence, created_by, created_at,
	updated_at, salt`

type agendaRow struct {
	ID          string     `db:"id"`
	CaseID      string     `db:"case_id"`
	TeamID      string     `db:"team_id"`
	OwnerID     string     `db:"owner_id"`
	Kind        string     `db:"kind"`
	Date        string     `db:"due_date"`
	Time        string     `db:"due_time"`
	DueAt       time.Time  `db:"due_at"`
	Title       string     `db:"title"`
	Shared      bool       `db:"shared"`
	SourceDraft *string    `db:"source_draft"`
	SourceItem  *string    `db:"source_item"`
	SourceNotes string     `db:"source_notes"`
	Status      string     `db:"status"`
	Outcome     *string    `db:"outcome"`
	Reason      string     `db:"reason"`
	ClosedBy    *string    `db:"closed_by"`
	ClosedAt    *time.Time `db:"closed_at"`
	NextID      *string    `db:"next_id"`
	PreviousID  *string    `db:"previous_id"`
	UID         string     `db:"uid"`
	Sequence    int        `db:"sequence"`
	CreatedBy   string     `db:"created_by"`
	CreatedAt   time.Time  `db:"created_at"`
	UpdatedAt   time.Time  `db:"updated_at"`
	Salt        string     `db:"salt"`
	Reference   string     `db:"reference"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// agendaTitle is the place of an agenda entry's title, its seal's
// additional data.
func agendaTitle(id string) sealbox.Where {
	return sealbox.Where{Table: "agenda_entries", Column: "title", Row: id}
}

// agendaReason is the place of the reason an agenda entry was closed with.
func agendaReason(id string) sealbox.Where {
	return sealbox.Where{Table: "agenda_entries", Column: "reason", Row: id}
}

// toDomain returns the entry, its title and reason opened through o.
func (r *agendaRow) toDomain(ctx context.Context, o *openers) (*agenda.Entry, error) {
	title, err := o.open(ctx, r.CaseID, agendaTitle(r.ID), r.Title)
	if err != nil {
		return nil, err
	}
	r.Title = title
	reason, err := o.open(ctx, r.CaseID, agendaReason(r.ID), r.Reason)
	if err != nil {
		return nil, err
	}
	r.Reason = reason
	e := &agenda.Entry{ID: r.ID, CaseID: r.CaseID, CaseReference: r.Reference, TeamID: r.TeamID, OwnerID: r.OwnerID,
		Kind: agenda.Kind(r.Kind), Date: r.Date, Time: r.Time, DueAt: r.DueAt.UTC(), Title: r.Title, Shared: r.Shared,
		Status: agenda.Status(r.Status), Outcome: agenda.Outcome(str(r.Outcome)), Reason: r.Reason, ClosedBy: str(r.ClosedBy),
		NextID: str(r.NextID), PreviousID: str(r.PreviousID), UID: r.UID, Sequence: r.Sequence, CreatedBy: r.CreatedBy,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), Salt: r.Salt}
	if r.ClosedAt != nil {
		t := r.ClosedAt.UTC()
		e.ClosedAt = &t
	}
	if r.SourceDraft != nil {
		e.Source = &agenda.Source{DraftID: *r.SourceDraft, ItemID: str(r.SourceItem)}
		_ = json.Unmarshal([]byte(r.SourceNotes), &e.Source.NoteIDs)
	}
	return e, nil
}

// selectEntries is the SELECT of entries with their case's reference.
const selectEntries = `SELECT e.id, e.case_id, e.team_id, e.owner_id, e.kind, e.due_date, e.due_time, e.due_at, e.title, e.shared,
	e.source_draft, e.source_item, e.source_notes, e.status, e.outcome, e.reason, e.closed_by, e.closed_at, e.next_id,
	e.previous_id, e.uid, e.sequence, e.created_by, e.created_at, e.updated_at, e.salt, c.reference
	FROM agenda_entries e JOIN cases c ON c.id = e.case_id`

func (db *conn) findEntries(ctx context.Context, q queryer, where string, args ...any) ([]*agenda.Entry, error) {
	var rows []agendaRow
	if err := q.SelectContext(ctx, &rows, q.Rebind(selectEntries+` WHERE `+where+` ORDER BY e.due_at, e.id`), args...); err != nil {
		return nil, db.translate(fmt.Errorf("find agenda entries: %w", err))
	}
	now, loc := db.Now(), db.location()
	out := make([]*agenda.Entry, len(rows))
	o := db.openers(q)
	if err := preload(ctx, o, rows, func(r *agendaRow) string { return r.CaseID }); err != nil {
		return nil, err
	}
	for i := range rows {
		e, err := rows[i].toDomain(ctx, o)
		if err != nil {
			return nil, err
		}
		out[i] = e
		out[i].Overdue = out[i].IsOverdue(now, loc)
	}
	return out, nil
}

func (db *conn) insertAgendaEntry(ctx context.Context, tx *Tx, e *agenda.Entry) error {
	var draft, item *string
	notes := "[]"
	if e.Source != nil {
		draft, item = nullable(e.Source.DraftID), nullable(e.Source.ItemID)
		b, _ := json.Marshal(nonNilSlice(e.Source.NoteIDs))
		notes = string(b)
	}
	k, err := tx.sealer(ctx, e.CaseID)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO agenda_entries (`+agendaColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		e.ID, e.CaseID, e.TeamID, e.OwnerID, string(e.Kind), e.Date, e.Time, e.DueAt, k.Seal(agendaTitle(e.ID), e.Title), e.Shared, draft, item, notes,
		string(e.Status), nullable(string(e.Outcome)), k.Seal(agendaReason(e.ID), e.Reason), nullable(e.ClosedBy), e.ClosedAt, nullable(e.NextID),
		nullable(e.PreviousID), e.UID, e.Sequence, e.CreatedBy, e.CreatedAt, e.UpdatedAt, e.Salt); err != nil {
		return fmt.Errorf("insert agenda entry: %w", err)
	}
	return nil
}

// saveEntry writes the changeable fields of e, guarded by the sequence it
// was read at, so two changes of one entry never both apply.
func (db *conn) saveEntry(ctx context.Context, tx *Tx, e *agenda.Entry, readSeq int) error {
	k, err := tx.sealer(ctx, e.CaseID)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE agenda_entries SET kind = ?, due_date = ?, due_time = ?, due_at = ?, title = ?,
		shared = ?, status = ?, outcome = ?, reason = ?, closed_by = ?, closed_at = ?, next_id = ?, sequence = ?, updated_at = ?
		WHERE id = ? AND sequence = ?`),
		string(e.Kind), e.Date, e.Time, e.DueAt, k.Seal(agendaTitle(e.ID), e.Title), e.Shared, string(e.Status), nullable(string(e.Outcome)), k.Seal(agendaReason(e.ID), e.Reason),
		nullable(e.ClosedBy), e.ClosedAt, nullable(e.NextID), e.Sequence, e.UpdatedAt, e.ID, readSeq)
	if err != nil {
		return fmt.Errorf("update agenda entry: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return countersign.Errorf(countersign.ECONFLICT, "This date has just been changed by someone else; read it again.")
	}
	return nil
}

// schedule replaces the reminders of e not yet sent by those the policy
// gives it now.
func (db *conn) schedule(ctx context.Context, tx *Tx, e *agenda.Entry) error {
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM agenda_reminders WHERE entry_id = ? AND sent_at IS NULL`), e.ID); err != nil {
		return fmt.Errorf("unschedule reminders: %w", err)
	}
	for _, r := range agenda.Schedule(e, db.policy().Agenda.Offsets(e.Kind), db.location(), tx.now) {
		// A reminder already sent for the same date and offset is not sent again.
		var n int
		if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT COUNT(*) FROM agenda_reminders
			WHERE entry_id = ? AND kind = ? AND offset_code = ? AND fire_at = ?`), r.EntryID, r.Kind, r.Offset, r.FireAt); err != nil {
			return fmt.Errorf("find reminder: %w", err)
		}
		if n > 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO agenda_reminders (id, entry_id, kind, offset_code, fire_at)
			VALUES (?, ?, ?, ?, ?)`), r.ID, r.EntryID, r.Kind, r.Offset, r.FireAt); err != nil {
			return fmt.Errorf("schedule reminder: %w", err)
		}
	}
	return nil
}

// loadCase reads a case without an access check, for the service's own
// steps whose caller already checked (a sign-off).
func (db *conn) loadCase(ctx context.Context, q queryer, id string) (*casefile.Case, error) {
	var r caseRow
	if err := q.GetContext(ctx, &r, q.Rebind(`SELECT `+caseColumns+` FROM cases WHERE id = ?`), id); err != nil {
		return nil, notFound(db.translate(err), "There is no case with this id.")
	}
	return r.toDomain(), nil
}

// agendaFromSignOff adds to the case's agenda the appointments and
// deadlines a signed suggestions draft brings (agenda.FromSignOff), in the
// transaction of the sign-off. dec is the reviewer's decision.
func (db *conn) agendaFromSignOff(ctx context.Context, tx *Tx, d *review.Draft, dec *review.Decision) error {
	if d.Kind != assistant.KindSuggestions || d.Content == nil || dec == nil {
		return nil
	}
	c, err := db.loadCase(ctx, tx, d.CaseID)
	if err != nil {
		return err
	}
	decided := map[string]bool{}
	for _, it := range dec.Items {
		decided[it.ID] = it.Accepted
	}
	entries, events, _ := agenda.FromSignOff(actor(ctx), c, agenda.Signed{DraftID: d.ID, Content: d.Content, Decided: decided},
		db.location(), tx.now)
	for _, e := range entries {
		if err := db.insertAgendaEntry(ctx, tx, e); err != nil {
			return err
		}
		if err := db.schedule(ctx, tx, e); err != nil {
			return err
		}
	}
	return tx.apply(ctx, events)
}

// CreateEntry applies agenda.DecideCreate.
func (db *AgendaStore) CreateEntry(ctx context.Context, caseID string, in agenda.Input) (*agenda.Entry, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	var e *agenda.Entry
	err = db.withTx(ctx, func(tx *Tx) error {
		c, err := db.findCase(ctx, tx, caseID, true)
		if err != nil {
			return err
		}
		var ev *audit.Record
		if e, ev, err = agenda.DecideCreate(a, c, in, db.location(), tx.now); err != nil {
			return err
		}
		if err := db.insertAgendaEntry(ctx, tx, e); err != nil {
			return err
		}
		if err := db.schedule(ctx, tx, e); err != nil {
			return err
		}
		return tx.apply(ctx, []audit.Record{*ev})
	})
	if err != nil {
		return nil, err
	}
	e.Overdue = e.IsOverdue(db.Now(), db.location())
	return e, nil
}

// lockEntry reads an entry for a change, with its case, and checks the
// actor may change the case. The case is locked before the entry, in the
// order an assignment of the case takes them (entriesFollowCase), so the
// two cannot deadlock; an entry never changes case, so its case is read
// first without a lock.
func (db *conn) lockEntry(ctx context.Context, tx *Tx, id string) (*agenda.Entry, *casefile.Case, error) {
	var caseID string
	if err := tx.GetContext(ctx, &caseID, tx.Rebind(`SELECT case_id FROM agenda_entries WHERE id = ?`), id); err != nil {
		return nil, nil, notFound(db.translate(err), "There is no agenda entry with this id.")
	}
	c, err := db.findCase(ctx, tx, caseID, true)
	if err != nil {
		return nil, nil, err
	}
	var r agendaRow
	if err := tx.GetContext(ctx, &r, tx.Rebind(selectEntries+` WHERE e.id = ?`+db.dialect.forUpdate()+``), id); err != nil {
		return nil, nil, notFound(db.translate(err), "There is no agenda entry with this id.")
	}
	e, err := r.toDomain(ctx, db.openers(tx))
	return e, c, err
}

// entriesFollowCase applies agenda.DecideCaseAssigned within tx, the
// transaction that assigned case c (already given to c.WorkerID, under the
// case's lock) from worker from: the case's open entries are locked, after
// the case as lockEntry takes them, and those from owns pass to the new
// worker. It returns their events. The reminders need nothing: they reach
// whoever owns the entry when they are delivered.
func (db *conn) entriesFollowCase(ctx context.Context, tx *Tx, a countersign.Actor, c *casefile.Case, from string) ([]audit.Record, error) {
	// What the rule reads of an entry; its title stays sealed.
	var rows []struct {
		ID       string `db:"id"`
		CaseID   string `db:"case_id"`
		OwnerID  string `db:"owner_id"`
		Kind     string `db:"kind"`
		Date     string `db:"due_date"`
		Time     string `db:"due_time"`
		Status   string `db:"status"`
		Sequence int    `db:"sequence"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT id, case_id, owner_id, kind, due_date, due_time, status, sequence
		FROM agenda_entries WHERE case_id = ? AND status = ? ORDER BY id`+db.dialect.forUpdate()), c.ID, string(agenda.StatusOpen)); err != nil {
		return nil, fmt.Errorf("find the case's agenda: %w", err)
	}
	entries := make([]*agenda.Entry, len(rows))
	for i, r := range rows {
		entries[i] = &agenda.Entry{ID: r.ID, CaseID: r.CaseID, OwnerID: r.OwnerID, Kind: agenda.Kind(r.Kind), Date: r.Date,
			Time: r.Time, Status: agenda.Status(r.Status), Sequence: r.Sequence}
	}
	mv, err := agenda.DecideCaseAssigned(a, c, entries, from, tx.now)
	if err != nil {
		return nil, err
	}
	for i, e := range mv.Moved {
		// Guarded as saveEntry is, by the sequence read under the lock.
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE agenda_entries SET owner_id = ?, sequence = ?, updated_at = ?
			WHERE id = ? AND sequence = ?`), e.OwnerID, e.Sequence, e.UpdatedAt, e.ID, mv.Read[i])
		if err != nil {
			return nil, fmt.Errorf("give agenda entry to the case's worker: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil, countersign.Errorf(countersign.ECONFLICT, "A date of this case has just been changed by someone else; try again.")
		}
	}
	return mv.Events, nil
}

// UpdateEntry applies agenda.DecideUpdate.
func (db *AgendaStore) UpdateEntry(ctx context.Context, id string, upd agenda.Update) (*agenda.Entry, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	var e *agenda.Entry
	err = db.withTx(ctx, func(tx *Tx) error {
		var c *casefile.Case
		if e, c, err = db.lockEntry(ctx, tx, id); err != nil {
			return err
		}
		seq := e.Sequence
		ch, err := agenda.DecideUpdate(a, c, e, upd, db.location(), tx.now)
		if err != nil || len(ch.Events) == 0 {
			return err
		}
		if err := db.saveEntry(ctx, tx, e, seq); err != nil {
			return err
		}
		if ch.Reschedule {
			if err := db.schedule(ctx, tx, e); err != nil {
				return err
			}
		}
		return tx.apply(ctx, ch.Events)
	})
	if err != nil {
		return nil, err
	}
	e.Overdue = e.IsOverdue(db.Now(), db.location())
	return e, nil
}

// CloseEntry applies agenda.DecideClose: the entry is closed, its pending
// reminders dropped, and a moved entry's next one added with its own.
func (db *AgendaStore) CloseEntry(ctx context.Context, id string, cl agenda.Close) (*agenda.Entry, *agenda.Entry, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, nil, err
	}
	var e, next *agenda.Entry
	err = db.withTx(ctx, func(tx *Tx) error {
		var c *casefile.Case
		if e, c, err = db.lockEntry(ctx, tx, id); err != nil {
			return err
		}
		seq := e.Sequence
		ch, err := agenda.DecideClose(a, c, e, cl, db.location(), tx.now)
		if err != nil {
			return err
		}
		if ch.Next != nil {
			// The next entry first: the closed one names it.
			if err := db.insertAgendaEntry(ctx, tx, ch.Next); err != nil {
				return err
			}
			if err := db.schedule(ctx, tx, ch.Next); err != nil {
				return err
			}
		}
		if err := db.saveEntry(ctx, tx, e, seq); err != nil {
			return err
		}
		if err := db.schedule(ctx, tx, e); err != nil {
			return err
		}
		next = ch.Next
		return tx.apply(ctx, ch.Events)
	})
	if err != nil {
		return nil, nil, err
	}
	return e, next, nil
}

// FindEntryByID returns an entry of a case the actor may read.
func (db *AgendaStore) FindEntryByID(ctx context.Context, id string) (*agenda.Entry, error) {
	es, err := db.findEntries(ctx, db.r, `e.id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, countersign.Errorf(countersign.ENOTFOUND, "There is no agenda entry with this id.")
	}
	if _, err := db.findCase(ctx, db.r, es[0].CaseID, false); err != nil {
		return nil, err
	}
	return es[0], nil
}

// FindCaseAgenda returns the entries of a case the actor may read.
func (db *AgendaStore) FindCaseAgenda(ctx context.Context, caseID string) ([]*agenda.Entry, error) {
	if _, err := db.findCase(ctx, db.r, caseID, false); err != nil {
		return nil, err
	}
	return db.findEntries(ctx, db.r, `e.case_id = ?`, caseID)
}

// FindMyAgenda returns the actor's open entries due in [from, to), and
// every one overdue, sorted (agenda.Sort). Entries of cases the actor no
// longer holds are left out.
func (db *AgendaStore) FindMyAgenda(ctx context.Context, fromDate, toDate string) (*agenda.Agenda, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	from, to, err := agenda.Window(fromDate, toDate, db.Now(), db.location())
	if err != nil {
		return nil, err
	}
	es, err := db.findEntries(ctx, db.r, `e.owner_id = ? AND e.status = ? AND (e.due_at <= ? OR (e.due_at >= ? AND e.due_at < ?))`,
		a.UserID, string(agenda.StatusOpen), db.Now().UTC(), from.UTC(), to.UTC())
	if err != nil {
		return nil, err
	}
	kept := es[:0]
	for _, e := range es {
		if (e.Overdue || !e.DueAt.Before(from) && e.DueAt.Before(to)) && casefile.CanRead(a, &casefile.Case{ID: e.CaseID, TeamID: e.TeamID, WorkerID: e.OwnerID}) {
			kept = append(kept, e)
		}
	}
	ag := agenda.Sort(kept, db.Now(), db.location())
	ag.From, ag.To, ag.TimeZone = from.Format(time.DateOnly), to.Format(time.DateOnly), db.location().String()
	return ag, nil
}

// FindTeamOverdue returns the supervisor's team's overdue hard deadlines.
func (db *AgendaStore) FindTeamOverdue(ctx context.Context) ([]*agenda.Entry, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := agenda.CheckTeamOverdue(a); err != nil {
		return nil, err
	}
	es, err := db.findEntries(ctx, db.r, `e.team_id = ? AND e.status = ? AND e.kind = ? AND e.due_at < ?`,
		a.TeamID, string(agenda.StatusOpen), string(agenda.KindHardDeadline), db.Now().UTC())
	if err != nil {
		return nil, err
	}
	kept := es[:0]
	for _, e := range es {
		if e.Overdue {
			kept = append(kept, e)
		}
	}
	return kept, nil
}
