package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/internal/sealbox"
)

var _ casefile.Store = (*CaseStore)(nil)

const caseColumns = `id, reference, title, case_type, team_id, worker_id, created_by, created_at`

type caseRow struct {
	ID        string    `db:"id"`
	Reference string    `db:"reference"`
	Title     string    `db:"title"`
	CaseType  string    `db:"case_type"`
	TeamID    string    `db:"team_id"`
	WorkerID  string    `db:"worker_id"`
	CreatedBy string    `db:"created_by"`
	CreatedAt time.Time `db:"created_at"`
	Total     int       `db:"total"`
	// The lifecycle (caseReadColumns, retention.go); a row read with
	// caseColumns only reads as open.
	Status      string     `db:"status"`
	ClosedAt    *time.Time `db:"closed_at"`
	CloseReason string     `db:"close_reason"`
	ErasedAt    *time.Time `db:"erased_at"`
}

func (r *caseRow) toDomain() *casefile.Case {
	c := &casefile.Case{ID: r.ID, Reference: r.Reference, Title: r.Title, CaseType: r.CaseType, TeamID: r.TeamID,
		WorkerID: r.WorkerID, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), Status: r.Status, CloseReason: r.CloseReason}
	if c.Status == "" {
		c.Status = casefile.StatusOpen
	}
	if r.ClosedAt != nil {
		t := r.ClosedAt.UTC()
		c.ClosedAt = &t
	}
	if r.ErasedAt != nil {
		t := r.ErasedAt.UTC()
		c.ErasedAt = &t
	}
	return c
}

// CreateCase applies casefile.DecideCase.
func (db *CaseStore) CreateCase(ctx context.Context, c *casefile.Case) error {
	return db.createCase(ctx, c, "")
}

// createCase opens c; recommendationID, when not "", is the caseload's
// recommendation the supervisor named, which the case's event records
// (caseload.DecideCreate; CreateCaseFollowing in caseload.go).
func (db *CaseStore) createCase(ctx context.Context, c *casefile.Case, recommendationID string) error {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return err
	}
	casefile.DefaultWorker(a, c)
	// A refusal inside the transaction rolls it back: it has only read.
	return db.withTx(ctx, func(tx *Tx) error {
		var worker *casefile.Worker
		var w userRow
		switch err := tx.GetContext(ctx, &w, tx.Rebind(`SELECT `+userColumns+` FROM users WHERE id = ?`), c.WorkerID); {
		case err == nil:
			worker = &casefile.Worker{ID: w.ID, Role: countersign.Role(w.Role)}
			if w.TeamID != nil {
				worker.TeamID = *w.TeamID
			}
		case countersign.ErrorCode(db.translate(err)) != countersign.ENOTFOUND:
			return fmt.Errorf("find worker: %w", err)
		}
		ev, err := casefile.DecideCase(a, c, worker, db.policy().CaseTypes, tx.now)
		if err != nil {
			return err
		}
		if err := db.followRecommendation(ctx, tx, a, c, recommendationID, ev); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`
			INSERT INTO cases (`+caseColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			c.ID, c.Reference, c.Title, c.CaseType, c.TeamID, c.WorkerID, c.CreatedBy, c.CreatedAt); err != nil {
			if isConflict(db.translate(err)) {
				return countersign.InvalidFields("The case could not be opened.", countersign.FieldError{Field: "reference", Message: "Another case already has this reference."})
			}
			return fmt.Errorf("insert case: %w", err)
		}
		if _, err := tx.insertCaseKey(ctx, c.ID); err != nil {
			return err
		}
		return tx.apply(ctx, []audit.Record{*ev})
	})
}

// FindCaseByID returns a case the actor may read.
func (db *CaseStore) FindCaseByID(ctx context.Context, id string) (*casefile.Case, error) {
	return db.findCase(ctx, db.r, id, false)
}

