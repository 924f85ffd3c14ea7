package sqlstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/sealbox"
	"github.com/countersign/countersign/review"
)

var _ review.Store = (*ReviewStore)(nil)

const draftColumns = `id, case_id, kind, status, requested_by, reviewer_id, team_id, note_ids, language, content,
	model, provider, prompt_version, detector_version, pseudonymised, masked, ungrounded, failure_reason, attempts, lease_owner,
	created_at, updated_at, generated_at, opened_at, decided_at`

type draftRow struct {
	ID            string     `db:"id"`
	CaseID        string     `db:"case_id"`
	Kind          string     `db:"kind"`
	Status        string     `db:"status"`
	RequestedBy   string     `db:"requested_by"`
	ReviewerID    string     `db:"reviewer_id"`
	TeamID        string     `db:"team_id"`
	NoteIDs       string     `db:"note_ids"`
	Language      string     `db:"language"`
	Content       *string    `db:"content"`
	Model         string     `db:"model"`
	Provider      string     `db:"provider"`
	PromptVersion string     `db:"prompt_version"`
	Pseudonymised bool       `db:"pseudonymised"`
	Masked        string     `db:"masked"`
	Ungrounded    int        `db:"ungrounded"`
	FailureReason string     `db:"failure_reason"`
	Attempts      int        `db:"attempts"`
	LeaseOwner    string     `db:"lease_owner"`
	CreatedAt     time.Time  `db:"created_at"`
	UpdatedAt     time.Time  `db:"updated_at"`
	GeneratedAt   *time.Time `db:"generated_at"`
	OpenedAt      *time.Time `db:"opened_at"`
	DecidedAt     *time.Time `db:"decided_at"`

	DetectorVersion string `db:"detector_version"` // migration 0009

	// FlagsRisk is whether the content as generated flags a risk
	// (review.FlagsRisk, migration 0022); read by the review queue alone
	// (queueColumns), NULL when the completion did not store it.
	FlagsRisk *bool `db:"flags_risk"`
}

// queueColumns are the columns the review queue lists (queueQuery): a
// draft's without its content, which a person reads by opening the draft
// (a logged read), and with flags_risk; the content of a generated draft
// only when its flag was not stored, so the queue can tell from it.
var queueColumns = strings.Replace(draftColumns, " content,", " CASE WHEN flags_risk IS NULL THEN content END AS content, flags_risk,", 1)

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// draftContent is the place of a draft's content, its seal's additional data.
func draftContent(id string) sealbox.Where {
	return sealbox.Where{Table: "drafts", Column: "content", Row: id}
}

// toDomain returns the draft, its content opened through o.
func (r *draftRow) toDomain(ctx context.Context, o *openers) (*review.Draft, error) {
	d := &review.Draft{ID: r.ID, CaseID: r.CaseID, Kind: assistant.Kind(r.Kind), Status: review.Status(r.Status),
		RequestedBy: r.RequestedBy, ReviewerID: r.ReviewerID, TeamID: r.TeamID, Language: r.Language,
		Model: r.Model, Provider: r.Provider, PromptVersion: r.PromptVersion, Pseudonymised: r.Pseudonymised,
		Ungrounded: r.Ungrounded, FailureReason: r.FailureReason, Attempts: r.Attempts,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), GeneratedAt: utcPtr(r.GeneratedAt),
		OpenedAt: utcPtr(r.OpenedAt), DecidedAt: utcPtr(r.DecidedAt), DetectorVersion: r.DetectorVersion}
	if err := json.Unmarshal([]byte(r.NoteIDs), &d.NoteIDs); err != nil {
		return nil, fmt.Errorf("draft %s note ids: %w", r.ID, err)
	}
	if r.Masked != "" && r.Masked != "{}" {
		if err := json.Unmarshal([]byte(r.Masked), &d.Masked); err != nil {
			return nil, fmt.Errorf("draft %s masked counts: %w", r.ID, err)
		}
	}
	if r.Content != nil {
		content, err := o.open(ctx, r.CaseID, draftContent(r.ID), *r.Content)
		if err != nil {
			return nil, err
		}
		d.Content = new(assistant.Content)
		if err := json.Unmarshal([]byte(content), d.Content); err != nil {
			return nil, fmt.Errorf("draft %s content: %w", r.ID, err)
		}
	}
	return d, nil
}

