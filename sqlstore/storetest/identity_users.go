package storetest

import (
	"slices"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/sqlstore"
)

// exerciseTeamWorkers checks FindTeamWorkers: the active workers of one
// team, by name, listed only for that team's supervisors, admins and the
// service.
func exerciseTeamWorkers(t *testing.T, open func(t testing.TB) *sqlstore.DB) {
	ctx := CLI()
	t.Run("ListsTheTeamsActiveWorkersByName", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		add := func(name string) *identity.User {
			u := &identity.User{Name: name, Email: name + "." + f.Team.ID + "@example.org", Role: countersign.RoleWorker, TeamID: f.Team.ID}
			ok(t, db.CreateUser(ctx, u))
			return u
		}
		// Neither has a case: the list comes from the team, not the cases.
		anna, gone := add("Anna"), add("Gone")
		_, err := db.Raw().Exec(db.Raw().Rebind(`UPDATE users SET disabled_at = ? WHERE id = ?`), db.Now().UTC(), gone.ID)
		ok(t, err)
		before := eventCount(t, db)

		for _, who := range []*identity.User{f.Supervisor, f.Admin} {
			got, err := db.FindTeamWorkers(As(ctx, who), f.Team.ID)
			ok(t, err)
			var ids []string
			for _, u := range got {
				ids = append(ids, u.ID)
				if u.Role != countersign.RoleWorker || u.TeamID != f.Team.ID || u.Name == "" || u.Email == "" || u.CreatedAt.IsZero() {
					t.Errorf("%s: incomplete or foreign user %+v", who.Name, u)
				}
			}
			// "Anna" sorts before "worker"; the disabled worker, the
			// supervisor and the other team's worker are not listed.
			if want := []string{anna.ID, f.Worker.ID}; !slices.Equal(ids, want) {
				t.Fatalf("%s: workers %v, want %v", who.Name, ids, want)
			}
		}
		got, err := db.FindTeamWorkers(ctx, f.OtherTeam.ID) // the service
		ok(t, err)
		if len(got) != 1 || got[0].ID != f.Other.ID {
			t.Fatalf("the other team's workers: %+v", got)
		}
		empty, err := db.FindTeamWorkers(ctx, "team_none")
		ok(t, err)
		if empty == nil || len(empty) != 0 {
			t.Fatalf("a team without workers gives %#v, want an empty list", empty)
		}
		if after := eventCount(t, db); after != before {
			t.Fatalf("listing wrote %d audit events", after-before)
		}
	})
	t.Run("RefusesEveryoneButTheTeamsSupervisors", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		f := MustSeed(t, db)
		for _, who := range []*identity.User{f.Worker, f.OtherSupervisor, f.Ethics, f.Other} {
			_, err := db.FindTeamWorkers(As(ctx, who), f.Team.ID)
			code(t, err, countersign.EFORBIDDEN)
		}
	})
}
