package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/identity"
)

var _ identity.Store = (*IdentityStore)(nil)

// actor returns the acting user from ctx. Every exported method that acts for someone refuses a context without an
// actor first (countersign.ActorFrom, EUNAUTHORIZED); the zero Actor this
// returns otherwise may read no case and sign nothing.
func actor(ctx context.Context) countersign.Actor {
	a, _ := countersign.ActorFrom(ctx)
	return a
}

// CreateTeam saves a team.
func (db *IdentityStore) CreateTeam(ctx context.Context, t *identity.Team) error {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return err
	}
	return db.withTx(ctx, func(tx *Tx) error {
		ev, err := identity.DecideTeam(a, t, tx.now)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO teams (id, name, created_at) VALUES (?, ?, ?)`), t.ID, t.Name, t.CreatedAt); err != nil {
			if isConflict(db.translate(err)) {
				return countersign.Errorf(countersign.ECONFLICT, "A team named %q already exists.", t.Name)
			}
			return fmt.Errorf("insert team: %w", err)
		}
		return tx.apply(ctx, []audit.Record{*ev})
	})
}

// FindTeamByName returns the team with that name.
func (db *IdentityStore) FindTeamByName(ctx context.Context, name string) (*identity.Team, error) {
	var r struct {
		ID        string    `db:"id"`
		Name      string    `db:"name"`
		CreatedAt time.Time `db:"created_at"`
	}
	if err := db.r.GetContext(ctx, &r, db.r.Rebind(`SELECT id, name, created_at FROM teams WHERE name = ?`), name); err != nil {
		return nil, notFound(db.translate(err), "There is no team named %q.", name)
	}
	return &identity.Team{ID: r.ID, Name: r.Name, CreatedAt: r.CreatedAt.UTC()}, nil
}

type userRow struct {
	ID        string    `db:"id"`
	Name      string    `db:"name"`
	Email     string    `db:"email"`
	Role      string    `db:"role"`
	TeamID    *string   `db:"team_id"`
	CreatedAt time.Time `db:"created_at"`
}

func (r *userRow) toDomain() *identity.User {
	u := &identity.User{ID: r.ID, Name: r.Name, Email: r.Email, Role: countersign.Role(r.Role), CreatedAt: r.CreatedAt.UTC()}
	if r.TeamID != nil {
		u.TeamID = *r.TeamID
	}
	return u
}

const userColumns = `id, name, email, role, team_id, created_at`

// CreateUser saves a user.
func (db *IdentityStore) CreateUser(ctx context.Context, u *identity.User) error {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return err
	}
	return db.withTx(ctx, func(tx *Tx) error {
		var team *string
		n := 0
		if u.TeamID != "" {
			team = &u.TeamID
			if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT COUNT(*) FROM teams WHERE id = ?`), u.TeamID); err != nil {
				return fmt.Errorf("check team: %w", err)
			}
		}
		ev, err := identity.DecideUser(a, u, n > 0, tx.now)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO users (id, name, email, role, team_id, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
			u.ID, u.Name, u.Email, string(u.Role), team, u.CreatedAt); err != nil {
			if isConflict(db.translate(err)) {
				return countersign.InvalidFields("The user could not be saved.", countersign.FieldError{Field: "email", Message: "Someone already uses this email address."})
			}
			return fmt.Errorf("insert user: %w", err)
		}
		return tx.apply(ctx, []audit.Record{*ev})
	})
}

// FindUserByID returns the user with that id.
func (db *IdentityStore) FindUserByID(ctx context.Context, id string) (*identity.User, error) {
	var r userRow
	if err := db.r.GetContext(ctx, &r, db.r.Rebind(`SELECT `+userColumns+` FROM users WHERE id = ?`), id); err != nil {
		return nil, notFound(db.translate(err), "There is no such user.")
	}
	return r.toDomain(), nil
}

// FindUserByEmail returns the user with that email address.
func (db *IdentityStore) FindUserByEmail(ctx context.Context, email string) (*identity.User, error) {
	var r userRow
	if err := db.r.GetContext(ctx, &r, db.r.Rebind(`SELECT `+userColumns+` FROM users WHERE email = ?`), email); err != nil {
		return nil, notFound(db.translate(err), "There is no user with that email address.")
	}
	return r.toDomain(), nil
}

// FindTeamWorkers returns the active workers of a team, ordered by name.
func (db *IdentityStore) FindTeamWorkers(ctx context.Context, teamID string) ([]*identity.User, error) {
	if _, err := countersign.ActorFrom(ctx); err != nil {
		return nil, err
	}
	switch a := actor(ctx); {
	case a.Role == countersign.RoleSystem, a.Role == countersign.RoleAdmin:
	case a.Role == countersign.RoleSupervisor && a.TeamID == teamID:
	default:
		return nil, countersign.Errorf(countersign.EFORBIDDEN, "Only a supervisor of the team can list its workers.")
	}
	rows, err := db.r.QueryxContext(ctx, db.r.Rebind(`
		SELECT `+userColumns+`
		FROM users
		WHERE team_id = ?
		  AND role = ?
		  AND disabled_at IS NULL
		ORDER BY name, id`), teamID, string(countersign.RoleWorker))
	if err != nil {
		return nil, fmt.Errorf("find team workers: %w", db.translate(err))
	}
	defer rows.Close()
	users := []*identity.User{}
	for rows.Next() {
		var r userRow
		if err := rows.StructScan(&r); err != nil {
			return nil, fmt.Errorf("scan team worker: %w", err)
		}
		users = append(users, r.toDomain())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find team workers: %w", db.translate(err))
	}
	return users, nil
}

