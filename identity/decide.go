package identity

import (
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
)

// The decisions of identity: who may manage teams, users and tokens, and
// what the log records of it (ids and roles; never a name or an email).

// CheckAdminister returns nil when a may manage teams, users and tokens:
// an admin, or the service's own actors (the command line, the demo).
func CheckAdminister(a countersign.Actor) error {
	if a.Role == countersign.RoleAdmin || a.Role == countersign.RoleSystem {
		return nil
	}
	return countersign.Errorf(countersign.EFORBIDDEN, "Only an administrator can manage teams, users and tokens.")
}

// CheckListUserIDs returns nil when a may list every user's id (and
// nothing else of them): the ethics board and administrators, who see
// staff by pseudonyms and filter by them, and the service's own actors.
func CheckListUserIDs(a countersign.Actor) error {
	switch a.Role {
	case countersign.RoleEthics, countersign.RoleAdmin, countersign.RoleSystem:
		return nil
	}
	return countersign.Errorf(countersign.EFORBIDDEN, "Only the ethics board and administrators can list users.")
}

// DecideTeam decides creating t.
func DecideTeam(a countersign.Actor, t *Team, now time.Time) (*audit.Record, error) {
	if err := CheckAdminister(a); err != nil {
		return nil, err
	}
	if strings.TrimSpace(t.Name) == "" {
		return nil, countersign.InvalidFields("The team could not be saved.", countersign.FieldError{Field: "name", Message: "Give the team a name."})
	}
	t.ID, t.CreatedAt = countersign.NewID(countersign.PrefixTeam), now
	return &audit.Record{Actor: a, Action: audit.ActionTeamCreated, SubjectType: "team", SubjectID: t.ID}, nil
}

// DecideUser decides creating u; teamExists says whether u.TeamID names a
// team (ignored when u has none).
func DecideUser(a countersign.Actor, u *User, teamExists bool, now time.Time) (*audit.Record, error) {
	if err := CheckAdminister(a); err != nil {
		return nil, err
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if u.TeamID != "" && !teamExists {
		return nil, countersign.InvalidFields("The user could not be saved.", countersign.FieldError{Field: "team", Message: "There is no such team."})
	}
	u.ID, u.CreatedAt = countersign.NewID(countersign.PrefixUser), now
	// The name and email are personal data and stay out of the log.
	return &audit.Record{Actor: a, Action: audit.ActionUserCreated, SubjectType: "user", SubjectID: u.ID,
		Payload: audit.Payload{"role": string(u.Role), "team": u.TeamID}}, nil
}

// DecideToken decides issuing t; userExists says whether t.UserID names a
// user. A token that would expire at once is refused.
func DecideToken(a countersign.Actor, t *Token, userExists bool, now time.Time) (*audit.Record, error) {
	if err := CheckAdminister(a); err != nil {
		return nil, err
	}
	if !userExists {
		return nil, countersign.Errorf(countersign.ENOTFOUND, "There is no such user.")
	}
	if t.ExpiresAt != nil && !t.ExpiresAt.After(now) {
		return nil, countersign.InvalidFields("The token could not be issued.", countersign.FieldError{Field: "expires_at", Message: "A token must expire in the future."})
	}
	t.ID, t.CreatedAt = countersign.NewID(countersign.PrefixToken), now
	return &audit.Record{Actor: a, Action: audit.ActionTokenCreated, SubjectType: "token", SubjectID: t.ID,
		Payload: audit.Payload{"user": t.UserID}}, nil
}

// DecideRevoke decides ending the token tokenID; the web sessions signed
// in with it end with it (the store ends them in the same transaction, and
// CheckSession refuses them in any case).
func DecideRevoke(a countersign.Actor, tokenID string) (*audit.Record, error) {
	if err := CheckAdminister(a); err != nil {
		return nil, err
	}
	return &audit.Record{Actor: a, Action: audit.ActionTokenRevoked, SubjectType: "token", SubjectID: tokenID}, nil
}

// Actions of the identity events that audit/log.go does not list. Append
// only; do not rename: the names are part of every leaf ever hashed.
const (
	ActionSessionStarted = "session.started"
	ActionSessionEnded   = "session.ended"
	// ActionSessionsPurged: rows of sessions that had ended or expired were
	// deleted; the payload says how many. Their start and end stay in the log.
	ActionSessionsPurged = "session.purged"
	// ActionUserDisabled: the user's tokens and sessions stopped working.
	ActionUserDisabled = "user.disabled"
)

var (
	errTokenInvalid = countersign.Errorf(countersign.EUNAUTHORIZED, "Your sign-in token is not valid: it is unknown, revoked or expired.")
	errSessionEnded = countersign.Errorf(countersign.EUNAUTHORIZED, "Your session has ended. Please sign in again.")
)

// CheckToken returns nil when t may be used at now: it is not revoked, not
// expired, and its user is not disabled. Returns EUNAUTHORIZED otherwise.
func CheckToken(t *Token, userDisabled bool, now time.Time) error {
	if t == nil || t.RevokedAt != nil || userDisabled || (t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)) {
		return errTokenInvalid
	}
	return nil
}

