package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/review"
)

// RetentionStore closes and reopens cases, keeps legal holds and erasure
// requests, and erases (issue 19). The rules are casefile's
// (casefile/retention.go); each method loads in a transaction, asks the
// domain, and saves what it returned with its audit event.
type RetentionStore struct{ *conn }

var _ casefile.RetentionStore = (*RetentionStore)(nil)

// caseReadColumns are caseColumns and the case's lifecycle (migration 0016).
const caseReadColumns = caseColumns + `, status, closed_at, close_reason, erased_at`

// retention is the retention policy in force.
func (db *conn) retention() casefile.RetentionPolicy {
	p := db.policy().Retention
	if p.Keep == nil {
		return casefile.DefaultRetention()
	}
	return p
}

// lockedCase reads a case for a change of its lifecycle, locking its row
// (PostgreSQL) so that closing, holding and erasing one case run one at a
// time across replicas. It checks no access: the domain decides.
func (db *conn) lockedCase(ctx context.Context, tx *Tx, id string) (*casefile.Case, error) {
	var r caseRow
	if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+caseReadColumns+` FROM cases WHERE id = ?`+db.dialect.forUpdate()), id); err != nil {
		return nil, notFound(db.translate(err), "There is no case with this id.")
	}
	return r.toDomain(), nil
}

// checkOpen reads case id in tx under the case's write lock (the one a
// closure waits for) and returns casefile.CheckOpen's answer: for write
// paths that reach the case through another row (a draft, a record entry).
func (db *conn) checkOpen(ctx context.Context, tx *Tx, id string) error {
	var r caseRow
	if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+caseReadColumns+` FROM cases WHERE id = ?`+db.dialect.forCaseWrite()), id); err != nil {
		return notFound(db.translate(err), "There is no case with this id.")
	}
	return casefile.CheckOpen(r.toDomain())
}

