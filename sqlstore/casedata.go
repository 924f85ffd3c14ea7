package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
)

// CheckCaseData holds every row of case content (notes, parties, consent
// answers, drafts, decisions, record entries and corrections) against the
// events that created or changed it, by the rules of the domain packages
// (casefile.CheckNote, review.CheckDecision…), and passes each
// disagreement to fn: a row without its event, a text that is not the one
// committed to, a value the log says otherwise, an event whose row is gone.
// Events still waiting to be sequenced count as the row's events.
//
// Everything is read in one snapshot (a read-only repeatable-read
// transaction on PostgreSQL, a read transaction on SQLite's WAL), so rows
// and events written meanwhile agree; rows and events are streamed, one
// row and its few events in memory at a time.
func (db *AuditStore) CheckCaseData(ctx context.Context, fn func(audit.DataFinding) error) (*audit.DataReport, error) {
	if _, err := countersign.ActorFrom(ctx); err != nil {
		return nil, err
	}
	tx, err := db.r.BeginTxx(ctx, db.dialect.snapshot())
	if err != nil {
		return nil, db.translate(fmt.Errorf("begin case data check: %w", err))
	}
	defer tx.Rollback()
	rep := &audit.DataReport{Rows: map[string]int{}}
	c := &dataCheck{tx: tx, rep: rep, emit: fn}
	if c.erasures, err = loadErasures(ctx, tx); err != nil {
		return nil, db.translate(err)
	}
	if c.keys, err = db.loadCaseKeys(ctx, tx); err != nil {
		return nil, db.translate(err)
	}
	for _, check := range []func(context.Context, *dataCheck) error{
		checkNotes, checkParties, checkConsents, checkDrafts, checkDecisions, checkEntries, checkCorrections,
		checkClientResponses,
	} {
		if err := check(ctx, c); err != nil {
			return nil, db.translate(err)
		}
	}
	return rep, nil
}

// snapshot is how a read transaction sees one state of the whole database.
func (postgres) snapshot() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

// snapshot: in WAL mode a read transaction keeps the snapshot of its first read.
func (sqliteDialect) snapshot() *sql.TxOptions { return nil }

type dataCheck struct {
	tx   *sqlx.Tx
	rep  *audit.DataReport
	emit func(audit.DataFinding) error
	// erasures are the case.erased events by case and the party.erased
	// events by party (retention.go), read before the rows are streamed.
	erasures map[string]audit.Witness
	// keys opens sealed texts: read before the rows are streamed, since
	// a connection reading rows takes no other query.
	keys *caseKeySet
}

// evCols are the event columns each row is read with (NULL when the row
// has no event).
type evCols struct {
	Seq     *int64  `db:"ev_seq"`
	Pending *int64  `db:"ev_pending"`
	Subject *string `db:"ev_subject"`
	Actor   *string `db:"ev_actor"`
	Action  *string `db:"ev_action"`
	Case    *string `db:"ev_case"`
	Payload *string `db:"ev_payload"`
}

