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

// Audit actions of the web interface's sessions; identity decides them.
const (
	ActionSessionStarted = identity.ActionSessionStarted
	ActionSessionEnded   = identity.ActionSessionEnded
)

type sessionRow struct {
	ID        string     `db:"id"`
	UserID    string     `db:"user_id"`
	TokenID   *string    `db:"token_id"`
	CSRF      string     `db:"csrf"`
	CreatedAt time.Time  `db:"created_at"`
	ExpiresAt time.Time  `db:"expires_at"`
	EndedAt   *time.Time `db:"ended_at"`
}

func (r *sessionRow) toDomain() *identity.Session {
	s := &identity.Session{ID: r.ID, UserID: r.UserID, CSRF: r.CSRF, CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: r.ExpiresAt.UTC(), EndedAt: utcPtr(r.EndedAt)}
	if r.TokenID != nil {
		s.TokenID = *r.TokenID
	}
	return s
}

func randomSecret() (string, error) {
	var raw [32]byte // 256 bits
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("session secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(raw[:]), nil
}

// credentialRow is a token with its user and whether the user is disabled:
// what identity.CheckToken and identity.CheckSession decide on.
type credentialRow struct {
	TokenID    string     `db:"t_id"`
	TokenUser  string     `db:"t_user_id"`
	Label      string     `db:"t_label"`
	TokenAt    time.Time  `db:"t_created_at"`
	ExpiresAt  *time.Time `db:"t_expires_at"`
	RevokedAt  *time.Time `db:"t_revoked_at"`
	DisabledAt *time.Time `db:"u_disabled_at"`
	User       userRow    `db:"u"`
}

// credentialColumns select a credentialRow from tokens t joined to users u.
const credentialColumns = `
	t.id AS t_id, t.user_id AS t_user_id, t.label AS t_label, t.created_at AS t_created_at,
	t.expires_at AS t_expires_at, t.revoked_at AS t_revoked_at, u.disabled_at AS u_disabled_at,
	u.id AS "u.id", u.name AS "u.name", u.email AS "u.email", u.role AS "u.role",
	u.team_id AS "u.team_id", u.created_at AS "u.created_at"`

func (r *credentialRow) token() *identity.Token {
	return &identity.Token{ID: r.TokenID, UserID: r.TokenUser, Label: r.Label, CreatedAt: r.TokenAt.UTC(),
		ExpiresAt: utcPtr(r.ExpiresAt), RevokedAt: utcPtr(r.RevokedAt)}
}

// CreateSession starts a browser session signed in with a token; its
// secret is returned once and only its hash is kept. Sessions that ended or
// expired are purged in the same transaction: sign-ins are when sessions
// are made, so the table stays as small as the live sessions, on every
// replica, without a timer.
func (db *IdentityStore) CreateSession(ctx context.Context, tokenID string, ttl time.Duration) (*identity.Session, string, error) {
	secret, err := randomSecret()
	if err != nil {
		return nil, "", err
	}
	csrf, err := randomSecret()
	if err != nil {
		return nil, "", err
	}
	var s *identity.Session
	err = db.withTx(ctx, func(tx *Tx) error {
		var c credentialRow
		if err := tx.GetContext(ctx, &c, tx.Rebind(`SELECT `+credentialColumns+`
			FROM tokens t
			JOIN users u ON u.id = t.user_id
			WHERE t.id = ?`), tokenID); err != nil {
			if err := db.translate(err); countersign.ErrorCode(err) != countersign.ENOTFOUND {
				return err
			}
			return identity.CheckToken(nil, false, tx.now)
		}
		var ev *audit.Record
		s, ev, err = identity.DecideSession(c.User.toDomain(), c.token(), c.DisabledAt != nil, ttl, tx.now)
		if err != nil {
			return err
		}
		s.CSRF = csrf
		if err := db.purgeSessions(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`
			INSERT INTO sessions (id, secret_hash, user_id, token_id, csrf, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`),
			s.ID, hashToken(secret), s.UserID, s.TokenID, csrf, s.CreatedAt, s.ExpiresAt); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		return tx.apply(ctx, []audit.Record{*ev})
	})
	if err != nil {
		return nil, "", err
	}
	return s, secret, nil
}

// purgeSessions deletes the sessions that ended or expired before
// identity.PurgeSessionsBefore, and records how many.
func (db *IdentityStore) purgeSessions(ctx context.Context, tx *Tx) error {
	before := identity.PurgeSessionsBefore(tx.now)
	res, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM sessions WHERE expires_at <= ? OR ended_at <= ?`), before, before)
	if err != nil {
		return fmt.Errorf("purge sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("purge sessions: %w", err)
	}
	if ev := identity.DecidePurge(n); ev != nil {
		return tx.apply(ctx, []audit.Record{*ev})
	}
	return nil
}

var errNoSession = countersign.Errorf(countersign.EUNAUTHORIZED, "Your session has ended. Please sign in again.")

// FindSession returns the live session a secret belongs to, and its user:
// identity.CheckSession decides on the session, its token and its user.
func (db *IdentityStore) FindSession(ctx context.Context, secret string) (*identity.Session, *identity.User, error) {
	var r struct {
		sessionRow
		credentialRow
	}
	err := db.r.GetContext(ctx, &r, db.r.Rebind(`
		SELECT s.id, s.user_id, s.token_id, s.csrf, s.created_at, s.expires_at, s.ended_at,`+credentialColumns+`
		FROM sessions s
		JOIN tokens t ON t.id = s.token_id
		JOIN users u ON u.id = t.user_id
		WHERE s.secret_hash = ?`), hashToken(secret))
	if err != nil {
		if err := db.translate(err); countersign.ErrorCode(err) != countersign.ENOTFOUND {
			return nil, nil, err
		}
		return nil, nil, errNoSession
	}
	s := r.sessionRow.toDomain()
	if err := identity.CheckSession(s, r.credentialRow.token(), r.DisabledAt != nil, db.Now().UTC()); err != nil {
		return nil, nil, err
	}
	return s, r.User.toDomain(), nil
}

// EndSession ends the session a secret belongs to.
func (db *IdentityStore) EndSession(ctx context.Context, secret string) error {
	return db.withTx(ctx, func(tx *Tx) error {
		var r struct {
			sessionRow
			User userRow `db:"u"`
		}
		if err := tx.GetContext(ctx, &r, tx.Rebind(`
			SELECT s.id, s.user_id, s.token_id, s.csrf, s.created_at, s.expires_at, s.ended_at,
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
		return tx.apply(ctx, []audit.Record{*identity.DecideEndSession(r.User.toDomain(), r.sessionRow.toDomain())})
	})
}

// endSessions ends the live sessions that where names (with its args):
// those of a revoked token, or of a disabled user.
func endSessions(ctx context.Context, tx *Tx, where string, args ...any) error {
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE sessions SET ended_at = ? WHERE ended_at IS NULL AND `+where), append([]any{tx.now}, args...)...); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}