// getDraft reads draft id through q; lock, if not "", is appended to the
// query to lock its row (the row alone: its case's key is then read on its
// own, as the opener needs it).
func (db *conn) getDraft(ctx context.Context, q queryer, id, lock string) (*review.Draft, error) {
	if lock == "" {
		d, _, _, err := db.readDraft(ctx, q, id, "")
		return d, err
	}
	var r draftRow
	if err := q.GetContext(ctx, &r, q.Rebind(`SELECT `+draftColumns+` FROM drafts WHERE id = ?`+lock), id); err != nil {
		return nil, notFound(db.translate(err), "There is no draft with this id.")
	}
	return r.toDomain(ctx, db.openers(q))
}

// draftReadRow is a draft as readDraft reads it: its row, its case's key
// row (NULL when the case has none) and the reader's first opening of it at
// its status (NULL when none).
type draftReadRow struct {
	draftRow
	joinedKey
	ReaderOpenedAt *time.Time `db:"reader_opened_at"`
}

// readDraftQuery reads a draft with its case's key row, in one statement;
// readDraftOpeningQuery adds the reader's opening of it at its status (an
// opening counts at the stage the draft is at: review.OpeningStage).
var (
	readDraftQuery = `SELECT ` + qualify("d", "", draftColumns) + `, ` + joinedKeyColumns + `, NULL AS reader_opened_at
		FROM drafts d LEFT JOIN case_keys k ON k.case_id = d.case_id
		WHERE d.id = ?`
	readDraftOpeningQuery = `SELECT ` + qualify("d", "", draftColumns) + `, ` + joinedKeyColumns + `, o.opened_at AS reader_opened_at
		FROM drafts d LEFT JOIN case_keys k ON k.case_id = d.case_id
		LEFT JOIN draft_openings o ON o.draft_id = d.id AND o.user_id = ? AND o.stage = d.status
		WHERE d.id = ?`
)

// readDraft reads draft id through q in one statement: the draft, its
// content opened with its case's key row read in the same statement (a
// shredded key opens nothing), and, when readerID is not "", when that
// person first opened it at its status (nil: never). The openers it
// returns open the case's other texts without looking up its key again.
func (db *conn) readDraft(ctx context.Context, q queryer, id, readerID string) (*review.Draft, *openers, *time.Time, error) {
	var r draftReadRow
	query, args := readDraftQuery, []any{id}
	if readerID != "" {
		query, args = readDraftOpeningQuery, []any{readerID, id}
	}
	if err := q.GetContext(ctx, &r, q.Rebind(query), args...); err != nil {
		return nil, nil, nil, notFound(db.translate(err), "There is no draft with this id.")
	}
	return db.draftFromRow(ctx, q, &r)
}

// draftFromRow is readDraft's draft from the row it read (readDraftLogged
// reads the same row), its openers reading through q.
func (db *conn) draftFromRow(ctx context.Context, q queryer, r *draftReadRow) (*review.Draft, *openers, *time.Time, error) {
	o := db.openers(q)
	if r.Content != nil && sealbox.IsSealed(*r.Content) {
		// The key row read with the text opens it: no query of its own.
		op, err := db.joinedOpener(r.CaseID, &r.joinedKey)
		if err != nil {
			return nil, nil, nil, err
		}
		o.cases[r.CaseID] = op
	}
	d, err := r.toDomain(ctx, o)
	if err != nil {
		return nil, nil, nil, err
	}
	return d, o, utcPtr(r.ReaderOpenedAt), nil
}

// RequestDraft queues a draft of a case for the drafting workers.
func (db *ReviewStore) RequestDraft(ctx context.Context, req review.DraftRequest) (*review.Draft, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if req.IdempotencyKey != "" {
		if d, err := db.findByIdempotencyKey(ctx, a.UserID, req.IdempotencyKey); err == nil || countersign.ErrorCode(err) != countersign.ENOTFOUND {
			return d, err
		}
	}
	d, err := db.requestByStatement(ctx, a, req)
	if errors.Is(err, errFenceLost) {
		err = db.withTx(ctx, func(tx *Tx) error {
			d, err = db.requestDraft(ctx, tx, a, req)
			return err
		})
	}
	if isConflict(err) && req.IdempotencyKey != "" {
		// Another request with the same key won the race: answer with its draft.
		return db.findByIdempotencyKey(ctx, a.UserID, req.IdempotencyKey)
	}
	return d, err
}

