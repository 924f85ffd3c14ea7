package sqlstore

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/agenda"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/metrics"
)

// Reminders are delivered exactly once across replicas and restarts: each
// is a row of agenda_reminders, claimed and marked sent in the transaction
// that inserts its notifications. On PostgreSQL the claim skips rows another
// replica holds (FOR UPDATE SKIP LOCKED) and the guarded UPDATE (sent_at IS
// NULL) settles any race; on SQLite the single writer runs one claim at a
// time. A crash before the commit leaves the reminder unsent, to be
// delivered by the next run; a commit makes it sent, never twice, and the
// unique (reminder_id, user_id) of notifications says so again.

type reminderRow struct {
	ID      string    `db:"id"`
	EntryID string    `db:"entry_id"`
	Kind    string    `db:"kind"`
	Offset  string    `db:"offset_code"`
	FireAt  time.Time `db:"fire_at"`
}

// DeliverReminders delivers up to limit reminders due at now, and returns
// the notifications it wrote.
func (db *AgendaStore) DeliverReminders(ctx context.Context, limit int) ([]*agenda.Notification, error) {
	var out []*agenda.Notification
	err := db.withTx(ctx, func(tx *Tx) error {
		out = nil
		var rows []reminderRow
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT id, entry_id, kind, offset_code, fire_at FROM agenda_reminders
			WHERE sent_at IS NULL AND fire_at <= ? ORDER BY fire_at, id LIMIT ?`+db.dialect.skipLocked()), tx.now, limit); err != nil {
			return fmt.Errorf("claim reminders: %w", err)
		}
		for _, r := range rows {
			res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE agenda_reminders SET sent_at = ? WHERE id = ? AND sent_at IS NULL`), tx.now, r.ID)
			if err != nil {
				return fmt.Errorf("mark reminder sent: %w", err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				continue // another scheduler sent it
			}
			es, err := db.findEntries(ctx, tx, `e.id = ?`, r.EntryID)
			if err != nil || len(es) == 0 {
				return fmt.Errorf("find entry of reminder %s: %w", r.ID, err)
			}
			e := es[0]
			var sups []string
			if r.Kind == agenda.NotifyEscalation {
				if err := tx.SelectContext(ctx, &sups, tx.Rebind(`SELECT id FROM users
					WHERE team_id = ? AND role = ? AND disabled_at IS NULL ORDER BY id`), e.TeamID, string(countersign.RoleSupervisor)); err != nil {
					return fmt.Errorf("find supervisors: %w", err)
				}
			}
			notes, ev := agenda.Deliver(e, agenda.Reminder{ID: r.ID, EntryID: r.EntryID, Kind: r.Kind, Offset: r.Offset, FireAt: r.FireAt},
				sups, tx.now, db.location())
			for _, n := range notes {
				if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO notifications (id, user_id, reminder_id, kind, entry_id, offset_code, created_at)
					VALUES (?, ?, ?, ?, ?, ?, ?)`), n.ID, n.UserID, r.ID, n.Kind, n.EntryID, n.Offset, n.CreatedAt); err != nil {
					return fmt.Errorf("insert notification: %w", err)
				}
			}
			out = append(out, notes...)
			if ev != nil {
				if err := tx.apply(ctx, []audit.Record{*ev}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Mailer sends one plain-text e-mail; internal/mail's SMTP sender is the
// real one.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// MailNotifications e-mails each notification to its user, at most once:
// the notification is claimed (emailed_at set) before it is sent, so two
// replicas never both send it; a failure after the claim loses that one
// e-mail, never the in-app notification. The mail names the case
// reference, the kind and the date, never a name or the entry's words.
func (db *AgendaStore) MailNotifications(ctx context.Context, m Mailer, notes []*agenda.Notification) error {
	var errs []error
	for _, n := range notes {
		var email string
		claimed := false
		err := db.withTx(ctx, func(tx *Tx) error {
			res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE notifications SET emailed_at = ? WHERE id = ? AND emailed_at IS NULL`), tx.now, n.ID)
			if err != nil {
				return fmt.Errorf("claim notification e-mail: %w", err)
			}
			if k, _ := res.RowsAffected(); k != 1 {
				return nil
			}
			claimed = true
			return tx.GetContext(ctx, &email, tx.Rebind(`SELECT email FROM users WHERE id = ? AND disabled_at IS NULL`), n.UserID)
		})
		if err != nil || !claimed || email == "" {
			if err != nil && countersign.ErrorCode(err) != countersign.ENOTFOUND {
				errs = append(errs, err)
			}
			continue
		}
		subject, body := mailText(n)
		if err := m.Send(ctx, email, subject, body); err != nil {
			errs = append(errs, fmt.Errorf("send notification %s: %w", n.ID, err))
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// mailText is the e-mail of a notification: the case reference, the kind
// and the date only.
func mailText(n *agenda.Notification) (string, string) {
	kind := agenda.Label("en", string(n.EntryKind))
	when := n.Date
	if n.Time != "" {
		when += " " + n.Time
	}
	if n.Kind == agenda.NotifyEscalation {
		return fmt.Sprintf("Overdue: %s of case %s", strings.ToLower(kind), n.CaseReference),
			fmt.Sprintf("The %s of case %s, due %s, is overdue and still open.\nOpen Countersign to see it and record what happened.\n",
				strings.ToLower(kind), n.CaseReference, when)
	}
	return fmt.Sprintf("Reminder: %s of case %s on %s", strings.ToLower(kind), n.CaseReference, when),
		fmt.Sprintf("The %s of case %s is due %s.\nOpen Countersign to see it.\n", strings.ToLower(kind), n.CaseReference, when)
}

// RunReminders delivers due reminders every interval until ctx ends, and
// e-mails them with m when it is not nil. Any number of replicas may run it.
func (db *AgendaStore) RunReminders(ctx context.Context, every time.Duration, m Mailer, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for {
			notes, err := db.DeliverReminders(ctx, 100)
			if err != nil {
				if ctx.Err() == nil && onErr != nil {
					onErr(err)
				}
				break
			}
			metrics.RemindersDue.Add(float64(len(notes)))
			if m != nil && len(notes) > 0 {
				if err := db.MailNotifications(ctx, m, notes); err != nil && onErr != nil {
					onErr(err)
				} else if err == nil {
					metrics.RemindersSent.Add(float64(len(notes)))
				}
			}
			if len(notes) == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type notificationRow struct {
	ID        string     `db:"id"`
	UserID    string     `db:"user_id"`
	Kind      string     `db:"kind"`
	EntryID   string     `db:"entry_id"`
	Offset    string     `db:"offset_code"`
	CreatedAt time.Time  `db:"created_at"`
	ReadAt    *time.Time `db:"read_at"`
	CaseID    string     `db:"case_id"`
	EntryKind string     `db:"entry_kind"`
	Date      string     `db:"due_date"`
	Time      string     `db:"due_time"`
	Reference string     `db:"reference"`
}

// FindNotifications returns the actor's latest notifications, newest first.
func (db *AgendaStore) FindNotifications(ctx context.Context, limit int) (*agenda.Notifications, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	out := &agenda.Notifications{Items: []*agenda.Notification{}}
	if err := db.r.GetContext(ctx, &out.Unread, db.r.Rebind(`SELECT COUNT(*) FROM notifications WHERE user_id = ? AND read_at IS NULL`), a.UserID); err != nil {
		return nil, db.translate(fmt.Errorf("count notifications: %w", err))
	}
	var rows []notificationRow
	if err := db.r.SelectContext(ctx, &rows, db.r.Rebind(`SELECT n.id, n.user_id, n.kind, n.entry_id, n.offset_code, n.created_at, n.read_at,
		e.case_id, e.kind AS entry_kind, e.due_date, e.due_time, c.reference
		FROM notifications n JOIN agenda_entries e ON e.id = n.entry_id JOIN cases c ON c.id = e.case_id
		WHERE n.user_id = ? ORDER BY n.created_at DESC, n.id LIMIT ?`), a.UserID, limit); err != nil {
		return nil, db.translate(fmt.Errorf("find notifications: %w", err))
	}
	for _, r := range rows {
		n := &agenda.Notification{ID: r.ID, UserID: r.UserID, Kind: r.Kind, EntryID: r.EntryID, CaseID: r.CaseID,
			CaseReference: r.Reference, EntryKind: agenda.Kind(r.EntryKind), Date: r.Date, Time: r.Time, Offset: r.Offset,
			CreatedAt: r.CreatedAt.UTC()}
		if r.ReadAt != nil {
			t := r.ReadAt.UTC()
			n.ReadAt = &t
		}
		out.Items = append(out.Items, n)
	}
	return out, nil
}

// CountUnread returns how many of the actor's notifications are unread,
// for the counter in the web interface's header.
func (db *AgendaStore) CountUnread(ctx context.Context) (int, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return 0, err
	}
	var n int
	if err := db.r.GetContext(ctx, &n, db.r.Rebind(`SELECT COUNT(*) FROM notifications WHERE user_id = ? AND read_at IS NULL`), a.UserID); err != nil {
		return 0, db.translate(fmt.Errorf("count notifications: %w", err))
	}
	return n, nil
}

// MarkNotificationsRead marks the actor's unread notifications read: those
// named, or all.
func (db *AgendaStore) MarkNotificationsRead(ctx context.Context, ids []string) (int, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return 0, err
	}
	if len(ids) > 200 {
		return 0, countersign.InvalidFields("The notifications could not be marked read.", countersign.FieldError{Field: "ids", Message: "Name at most 200 notifications at once."})
	}
	var n int64
	err = db.withTx(ctx, func(tx *Tx) error {
		query, args := `UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL`, []any{tx.now, a.UserID}
		if len(ids) > 0 {
			query += ` AND id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
			for _, id := range ids {
				args = append(args, id)
			}
		}
		res, err := tx.ExecContext(ctx, tx.Rebind(query), args...)
		if err != nil {
			return fmt.Errorf("mark notifications read: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}

// FeedPathPrefix is where calendar feeds are served: /ical/{token}.ics.
const FeedPathPrefix = "/ical/"

// feedTokenPrefix marks a calendar feed's secret, so that a leaked one is
// recognised (and never mistaken for an API token).
const feedTokenPrefix = "csc_"

// IssueFeed issues the actor's calendar feed and revokes the previous one.
// The secret is in the returned path only; the database keeps its hash.
func (db *AgendaStore) IssueFeed(ctx context.Context) (*agenda.Feed, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	secret, err := randomSecret()
	if err != nil {
		return nil, err
	}
	secret = feedTokenPrefix + secret
	f := &agenda.Feed{ID: countersign.NewID(agenda.PrefixFeed), Path: FeedPathPrefix + secret + ".ics"}
	err = db.withTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE calendar_feeds SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`), tx.now, a.UserID)
		if err != nil {
			return fmt.Errorf("revoke calendar feed: %w", err)
		}
		revoked, _ := res.RowsAffected()
		ev, err := agenda.DecideFeed(a, f.ID, int(revoked))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO calendar_feeds (id, owner_kind, user_id, case_ids, language, token_hash, created_at)
			VALUES (?, 'staff', ?, '', 'en', ?, ?)`), f.ID, a.UserID, hashToken(secret), tx.now); err != nil {
			return fmt.Errorf("insert calendar feed: %w", err)
		}
		return tx.apply(ctx, []audit.Record{*ev})
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// IssueClientFeed records the signed-in client's answer about a calendar
// feed of their appointments (agenda.DecideClientFeed): given issues a new
// feed in their language for their cases, revoking any previous one; no
// revokes it. The feed is nil when consent is not given.
func (db *AgendaStore) IssueClientFeed(ctx context.Context, given bool) (*agenda.Feed, error) {
	p, err := client.PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	a := p.Actor()
	var f *agenda.Feed
	var secret string
	if given {
		if secret, err = randomSecret(); err != nil {
			return nil, err
		}
		secret = feedTokenPrefix + secret
		f = &agenda.Feed{ID: countersign.NewID(agenda.PrefixFeed), Path: FeedPathPrefix + secret + ".ics"}
	}
	cases := make([]string, 0, len(p.Parties))
	for _, r := range p.Parties {
		cases = append(cases, r.CaseID)
	}
	lang := p.Language
	if lang == "" {
		lang = "en"
	}
	err = db.withTx(ctx, func(tx *Tx) error {
		c := &agenda.FeedConsent{ID: countersign.NewID(agenda.PrefixFeedConsent), AccountID: p.AccountID, Given: given, RecordedAt: tx.now}
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE calendar_feeds SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL`), tx.now, p.AccountID)
		if err != nil {
			return fmt.Errorf("revoke calendar feed: %w", err)
		}
		revoked, _ := res.RowsAffected()
		feedID := ""
		if f != nil {
			feedID = f.ID
		}
		ev, err := agenda.DecideClientFeed(a, c, feedID, int(revoked))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO feed_consents (id, account_id, given, recorded_at) VALUES (?, ?, ?, ?)`),
			c.ID, c.AccountID, c.Given, c.RecordedAt); err != nil {
			return fmt.Errorf("record feed consent: %w", err)
		}
		if f != nil {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO calendar_feeds (id, owner_kind, account_id, case_ids, language, token_hash, created_at)
				VALUES (?, 'client', ?, ?, ?, ?, ?)`), f.ID, p.AccountID, strings.Join(cases, ","), lang, hashToken(secret), tx.now); err != nil {
				return fmt.Errorf("insert calendar feed: %w", err)
			}
		}
		return tx.apply(ctx, []audit.Record{*ev})
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// FindClientAgenda returns the signed-in client's open appointments and
// deadlines shared with them, from today on.
func (db *AgendaStore) FindClientAgenda(ctx context.Context) ([]*agenda.Entry, error) {
	p, err := client.PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	if len(p.Parties) == 0 {
		return []*agenda.Entry{}, nil
	}
	where, args := `e.shared = ? AND e.status = ? AND e.due_at >= ? AND e.case_id IN (?`+strings.Repeat(", ?", len(p.Parties)-1)+`)`,
		[]any{true, string(agenda.StatusOpen), db.Now().UTC().Add(-24 * time.Hour)}
	for _, r := range p.Parties {
		args = append(args, r.CaseID)
	}
	return db.findEntries(ctx, db.r, where, args...)
}

