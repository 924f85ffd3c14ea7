package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
)

// Fixture is a small municipality: two teams, a user of every role, and a
// case of the first team's worker with a client and three notes.
type Fixture struct {
	Team, OtherTeam                          *identity.Team
	Worker, Supervisor, Ethics, Admin, Other *identity.User
	OtherSupervisor                          *identity.User
	Case                                     *casefile.Case
	Client                                   *casefile.Party
	Notes                                    []*casefile.Note
}

var fixtureN atomic.Int64

// As returns ctx acting as u.
func As(ctx context.Context, u *identity.User) context.Context {
	return countersign.NewContextWithActor(ctx, u.Actor())
}

// MustSeed creates a Fixture in db.
func MustSeed(t testing.TB, db *sqlstore.DB) *Fixture {
	t.Helper()
	ctx := CLI()
	n := fixtureN.Add(1)
	f := &Fixture{Team: &identity.Team{Name: fmt.Sprintf("Team North %d", n)}, OtherTeam: &identity.Team{Name: fmt.Sprintf("Team South %d", n)}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.CreateTeam(ctx, f.Team))
	must(db.CreateTeam(ctx, f.OtherTeam))
	user := func(name string, role countersign.Role, team string) *identity.User {
		u := &identity.User{Name: name, Email: fmt.Sprintf("%s.%d@example.org", name, n), Role: role, TeamID: team}
		must(db.CreateUser(ctx, u))
		return u
	}
	f.Worker = user("worker", countersign.RoleWorker, f.Team.ID)
	f.Supervisor = user("supervisor", countersign.RoleSupervisor, f.Team.ID)
	f.Ethics = user("ethics", countersign.RoleEthics, "")
	f.Admin = user("admin", countersign.RoleAdmin, "")
	f.Other = user("other", countersign.RoleWorker, f.OtherTeam.ID)
	f.OtherSupervisor = user("othersup", countersign.RoleSupervisor, f.OtherTeam.ID)
	wctx := As(ctx, f.Worker)
	f.Case = &casefile.Case{Reference: fmt.Sprintf("REF-%d", n), Title: "Housing support"}
	must(db.CreateCase(wctx, f.Case))
	f.Client = &casefile.Party{CaseID: f.Case.ID, Role: "client", FullName: "Marie Dubois", DateOfBirth: "1948-05-17",
		Address: "12 rue des Lilas, Lyon", Phone: "+33 6 12 34 56 78", Email: "marie.dubois@example.org", NationalID: "248056912345678"}
	must(db.AddParty(wctx, f.Client))
	for _, body := range []string{
		// Each sentence reads as ordinary to the detector (assistant/stakes):
		// a sentence it reads as high-stakes or unclear needs a decision
		// before approval (review.NeedsDecision), which tests add their own.
		"Home visit with Marie Dubois. She has two months of rent to pay and asked for help with the heating bill.",
		"Marie has an appointment at the job centre on 14 December 2026. She must send the energy fund form before 15 December 2026.",
		"Marie agreed to a referral to the budget advice service. She would like help with the weekly shopping.",
	} {
		note := &casefile.Note{CaseID: f.Case.ID, Body: body}
		must(db.AddNote(wctx, note))
		f.Notes = append(f.Notes, note)
	}
	// The client agreed to AI-assisted drafting, which the default policy
	// requires before any draft is requested.
	must(db.RecordConsent(wctx, &casefile.Consent{CaseID: f.Case.ID, Given: true}))
	return f
}

// CLI returns a context acting as the command line (countersign.SystemCLI),
// as an administrator creating teams, users and tokens does: the store
// refuses a context without an actor.
func CLI() context.Context {
	return countersign.NewContextWithActor(context.Background(), countersign.SystemCLI)
}

// SignOff opens a draft as the actor of ctx, as reading it does, then
// approves it: an approval comes only from someone who opened the draft.
func SignOff(db *sqlstore.DB, ctx context.Context, id string, ap review.Approval) (*review.SignOff, error) {
	if _, err := db.OpenDraft(ctx, id); err != nil {
		return nil, err
	}
	return db.SignOffDraft(ctx, id, ap)
}

// Approve is SignOff returning only the record entry.
func Approve(db *sqlstore.DB, ctx context.Context, id string, ap review.Approval) (*review.Entry, error) {
	so, err := SignOff(db, ctx, id, ap)
	if err != nil {
		return nil, err
	}
	return so.Entry, nil
}

// Countersign opens a draft awaiting countersignature as the actor of ctx,
// then countersigns it.
func Countersign(db *sqlstore.DB, ctx context.Context, id string, cs review.Countersign) (*review.Entry, error) {
	if _, err := db.OpenDraft(ctx, id); err != nil {
		return nil, err
	}
	return db.CountersignDraft(ctx, id, cs)
}