func (db *conn) findByIdempotencyKey(ctx context.Context, userID, key string) (*review.Draft, error) {
	var r draftRow
	if err := db.w.GetContext(ctx, &r, db.w.Rebind(`SELECT `+draftColumns+` FROM drafts WHERE requested_by = ? AND idempotency_key = ?`), userID, key); err != nil {
		return nil, db.translate(err)
	}
	return r.toDomain(ctx, db.openers(db.w))
}

// FindDraftByID returns a draft of a case the actor may read.
func (db *ReviewStore) FindDraftByID(ctx context.Context, id string) (*review.Draft, error) {
	if _, err := countersign.ActorFrom(ctx); err != nil {
		return nil, err
	}
	d, _, err := db.findDraft(ctx, id, "")
	return d, err
}

// findDraft is FindDraftByID, with when readerID first opened the draft at
// its status (nil: never, or readerID is "") read in the same statement.
func (db *conn) findDraft(ctx context.Context, id, readerID string) (*review.Draft, *time.Time, error) {
	d, o, opened, err := db.readDraft(ctx, db.r, id, readerID)
	if err != nil {
		return nil, nil, err
	}
	if err := db.checkDraftAccess(ctx, db.r, d, false); err != nil {
		return nil, nil, err
	}
	return d, opened, db.attachDecision(ctx, db.r, d, o)
}

// attachDecision adds to d what was decided about it: the decision, the
// countersignature, the outcome of a vigilance check once decided, and
// whether the policy asks for a countersignature. o opens the decision's
// texts (nil: openers of its own).
func (db *conn) attachDecision(ctx context.Context, q queryer, d *review.Draft, o *openers) error {
	d.CountersignRequired = d.Content != nil && db.policy().NeedsCountersign(d)
	if !(d.Status == review.StatusApproved || d.Status == review.StatusRejected || d.Status == review.StatusAwaitingCountersign) {
		return nil
	}
	var r decisionRow
	if err := q.GetContext(ctx, &r, q.Rebind(`SELECT `+decisionColumns+` FROM decisions WHERE draft_id = ?`), d.ID); err != nil {
		return db.translate(fmt.Errorf("find decision of %s: %w", d.ID, err))
	}
	if o == nil {
		o = db.openers(q)
	}
	dec, err := r.toDomain(ctx, o, d.CaseID)
	if err != nil {
		return err
	}
	d.Decision = dec
	d.CountersignRequired = dec.CountersignRequired
	cs, err := db.findCountersignature(ctx, q, d.ID)
	if err != nil {
		return err
	}
	d.Countersignature = cs
	check, outcome, err := db.findVigilance(ctx, q, d, o)
	if err != nil {
		return err
	}
	if check != nil && outcome != "" {
		d.Vigilance = review.NewVigilanceResult(outcome == review.VigilanceMissed, check.Text)
	}
	return nil
}