// findCase reads a case through q (the reader or a transaction); with write
// set, the actor must be allowed to change it, and the case must be open.
// A write transaction locks the case row (forCaseWrite) before that check,
// so closing or erasing the case (lockedCase, FOR UPDATE) waits for the
// write to commit, or the write waits for the closure and then reads the
// case closed: no content lands in a case closed meanwhile, whichever
// replica runs which.
func (db *conn) findCase(ctx context.Context, q queryer, id string, write bool) (*casefile.Case, error) {
	lock := ""
	if _, tx := q.(*Tx); write && tx {
		lock = db.dialect.forCaseWrite()
	}
	var r caseRow
	if err := q.GetContext(ctx, &r, q.Rebind(`SELECT `+caseReadColumns+` FROM cases WHERE id = ?`+lock), id); err != nil {
		return nil, notFound(db.translate(err), "There is no case with this id.")
	}
	c := r.toDomain()
	if err := checkCase(ctx, c, write); err != nil {
		return nil, err
	}
	return c, nil
}

// checkCase is what findCase checks of the case it read: that the actor
// may read it, or write to it, and for a write that it is open.
func checkCase(ctx context.Context, c *casefile.Case, write bool) error {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return err
	}
	check := casefile.CheckRead
	if write {
		check = casefile.CheckWrite
	}
	if err := check(a, c); err != nil {
		return err
	}
	if write {
		// A closed or erased case takes nothing new (retention.go).
		return casefile.CheckOpen(c)
	}
	return nil
}

// FindCases returns the cases the actor may see.
func (db *CaseStore) FindCases(ctx context.Context, f casefile.CaseFilter) ([]*casefile.Case, int, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, 0, err
	}
	where, args := []string{"1 = 1"}, []any{}
	switch a.Role {
	case countersign.RoleWorker:
		where, args = append(where, "worker_id = ?"), append(args, a.UserID)
	case countersign.RoleSupervisor:
		where, args = append(where, "team_id = ?"), append(args, a.TeamID)
	case countersign.RoleSystem:
	default:
		return nil, 0, countersign.Errorf(countersign.EFORBIDDEN, "Your role does not give access to case content.")
	}
	if v := f.WorkerID; v != nil {
		where, args = append(where, "worker_id = ?"), append(args, *v)
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	args = append(args, limit, max(f.Offset, 0))
	var rows []caseRow
	if err := db.r.SelectContext(ctx, &rows, db.r.Rebind(`
		SELECT `+caseReadColumns+`, COUNT(*) OVER () AS total
		FROM cases
		WHERE `+strings.Join(where, " AND ")+`
		ORDER BY created_at DESC, id
		LIMIT ? OFFSET ?`), args...); err != nil {
		return nil, 0, db.translate(fmt.Errorf("find cases: %w", err))
	}
	cases := make([]*casefile.Case, len(rows))
	total := 0
	for i := range rows {
		cases[i], total = rows[i].toDomain(), rows[i].Total
	}
	return cases, total, nil
}