type feedRow struct {
	ID        string  `db:"id"`
	OwnerKind string  `db:"owner_kind"`
	UserID    *string `db:"user_id"`
	CaseIDs   string  `db:"case_ids"`
	Language  string  `db:"language"`
	Hash      []byte  `db:"token_hash"`
}

// RenderFeed returns the calendar of the live feed whose secret is token
// (agenda.Calendar): a staff feed has the owner's entries, a client's the
// entries of their cases shared with them, from 90 days ago on.
func (db *AgendaStore) RenderFeed(ctx context.Context, token string) ([]byte, error) {
	gone := countersign.Errorf(countersign.ENOTFOUND, "There is no such calendar feed, or it was replaced.")
	if !strings.HasPrefix(token, feedTokenPrefix) || len(token) > 100 {
		return nil, gone
	}
	h := hashToken(token)
	var f feedRow
	if err := db.r.GetContext(ctx, &f, db.r.Rebind(`SELECT f.id, f.owner_kind, f.user_id, f.case_ids, f.language, f.token_hash
		FROM calendar_feeds f LEFT JOIN users u ON u.id = f.user_id
		WHERE f.token_hash = ? AND f.revoked_at IS NULL AND u.disabled_at IS NULL`), h); err != nil {
		if countersign.ErrorCode(db.translate(err)) == countersign.ENOTFOUND {
			return nil, gone
		}
		return nil, db.translate(fmt.Errorf("find calendar feed: %w", err))
	}
	if subtle.ConstantTimeCompare(f.Hash, h) != 1 {
		return nil, gone
	}
	now := db.Now().UTC()
	since := now.AddDate(0, 0, -90)
	var es []*agenda.Entry
	var err error
	opts := agenda.FeedOptions{Policy: db.policy().Agenda, Location: db.location(), Now: now}
	if f.OwnerKind == "client" {
		ids := strings.Split(f.CaseIDs, ",")
		if f.CaseIDs == "" {
			ids = nil
		}
		opts.Client, opts.Language = true, f.Language
		if len(ids) > 0 {
			where, args := `e.shared = ? AND e.due_at >= ? AND e.case_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, []any{true, since}
			for _, id := range ids {
				args = append(args, id)
			}
			es, err = db.findEntries(ctx, db.r, where, args...)
		}
	} else {
		es, err = db.findEntries(ctx, db.r, `e.owner_id = ? AND e.due_at >= ?`, str(f.UserID), since)
	}
	if err != nil {
		return nil, err
	}
	return agenda.Calendar(es, opts)
}
