package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/sealbox"
	"github.com/countersign/countersign/review"
)

// This file keeps the client's right to answer (client/response.go): the
// client's responses on entries of their file and the workers' answers.
// Every change is decided by package client and applied here in one
// transaction with its audit events.

var _ client.ResponseStore = (*ReviewStore)(nil)

// responseSelect reads responses with the answering worker's name and where
// the correction an answer made stands.
const responseSelect = `
	SELECT r.id, r.case_id, r.party_id, r.account_id, r.entry_id, r.kind, r.text, r.salt, r.created_at, r.status,
		r.outcome, r.reason, r.answered_by, r.answered_at, r.correction_id, u.name AS answered_by_name,
		rc.status AS correction_row_status
	FROM client_responses r
	LEFT JOIN users u ON u.id = r.answered_by
	LEFT JOIN record_corrections rc ON rc.id = r.correction_id`

// responseRow is a row of responseSelect: scanned, or decoded from the
// JSON of the row (FindQueueWithResponses), the same names either way.
type responseRow struct {
	ID                  string     `db:"id" json:"id"`
	CaseID              string     `db:"case_id" json:"case_id"`
	PartyID             string     `db:"party_id" json:"party_id"`
	AccountID           string     `db:"account_id" json:"account_id"`
	EntryID             string     `db:"entry_id" json:"entry_id"`
	Kind                string     `db:"kind" json:"kind"`
	Text                string     `db:"text" json:"text"`
	Salt                string     `db:"salt" json:"salt"`
	CreatedAt           time.Time  `db:"created_at" json:"created_at"`
	Status              string     `db:"status" json:"status"`
	Outcome             *string    `db:"outcome" json:"outcome"`
	Reason              string     `db:"reason" json:"reason"`
	AnsweredBy          *string    `db:"answered_by" json:"answered_by"`
	AnsweredAt          *time.Time `db:"answered_at" json:"answered_at"`
	CorrectionID        *string    `db:"correction_id" json:"correction_id"`
	AnsweredByName      *string    `db:"answered_by_name" json:"answered_by_name"`
	CorrectionRowStatus *string    `db:"correction_row_status" json:"correction_row_status"`
}

// responseText is the place of a client response's text, its seal's
// additional data.
func responseText(id string) sealbox.Where {
	return sealbox.Where{Table: "client_responses", Column: "text", Row: id}
}

// responseReason is the place of the reason a response was answered with.
func responseReason(id string) sealbox.Where {
	return sealbox.Where{Table: "client_responses", Column: "reason", Row: id}
}

func (r *responseRow) toDomain() *client.Response {
	out := &client.Response{ID: r.ID, CaseID: r.CaseID, PartyID: r.PartyID, AccountID: r.AccountID, EntryID: r.EntryID,
		Kind: client.ResponseKind(r.Kind), Text: r.Text, Salt: r.Salt, CreatedAt: r.CreatedAt.UTC(), Status: r.Status,
		Reason: r.Reason, AnsweredAt: utcPtr(r.AnsweredAt), Type: client.ResponseType}
	if r.Outcome != nil {
		out.Outcome = client.AnswerOutcome(*r.Outcome)
	}
	if r.AnsweredBy != nil {
		out.AnsweredBy = *r.AnsweredBy
	}
	if r.AnsweredByName != nil {
		out.AnsweredByName = *r.AnsweredByName
	}
	if r.CorrectionID != nil && *r.CorrectionID != "" {
		out.CorrectionID = *r.CorrectionID
		out.CorrectionStatus = client.CorrectionInForce
		if r.CorrectionRowStatus != nil {
			switch *r.CorrectionRowStatus {
			case correctionPending:
				out.CorrectionStatus = client.CorrectionPending
			case correctionRefused:
				out.CorrectionStatus = client.CorrectionRefused
			}
		}
	}
	return out
}