// AddParty saves a party of a case. Its details are personal data: the audit
// event names only its id and role, and commits to the details with the
// party's salt.
func (db *CaseStore) AddParty(ctx context.Context, p *casefile.Party) error {
	if _, err := countersign.ActorFrom(ctx); err != nil {
		return err
	}
	return db.withTx(ctx, func(tx *Tx) error {
		c, err := db.findCase(ctx, tx, p.CaseID, true)
		if err != nil {
			return err
		}
		ev, err := casefile.DecideParty(actor(ctx), c, p, tx.now)
		if err != nil {
			return err
		}
		k, err := tx.sealer(ctx, p.CaseID)
		if err != nil {
			return err
		}
		sealed := partyRow{ID: p.ID, FullName: p.FullName, DateOfBirth: p.DateOfBirth, Address: p.Address, Phone: p.Phone, Email: p.Email, NationalID: p.NationalID}
		sealed.seal(k)
		// The e-mail's blind index, which the client's sign-in reads
		// (client_identity.go, emailIndex), is written with it.
		emailIndex, err := db.emailIndex(p.Email)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`
			INSERT INTO parties (id, case_id, role, full_name, date_of_birth, address, phone, email, email_index, national_id, language, created_by, created_at, salt)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			p.ID, p.CaseID, p.Role, sealed.FullName, sealed.DateOfBirth, sealed.Address, sealed.Phone, sealed.Email, emailIndex, sealed.NationalID, p.Language, ev.Actor.UserID, p.CreatedAt, p.Salt); err != nil {
			return fmt.Errorf("insert party: %w", err)
		}
		return tx.apply(ctx, []audit.Record{*ev})
	})
}

// FindParties returns the parties of a case.
func (db *CaseStore) FindParties(ctx context.Context, caseID string) ([]*casefile.Party, error) {
	if _, err := countersign.ActorFrom(ctx); err != nil {
		return nil, err
	}
	if _, err := db.FindCaseByID(ctx, caseID); err != nil {
		return nil, err
	}
	return db.findParties(ctx, db.r, caseID)
}

// findParties reads the parties of a case through q, with its case's key
// row in the same statement (as findNotes reads notes).
func (db *conn) findParties(ctx context.Context, q queryer, caseID string) ([]*casefile.Party, error) {
	var rows []keyedParty
	if err := q.SelectContext(ctx, &rows, q.Rebind(`
		SELECT p.id, p.case_id, p.role, p.full_name, p.date_of_birth, p.address, p.phone, p.email, p.national_id, p.language, p.created_at,
			`+joinedKeyColumns+`
		FROM parties p LEFT JOIN case_keys k ON k.case_id = p.case_id
		WHERE p.case_id = ?
		ORDER BY p.created_at, p.id`), caseID); err != nil {
		return nil, db.translate(fmt.Errorf("find parties: %w", err))
	}
	return db.openParties(caseID, rows)
}

// keyedParty is a party row read with its case's key row.
type keyedParty struct {
	partyRow
	joinedKey
}

// openParties opens the parties of case caseID read with its key row
// (findParties, and the claim of a draft, claimStatement).
func (db *conn) openParties(caseID string, rows []keyedParty) ([]*casefile.Party, error) {
	parties := make([]*casefile.Party, len(rows))
	if len(rows) == 0 {
		return parties, nil
	}
	o, err := db.joinedOpener(caseID, &rows[0].joinedKey)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		r := &rows[i].partyRow
		if err := r.open(o); err != nil {
			return nil, err
		}
		parties[i] = &casefile.Party{ID: r.ID, CaseID: r.CaseID, Role: r.Role, FullName: r.FullName, DateOfBirth: r.DateOfBirth,
			Address: r.Address, Phone: r.Phone, Email: r.Email, NationalID: r.NationalID, Language: r.Language, CreatedAt: r.CreatedAt.UTC()}
	}
	return parties, nil
}

type partyRow struct {
	ID          string    `db:"id"`
	CaseID      string    `db:"case_id"`
	Role        string    `db:"role"`
	FullName    string    `db:"full_name"`
	DateOfBirth string    `db:"date_of_birth"`
	Address     string    `db:"address"`
	Phone       string    `db:"phone"`
	Email       string    `db:"email"`
	NationalID  string    `db:"national_id"`
	Language    string    `db:"language"`
	CreatedAt   time.Time `db:"created_at"`
}

// partyFields are the party's personal data, each sealed with its case's
// key in its own place (the column of the row). seal and open are the one
// place a party's personal data is sealed and opened.
func (r *partyRow) partyFields() []struct {
	col string
	v   *string
} {
	return []struct {
		col string
		v   *string
	}{{"full_name", &r.FullName}, {"date_of_birth", &r.DateOfBirth}, {"address", &r.Address}, {"phone", &r.Phone},
		{"email", &r.Email}, {"national_id", &r.NationalID}}
}

// seal replaces the row's personal data with its sealed form.
func (r *partyRow) seal(k *sealbox.CaseKey) {
	for _, f := range r.partyFields() {
		*f.v = k.Seal(sealbox.Where{Table: "parties", Column: f.col, Row: r.ID}, *f.v)
	}
}

// open replaces the row's sealed personal data with its text.
func (r *partyRow) open(o textOpener) error {
	for _, f := range r.partyFields() {
		t, err := o.open(sealbox.Where{Table: "parties", Column: f.col, Row: r.ID}, *f.v)
		if err != nil {
			return err
		}
		*f.v = t
	}
	return nil
}

// AddNote saves a note. The audit event carries the hash of the body, never the body.
func (db *CaseStore) AddNote(ctx context.Context, n *casefile.Note) error {
	if _, err := countersign.ActorFrom(ctx); err != nil {
		return err
	}
	if n.Amends == "" && db.dialect.writableCTE() {
		// Notes are the most frequent write; on PostgreSQL the access
		// check, the note and its audit event go in one statement.
		if added, err := db.addNoteOneStatement(ctx, n); added || err != nil {
			return err
		}
		// Nothing was written: the transaction below finds out why.
	}
	return db.withTx(ctx, func(tx *Tx) error {
		c, err := db.findCase(ctx, tx, n.CaseID, true)
		if err != nil {
			return err
		}
		var amendedCase string
		if n.Amends != "" {
			var ids []string
			if err := tx.SelectContext(ctx, &ids, tx.Rebind(`SELECT case_id FROM notes WHERE id = ?`), n.Amends); err != nil {
				return fmt.Errorf("find amended note: %w", err)
			}
			if len(ids) == 1 {
				amendedCase = ids[0]
			}
		}
		ev, err := casefile.DecideNote(actor(ctx), c, n, amendedCase, tx.now)
		if err != nil {
			return err
		}
		k, err := tx.sealer(ctx, n.CaseID)
		if err != nil {
			return err
		}
		row, event, err := db.noteRows(n, ev, k)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO notes (`+noteInsertColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), row...); err != nil {
			return fmt.Errorf("insert note: %w", err)
		}
		return tx.insertPending(ctx, event)
	})
}