// CheckSession returns nil when s may be used at now: it has not ended or
// expired, and the token it was signed in with still passes CheckToken. A
// session ends with its credentials: a revoked or expired token, or a
// disabled user, ends it. Returns EUNAUTHORIZED otherwise.
func CheckSession(s *Session, t *Token, userDisabled bool, now time.Time) error {
	if s == nil || s.EndedAt != nil || !now.Before(s.ExpiresAt) || t == nil || t.ID != s.TokenID {
		return errSessionEnded
	}
	if CheckToken(t, userDisabled, now) != nil {
		return errSessionEnded
	}
	return nil
}

// DecideSession decides signing u in to the web interface with the token
// t, for ttl: the session expires then, or when the token does if that is
// sooner. The user is the actor of the event: signing in is something they do.
func DecideSession(u *User, t *Token, userDisabled bool, ttl time.Duration, now time.Time) (*Session, *audit.Record, error) {
	if err := CheckToken(t, userDisabled, now); err != nil {
		return nil, nil, err
	}
	s := &Session{ID: countersign.NewID(PrefixSession), UserID: u.ID, TokenID: t.ID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if t.ExpiresAt != nil && t.ExpiresAt.Before(s.ExpiresAt) {
		s.ExpiresAt = *t.ExpiresAt
	}
	return s, &audit.Record{Actor: u.Actor(), Action: ActionSessionStarted, SubjectType: "session", SubjectID: s.ID,
		Payload: audit.Payload{"expires_at": s.ExpiresAt.Format(audit.TimeFormat), "token": t.ID}}, nil
}

// DecideEndSession decides u signing out of s.
func DecideEndSession(u *User, s *Session) *audit.Record {
	return &audit.Record{Actor: u.Actor(), Action: ActionSessionEnded, SubjectType: "session", SubjectID: s.ID}
}

// PurgeSessionsBefore is the rule of the purge: a session row whose end or
// expiry is before the returned time is deleted. The log keeps when each
// session started and ended; the row has no use once it cannot be used.
func PurgeSessionsBefore(now time.Time) time.Time { return now }

// DecidePurge records that n session rows were purged; nil when none were.
func DecidePurge(n int64) *audit.Record {
	if n <= 0 {
		return nil
	}
	return &audit.Record{Actor: countersign.System, Action: ActionSessionsPurged, SubjectType: "session",
		Payload: audit.Payload{"count": strconv.FormatInt(n, 10)}}
}

// DecideDisable decides disabling the user userID; alreadyDisabled says
// whether they are. Their tokens and sessions stop working: Authenticate
// and FindSession refuse them (CheckToken), and the store ends their live
// sessions in the same transaction.
func DecideDisable(a countersign.Actor, userID string, alreadyDisabled bool) (*audit.Record, error) {
	if err := CheckAdminister(a); err != nil {
		return nil, err
	}
	if alreadyDisabled {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This user is disabled already.")
	}
	return &audit.Record{Actor: a, Action: ActionUserDisabled, SubjectType: "user", SubjectID: userID}, nil
}

// PrefixSession starts the public identifier of a session, the one the
// audit log names; the secret is never written anywhere.
const PrefixSession = "ses"
