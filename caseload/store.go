package caseload

import (
	"context"

	"github.com/countersign/countersign"

	"github.com/countersign/countersign/casefile"
)

// MaxWeeks bounds the weekly history.
const MaxWeeks = 104

// Store serves the caseload. The acting user comes from the context; who
// may see a team's figures is Check, who may allocate is CheckAllocate.
type Store interface {
	// FindTeamCaseload returns the team's figures now. Returns ENOTFOUND
	// (no such team) or EFORBIDDEN. The ethics board gets no names; its
	// door shows pseudonyms (Team.Pseudonymize).
	FindTeamCaseload(ctx context.Context, teamID string) (*Team, error)
	// FindCaseloadHistory returns the team's figures at the end of each
	// of the last weeks weeks, replayed from the audit log. Returns
	// ENOTFOUND, EFORBIDDEN, EINVALID (weeks).
	FindCaseloadHistory(ctx context.Context, teamID string, weeks int) ([]*Point, error)
	// RecommendWorkers proposes the team's workers for a case of caseType
	// (caseID "" for a new case) and records what was shown. Returns
	// ENOTFOUND, EFORBIDDEN, EINVALID (case_type, case_id).
	RecommendWorkers(ctx context.Context, teamID, caseType, caseID string) (*Recommendation, error)
	// AssignCase gives a case to any worker of its team, recording the
	// recommendation it named. Returns ENOTFOUND, EFORBIDDEN, EINVALID
	// (worker_id, recommendation_id), ECONFLICT (already theirs).
	AssignCase(ctx context.Context, caseID string, as Assignment) (*casefile.Case, error)
	// CreateCaseFollowing opens a case as casefile's CreateCase does and
	// records in its event the recommendation named (DecideCreate); ""
	// names none. Returns what CreateCase returns, and EINVALID
	// (recommendation_id), EFORBIDDEN (not the team's supervisor).
	CreateCaseFollowing(ctx context.Context, c *casefile.Case, recommendationID string) error
	// FindCaseloadTeams returns the teams whose caseload the actor sees
	// (CheckTeams), by name. Returns EFORBIDDEN.
	FindCaseloadTeams(ctx context.Context) ([]TeamRef, error)
}

// TeamRef names a team whose caseload can be seen. A team's name is an
// organisational unit's, never a person's.
type TeamRef struct {
	ID   string `json:"id" db:"id"`
	Name string `json:"name" db:"name"`
}

// CheckTeams decides whose caseloads a lists: every team's for admins,
// the ethics board and the service (all true), its own team's for a
// supervisor (own: their team); the same people as Check.
func CheckTeams(a countersign.Actor) (all bool, own string, err error) {
	switch a.Role {
	case countersign.RoleAdmin, countersign.RoleEthics, countersign.RoleSystem:
		return true, "", nil
	case countersign.RoleSupervisor:
		return false, a.TeamID, nil
	}
	_, err = Check(a, "")
	return false, "", err
}

// PseudonymizeHistory replaces the workers' ids of a history by pseudonyms.
func PseudonymizeHistory(pts []*Point, pseudonym func(string) string) {
	for _, pt := range pts {
		w := make(map[string]float64, len(pt.Workers))
		for id, v := range pt.Workers {
			w[pseudonym(id)] = v
		}
		pt.Workers = w
	}
}
