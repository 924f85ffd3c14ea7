package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/identity"
)

// DemoToken is a demo user's role and token, printed by serve --demo.
type DemoToken struct {
	Role  countersign.Role
	Name  string
	Token string
}

const demoTeam = "Demo team"

var demoUsers = []identity.User{
	{Name: "Wendy Worker", Email: "worker@demo.countersign.local", Role: countersign.RoleWorker},
	{Name: "Sam Supervisor", Email: "supervisor@demo.countersign.local", Role: countersign.RoleSupervisor},
	{Name: "Erin Ethics", Email: "ethics@demo.countersign.local", Role: countersign.RoleEthics},
	{Name: "Alex Admin", Email: "admin@demo.countersign.local", Role: countersign.RoleAdmin},
}

var demoNotes = []string{
	"Home visit with Marie Dubois at 12 rue des Lilas, Lyon. Marie lives alone since her husband died in March. " +
		"She says she has trouble paying the rent and has two months of arrears. The flat is clean but cold; the heating was cut off last week. " +
		"Marie asked for help with her energy bills. Her phone is 06 12 34 56 78.",
	"Phone call with Marie's daughter, Claire Dubois. Claire visits on Sundays and is worried that her mother forgets to take her medication. " +
		"Marie has an appointment with her GP on 14 December 2026. The landlord sent a formal notice; the hearing at the housing court is on 20 January 2027.",
	"Office meeting. Marie brought her bank statements; income is a survivor's pension only. " +
		"We filled in the application for the energy solidarity fund together; it must be sent before 15 December 2026. " +
		"Marie agreed to a referral to the budget advice service. She seemed tired and said she sometimes skips meals.",
}

// demoDirectory is the demo's referral directory.
var demoDirectory = []assistant.Service{
	{ID: "budget-advice", Name: "Budget advice service", Description: "budget debt arrears rent bills money advice"},
	{ID: "energy-fund", Name: "Energy solidarity fund", Description: "energy heating electricity gas bills fund"},
	{ID: "meal-delivery", Name: "Meal delivery", Description: "meals food skips meals nutrition"},
}

// seedDemo creates the demo team, users and case once, and issues fresh
// tokens for the demo users on every run (only token hashes are stored, so
// earlier tokens cannot be shown again).
func (m *Main) seedDemo(ctx context.Context) error {
	ctx = countersign.NewContextWithActor(ctx, countersign.SystemDemo)
	db := m.DB
	team, err := db.FindTeamByName(ctx, demoTeam)
	if countersign.ErrorCode(err) == countersign.ENOTFOUND {
		if err := m.seedDemoData(ctx); err != nil {
			return err
		}
		team, err = db.FindTeamByName(ctx, demoTeam)
	}
	if err != nil {
		return err
	}
	_ = team
	m.Tokens = nil
	for _, du := range demoUsers {
		u, err := db.FindUserByEmail(ctx, du.Email)
		if err != nil {
			return err
		}
		exp := time.Now().Add(30 * 24 * time.Hour)
		_, secret, err := db.CreateToken(ctx, u.ID, "demo", &exp)
		if err != nil {
			return err
		}
		m.Tokens = append(m.Tokens, DemoToken{Role: u.Role, Name: u.Name, Token: secret})
	}
	return m.inviteDemoClient(ctx)
}

// demoCaseReference is the reference of the demo's case.
const demoCaseReference = "DEMO-2026-001"