// FindUserIDs returns the id of every user, ordered.
func (db *IdentityStore) FindUserIDs(ctx context.Context) ([]string, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := identity.CheckListUserIDs(a); err != nil {
		return nil, err
	}
	ids := []string{}
	if err := db.r.SelectContext(ctx, &ids, `SELECT id FROM users ORDER BY id`); err != nil {
		return nil, fmt.Errorf("find user ids: %w", db.translate(err))
	}
	return ids, nil
}

// TokenPrefix starts every token secret, so leaked secrets are easy to
// recognise and scan for.
const TokenPrefix = "cst_"

func hashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CreateToken issues a token; the secret is returned once and only its hash is kept.
func (db *IdentityStore) CreateToken(ctx context.Context, userID, label string, expiresAt *time.Time) (*identity.Token, string, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := identity.CheckAdminister(a); err != nil {
		return nil, "", err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, "", fmt.Errorf("token secret: %w", err)
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	if expiresAt != nil {
		// PostgreSQL would round to microseconds; truncate for both dialects.
		e := expiresAt.UTC().Truncate(time.Microsecond)
		expiresAt = &e
	}
	t := &identity.Token{UserID: userID, Label: label, ExpiresAt: expiresAt}
	err = db.withTx(ctx, func(tx *Tx) error {
		var n int
		if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT COUNT(*) FROM users WHERE id = ?`), userID); err != nil {
			return fmt.Errorf("check user: %w", err)
		}
		ev, err := identity.DecideToken(a, t, n > 0, tx.now)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO tokens (id, user_id, hash, label, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`),
			t.ID, userID, hashToken(secret), label, t.CreatedAt, expiresAt); err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		return tx.apply(ctx, []audit.Record{*ev})
	})
	if err != nil {
		return nil, "", err
	}
	return t, secret, nil
}

// RevokeToken ends a token.
func (db *IdentityStore) RevokeToken(ctx context.Context, tokenID string) error {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return err
	}
	ev, err := identity.DecideRevoke(a, tokenID)
	if err != nil {
		return err
	}
	err = db.withTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`), tx.now, tokenID)
		if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return countersign.Errorf(countersign.ENOTFOUND, "There is no such active token.")
		}
		if err := endSessions(ctx, tx, `token_id = ?`, tokenID); err != nil {
			return err
		}
		return tx.apply(ctx, []audit.Record{*ev})
	})
	if err == nil {
		db.tokens.clear()
	}
	return err
}

// Authenticate returns the token a secret belongs to, and its user;
// identity.CheckToken decides whether it may be used. With TokenCache set,
// a token accepted less than TokenCache ago is accepted again without a
// query (see tokenCache).
func (db *IdentityStore) Authenticate(ctx context.Context, secret string) (*identity.Token, *identity.User, error) {
	hash := [sha256.Size]byte(hashToken(secret))
	// Microseconds, as stored: the cache and the query then agree exactly.
	now := db.stamp()
	var gen uint64
	if db.TokenCache > 0 {
		if t, u, ok := db.tokens.get(hash, now); ok {
			return t, u, nil
		}
		gen = db.tokens.generation()
	}
	var r credentialRow
	err := db.r.GetContext(ctx, &r, db.r.Rebind(`SELECT `+credentialColumns+`
		FROM tokens t
		JOIN users u ON u.id = t.user_id
		WHERE t.hash = ?`), hash[:])
	if err != nil {
		if err := db.translate(err); countersign.ErrorCode(err) != countersign.ENOTFOUND {
			return nil, nil, err
		}
		return nil, nil, identity.CheckToken(nil, false, now)
	}
	t, u := r.token(), r.User.toDomain()
	if err := identity.CheckToken(t, r.DisabledAt != nil, now); err != nil {
		return nil, nil, err
	}
	if db.TokenCache > 0 {
		db.tokens.put(gen, hash, t, u, now.Add(db.TokenCache))
	}
	return t, u, nil
}

// DisableUser disables a user and ends their live sessions; their tokens
// stop working (identity.CheckToken), here at once.
func (db *IdentityStore) DisableUser(ctx context.Context, userID string) error {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return err
	}
	if err := identity.CheckAdminister(a); err != nil {
		return err
	}
	err = db.withTx(ctx, func(tx *Tx) error {
		var disabledAt *time.Time
		if err := tx.GetContext(ctx, &disabledAt, tx.Rebind(`SELECT disabled_at FROM users WHERE id = ?`+db.dialect.forUpdate()), userID); err != nil {
			return notFound(db.translate(err), "There is no such user.")
		}
		ev, err := identity.DecideDisable(a, userID, disabledAt != nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE users SET disabled_at = ? WHERE id = ?`), tx.now, userID); err != nil {
			return fmt.Errorf("disable user: %w", err)
		}
		if err := endSessions(ctx, tx, `user_id = ?`, userID); err != nil {
			return err
		}
		return tx.apply(ctx, []audit.Record{*ev})
	})
	if err == nil {
		db.tokens.clear()
	}
	return err
}

// notFound replaces a plain ENOTFOUND with a readable message.
func notFound(err error, format string, args ...any) error {
	if countersign.ErrorCode(err) == countersign.ENOTFOUND {
		return countersign.Errorf(countersign.ENOTFOUND, format, args...)
	}
	return err
}