// OpenDraft returns a draft of a case the actor may read, as a staff read
// of its content: the read's access event (readEvent, as client.ReadEvent
// decides it) is durable before the draft is returned, and a refused read
// writes nothing. When the actor may decide the draft at its stage
// (review.OpeningStage) and never opened it there, the read is their first
// opening: the opening, its event, the draft's review clock and the read's
// event commit in one transaction, and the draft read for it is returned.
// Any other read is one statement, then the read's event alone, the access
// log's own cheapest durable write (RecordRead); on PostgreSQL, when this
// process predicts the read's access from the draft and case it last read,
// one statement that also writes the event (readDraftLogged).
func (db *ReviewStore) OpenDraft(ctx context.Context, id string) (*review.Draft, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	d, opened, logged, seen, err := db.readDraftLogged(ctx, a, id)
	if err != nil || logged {
		return d, err
	}
	read := client.Read{CaseID: d.CaseID, What: client.ReadDraft, TargetID: d.ID, Empty: d.Content == nil}
	stage, first := review.OpeningStage(a, d)
	if !first || opened != nil {
		// Most reads are not a first opening (the page polls while a draft
		// is generated; a decided draft is looked at again): no write
		// transaction, no row lock.
		if err := (&AuditStore{db.conn}).RecordRead(ctx, read); err != nil {
			return nil, err
		}
		// What the read saw, for the reader's approval: not the draft
		// returned, which the caller holds.
		db.rememberDecision(a, id, seen)
		return d, nil
	}
	ev, err := db.readEvent(ctx, read)
	if err != nil {
		return nil, err
	}
	var clock *time.Time // the review clock's start, when this opening set it
	reread := false
	opening := func(tx *Tx) ([]write, error) {
		clock, reread = nil, false
		events := []audit.Record{review.OpenedEvent(a, d, stage)}
		if ev != nil {
			events = append(events, *ev)
		}
		evs, err := tx.eventsWrite(events)
		if err != nil {
			return nil, err
		}
		// The primary key makes concurrent first openings record one
		// event: the one that loses writes nothing (errOpenedMeanwhile)
		// and its read is logged alone. On PostgreSQL the opening, the
		// review clock and the events are one statement and no
		// transaction (fencedWrites: the clock and the events are
		// written only if the opening was).
		ws := []write{{query: `INSERT INTO draft_openings (draft_id, user_id, stage, opened_at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, args: []any{d.ID, a.UserID, string(stage), tx.now},
			check: func(n int64) error {
				if n != 1 {
					return errOpenedMeanwhile
				}
				return nil
			}}}
		if stage == review.StatusPendingReview {
			// The draft's review clock starts at its first opening by
			// someone who may decide it.
			ws = append(ws, write{query: `UPDATE drafts SET opened_at = ?, updated_at = ?
				WHERE id = ? AND status = ? AND opened_at IS NULL`, args: []any{tx.now, tx.now, d.ID, string(stage)},
				check: func(n int64) error {
					if n == 1 {
						at := tx.now
						clock = &at
					}
					return nil
				}})
		}
		return append(ws, evs), nil
	}
	stx := db.statementTx()
	var versions openedVersions // the draft's, around the opening (openingWrites)
	if f, ok := afterOpeningRead.Load(id); ok {
		f.(func())()
	}
	if db.dialect.writableCTE() {
		var ws []write
		if ws, err = opening(stx); err == nil {
			if seen != nil && stage == review.StatusPendingReview {
				// The approval that follows may decide on what was read
				// (rememberOpening), if the opening says which version of
				// the draft it leaves.
				versions, err = db.openingWrites(ctx, id, ws)
			} else {
				err = db.fencedWrites(ctx, nil, nil, ws...)
			}
			if errors.Is(err, errFenceLost) {
				err = errOpenedMeanwhile
			}
		}
	} else {
		err = db.withTx(ctx, func(tx *Tx) error {
			ws, err := opening(tx)
			if err != nil {
				return err
			}
			return tx.writes(ctx, nil, ws...)
		})
	}
	if err == nil {
		// The draft changed since it was read (another opening started
		// its clock, or it was decided): it is read again.
		reread = stage == review.StatusPendingReview && clock == nil && d.OpenedAt == nil
	}
	if errors.Is(err, errOpenedMeanwhile) {
		// Someone's same first opening committed meanwhile: this read is
		// a later one, logged alone.
		if err := (&AuditStore{db.conn}).RecordRead(ctx, read); err != nil {
			return nil, err
		}
		return db.FindDraftByID(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	if reread {
		db.rememberDecision(a, id, nil)
		return db.FindDraftByID(ctx, id)
	}
	if clock != nil {
		d.OpenedAt, d.UpdatedAt = clock, *clock
	}
	if stage == review.StatusPendingReview {
		db.rememberOpening(a, id, seen, versions, stx.now, clock)
	}
	return d, nil
}

// errOpenedMeanwhile rolls back a first opening that another request of
// the same person recorded first.
var errOpenedMeanwhile = errors.New("opened meanwhile")

// queueCursor is the keyset position (created_at, id) of the last draft of a page.
func encodeCursor(d *review.Draft) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(d.CreatedAt.UnixMicro(), 10) + "|" + d.ID))
}

func decodeCursor(s string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		if ts, id, ok := strings.Cut(string(b), "|"); ok {
			if us, err := strconv.ParseInt(ts, 10, 64); err == nil {
				return time.UnixMicro(us).UTC(), id, nil
			}
		}
	}
	return time.Time{}, "", countersign.InvalidFields("The page cursor is not valid.", countersign.FieldError{Field: "after", Message: "Use the next cursor exactly as a previous page returned it."})
}

// waitingStatuses is the supervisors' queue predicate; it must read exactly
// as the WHERE clause of drafts_queue_team_idx for the planners to use it.
var waitingStatuses = statusIn(review.StatusPendingReview, review.StatusAwaitingCountersign)

// FindQueue returns the drafts awaiting the actor's decision, oldest first:
// a worker's pending drafts, or a supervisor's team's pending drafts and
// drafts awaiting countersignature. The query reads an index in queue order
// and stops at the page: drafts_review_idx for a worker, the partial
// drafts_queue_team_idx for a supervisor (ExplainQueue shows the plan).
func (db *ReviewStore) FindQueue(ctx context.Context, f review.QueueFilter) ([]*review.Draft, string, error) {
	if _, err := countersign.ActorFrom(ctx); err != nil {
		return nil, "", err
	}
	now := db.Now().UTC()
	query, args, limit, err := db.queueQuery(ctx, f, now)
	if err != nil {
		return nil, "", err
	}
	var rows []draftRow
	if err := db.r.SelectContext(ctx, &rows, db.r.Rebind(query), args...); err != nil {
		return nil, "", db.translate(fmt.Errorf("find review queue: %w", err))
	}
	return db.queueDrafts(ctx, db.openers(db.r), rows, limit, now)
}

// queueQuery builds the queue query for the actor and filter, with its
// arguments and the page size.
func (db *conn) queueQuery(ctx context.Context, f review.QueueFilter, now time.Time) (string, []any, int, error) {
	a := actor(ctx)
	p := db.policy()
	var where []string
	var args []any
	switch a.Role {
	case countersign.RoleWorker:
		if f.Status != nil && *f.Status != review.StatusPendingReview {
			return "", nil, 0, countersign.InvalidFields("The request has mistakes.", countersign.FieldError{Field: "status", Message: "A worker's queue holds only drafts pending review."})
		}
		where, args = append(where, "reviewer_id = ?", "status = "+stPending), append(args, a.UserID)
	case countersign.RoleSupervisor:
		where, args = append(where, "team_id = ?"), append(args, a.TeamID)
		switch {
		case f.Status == nil:
			where = append(where, waitingStatuses)
		case *f.Status == review.StatusPendingReview || *f.Status == review.StatusAwaitingCountersign:
			where, args = append(where, "status = ?"), append(args, string(*f.Status))
		default:
			return "", nil, 0, countersign.InvalidFields("The request has mistakes.", countersign.FieldError{Field: "status", Message: "Choose pending_review or awaiting_countersign."})
		}
	default:
		return "", nil, 0, countersign.Errorf(countersign.EFORBIDDEN, "Only workers and supervisors have a review queue.")
	}
	if v := f.Kind; v != nil {
		where, args = append(where, "kind = ?"), append(args, string(*v))
	}
	if v := f.CaseID; v != nil {
		where, args = append(where, "case_id = ?"), append(args, *v)
	}
	before := f.Before
	if f.Overdue {
		if t := p.OverdueBefore(now); before == nil || t.Before(*before) {
			before = &t
		}
	}
	if before != nil {
		where, args = append(where, "created_at < ?"), append(args, before.UTC())
	}
	if f.After != "" {
		at, id, err := decodeCursor(f.After)
		if err != nil {
			return "", nil, 0, err
		}
		where, args = append(where, "(created_at > ? OR (created_at = ? AND id > ?))"), append(args, at, at, id)
	}
	limit := f.Limit
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	args = append(args, limit+1)
	return `
		SELECT ` + queueColumns + `
		FROM drafts
		WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY created_at, id
		LIMIT ?`, args, limit, nil
}

// ExplainQueue returns the database's plan for the query FindQueue runs
// with the same actor and filter; tests and BENCHMARKS.md use it.
func (db *ReviewStore) ExplainQueue(ctx context.Context, f review.QueueFilter) (string, error) {
	query, args, _, err := db.queueQuery(ctx, f, db.Now().UTC())
	if err != nil {
		return "", err
	}
	return db.dialect.explain(ctx, db.r.DB, db.r.Rebind(query), args...)
}
