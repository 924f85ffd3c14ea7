package agenda_test

import (
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/agenda"
)

// TestCheckTeamOverdue: only a team's supervisors see its overdue hard
// deadlines; the store and the web page ask this one rule.
func TestCheckTeamOverdue(t *testing.T) {
	t.Parallel()
	for role, want := range map[countersign.Role]string{
		countersign.RoleSupervisor: "", countersign.RoleWorker: countersign.EFORBIDDEN,
		countersign.RoleEthics: countersign.EFORBIDDEN, countersign.RoleAdmin: countersign.EFORBIDDEN,
		countersign.RoleClient: countersign.EFORBIDDEN,
	} {
		err := agenda.CheckTeamOverdue(countersign.Actor{UserID: "u", Role: role, TeamID: "t"})
		if got := countersign.ErrorCode(err); err != nil && got != want || err == nil && want != "" {
			t.Errorf("%s: %v, want %q", role, err, want)
		}
	}
}