func (db *conn) selectResponses(ctx context.Context, q queryer, where string, args ...any) ([]*client.Response, error) {
	var rows []responseRow
	if err := q.SelectContext(ctx, &rows, q.Rebind(responseSelect+` WHERE `+where), args...); err != nil {
		return nil, db.translate(fmt.Errorf("find client responses: %w", err))
	}
	return openResponses(ctx, db.openers(q), rows)
}

// openResponses returns the responses of rows, their texts opened with o.
func openResponses(ctx context.Context, o *openers, rows []responseRow) ([]*client.Response, error) {
	out := make([]*client.Response, len(rows))
	for i := range rows {
		// The one place a response's text is opened.
		text, err := o.open(ctx, rows[i].CaseID, responseText(rows[i].ID), rows[i].Text)
		if err != nil {
			return nil, err
		}
		rows[i].Text = text
		reason, err := o.open(ctx, rows[i].CaseID, responseReason(rows[i].ID), rows[i].Reason)
		if err != nil {
			return nil, err
		}
		rows[i].Reason = reason
		out[i] = rows[i].toDomain()
	}
	return out, nil
}

// errNoResponse answers for a response that does not exist.
func errNoResponse() error {
	return countersign.Errorf(countersign.ENOTFOUND, "There is no client response with this id.")
}