// body_sha256 holds the commitment the note's event carries (audit.Commit
// with salt since migration 0006, plain SHA-256 before).
const noteInsertColumns = `id, case_id, author_id, body, body_sha256, written_at, amends, created_at, salt`

// noteRows returns the values of n's notes row (in the order of
// noteInsertColumns) and of its audit_pending row, for a note and event
// that casefile decided; k seals its body.
func (db *conn) noteRows(n *casefile.Note, ev *audit.Record, k *sealbox.CaseKey) (row, event []any, err error) {
	var amends *string
	if n.Amends != "" {
		amends = &n.Amends
	}
	event, err = db.pendingRow(n.CreatedAt, ev.Actor, ev.Action, ev.SubjectType, ev.SubjectID, ev.CaseID, ev.Payload)
	if err != nil {
		return nil, nil, err
	}
	return []any{n.ID, n.CaseID, n.AuthorID, k.Seal(noteBody(n.ID), n.Body), ev.Payload["body_commitment"], n.WrittenAt, amends, n.CreatedAt, n.Salt}, event, nil
}

// addNoteOneStatement adds a note that amends nothing in a single statement
// that checks the actor may write the case, inserts the note and inserts
// its pending audit event: one round trip, and atomic as every statement
// is. It reports false, having written nothing, when the case is unknown or
// not the actor's; the caller then takes the general path, which says which.
func (db *conn) addNoteOneStatement(ctx context.Context, n *casefile.Note) (bool, error) {
	a := actor(ctx)
	var access string
	var who any
	switch a.Role {
	case countersign.RoleWorker:
		access, who = "worker_id = ?", a.UserID
	case countersign.RoleSupervisor:
		access, who = "team_id = ?", a.TeamID
	default:
		return false, nil
	}
	k, keyID, err := db.caseKeyHint(ctx, n.CaseID)
	if err != nil || k == nil {
		return false, err
	}
	saved := *n
	// The SQL below checks casefile.CanWrite for these two roles (the
	// conformance suite holds it to the domain for every role and case);
	// the note and its event are completed as the general path does.
	row, event, err := db.noteRows(n, casefile.NoteEvent(a, n, db.stamp()), k)
	if err != nil {
		return false, err
	}
	// The case id is bound once for the check; the note takes c.id and the
	// event n.id, so the three rows cannot disagree (the event's MAC covers
	// event[5], the same note id). Amends is always NULL here. The case's
	// key row is locked, and must still hold the key that sealed the body:
	// an erasure that shredded it meanwhile leaves nothing written. The
	// case row is locked too (FOR SHARE conflicts with the FOR UPDATE of
	// closing), and a closure that committed meanwhile makes PostgreSQL
	// check status = open again on the closed row: nothing is written, and
	// the general path below says the case is closed.
	args := []any{n.CaseID, who, casefile.StatusOpen, keyID, row[0], row[2], row[3], row[4], row[5], row[7], row[8],
		event[0], event[1], event[2], event[3], event[4], event[6], event[7], event[8], event[9]}
	res, err := db.exec(ctx, db.w.Rebind(`
		WITH c AS (
			SELECT cases.id FROM cases JOIN case_keys k ON k.case_id = cases.id
			WHERE cases.id = ? AND `+access+` AND cases.status = ? AND k.key_id = ? AND k.wrapped_key IS NOT NULL
			FOR SHARE OF cases, k
		),
		n AS (
			INSERT INTO notes (`+noteInsertColumns+`)
			SELECT ?::text, c.id, ?::text, ?::text, ?::text, ?::timestamptz, NULL, ?::timestamptz, ?::text FROM c
			RETURNING id
		)
		INSERT INTO audit_pending (`+pendingColumns+`)
		SELECT ?::text, ?::text, ?::text, ?::text, ?::text, n.id, ?::text, ?::text, ?::bytea, ?::bytea FROM n`), args...)
	if err != nil {
		// database/sql runs a lone statement again on a fresh connection
		// when the first one broke; if the first did commit, the second
		// finds the note's new random id taken: by this very note, with
		// its event, so it is stored.
		if pe := (*pq.Error)(nil); errors.As(err, &pe) && pe.Code == "23505" && pe.Constraint == "notes_pkey" {
			db.wakeSequencer()
			return true, nil
		}
		*n = saved
		return false, db.translate(fmt.Errorf("add note: %w", err))
	}
	if added, err := res.RowsAffected(); err != nil || added != 1 {
		*n = saved
		return false, err
	}
	db.wakeSequencer()
	// For a draft request that names it (predictRequest).
	db.keepNote(n, row[3].(string), keyID)
	return true, nil
}

