package identity

import (
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

// DecideToken decides issuing t; userExists says whether t.UserID names a user.
func DecideToken(a countersign.Actor, t *Token, userExists bool, now time.Time) (*audit.Record, error) {
	if err := CheckAdminister(a); err != nil {
		return nil, err
	}
	if !userExists {
		return nil, countersign.Errorf(countersign.ENOTFOUND, "There is no such user.")
	}
	t.ID, t.CreatedAt = countersign.NewID(countersign.PrefixToken), now
	return &audit.Record{Actor: a, Action: audit.ActionTokenCreated, SubjectType: "token", SubjectID: t.ID,
		Payload: audit.Payload{"user": t.UserID}}, nil
}

// DecideRevoke decides ending the token tokenID.
func DecideRevoke(a countersign.Actor, tokenID string) (*audit.Record, error) {
	if err := CheckAdminister(a); err != nil {
		return nil, err
	}
	return &audit.Record{Actor: a, Action: audit.ActionTokenRevoked, SubjectType: "token", SubjectID: tokenID}, nil
}
