package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/identity"
)

// Audit actions of the web interface's sessions. Append only; do not
// rename: the names are part of every leaf ever hashed. (They belong with
// the other actions in audit/log.go; they live here until that file takes them.)
const (
	ActionSessionStarted = "session.started"
	ActionSessionEnded   = "session.ended"
)

// prefixSession starts the public identifier of a session, the one the
// audit log names; the secret is never written anywhere.
const prefixSession = "ses"

type sessionRow struct {
	ID        string     `db:"id"`
	UserID    string     `db:"user_id"`
	CSRF      string     `db:"csrf"`
	CreatedAt time.Time  `db:"created_at"`
	ExpiresAt time.Time  `db:"expires_at"`
	EndedAt   *time.Time `db:"ended_at"`
}

func (r *sessionRow) toDomain() *identity.Session {
	return &identity.Session{ID: r.ID, UserID: r.UserID, CSRF: r.CSRF, CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: r.ExpiresAt.UTC(), EndedAt: utcPtr(r.EndedAt)}
}

func randomSecret() (string, error) {
	var raw [32]byte // 256 bits
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("session secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(raw[:]), nil
}

// CreateSession starts a browser session; its secret is returned once and
// only its hash is kept. The user is the actor of the audit event: signing
// in is something they do.
func (db *IdentityStore) CreateSession(ctx context.Context, userID string, ttl time.Duration) (*identity.Session, string, error) {
	secret, err := randomSecret()
	if err != nil {
		return nil, "", err
	}
	csrf, err := randomSecret()
	if err != nil {
		return nil, "", err
	}
	s := &identity.Session{UserID: userID, CSRF: csrf}
	err = db.withTx(ctx, func(tx *Tx) error {
		var u userRow
		if err := tx.GetContext(ctx, &u, tx.Rebind(`SELECT `+userColumns+` FROM users WHERE id = ? AND disabled_at IS NULL`), userID); err != nil {
			return notFound(db.translate(err), "There is no such user.")
		}
		s.ID, s.CreatedAt, s.ExpiresAt = countersign.NewID(prefixSession), tx.now, tx.now.Add(ttl)
		if _, err := tx.ExecContext(ctx, tx.Rebind(`
			INSERT INTO sessions (id, secret_hash, user_id, csrf, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?)`),
			s.ID, hashToken(secret), userID, csrf, s.CreatedAt, s.ExpiresAt); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		return tx.record(ctx, u.toDomain().Actor(), ActionSessionStarted, "session", s.ID, "",
			audit.Payload{"expires_at": s.ExpiresAt.Format(audit.TimeFormat)})
	})
	if err != nil {
		return nil, "", err
	}
	return s, secret, nil
}

var errNoSession = countersign.Errorf(countersign.EUNAUTHORIZED, "Your session has ended. Please sign in again.")

// FindSession returns the live session a secret belongs to, and its user.
func (db *IdentityStore) FindSession(ctx context.Context, secret string) (*identity.Session, *identity.User, error) {
	var r struct {
		sessionRow
		User userRow `db:"u"`
	}
	err := db.r.GetContext(ctx, &r, db.r.Rebind(`
		SELECT s.id, s.user_id, s.csrf, s.created_at, s.expires_at, s.ended_at,
		       u.id AS "u.id", u.name AS "u.name", u.email AS "u.email", u.role AS "u.role",
		       u.team_id AS "u.team_id", u.created_at AS "u.created_at"
		FROM sessions s
		JOIN users u ON u.id = s.user_id
		WHERE s.secret_hash = ?
		  AND s.ended_at IS NULL
		  AND s.expires_at > ?
		  AND u.disabled_at IS NULL`), hashToken(secret), db.Now().UTC())
	if err != nil {
		if err := db.translate(err); countersign.ErrorCode(err) != countersign.ENOTFOUND {
			return nil, nil, err
		}
		return nil, nil, errNoSession
	}
	return r.sessionRow.toDomain(), r.User.toDomain(), nil
}

// EndSession ends the session a secret belongs to.
func (db *IdentityStore) EndSession(ctx context.Context, secret string) error {
	return db.withTx(ctx, func(tx *Tx) error {
		var r struct {
			ID   string  `db:"id"`
			User userRow `db:"u"`
		}
		if err := tx.GetContext(ctx, &r, tx.Rebind(`
			SELECT s.id,
			       u.id AS "u.id", u.name AS "u.name", u.email AS "u.email", u.role AS "u.role",
			       u.team_id AS "u.team_id", u.created_at AS "u.created_at"
			FROM sessions s
			JOIN users u ON u.id = s.user_id
			WHERE s.secret_hash = ? AND s.ended_at IS NULL`+db.dialect.forUpdate()), hashToken(secret)); err != nil {
			if err := db.translate(err); countersign.ErrorCode(err) != countersign.ENOTFOUND {
				return err
			}
			return errNoSession
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL`), tx.now, r.ID); err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		return tx.record(ctx, r.User.toDomain().Actor(), ActionSessionEnded, "session", r.ID, "", nil)
	})
}