// CloseCase closes a case with a reason code (casefile.DecideClose); its
// retention period starts now. In the same transaction the case's drafts
// still on their way to a decision are superseded
// (review.DecideCaseClosedDrafts), each with its event, and the closure's
// event counts them.
func (db *RetentionStore) CloseCase(ctx context.Context, caseID, reasonCode string) (*casefile.Case, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	var c *casefile.Case
	err = db.withTx(ctx, func(tx *Tx) error {
		if c, err = db.lockedCase(ctx, tx, caseID); err != nil {
			return err
		}
		// The closure is dated once its lock is held: every write that
		// held the case before (findCase's forCaseWrite) committed earlier,
		// so no note of a closed case is dated after its closure.
		tx.now = db.stamp()
		ev, err := casefile.DecideClose(a, c, reasonCode, tx.now)
		if err != nil {
			return err
		}
		// The event counts the notes the case holds as it closes: under the
		// lock, the count every later reader finds.
		var notes int
		if err := tx.GetContext(ctx, &notes, tx.Rebind(`SELECT COUNT(*) FROM notes WHERE case_id = ?`), c.ID); err != nil {
			return fmt.Errorf("count notes: %w", err)
		}
		ev.Payload["notes"] = fmt.Sprint(notes)
		closed, err := db.supersedeOnClose(ctx, tx, a, c.ID)
		if err != nil {
			return err
		}
		ev.Payload["drafts_superseded"] = strconv.Itoa(len(closed.Superseded))
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE cases SET status = ?, closed_at = ?, close_reason = ? WHERE id = ?`),
			c.Status, c.ClosedAt, c.CloseReason, c.ID); err != nil {
			return fmt.Errorf("close case: %w", err)
		}
		return tx.apply(ctx, append([]audit.Record{*ev}, closed.Events...))
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// supersedeOnClose supersedes the drafts of case caseID, closing in tx
// under its lock, that review.DecideCaseClosedDrafts ends with it, and
// returns what it decided; the caller applies the events.
//
// The drafts are locked after the case, as every decision takes them
// (lockForDecision). Among them, those no model has answered yet come
// first: a completion holds its own generating draft while it supersedes
// pending drafts of the same kind and notes (review_jobs.go, supersede), so
// taking a generating draft before any pending one makes this closure wait
// for that completion, never hold what it waits for (storetest:
// Retention/ClosingACaseSupersedesItsOpenDrafts/
// TheClosureWaitsForACompletionHoldingItsDraftWithoutDeadlock). Locked, or
// under SQLite's one writer, a draft keeps the status read until the
// commit; the UPDATE is still guarded by it, as every status write is
// (statusWrite), so a change made otherwise is refused rather than
// overwritten.
func (db *conn) supersedeOnClose(ctx context.Context, tx *Tx, a countersign.Actor, caseID string) (*review.ClosedDrafts, error) {
	var rows []struct {
		ID     string `db:"id"`
		Kind   string `db:"kind"`
		Status string `db:"status"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`
		SELECT id, kind, status FROM drafts
		WHERE case_id = ? AND `+statusIn(review.EndingWithCase...)+`
		ORDER BY CASE WHEN `+ungenerated+` THEN 0 ELSE 1 END, id`+db.dialect.forUpdate()), caseID); err != nil {
		return nil, fmt.Errorf("find drafts of the closing case: %w", err)
	}
	drafts := make([]*review.Draft, len(rows))
	for i, r := range rows {
		drafts[i] = &review.Draft{ID: r.ID, CaseID: caseID, Kind: assistant.Kind(r.Kind), Status: review.Status(r.Status)}
	}
	closed, err := review.DecideCaseClosedDrafts(a, drafts)
	if err != nil {
		return nil, err
	}
	for _, d := range closed.Superseded {
		// The lease is cleared with the status: no worker holds a
		// draft that is no longer generating, and its completion,
		// renewal or failure, fenced on the generating status
		// (leaseHeld), writes nothing.
		r, err := tx.ExecContext(ctx, tx.Rebind(`
			UPDATE drafts SET status = `+stSuperseded+`, lease_owner = '', lease_until = NULL, updated_at = ?
			WHERE id = ? AND status = ?`), tx.now, d.ID, string(d.Status))
		if err != nil {
			return nil, fmt.Errorf("supersede draft %s: %w", d.ID, err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return nil, countersign.Errorf(countersign.ECONFLICT, "A draft of this case changed while it was closing; try again.")
		}
	}
	return closed, nil
}

// ReopenCase reopens a closed case (casefile.DecideReopen); its pending
// erasure requests are withdrawn, counted in the event.
func (db *RetentionStore) ReopenCase(ctx context.Context, caseID string) (*casefile.Case, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	var c *casefile.Case
	err = db.withTx(ctx, func(tx *Tx) error {
		if c, err = db.lockedCase(ctx, tx, caseID); err != nil {
			return err
		}
		ev, err := casefile.DecideReopen(a, c, tx.now)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE cases SET status = ?, closed_at = NULL, close_reason = '' WHERE id = ?`),
			c.Status, c.ID); err != nil {
			return fmt.Errorf("reopen case: %w", err)
		}
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE erasure_requests SET status = ? WHERE case_id = ? AND status = ? AND party_id = ''`),
			casefile.RequestWithdrawn, c.ID, casefile.RequestPending)
		if err != nil {
			return fmt.Errorf("withdraw erasure requests: %w", err)
		}
		n, _ := res.RowsAffected()
		ev.Payload["requests_withdrawn"] = fmt.Sprint(n)
		return tx.apply(ctx, []audit.Record{*ev})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

type holdRow struct {
	ID         string     `db:"id"`
	CaseID     string     `db:"case_id"`
	ReasonCode string     `db:"reason_code"`
	SetBy      string     `db:"set_by"`
	SetAt      time.Time  `db:"set_at"`
	LiftedBy   *string    `db:"lifted_by"`
	LiftedAt   *time.Time `db:"lifted_at"`
	LiftReason string     `db:"lift_reason"`
}

func (r *holdRow) toDomain() *casefile.Hold {
	h := &casefile.Hold{ID: r.ID, CaseID: r.CaseID, ReasonCode: r.ReasonCode, SetBy: r.SetBy, SetAt: r.SetAt.UTC(), LiftReason: r.LiftReason}
	if r.LiftedBy != nil {
		h.LiftedBy = *r.LiftedBy
	}
	if r.LiftedAt != nil {
		t := r.LiftedAt.UTC()
		h.LiftedAt = &t
	}
	return h
}

const holdColumns = `id, case_id, reason_code, set_by, set_at, lifted_by, lifted_at, lift_reason`

func (db *conn) holds(ctx context.Context, q queryer, caseID string) ([]*casefile.Hold, error) {
	var rows []holdRow
	if err := q.SelectContext(ctx, &rows, q.Rebind(`SELECT `+holdColumns+` FROM legal_holds WHERE case_id = ? ORDER BY set_at, id`), caseID); err != nil {
		return nil, db.translate(fmt.Errorf("find holds: %w", err))
	}
	hs := make([]*casefile.Hold, len(rows))
	for i := range rows {
		hs[i] = rows[i].toDomain()
	}
	return hs, nil
}

// SetHold sets a legal hold on a case (casefile.DecideHold).
func (db *RetentionStore) SetHold(ctx context.Context, caseID, reasonCode string) (*casefile.Hold, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	var h *casefile.Hold
	err = db.withTx(ctx, func(tx *Tx) error {
		c, err := db.lockedCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		var ev *audit.Record
		if h, ev, err = casefile.DecideHold(a, c, reasonCode, tx.now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO legal_holds (id, case_id, reason_code, set_by, set_at) VALUES (?, ?, ?, ?, ?)`),
			h.ID, h.CaseID, h.ReasonCode, h.SetBy, h.SetAt); err != nil {
			return fmt.Errorf("set hold: %w", err)
		}
		return tx.apply(ctx, []audit.Record{*ev})
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// LiftHold lifts a legal hold of a case (casefile.DecideLiftHold).
func (db *RetentionStore) LiftHold(ctx context.Context, caseID, holdID, reasonCode string) (*casefile.Hold, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	var h *casefile.Hold
	err = db.withTx(ctx, func(tx *Tx) error {
		c, err := db.lockedCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		var r holdRow
		if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+holdColumns+` FROM legal_holds WHERE id = ? AND case_id = ?`), holdID, caseID); err != nil {
			return notFound(db.translate(err), "There is no such legal hold on this case.")
		}
		h = r.toDomain()
		ev, err := casefile.DecideLiftHold(a, c, h, reasonCode, tx.now)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE legal_holds SET lifted_by = ?, lifted_at = ?, lift_reason = ? WHERE id = ? AND lifted_at IS NULL`),
			h.LiftedBy, h.LiftedAt, h.LiftReason, h.ID); err != nil {
			return fmt.Errorf("lift hold: %w", err)
		}
		return tx.apply(ctx, []audit.Record{*ev})
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// viewCase reads a case whose retention facts the actor may see.
func (db *conn) viewCase(ctx context.Context, caseID string) (*casefile.Case, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	var r caseRow
	if err := db.r.GetContext(ctx, &r, db.r.Rebind(`SELECT `+caseReadColumns+` FROM cases WHERE id = ?`), caseID); err != nil {
		return nil, notFound(db.translate(err), "There is no case with this id.")
	}
	c := r.toDomain()
	if err := casefile.CheckRetentionView(a, c); err != nil {
		return nil, err
	}
	return c, nil
}

// FindHolds returns the legal holds of a case, oldest first.
func (db *RetentionStore) FindHolds(ctx context.Context, caseID string) ([]*casefile.Hold, error) {
	if _, err := db.viewCase(ctx, caseID); err != nil {
		return nil, err
	}
	return db.holds(ctx, db.r, caseID)
}

type requestRow struct {
	ID          string     `db:"id"`
	CaseID      string     `db:"case_id"`
	PartyID     string     `db:"party_id"`
	ReasonCode  string     `db:"reason_code"`
	Status      string     `db:"status"`
	RequestedBy string     `db:"requested_by"`
	RequestedAt time.Time  `db:"requested_at"`
	ConfirmedBy *string    `db:"confirmed_by"`
	ConfirmedAt *time.Time `db:"confirmed_at"`
}

const requestColumns = `id, case_id, party_id, reason_code, status, requested_by, requested_at, confirmed_by, confirmed_at`

func (r *requestRow) toDomain() *casefile.ErasureRequest {
	e := &casefile.ErasureRequest{ID: r.ID, CaseID: r.CaseID, PartyID: r.PartyID, ReasonCode: r.ReasonCode, Status: r.Status,
		RequestedBy: r.RequestedBy, RequestedAt: r.RequestedAt.UTC()}
	if r.ConfirmedBy != nil {
		e.ConfirmedBy = *r.ConfirmedBy
	}
	if r.ConfirmedAt != nil {
		t := r.ConfirmedAt.UTC()
		e.ConfirmedAt = &t
	}
	return e
}

// party reads one party of a case, or nil for id "".
func (db *conn) party(ctx context.Context, q queryer, caseID, id string) (*casefile.Party, error) {
	if id == "" {
		return nil, nil
	}
	var r struct {
		ID       string     `db:"id"`
		ErasedAt *time.Time `db:"erased_at"`
	}
	if err := q.GetContext(ctx, &r, q.Rebind(`SELECT id, erased_at FROM parties WHERE id = ? AND case_id = ?`), id, caseID); err != nil {
		if countersign.ErrorCode(db.translate(err)) == countersign.ENOTFOUND {
			return nil, countersign.InvalidFields("The erasure request could not be filed.",
				countersign.FieldError{Field: "party_id", Message: "There is no such person in this case."})
		}
		return nil, fmt.Errorf("find party: %w", err)
	}
	return &casefile.Party{ID: r.ID, CaseID: caseID, ErasedAt: r.ErasedAt}, nil
}

// RequestErasure files an erasure request for a case, or for one party's
// personal data in it (partyID not ""), by an admin
// (casefile.DecideErasureRequest). A second admin confirms it.
func (db *RetentionStore) RequestErasure(ctx context.Context, caseID, partyID, reasonCode string) (*casefile.ErasureRequest, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	var r *casefile.ErasureRequest
	err = db.withTx(ctx, func(tx *Tx) error {
		c, err := db.lockedCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		p, err := db.party(ctx, tx, caseID, partyID)
		if err != nil {
			return err
		}
		hs, err := db.holds(ctx, tx, caseID)
		if err != nil {
			return err
		}
		var ev *audit.Record
		if r, ev, err = casefile.DecideErasureRequest(a, c, p, hs, db.retention(), reasonCode, tx.now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO erasure_requests (id, case_id, party_id, reason_code, status, requested_by, requested_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`), r.ID, r.CaseID, r.PartyID, r.ReasonCode, r.Status, r.RequestedBy, r.RequestedAt); err != nil {
			if isConflict(db.translate(err)) {
				return countersign.Errorf(countersign.ECONFLICT, "An erasure request for this is already waiting for a second admin.")
			}
			return fmt.Errorf("file erasure request: %w", err)
		}
		return tx.apply(ctx, []audit.Record{*ev})
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ConfirmErasure confirms a pending erasure request as a second admin
// (casefile.DecideErasureConfirm) and erases, in one transaction.
func (db *RetentionStore) ConfirmErasure(ctx context.Context, requestID string) (*casefile.Erasure, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := casefile.CheckErasureAdmin(a); err != nil {
		return nil, err
	}
	var e *casefile.Erasure
	err = db.withTx(ctx, func(tx *Tx) error {
		var rr requestRow
		if err := tx.GetContext(ctx, &rr, tx.Rebind(`SELECT `+requestColumns+` FROM erasure_requests WHERE id = ?`), requestID); err != nil {
			return notFound(db.translate(err), "There is no erasure request with this id.")
		}
		c, err := db.lockedCase(ctx, tx, rr.CaseID)
		if err != nil {
			return err
		}
		r := rr.toDomain()
		p, err := db.party(ctx, tx, c.ID, r.PartyID)
		if err != nil {
			return err
		}
		hs, err := db.holds(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		if e, err = casefile.DecideErasureConfirm(a, r, c, p, hs, db.retention(), tx.now); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE erasure_requests SET status = ?, confirmed_by = ?, confirmed_at = ? WHERE id = ? AND status = ?`),
			r.Status, r.ConfirmedBy, r.ConfirmedAt, r.ID, casefile.RequestPending)
		if err != nil {
			return fmt.Errorf("confirm erasure request: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return countersign.Errorf(countersign.ECONFLICT, "This erasure request was confirmed or withdrawn meanwhile.")
		}
		return db.erase(ctx, tx, a, e)
	})
	if err != nil {
		return nil, err
	}
	db.scrubAfterErasure(ctx)
	return e, nil
}

// FindErasureRequests returns the erasure requests of a case (all cases
// for caseID ""; admins only), newest first; with pendingOnly, only those
// waiting for a second admin.
func (db *RetentionStore) FindErasureRequests(ctx context.Context, caseID string, pendingOnly bool) ([]*casefile.ErasureRequest, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	where, args := []string{"1 = 1"}, []any{}
	if caseID == "" {
		if err := casefile.CheckErasureAdmin(a); err != nil {
			return nil, err
		}
	} else {
		if _, err := db.viewCase(ctx, caseID); err != nil {
			return nil, err
		}
		where, args = append(where, "case_id = ?"), append(args, caseID)
	}
	if pendingOnly {
		where, args = append(where, "status = ?"), append(args, casefile.RequestPending)
	}
	var rows []requestRow
	if err := db.r.SelectContext(ctx, &rows, db.r.Rebind(`SELECT `+requestColumns+` FROM erasure_requests
		WHERE `+strings.Join(where, " AND ")+` ORDER BY requested_at DESC, id LIMIT 500`), args...); err != nil {
		return nil, db.translate(fmt.Errorf("find erasure requests: %w", err))
	}
	out := make([]*casefile.ErasureRequest, len(rows))
	for i := range rows {
		out[i] = rows[i].toDomain()
	}
	return out, nil
}

// The text columns an erasure overwrites, per table (casefile.ErasedTables):
// every column that holds what someone wrote or said, the personal data of
// parties, the salts that keyed the log's commitments, and the map of
// pseudonyms a draft was sent with. Identifiers, times, codes and the
// commitments stay. The order matters on PostgreSQL: drafts before the
// decisions and record entries a sign-off may be adding, so that the
// UPDATE of drafts waits for that sign-off and the later statements see
// its rows.
var erasedColumns = []struct {
	table, where, set string
}{
	{"notes", `case_id = ?`, `body = '', salt = ''`},
	{"parties", `case_id = ?`, `full_name = '', date_of_birth = '', address = '', phone = '', email = '', email_index = NULL, national_id = '', salt = '', erased_at = ?`},
	{"consents", `case_id = ?`, `note = '', salt = ''`},
	{"drafts", `case_id = ?`, `content = NULL, content_salt = '', masked = '{}', failure_reason = ''`},
	{"decisions", `draft_id IN (SELECT id FROM drafts WHERE case_id = ?)`, `final_text = '', reason = '', comment = '', diff = '[]', items = '[]', statements = '[]', withheld_reason = '', salt = ''`},
	{"record_entries", `case_id = ?`, `content = '', correction = '', withheld_reason = '', salt = ''`},
	{"record_corrections", `case_id = ?`, `content = '', reason = '', comment = '', refusal_reason = '', withheld_reason = '', salt = ''`},
	{"client_responses", `case_id = ?`, `text = '', reason = '', salt = ''`},
	{"agenda_entries", `case_id = ?`, `title = '', reason = '', salt = ''`},
	// Not counted: the countersignature's and the vigilance check's texts.
	{"countersignatures", `draft_id IN (SELECT id FROM drafts WHERE case_id = ?)`, `reason = '', comment = ''`},
	{"vigilance_checks", `draft_id IN (SELECT id FROM drafts WHERE case_id = ?)`, `text = ''`},
}

// erase carries out e in tx: a whole case (its status and erasure time
// first, which the triggers of migration 0016 read), or one party. It
// destroys the case key, overwrites the texts and salts, disables the
// client accounts of the erased people, records the erasure and writes its
// one event.
func (db *conn) erase(ctx context.Context, tx *Tx, a countersign.Actor, e *casefile.Erasure) error {
	e.Counts = map[string]int{}
	exec := func(q string, args ...any) (int, error) {
		res, err := tx.ExecContext(ctx, tx.Rebind(q), args...)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		return int(n), err
	}
	if e.PartyID != "" {
		n, err := exec(`UPDATE parties SET full_name = '', date_of_birth = '', address = '', phone = '', email = '', email_index = NULL, national_id = '',
			salt = '', erased_at = ? WHERE id = ? AND case_id = ? AND erased_at IS NULL`, tx.now, e.PartyID, e.CaseID)
		if err != nil {
			return fmt.Errorf("erase party: %w", err)
		}
		if n != 1 {
			return countersign.Errorf(countersign.ECONFLICT, "This person's details were already erased.")
		}
		e.Counts["parties"] = n
		if e.Counts["client_responses"], err = exec(`UPDATE client_responses SET text = '', reason = '', salt = '' WHERE party_id = ?`, e.PartyID); err != nil {
			return fmt.Errorf("erase client responses: %w", err)
		}
		if _, err := exec(`UPDATE client_accounts SET disabled_at = ? WHERE party_id = ? AND disabled_at IS NULL`, tx.now, e.PartyID); err != nil {
			return fmt.Errorf("disable client account: %w", err)
		}
	} else {
		n, err := exec(`UPDATE cases SET status = ?, erased_at = ?, title = '' WHERE id = ? AND status <> ?`,
			casefile.StatusErased, tx.now, e.CaseID, casefile.StatusErased)
		if err != nil {
			return fmt.Errorf("mark case erased: %w", err)
		}
		if n != 1 {
			return countersign.Errorf(countersign.ECONFLICT, "This case was already erased.")
		}
		if e.Keys, err = shredCaseKey(ctx, tx, e.CaseID); err != nil {
			return fmt.Errorf("shred case key: %w", err)
		}
		for _, t := range erasedColumns {
			args := []any{e.CaseID}
			if strings.Contains(t.set, "erased_at = ?") {
				args = []any{tx.now, e.CaseID}
			}
			n, err := exec(`UPDATE `+t.table+` SET `+t.set+` WHERE `+t.where, args...)
			if err != nil {
				return fmt.Errorf("erase %s: %w", t.table, err)
			}
			e.Counts[t.table] = n
		}
		if _, err := exec(`UPDATE client_accounts SET disabled_at = ? WHERE party_id IN (SELECT id FROM parties WHERE case_id = ?) AND disabled_at IS NULL`,
			tx.now, e.CaseID); err != nil {
			return fmt.Errorf("disable client accounts: %w", err)
		}
		if _, err := exec(`UPDATE erasure_requests SET status = ? WHERE case_id = ? AND status = ?`,
			casefile.RequestWithdrawn, e.CaseID, casefile.RequestPending); err != nil {
			return fmt.Errorf("withdraw erasure requests: %w", err)
		}
	}
	counts := map[string]int{}
	for _, t := range casefile.ErasedTables {
		counts[t] = e.Counts[t]
	}
	e.Counts = counts
	buf, err := json.Marshal(counts)
	if err != nil {
		return err
	}
	if _, err := exec(`INSERT INTO erasures (id, case_id, party_id, case_type, team_id, rule, reason_code, policy_version, request_id, counts, keys_destroyed, erased_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, e.CaseID, e.PartyID, e.CaseType, e.TeamID, e.Rule, e.ReasonCode, e.PolicyVersion,
		e.RequestID, string(buf), e.Keys, e.ErasedAt); err != nil {
		return fmt.Errorf("record erasure: %w", err)
	}
	return tx.apply(ctx, []audit.Record{*casefile.ErasureEvent(a, e)})
}

// scrubAfterErasure makes the overwritten texts unreadable in the
// database's files too, after the erasure committed (see scrub).
// Failing here loses nothing: the next erasure scrubs again.
func (db *conn) scrubAfterErasure(ctx context.Context) {
	if s, ok := db.dialect.(interface {
		scrub(context.Context, *sqlx.DB) error
	}); ok {
		_ = s.scrub(ctx, db.w)
	}
}

// scrub on SQLite: secure_delete (set when the file is opened) has
// overwritten the freed cells with zeros; the old versions of the pages
// are still in the WAL until a checkpoint copies the new pages back, and
// TRUNCATE then empties the WAL file.
func (sqliteDialect) scrub(ctx context.Context, w *sqlx.DB) error {
	_, err := w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// scrub on PostgreSQL: the old row versions are dead tuples no query can
// see; VACUUM prunes them so their space is reused. It does not promise
// the bytes are overwritten on disk at once, nor touches the WAL, replicas
// or backups (SECURITY.md): the case key's destruction covers those. It
// runs after the request that erased has been answered (a VACUUM of large
// tables takes a while, and blocks no writer); a role that does not own
// the tables gets a warning, and autovacuum does the same later.
func (postgres) scrub(_ context.Context, w *sqlx.DB) error {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		_, _ = w.ExecContext(ctx, `VACUUM notes, parties, consents, drafts, decisions, record_entries, record_corrections, client_responses, agenda_entries, countersignatures, vigilance_checks, cases`)
	}()
	return nil
}

type erasureRow struct {
	ID            string    `db:"id"`
	CaseID        string    `db:"case_id"`
	PartyID       string    `db:"party_id"`
	CaseType      string    `db:"case_type"`
	TeamID        string    `db:"team_id"`
	Rule          string    `db:"rule"`
	ReasonCode    string    `db:"reason_code"`
	PolicyVersion string    `db:"policy_version"`
	RequestID     string    `db:"request_id"`
	Counts        string    `db:"counts"`
	Keys          int       `db:"keys_destroyed"`
	ErasedAt      time.Time `db:"erased_at"`
}

const erasureColumns = `id, case_id, party_id, case_type, team_id, rule, reason_code, policy_version, request_id, counts, keys_destroyed, erased_at`

func (r *erasureRow) toDomain() (*casefile.Erasure, error) {
	e := &casefile.Erasure{ID: r.ID, CaseID: r.CaseID, PartyID: r.PartyID, CaseType: r.CaseType, TeamID: r.TeamID, Rule: r.Rule,
		ReasonCode: r.ReasonCode, PolicyVersion: r.PolicyVersion, RequestID: r.RequestID, Keys: r.Keys, ErasedAt: r.ErasedAt.UTC()}
	if err := json.Unmarshal([]byte(r.Counts), &e.Counts); err != nil {
		return nil, fmt.Errorf("erasure %s: bad counts: %w", r.ID, err)
	}
	return e, nil
}

// FindErasures returns the erasures f selects, oldest first: of a case
// (staff who may see it, admins, the ethics board, the service) or of a
// party, for the client's own export (a client actor, whose caller has
// checked the party is theirs). Whole-case erasures of the party's case
// count as the party's.
func (db *RetentionStore) FindErasures(ctx context.Context, f casefile.ErasureFilter) ([]*casefile.Erasure, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := casefile.CheckErasureList(a, f); err != nil {
		return nil, err
	}
	if a.Role == countersign.RoleClient {
		// A client reads only the erasures of their own file: the party
		// asked for must be one of the signed-in principal's.
		if err := checkOwnParty(ctx, f); err != nil {
			return nil, err
		}
	}
	where, args := []string{"1 = 1"}, []any{}
	if f.CaseID != nil {
		if a.Role != countersign.RoleClient {
			if _, err := db.viewCase(ctx, *f.CaseID); err != nil {
				return nil, err
			}
		}
		where, args = append(where, "case_id = ?"), append(args, *f.CaseID)
	}
	if f.PartyID != nil {
		where = append(where, "(party_id = ? OR (party_id = '' AND case_id = (SELECT case_id FROM parties WHERE id = ?)))")
		args = append(args, *f.PartyID, *f.PartyID)
	}
	var rows []erasureRow
	if err := db.r.SelectContext(ctx, &rows, db.r.Rebind(`SELECT `+erasureColumns+` FROM erasures
		WHERE `+strings.Join(where, " AND ")+` ORDER BY erased_at, id LIMIT 1000`), args...); err != nil {
		return nil, db.translate(fmt.Errorf("find erasures: %w", err))
	}
	out := make([]*casefile.Erasure, len(rows))
	for i := range rows {
		if out[i], err = rows[i].toDomain(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkOwnParty returns nil when f names a party (and, if any, the case)
// of the signed-in client of ctx, or EFORBIDDEN.
func checkOwnParty(ctx context.Context, f casefile.ErasureFilter) error {
	p, err := client.PrincipalFrom(ctx)
	if err != nil {
		return err
	}
	for _, ref := range p.Parties {
		if f.PartyID != nil && ref.PartyID == *f.PartyID && (f.CaseID == nil || ref.CaseID == *f.CaseID) {
			return nil
		}
	}
	return countersign.Errorf(countersign.EFORBIDDEN, "Only your own file's erasures can be listed.")
}

// FindRetentionCase returns a case's facts for whoever may see its
// retention (checkRetentionView: its readers, admins, the ethics board),
// without its title: the retention page of an admin, who reads no content.
func (db *RetentionStore) FindRetentionCase(ctx context.Context, caseID string) (*casefile.Case, error) {
	c, err := db.viewCase(ctx, caseID)
	if err != nil {
		return nil, err
	}
	c.Title = ""
	return c, nil
}

// FindRetentionParties returns a case's parties by id and role alone
// (their details blanked), for an admin choosing whose details to erase.
func (db *RetentionStore) FindRetentionParties(ctx context.Context, caseID string) ([]*casefile.Party, error) {
	if _, err := db.viewCase(ctx, caseID); err != nil {
		return nil, err
	}
	var rows []struct {
		ID        string     `db:"id"`
		CaseID    string     `db:"case_id"`
		Role      string     `db:"role"`
		CreatedAt time.Time  `db:"created_at"`
		ErasedAt  *time.Time `db:"erased_at"`
	}
	if err := db.r.SelectContext(ctx, &rows, db.r.Rebind(`SELECT id, case_id, role, created_at, erased_at
		FROM parties WHERE case_id = ? ORDER BY created_at, id`), caseID); err != nil {
		return nil, db.translate(fmt.Errorf("find retention parties: %w", err))
	}
	out := make([]*casefile.Party, len(rows))
	for i, r := range rows {
		p := &casefile.Party{ID: r.ID, CaseID: r.CaseID, Role: r.Role, CreatedAt: r.CreatedAt.UTC()}
		if r.ErasedAt != nil {
			t := r.ErasedAt.UTC()
			p.ErasedAt = &t
		}
		out[i] = p
	}
	return out, nil
}

// FindTombstone returns what remains visible of an erased case. Returns
// ENOTFOUND when the case is not erased.
func (db *RetentionStore) FindTombstone(ctx context.Context, caseID string) (*casefile.Tombstone, error) {
	c, err := db.viewCase(ctx, caseID)
	if err != nil {
		return nil, err
	}
	if c.Status != casefile.StatusErased || c.ErasedAt == nil {
		return nil, countersign.Errorf(countersign.ENOTFOUND, "This case was not erased.")
	}
	t := &casefile.Tombstone{CaseID: c.ID, Reference: c.Reference, CaseType: c.CaseType, TeamID: c.TeamID, CreatedAt: c.CreatedAt,
		ClosedAt: c.ClosedAt, ErasedAt: *c.ErasedAt}
	var r erasureRow
	if err := db.r.GetContext(ctx, &r, db.r.Rebind(`SELECT `+erasureColumns+` FROM erasures WHERE case_id = ? AND party_id = '' ORDER BY erased_at DESC LIMIT 1`), caseID); err != nil {
		return nil, db.translate(fmt.Errorf("find erasure: %w", err))
	}
	t.Rule, t.ReasonCode, t.PolicyVersion = r.Rule, r.ReasonCode, r.PolicyVersion
	return t, nil
}

// RetentionBoard returns, for the ethics board and admins, how many
// erasures (by rule) and holds (set, lifted) there were per month, case
// type and reason code. No case ids, content or names.
func (db *RetentionStore) RetentionBoard(ctx context.Context) ([]casefile.BoardRow, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := casefile.CheckRetentionFigures(a); err != nil {
		return nil, err
	}
	var facts []struct {
		Kind     string     `db:"kind"`
		Rule     string     `db:"rule"`
		CaseType string     `db:"case_type"`
		Reason   string     `db:"reason"`
		Party    string     `db:"party"`
		At       *time.Time `db:"at"`
	}
	// Month grouping is done in Go: the two databases name months differently.
	if err := db.r.SelectContext(ctx, &facts, db.r.Rebind(`
		SELECT 'erasure' AS kind, e.rule AS rule, e.case_type AS case_type, e.reason_code AS reason, e.party_id AS party, e.erased_at AS at
		FROM erasures e
		UNION ALL
		SELECT 'hold', 'set', c.case_type, h.reason_code, '', h.set_at FROM legal_holds h JOIN cases c ON c.id = h.case_id
		UNION ALL
		SELECT 'hold', 'lifted', c.case_type, h.lift_reason, '', h.lifted_at FROM legal_holds h JOIN cases c ON c.id = h.case_id
		WHERE h.lifted_at IS NOT NULL`)); err != nil {
		return nil, db.translate(fmt.Errorf("retention board: %w", err))
	}
	type key struct {
		month, kind, rule, caseType, reason string
		party                               bool
	}
	counts := map[key]int{}
	for _, f := range facts {
		if f.At == nil {
			continue
		}
		counts[key{f.At.UTC().Format("2006-01"), f.Kind, f.Rule, f.CaseType, f.Reason, f.Party != ""}]++
	}
	out := make([]casefile.BoardRow, 0, len(counts))
	for k, n := range counts {
		out = append(out, casefile.BoardRow{Month: k.month, Kind: k.kind, Rule: k.rule, CaseType: k.caseType, Reason: k.reason, Parties: k.party, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if x.Month != y.Month {
			return x.Month > y.Month
		}
		return fmt.Sprint(x.Kind, x.Rule, x.CaseType, x.Reason, x.Parties) < fmt.Sprint(y.Kind, y.Rule, y.CaseType, y.Reason, y.Parties)
	})
	return out, nil
}

// closedCases reads the closed cases of the types the policy keeps for a
// period, oldest closure first; with due, only those whose period may
// have ended at now and that no hold stops, claimed (FOR UPDATE SKIP
// LOCKED on PostgreSQL) so that two replicas never take the same case.
func (db *conn) closedCases(ctx context.Context, q queryer, p casefile.RetentionPolicy, now time.Time, due bool, limit int) ([]*casefile.Case, error) {
	if len(p.Keep) == 0 {
		return nil, nil
	}
	types := make([]string, 0, len(p.Keep))
	for t := range p.Keep {
		types = append(types, t)
	}
	sort.Strings(types)
	var ors []string
	args := []any{casefile.StatusClosed}
	for _, t := range types {
		if due {
			// closed_at + period <= now, written as closed_at <= now - period
			// (a day's slack for leap days; the domain decides exactly).
			ors, args = append(ors, "(case_type = ? AND closed_at <= ?)"), append(args, t, now.AddDate(0, 0, 1).Add(-periodSpan(p.Keep[t], now)))
		} else {
			ors, args = append(ors, "case_type = ?"), append(args, t)
		}
	}
	query := `SELECT ` + caseReadColumns + ` FROM cases WHERE status = ? AND (` + strings.Join(ors, " OR ") + `)`
	if due {
		query += ` AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.case_id = cases.id AND h.lifted_at IS NULL)`
	}
	query += ` ORDER BY closed_at, id`
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	if due {
		query += db.dialect.skipLocked()
	}
	var rows []caseRow
	if err := q.SelectContext(ctx, &rows, q.Rebind(query), args...); err != nil {
		return nil, db.translate(fmt.Errorf("find closed cases: %w", err))
	}
	out := make([]*casefile.Case, len(rows))
	for i := range rows {
		out[i] = rows[i].toDomain()
	}
	return out, nil
}

// periodSpan is how long p lasts when it ends at now.
func periodSpan(p casefile.Period, now time.Time) time.Duration {
	if p.Unit == 'y' {
		return now.Sub(now.AddDate(-p.N, 0, 0))
	}
	return now.Sub(now.AddDate(0, 0, -p.N))
}

// RetentionPlan lists the closed cases of the types the policy keeps for a
// period: when each will be erased, and whether a hold stops it. For
// admins and the service.
func (db *RetentionStore) RetentionPlan(ctx context.Context) ([]casefile.PlannedErasure, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := casefile.CheckRetentionPlan(a); err != nil {
		return nil, err
	}
	p, now := db.retention(), db.Now().UTC()
	cases, err := db.closedCases(ctx, db.r, p, now, false, 0)
	if err != nil {
		return nil, err
	}
	var out []casefile.PlannedErasure
	for _, c := range cases {
		hs, err := db.holds(ctx, db.r, c.ID)
		if err != nil {
			return nil, err
		}
		if pl, ok := casefile.Plan(c, hs, p, now); ok {
			out = append(out, pl)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ErasesAt.Before(out[j].ErasesAt) })
	return out, nil
}

// RunRetention erases up to limit cases whose retention period ended and
// that no hold stops (casefile.Expired), each in its own transaction with
// its case.erased event, and returns what it erased. Any number of
// replicas may run it at once: a case is claimed with its row locked
// (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's single writer runs one
// claim at a time) and the guarded UPDATE (status not yet erased) settles
// any race, so each case is erased exactly once.
func (db *RetentionStore) RunRetention(ctx context.Context, limit int) ([]*casefile.Erasure, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := casefile.CheckRetentionRun(a); err != nil {
		return nil, err
	}
	p := db.retention()
	var out []*casefile.Erasure
	skip := map[string]bool{}
	for len(out) < limit {
		var e *casefile.Erasure
		err := db.withTx(ctx, func(tx *Tx) error {
			e = nil
			cases, err := db.closedCases(ctx, tx, p, tx.now, true, len(skip)+1)
			if err != nil {
				return err
			}
			for _, c := range cases {
				if skip[c.ID] {
					continue
				}
				skip[c.ID] = true
				hs, err := db.holds(ctx, tx, c.ID)
				if err != nil {
					return err
				}
				if !casefile.Expired(c, hs, p, tx.now) {
					continue
				}
				if e, err = casefile.DecideExpiry(a, c, hs, p, tx.now); err != nil {
					return err
				}
				return db.erase(ctx, tx, a, e)
			}
			return nil
		})
		if err != nil {
			if countersign.ErrorCode(err) == countersign.ECONFLICT {
				continue // another replica erased it first
			}
			return out, err
		}
		if e == nil {
			break
		}
		out = append(out, e)
	}
	if len(out) > 0 {
		db.scrubAfterErasure(ctx)
	}
	return out, nil
}

// RunRetentionJob runs RunRetention every interval until ctx ends, as the
// service's system actor. Any number of replicas may run it.
func (db *RetentionStore) RunRetentionJob(ctx context.Context, every time.Duration, onErr func(error)) {
	ctx = countersign.NewContextWithActor(ctx, countersign.Actor{UserID: "system:retention", Role: countersign.RoleSystem})
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := db.RunRetention(ctx, 100); err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