// witness returns the event, or nil when there is none.
func (e *evCols) witness() (*audit.Witness, error) {
	if e.Seq == nil {
		return nil, nil
	}
	w := &audit.Witness{Event: &audit.Event{ActorID: deref(e.Actor), Action: deref(e.Action), SubjectID: deref(e.Subject),
		CaseID: deref(e.Case)}, Pending: e.Pending != nil && *e.Pending == 1}
	if !w.Pending {
		w.Seq = uint64(*e.Seq)
	}
	if p := deref(e.Payload); p != "" && p != "null" {
		if err := json.Unmarshal([]byte(p), &w.Payload); err != nil {
			return nil, fmt.Errorf("audit event %d: bad payload: %w", *e.Seq, err)
		}
	}
	return w, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// dataTable says how one table is checked: its rows (columns selected
// from alias r), the column the events' subject_id names, the events'
// subject type and actions, and the domain's rule.
type dataTable[R any] struct {
	table, cols, key, subject string
	actions                   []string
	id                        func(*R) string
	ev                        func(*R) *evCols
	check                     func(*R, []audit.Witness) []audit.Mismatch
}

// events selects the events of t's actions, from the log and from
// audit_pending, as the ev_ columns.
func (t *dataTable[R]) events() (string, []any) {
	in := "(?" + strings.Repeat(", ?", len(t.actions)-1) + ")"
	var args []any
	for range 2 {
		args = append(args, t.subject)
		for _, a := range t.actions {
			args = append(args, a)
		}
	}
	return `
		SELECT seq AS ev_seq, 0 AS ev_pending, subject_id AS ev_subject, actor_id AS ev_actor, action AS ev_action,
			case_id AS ev_case, payload AS ev_payload
		FROM audit_event WHERE subject_type = ? AND action IN ` + in + `
		UNION ALL
		SELECT id, 1, subject_id, actor_id, action, case_id, payload
		FROM audit_pending WHERE subject_type = ? AND action IN ` + in, args
}

func run[R any](ctx context.Context, c *dataCheck, t dataTable[R]) error {
	evs, args := t.events()
	// Every row with its events, in the order of its key.
	rows, err := c.tx.QueryxContext(ctx, c.tx.Rebind(`
		SELECT `+t.cols+`, e.ev_seq, e.ev_pending, e.ev_subject, e.ev_actor, e.ev_action, e.ev_case, e.ev_payload
		FROM `+t.table+` r
		LEFT JOIN (`+evs+`) e ON e.ev_subject = r.`+t.key+`
		ORDER BY r.`+t.key+`, e.ev_pending, e.ev_seq`), args...)
	if err != nil {
		return fmt.Errorf("check %s: %w", t.table, err)
	}
	defer rows.Close()
	var (
		cur *R
		key string
		ws  []audit.Witness
	)
	flush := func() error {
		if cur == nil {
			return nil
		}
		c.rep.Rows[t.table]++
		for _, w := range ws {
			if w.Pending {
				c.rep.Waiting++
				break
			}
		}
		if w, empty, ok := c.erasedBy(cur); ok {
			// The erasure covers this row: its text is gone by rule.
			return c.report(t.table, key, audit.CheckErased(w, ws, t.subject, empty))
		}
		return c.report(t.table, key, t.check(cur, ws))
	}
	for rows.Next() {
		r := new(R)
		if err := rows.StructScan(r); err != nil {
			return fmt.Errorf("check %s: %w", t.table, err)
		}
		if k := t.id(r); cur == nil || k != key {
			if err := flush(); err != nil {
				return err
			}
			cur, key, ws = r, k, ws[:0]
		}
		w, err := t.ev(r).witness()
		if err != nil {
			return err
		}
		if w != nil {
			ws = append(ws, *w)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check %s: %w", t.table, err)
	}
	if err := flush(); err != nil {
		return err
	}
	rows.Close()

	// The events whose row is gone, by subject.
	gone, err := c.tx.QueryxContext(ctx, c.tx.Rebind(`
		SELECT e.ev_seq, e.ev_pending, e.ev_subject, e.ev_actor, e.ev_action, e.ev_case, e.ev_payload
		FROM (`+evs+`) e
		WHERE NOT EXISTS (SELECT 1 FROM `+t.table+` r WHERE r.`+t.key+` = e.ev_subject)
		ORDER BY e.ev_subject, e.ev_pending, e.ev_seq`), args...)
	if err != nil {
		return fmt.Errorf("check %s: %w", t.table, err)
	}
	defer gone.Close()
	key, ws = "", ws[:0]
	for gone.Next() {
		var e evCols
		if err := gone.StructScan(&e); err != nil {
			return fmt.Errorf("check %s: %w", t.table, err)
		}
		w, err := e.witness()
		if err != nil {
			return err
		}
		if w.SubjectID != key {
			if err := c.report(t.table, key, t.check(nil, ws)); err != nil {
				return err
			}
			key, ws = w.SubjectID, ws[:0]
		}
		ws = append(ws, *w)
	}
	if err := gone.Err(); err != nil {
		return fmt.Errorf("check %s: %w", t.table, err)
	}
	return c.report(t.table, key, t.check(nil, ws))
}

func (c *dataCheck) report(table, key string, ms []audit.Mismatch) error {
	for _, m := range ms {
		f := audit.DataFinding{Table: table, ID: key, Seq: m.Seq, Problem: m.Problem}
		if m.ID != "" {
			f.ID = m.ID
		}
		c.rep.Problems++
		if c.emit != nil {
			if err := c.emit(f); err != nil {
				return err
			}
		}
	}
	return nil
}

type noteCheckRow struct {
	ID       string  `db:"id"`
	CaseID   string  `db:"case_id"`
	AuthorID string  `db:"author_id"`
	Body     string  `db:"body"`
	Amends   *string `db:"amends"`
	Salt     string  `db:"salt"`
	evCols
}

func checkNotes(ctx context.Context, c *dataCheck) error {
	return run(ctx, c, dataTable[noteCheckRow]{table: "notes", key: "id", subject: "note", actions: casefile.NoteEvents,
		cols: `r.id, r.case_id, r.author_id, r.body, r.amends, r.salt`,
		id:   func(r *noteCheckRow) string { return r.ID }, ev: func(r *noteCheckRow) *evCols { return &r.evCols },
		check: func(r *noteCheckRow, ws []audit.Witness) []audit.Mismatch {
			if r == nil {
				return casefile.CheckNote(nil, ws)
			}
			return casefile.CheckNote(&casefile.Note{ID: r.ID, CaseID: r.CaseID, AuthorID: r.AuthorID, Body: c.keys.openOrKeep(r.CaseID, noteBody(r.ID), r.Body),
				Amends: deref(r.Amends), Salt: r.Salt}, ws)
		}})
}

type partyCheckRow struct {
	partyRow
	Salt string `db:"salt"`
	evCols
}

func checkParties(ctx context.Context, c *dataCheck) error {
	return run(ctx, c, dataTable[partyCheckRow]{table: "parties", key: "id", subject: "party", actions: casefile.PartyEvents,
		cols: `r.id, r.case_id, r.role, r.full_name, r.date_of_birth, r.address, r.phone, r.email, r.national_id, r.created_at, r.salt`,
		id:   func(r *partyCheckRow) string { return r.ID }, ev: func(r *partyCheckRow) *evCols { return &r.evCols },
		check: func(r *partyCheckRow, ws []audit.Witness) []audit.Mismatch {
			if r == nil {
				return casefile.CheckParty(nil, ws)
			}
			c.keys.openParty(&r.partyRow)
			return casefile.CheckParty(&casefile.Party{ID: r.ID, CaseID: r.CaseID, Role: r.Role, FullName: r.FullName,
				DateOfBirth: r.DateOfBirth, Address: r.Address, Phone: r.Phone, Email: r.Email, NationalID: r.NationalID,
				Salt: r.Salt}, ws)
		}})
}

type consentCheckRow struct {
	consentRow
	Salt string `db:"salt"`
	evCols
}

func checkConsents(ctx context.Context, c *dataCheck) error {
	return run(ctx, c, dataTable[consentCheckRow]{table: "consents", key: "id", subject: "consent", actions: casefile.ConsentEvents,
		cols: `r.id, r.case_id, r.seq, r.given, r.note, r.recorded_by, r.recorded_at, r.salt`,
		id:   func(r *consentCheckRow) string { return r.ID }, ev: func(r *consentCheckRow) *evCols { return &r.evCols },
		check: func(r *consentCheckRow, ws []audit.Witness) []audit.Mismatch {
			if r == nil {
				return casefile.CheckConsent(nil, ws)
			}
			cs := r.toDomain()
			cs.Note = c.keys.openOrKeep(r.CaseID, consentNote(r.ID), r.Note)
			cs.Salt = r.Salt
			return casefile.CheckConsent(cs, ws)
		}})
}

type draftCheckRow struct {
	ID          string  `db:"id"`
	CaseID      string  `db:"case_id"`
	RequestedBy string  `db:"requested_by"`
	Content     *string `db:"content"`
	ContentSalt string  `db:"content_salt"`
	evCols
}

func checkDrafts(ctx context.Context, c *dataCheck) error {
	return run(ctx, c, dataTable[draftCheckRow]{table: "drafts", key: "id", subject: "draft", actions: review.DraftEvents,
		cols: `r.id, r.case_id, r.requested_by, r.content, r.content_salt`,
		id:   func(r *draftCheckRow) string { return r.ID }, ev: func(r *draftCheckRow) *evCols { return &r.evCols },
		check: func(r *draftCheckRow, ws []audit.Witness) []audit.Mismatch {
			if r == nil {
				return review.CheckDraft(nil, ws)
			}
			return review.CheckDraft(&review.StoredDraft{ID: r.ID, CaseID: r.CaseID, RequestedBy: r.RequestedBy,
				Content: c.keys.openPtr(r.CaseID, draftContent(r.ID), r.Content), ContentSalt: r.ContentSalt}, ws)
		}})
}

type decisionCheckRow struct {
	CaseID    string `db:"case_id"`
	ID        string `db:"id"`
	DraftID   string `db:"draft_id"`
	Outcome   string `db:"outcome"`
	DecidedBy string `db:"decided_by"`
	FinalText string `db:"final_text"`
	Reason    string `db:"reason"`
	Salt      string `db:"salt"`
	evCols
}

// checkDecisions groups by draft: the decision's events are the draft's.
func checkDecisions(ctx context.Context, c *dataCheck) error {
	return run(ctx, c, dataTable[decisionCheckRow]{table: "decisions", key: "draft_id", subject: "draft", actions: review.DecisionEvents,
		cols: `(SELECT d.case_id FROM drafts d WHERE d.id = r.draft_id) AS case_id, r.id, r.draft_id, r.outcome, r.decided_by, r.final_text, r.reason, r.salt`,
		id:   func(r *decisionCheckRow) string { return r.DraftID }, ev: func(r *decisionCheckRow) *evCols { return &r.evCols },
		check: func(r *decisionCheckRow, ws []audit.Witness) []audit.Mismatch {
			if r == nil {
				return review.CheckDecision(nil, ws)
			}
			return review.CheckDecision(&review.Decision{ID: r.ID, DraftID: r.DraftID, Outcome: review.Outcome(r.Outcome),
				DecidedBy: r.DecidedBy, FinalText: c.keys.openOrKeep(r.CaseID, decisionText(r.DraftID, "final_text"), r.FinalText),
				Reason: c.keys.openOrKeep(r.CaseID, decisionText(r.DraftID, "reason"), r.Reason), Salt: r.Salt}, ws)
		}})
}

type entryCheckRow struct {
	ID         string  `db:"id"`
	CaseID     string  `db:"case_id"`
	DraftID    *string `db:"draft_id"`
	Content    string  `db:"content"`
	Supersedes *string `db:"supersedes"`
	Correction string  `db:"correction"`
	Salt       string  `db:"salt"`
	Sharing    string  `db:"sharing"`
	Withheld   string  `db:"withheld_reason"`
	evCols
}

func checkEntries(ctx context.Context, c *dataCheck) error {
	return run(ctx, c, dataTable[entryCheckRow]{table: "record_entries", key: "id", subject: "record_entry", actions: review.EntryEvents,
		cols: `r.id, r.case_id, r.draft_id, r.content, r.supersedes, r.correction, r.salt, r.sharing, r.withheld_reason`,
		id:   func(r *entryCheckRow) string { return r.ID }, ev: func(r *entryCheckRow) *evCols { return &r.evCols },
		check: func(r *entryCheckRow, ws []audit.Witness) []audit.Mismatch {
			if r == nil {
				return review.CheckEntry(nil, ws)
			}
			return review.CheckEntry(&review.Entry{ID: r.ID, CaseID: r.CaseID, DraftID: deref(r.DraftID), Content: c.keys.openOrKeep(r.CaseID, entryContent(r.ID), r.Content),
				Supersedes: deref(r.Supersedes), Correction: r.Correction, Salt: r.Salt, Sharing: r.Sharing, WithheldReason: r.Withheld}, ws)
		}})
}

type correctionCheckRow struct {
	correctionRow
	RefusalReason string `db:"refusal_reason"`
	evCols
}

func checkCorrections(ctx context.Context, c *dataCheck) error {
	return run(ctx, c, dataTable[correctionCheckRow]{table: "record_corrections", key: "id", subject: "record_entry",
		actions: review.CorrectionEvents,
		cols:    `r.id, r.case_id, r.supersedes, r.kind, r.content, r.reason, r.signed_by, r.signed_at, r.status, r.salt, r.refusal_reason`,
		id:      func(r *correctionCheckRow) string { return r.ID }, ev: func(r *correctionCheckRow) *evCols { return &r.evCols },
		check: func(r *correctionCheckRow, ws []audit.Witness) []audit.Mismatch {
			if r == nil {
				return review.CheckCorrection(nil, ws)
			}
			r.Content = c.keys.openOrKeep(r.CaseID, correctionText(r.ID, "content"), r.Content)
			r.Reason = c.keys.openOrKeep(r.CaseID, correctionText(r.ID, "reason"), r.Reason)
			return review.CheckCorrection(&review.StoredCorrection{Entry: r.toDomain(), Status: r.Status,
				RefusalReason: c.keys.openOrKeep(r.CaseID, correctionText(r.ID, "refusal_reason"), r.RefusalReason)}, ws)
		}})
}

// loadErasures reads the erasure events of the log and of audit_pending:
// case.erased by the case's id, party.erased by the party's.
func loadErasures(ctx context.Context, tx *sqlx.Tx) (map[string]audit.Witness, error) {
	rows, err := tx.QueryxContext(ctx, tx.Rebind(`
		SELECT seq AS ev_seq, 0 AS ev_pending, subject_id AS ev_subject, actor_id AS ev_actor, action AS ev_action,
			case_id AS ev_case, payload AS ev_payload
		FROM audit_event WHERE action IN (?, ?)
		UNION ALL
		SELECT id, 1, subject_id, actor_id, action, case_id, payload
		FROM audit_pending WHERE action IN (?, ?)`),
		casefile.ActionCaseErased, casefile.ActionPartyErased, casefile.ActionCaseErased, casefile.ActionPartyErased)
	if err != nil {
		return nil, fmt.Errorf("read erasures: %w", err)
	}
	defer rows.Close()
	out := map[string]audit.Witness{}
	for rows.Next() {
		var e evCols
		if err := rows.StructScan(&e); err != nil {
			return nil, fmt.Errorf("read erasures: %w", err)
		}
		w, err := e.witness()
		if err != nil {
			return nil, err
		}
		out[w.Action+" "+w.SubjectID] = *w
	}
	return out, rows.Err()
}

// erasedBy returns the erasure event that covers row r (the erasure of
// its case, or for a party's rows the erasure of that party) and whether
// r's text is empty; false when no erasure covers it, and the row is
// checked as any other.
func (c *dataCheck) erasedBy(r any) (audit.Witness, bool, bool) {
	var caseID, partyID string
	var empty bool
	switch r := r.(type) {
	case *noteCheckRow:
		caseID, empty = r.CaseID, r.Body == ""
	case *partyCheckRow:
		caseID, partyID = r.CaseID, r.ID
		empty = r.FullName == "" && r.DateOfBirth == "" && r.Address == "" && r.Phone == "" && r.Email == "" && r.NationalID == ""
	case *consentCheckRow:
		caseID, empty = r.CaseID, r.Note == ""
	case *draftCheckRow:
		caseID, empty = r.CaseID, r.Content == nil
	case *decisionCheckRow:
		caseID, empty = r.CaseID, r.FinalText == "" && r.Reason == ""
	case *entryCheckRow:
		caseID, empty = r.CaseID, r.Content == "" && r.Correction == ""
	case *correctionCheckRow:
		caseID, empty = r.CaseID, r.Content == "" && r.Reason == ""
	case *responseCheckRow:
		caseID, partyID, empty = r.CaseID, r.PartyID, r.Text == ""
	default:
		return audit.Witness{}, false, false
	}
	if w, ok := c.erasures[casefile.ActionCaseErased+" "+caseID]; ok {
		return w, empty, true
	}
	if w, ok := c.erasures[casefile.ActionPartyErased+" "+partyID]; ok && partyID != "" {
		return w, empty, true
	}
	return audit.Witness{}, false, false
}