// Respond applies client.DecideResponse for the signed-in client. An entry
// of a case the client is no party of is answered as one that does not
// exist, before anything is locked.
func (db *ReviewStore) Respond(ctx context.Context, entryID string, kind client.ResponseKind, text string) (*client.Response, error) {
	p, err := client.PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	var out *client.Response
	err = db.withTx(ctx, func(tx *Tx) error {
		var e *review.Entry
		var row entryRow
		switch err := tx.GetContext(ctx, &row, tx.Rebind(recordQuery+` WHERE e.id = ?`), entryID); {
		case countersign.ErrorCode(db.translate(err)) == countersign.ENOTFOUND:
		case err != nil:
			return db.translate(fmt.Errorf("find entry: %w", err))
		default:
			if e, err = row.toDomain(ctx, db.openers(tx)); err != nil {
				return err
			}
		}
		if e != nil {
			if _, mine := p.Party(e.CaseID); mine {
				if err := db.lockCase(ctx, tx, e.CaseID); err != nil {
					return err
				}
				if err := db.checkOpen(ctx, tx, e.CaseID); err != nil {
					return err
				}
			}
		}
		var open int
		if err := tx.GetContext(ctx, &open, tx.Rebind(`SELECT COUNT(*) FROM client_responses WHERE account_id = ? AND status = ?`),
			p.AccountID, client.ResponseOpen); err != nil {
			return fmt.Errorf("count open responses: %w", err)
		}
		r, events, err := client.DecideResponse(client.ResponseInput{Principal: p, Entry: e, Kind: kind, Text: text,
			Open: open, Now: tx.now})
		if err != nil {
			return err
		}
		k, err := tx.sealer(ctx, r.CaseID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`
			INSERT INTO client_responses (id, case_id, party_id, account_id, entry_id, kind, text, salt, created_at, status)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), r.ID, r.CaseID, r.PartyID, r.AccountID, r.EntryID, string(r.Kind), k.Seal(responseText(r.ID), r.Text),
			r.Salt, r.CreatedAt, r.Status); err != nil {
			return fmt.Errorf("insert client response: %w", err)
		}
		out = r
		return tx.apply(ctx, events)
	})
	return out, err
}

// FindMyResponses returns the signed-in client's responses, newest first.
func (db *ReviewStore) FindMyResponses(ctx context.Context) ([]*client.Response, error) {
	p, err := client.PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	return db.selectResponses(ctx, db.r, `r.account_id = ? ORDER BY r.created_at DESC, r.id DESC`, p.AccountID)
}

// FindOpenResponses returns the responses waiting for the actor: on the
// cases a worker works, or on a supervisor's team's cases.
func (db *ReviewStore) FindOpenResponses(ctx context.Context) ([]*client.Response, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	where, args, ok := openResponsesWhere(a)
	if !ok {
		return nil, nil
	}
	return db.selectResponses(ctx, db.r, where+` ORDER BY r.created_at, r.id`, args...)
}

// openResponsesWhere is the condition on responseSelect's r of the
// responses waiting for a's answer, at most client.MaxQueueResponses of
// the oldest (ordered by r.created_at, r.id), with its arguments: on the
// cases a worker works, or on a supervisor's team's cases. No other role
// has any (false).
func openResponsesWhere(a countersign.Actor) (string, []any, bool) {
	var col, val string
	switch a.Role {
	case countersign.RoleWorker:
		col, val = "c.worker_id", a.UserID
	case countersign.RoleSupervisor:
		col, val = "c.team_id", a.TeamID
	default:
		return "", nil, false
	}
	// The oldest are chosen from the index alone (case, status, time),
	// then only they are read whole.
	return `r.id IN (
			SELECT w.id FROM client_responses w
			WHERE w.status = ? AND w.case_id IN (SELECT c.id FROM cases c WHERE ` + col + ` = ?)
			ORDER BY w.created_at, w.id LIMIT ` + strconv.Itoa(client.MaxQueueResponses) + `)`, []any{client.ResponseOpen, val}, true
}

// FindResponse returns one response of a case the actor may read.
func (db *ReviewStore) FindResponse(ctx context.Context, id string) (*client.Response, error) {
	rs, err := db.selectResponses(ctx, db.r, `r.id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, errNoResponse()
	}
	if _, err := db.findCase(ctx, db.r, rs[0].CaseID, false); err != nil {
		return nil, err
	}
	return rs[0], nil
}

// AnswerResponse applies client.DecideAnswer under the case's lock; a
// correction it decides is written in the same transaction, as
// CorrectEntry writes one.
func (db *ReviewStore) AnswerResponse(ctx context.Context, id string, ans client.Answer) (*client.Response, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	var out *client.Response
	err = db.withTx(ctx, func(tx *Tx) error {
		rs, err := db.selectResponses(ctx, tx, `r.id = ?`, id)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return errNoResponse()
		}
		cs, err := db.findCase(ctx, tx, rs[0].CaseID, true)
		if err != nil {
			return err
		}
		entry, err := db.lockedEntry(ctx, tx, cs.ID, rs[0].EntryID)
		if err != nil {
			return err
		}
		// Read again under the case's lock: two answers cannot both pass.
		if rs, err = db.selectResponses(ctx, tx, `r.id = ?`, id); err != nil {
			return err
		}
		res, err := client.DecideAnswer(client.AnswerInput{Actor: a, Case: cs, Response: rs[0], Entry: entry, Answer: ans,
			Policy: db.policy(), Now: tx.now})
		if err != nil {
			return err
		}
		if c := res.Correction; c != nil {
			if err := db.insertCorrection(ctx, tx, c.Entry); err != nil {
				return err
			}
		}
		r := res.Response
		var correction *string
		if r.CorrectionID != "" {
			correction = &r.CorrectionID
		}
		k, err := tx.sealer(ctx, r.CaseID)
		if err != nil {
			return err
		}
		done, err := tx.ExecContext(ctx, tx.Rebind(`
			UPDATE client_responses SET status = ?, outcome = ?, reason = ?, answered_by = ?, answered_at = ?, correction_id = ?
			WHERE id = ? AND status = ?`), r.Status, string(r.Outcome), k.Seal(responseReason(r.ID), r.Reason), r.AnsweredBy, r.AnsweredAt, correction,
			r.ID, client.ResponseOpen)
		if err != nil {
			return fmt.Errorf("answer client response: %w", err)
		}
		if n, _ := done.RowsAffected(); n != 1 {
			return countersign.Errorf(countersign.ECONFLICT, "This response has already been answered.")
		}
		out = r
		return tx.apply(ctx, res.Events)
	})
	return out, err
}

// insertCorrection writes a correction decided by review.DecideCorrection:
// the new entry in force, or the correction waiting for a countersignature.
func (db *conn) insertCorrection(ctx context.Context, tx *Tx, e *review.Entry) error {
	if !e.Pending {
		if err := insertEntry(ctx, tx, e); err != nil {
			if isConflict(db.translate(err)) {
				return countersign.Errorf(countersign.ECONFLICT, "This entry has just been corrected by someone else; correct the latest version.")
			}
			return err
		}
		return nil
	}
	k, err := tx.sealer(ctx, e.CaseID)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`
		INSERT INTO record_corrections (`+correctionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), e.ID, e.CaseID, e.Supersedes, e.Kind,
		k.Seal(correctionText(e.ID, "content"), e.Content), k.Seal(correctionText(e.ID, "reason"), e.Correction),
		e.SignedBy, e.SignedAt, correctionPending, e.Salt, e.Sharing, e.WithheldReason); err != nil {
		if isConflict(db.translate(err)) {
			return countersign.Errorf(countersign.ECONFLICT, "A correction of this entry is already waiting for a countersignature.")
		}
		return fmt.Errorf("insert pending correction: %w", err)
	}
	return nil
}