// inviteDemoClient gives the demo's client a fresh letter, whose code
// printDemo shows: the client's own pages can be tried at once. A new
// letter replaces the one of the previous start.
func (m *Main) inviteDemoClient(ctx context.Context) error {
	// The demo's own case, not the newest: cases added since are someone
	// else's, whose client must not get a letter at each start.
	var demo *casefile.Case
	for offset := 0; demo == nil; offset += 100 {
		cases, _, err := m.DB.FindCases(ctx, casefile.CaseFilter{Limit: 100, Offset: offset})
		if err != nil {
			return err
		}
		if len(cases) == 0 {
			return nil
		}
		for _, c := range cases {
			if c.Reference == demoCaseReference {
				demo = c
				break
			}
		}
	}
	parties, err := m.DB.FindParties(ctx, demo.ID)
	if err != nil {
		return err
	}
	for _, p := range parties {
		if p.Role != "client" {
			continue
		}
		inv, code, err := m.DB.CreateInvitation(ctx, demo.ID, p.ID)
		if err != nil {
			return err
		}
		m.DemoInvitation.Code, m.DemoInvitation.Letter = code, client.LetterPath(inv, code)
		return nil
	}
	return nil
}

func (m *Main) seedDemoData(ctx context.Context) error {
	db := m.DB
	team := &identity.Team{Name: demoTeam}
	if err := db.CreateTeam(ctx, team); err != nil {
		return err
	}
	var worker *identity.User
	for _, du := range demoUsers {
		u := du
		if u.Role == countersign.RoleWorker || u.Role == countersign.RoleSupervisor {
			u.TeamID = team.ID
		}
		if err := db.CreateUser(ctx, &u); err != nil {
			return err
		}
		if u.Role == countersign.RoleWorker {
			worker = &u
		}
	}
	wctx := countersign.NewContextWithActor(ctx, worker.Actor())
	c := &casefile.Case{Reference: demoCaseReference, Title: "Housing and energy support", CaseType: "adult_social_care"}
	if err := db.CreateCase(wctx, c); err != nil {
		return err
	}
	for _, p := range []casefile.Party{
		{CaseID: c.ID, Role: "client", FullName: "Marie Dubois", DateOfBirth: "1948-05-17", Address: "12 rue des Lilas, 69003 Lyon",
			Phone: "+33 6 12 34 56 78", Email: "marie.dubois@example.org", NationalID: "2 48 05 69 123 456 78"},
		{CaseID: c.ID, Role: "other", FullName: "Claire Dubois", Phone: "07 98 76 54 32"},
	} {
		if err := db.AddParty(wctx, &p); err != nil {
			return err
		}
	}
	start := time.Now().Add(-10 * 24 * time.Hour)
	for i, body := range demoNotes {
		n := &casefile.Note{CaseID: c.ID, Body: body, WrittenAt: start.Add(time.Duration(i) * 72 * time.Hour)}
		if err := db.AddNote(wctx, n); err != nil {
			return err
		}
	}
	// Marie agreed to AI-assisted drafting, which the default policy
	// requires before any draft is requested.
	return db.RecordConsent(wctx, &casefile.Consent{CaseID: c.ID, Given: true, Note: "Asked at the first home visit; Marie agreed."})
}

func (m *Main) printDemo() {
	fmt.Fprintln(m.Stdout, "Countersign demo is running at http://"+displayAddr(m.Addr())+" (sign in on the web page with a token below)")
	for _, t := range m.Tokens {
		fmt.Fprintf(m.Stdout, "  %-10s %-16s token: %s\n", t.Role, t.Name, t.Token)
	}
	if len(m.Tokens) > 0 {
		fmt.Fprintf(m.Stdout, "Try:\n  curl -H 'Authorization: Bearer %s' http://%s/v1/cases\n", m.Tokens[0].Token, displayAddr(m.Addr()))
	}
	if m.DemoInvitation.Code != "" {
		fmt.Fprintf(m.Stdout, "The client's own file: open http://%s/client/signin and type the code %s (the worker's letter: http://%s%s)\n",
			displayAddr(m.Addr()), m.DemoInvitation.Code, displayAddr(m.Addr()), m.DemoInvitation.Letter)
	}
}

// displayAddr turns a listen address into one a browser can open: an
// unspecified host (":8080", "[::]:8080", "0.0.0.0:8080") becomes localhost.
func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
