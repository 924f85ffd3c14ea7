// Package identity holds the people who use Countersign: teams, users with
// a role, and the API tokens they authenticate with.
package identity

import (
	"context"
	"time"

	"github.com/countersign/countersign"
)

// Team is a group of workers and their supervisors; cases belong to a team.
type Team struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// User is a person with one role in one team (ethics and admin users may
// have no team).
type User struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	Email     string           `json:"email"`
	Role      countersign.Role `json:"role"`
	TeamID    string           `json:"team_id,omitempty"`
	CreatedAt time.Time        `json:"created_at"`
}

// Validate returns EINVALID with the fields at fault.
func (u *User) Validate() error {
	var fields []countersign.FieldError
	if u.Name == "" {
		fields = append(fields, countersign.FieldError{Field: "name", Message: "Give the person's name."})
	}
	if u.Email == "" {
		fields = append(fields, countersign.FieldError{Field: "email", Message: "Give the person's work email address."})
	}
	if !u.Role.Valid() {
		fields = append(fields, countersign.FieldError{Field: "role", Message: "The role must be worker, supervisor, ethics or admin."})
	}
	if (u.Role == countersign.RoleWorker || u.Role == countersign.RoleSupervisor) && u.TeamID == "" {
		fields = append(fields, countersign.FieldError{Field: "team", Message: "Workers and supervisors belong to a team."})
	}
	if fields != nil {
		return countersign.InvalidFields("The user could not be saved.", fields...)
	}
	return nil
}

// Actor returns the user as the actor of a request.
func (u *User) Actor() countersign.Actor {
	return countersign.Actor{UserID: u.ID, Name: u.Name, Role: u.Role, TeamID: u.TeamID}
}

// Token is an API token. Only a hash of its secret is stored; the secret is
// shown once, when the token is created.
type Token struct {
	ID        string     `json:"id"`
	UserID    string     `json:"user_id"`
	Label     string     `json:"label"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Store persists identities. Every method that changes state appends an
// audit event in the same transaction.
type Store interface {
	// CreateTeam saves a team. Returns ECONFLICT if the name is taken.
	CreateTeam(ctx context.Context, t *Team) error
	// FindTeamByName returns ENOTFOUND if there is no such team.
	FindTeamByName(ctx context.Context, name string) (*Team, error)
	// CreateUser saves a user. Returns EINVALID or ECONFLICT (email taken).
	CreateUser(ctx context.Context, u *User) error
	// FindUserByID returns ENOTFOUND if there is no such user.
	FindUserByID(ctx context.Context, id string) (*User, error)
	// FindUserByEmail returns ENOTFOUND if there is no such user.
	FindUserByEmail(ctx context.Context, email string) (*User, error)
	// FindTeamWorkers returns the active (not disabled) workers of a team,
	// ordered by name: the people a supervisor may give a draft to. Only a
	// supervisor of that team, an admin or the service may list them;
	// anyone else gets EFORBIDDEN. A team without workers gives an empty list.
	FindTeamWorkers(ctx context.Context, teamID string) ([]*User, error)
	// FindUserIDs returns the id of every user, disabled or not: what the
	// board's pages need to turn a pseudonym back into the id it stands
	// for. Returns EFORBIDDEN unless the actor may read the audit log
	// (CheckListUserIDs).
	FindUserIDs(ctx context.Context) ([]string, error)
	// DisableUser disables a user: their tokens and web sessions stop
	// working at once on this replica (within the token cache's time on
	// others), and their live sessions end. Returns ENOTFOUND if there is no
	// such user, ECONFLICT if they are disabled already.
	DisableUser(ctx context.Context, userID string) error
	// CreateToken issues a token for a user and returns its secret, shown once.
	// Returns EINVALID if expiresAt is not in the future.
	CreateToken(ctx context.Context, userID, label string, expiresAt *time.Time) (*Token, string, error)
	// RevokeToken ends a token, and the web sessions signed in with it.
	// Returns ENOTFOUND if there is no such token.
	RevokeToken(ctx context.Context, tokenID string) error
	// Authenticate returns the token a secret belongs to, and its user.
	// Returns EUNAUTHORIZED if the token is unknown, revoked or expired,
	// or its user is disabled (CheckToken).
	Authenticate(ctx context.Context, secret string) (*Token, *User, error)

	// CreateSession starts a browser session for the user of the token
	// tokenID, lasting ttl but never beyond the token's expiry, and returns
	// it with its secret, which only the browser's cookie holds. Sessions
	// that expired or ended are purged at the same time. Returns
	// EUNAUTHORIZED if the token may not be used (CheckToken).
	CreateSession(ctx context.Context, tokenID string, ttl time.Duration) (*Session, string, error)
	// FindSession returns the session a secret belongs to and its user.
	// Returns EUNAUTHORIZED if the session is unknown, ended or expired,
	// or the token it was started with is revoked or expired, or its user
	// is disabled (CheckSession).
	FindSession(ctx context.Context, secret string) (*Session, *User, error)
	// EndSession ends the session a secret belongs to (signing out).
	// Returns EUNAUTHORIZED if it is unknown or already ended.
	EndSession(ctx context.Context, secret string) error
}

// Session is a signed-in browser session of the web interface. Only a hash
// of its secret is stored; CSRF is the per-session secret that every form
// of the session carries.
type Session struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	// TokenID is the token the session was signed in with: the session
	// lives no longer than it.
	TokenID   string     `json:"token_id"`
	CSRF      string     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
}