type noteRow struct {
	ID        string    `db:"id"`
	CaseID    string    `db:"case_id"`
	AuthorID  string    `db:"author_id"`
	Body      string    `db:"body"`
	WrittenAt time.Time `db:"written_at"`
	Amends    *string   `db:"amends"`
	CreatedAt time.Time `db:"created_at"`
	// The case's key row, joined in (NULL when the case has none).
	joinedKey
}

// noteBody is the place of a note's body, its seal's additional data.
func noteBody(id string) sealbox.Where { return sealbox.Where{Table: "notes", Column: "body", Row: id} }

// toDomain returns the note, its body opened with o.
func (r *noteRow) toDomain(o textOpener) (*casefile.Note, error) {
	body, err := o.open(noteBody(r.ID), r.Body)
	if err != nil {
		return nil, err
	}
	n := &casefile.Note{ID: r.ID, CaseID: r.CaseID, AuthorID: r.AuthorID, Body: body, WrittenAt: r.WrittenAt.UTC(), CreatedAt: r.CreatedAt.UTC()}
	if r.Amends != nil {
		n.Amends = *r.Amends
	}
	return n, nil
}

// FindNotes returns the notes of a case in the order they were written.
func (db *CaseStore) FindNotes(ctx context.Context, caseID string) ([]*casefile.Note, error) {
	if _, err := countersign.ActorFrom(ctx); err != nil {
		return nil, err
	}
	if _, err := db.FindCaseByID(ctx, caseID); err != nil {
		return nil, err
	}
	return db.findNotes(ctx, db.r, caseID, nil)
}

// notesQuery reads the notes of caseID among ids (all when ids is empty),
// in the order they were written, each with its case's key row (the same
// round trip); columns and join add to it.
func notesQuery(columns, join, caseID string, ids []string) (string, []any) {
	query, args := `SELECT n.id, n.case_id, n.author_id, n.body, n.written_at, n.amends, n.created_at, `+joinedKeyColumns+columns+`
		FROM notes n LEFT JOIN case_keys k ON k.case_id = n.case_id `+join+` WHERE n.case_id = ?`, []any{caseID}
	if len(ids) > 0 {
		query += ` AND n.id IN (?` + strings.Repeat(",?", len(ids)-1) + `)`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	return query + ` ORDER BY n.written_at, n.id`, args
}

func (db *conn) findNotes(ctx context.Context, q queryer, caseID string, ids []string) ([]*casefile.Note, error) {
	query, args := notesQuery("", "", caseID, ids)
	var rows []noteRow
	if err := q.SelectContext(ctx, &rows, q.Rebind(query), args...); err != nil {
		return nil, db.translate(fmt.Errorf("find notes: %w", err))
	}
	var o textOpener
	var err error
	if len(rows) > 0 {
		if o, err = db.joinedOpener(caseID, &rows[0].joinedKey); err != nil {
			return nil, err
		}
	}
	notes := make([]*casefile.Note, len(rows))
	for i := range rows {
		if notes[i], err = rows[i].toDomain(o); err != nil {
			return nil, err
		}
	}
	return notes, nil
}