// FindCaseResponses returns a case's responses, oldest first: to a staff
// actor who may read the case, or to the signed-in client, their own on a
// case they are a party of (any other case does not exist for them).
func (db *ReviewStore) FindCaseResponses(ctx context.Context, caseID, partyID string) ([]*client.Response, error) {
	where, args := `r.case_id = ?`, []any{caseID}
	if p, err := client.PrincipalFrom(ctx); err == nil {
		if _, ok := p.Party(caseID); !ok {
			return nil, countersign.Errorf(countersign.ENOTFOUND, "There is no such case in your file.")
		}
		where, args = where+` AND r.account_id = ?`, append(args, p.AccountID)
	} else if _, err := db.findCase(ctx, db.r, caseID, false); err != nil {
		return nil, err
	}
	if partyID != "" {
		where, args = where+` AND r.party_id = ?`, append(args, partyID)
	}
	return db.selectResponses(ctx, db.r, where+` ORDER BY r.created_at, r.id`, args...)
}

// FindAttachedViews returns, by entry id, the clients' own views attached
// to the entries of a case: every reader of the record sees them beside
// the entry. The caller has checked that the actor may read the case.
func (db *ReviewStore) FindAttachedViews(ctx context.Context, caseID string) (map[string][]*client.Response, error) {
	rs, err := db.FindCaseResponses(ctx, caseID, "")
	if err != nil {
		return nil, err
	}
	out := map[string][]*client.Response{}
	for _, r := range rs {
		if r.Outcome == client.OutcomeAttached {
			out[r.EntryID] = append(out[r.EntryID], r)
		}
	}
	return out, nil
}

// responseCheckRow is a client response as the case-data check reads it.
type responseCheckRow struct {
	responseRow
	evCols
}

// checkClientResponses holds every client response against its events
// (client.CheckResponse).
func checkClientResponses(ctx context.Context, c *dataCheck) error {
	return run(ctx, c, dataTable[responseCheckRow]{table: "client_responses", key: "id", subject: "client_response",
		actions: client.ResponseEvents,
		cols: `r.id, r.case_id, r.party_id, r.account_id, r.entry_id, r.kind, r.text, r.salt, r.created_at, r.status,
			r.outcome, r.reason, r.answered_by, r.answered_at, r.correction_id, NULL AS answered_by_name, NULL AS correction_row_status`,
		id: func(r *responseCheckRow) string { return r.ID }, ev: func(r *responseCheckRow) *evCols { return &r.evCols },
		check: func(r *responseCheckRow, ws []audit.Witness) []audit.Mismatch {
			if r == nil {
				return client.CheckResponse(nil, ws)
			}
			r.Text = c.keys.openOrKeep(r.CaseID, responseText(r.ID), r.Text)
			r.Reason = c.keys.openOrKeep(r.CaseID, responseReason(r.ID), r.Reason)
			return client.CheckResponse(r.toDomain(), ws)
		}})
}
