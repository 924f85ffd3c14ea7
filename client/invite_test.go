package client_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
)

var inviteAt = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func TestCodes(t *testing.T) {
	t.Parallel()
	format := regexp.MustCompile(`^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$`)
	seen := map[string]bool{}
	for range 200 {
		c := client.NewCode()
		if !format.MatchString(c) {
			t.Fatalf("code %q: want ABCD-EFGH-JKMN without look-alikes (0, O, 1, I, L)", c)
		}
		if seen[c] {
			t.Fatalf("code %q twice", c)
		}
		seen[c] = true
	}
	for _, typed := range []string{"abcd efgh jkmn", " ABCD-EFGH-JKMN ", "abcd.efgh.jkmn", "ABCDEFGHJKMN"} {
		if client.NormalizeCode(typed) != "ABCDEFGHJKMN" || string(client.HashCode(typed)) != string(client.HashCode("ABCD-EFGH-JKMN")) {
			t.Errorf("%q is not read as ABCD-EFGH-JKMN", typed)
		}
	}
	if string(client.HashCode("ABCD-EFGH-JKMN")) == string(client.HashCode("ABCD-EFGH-JKMP")) {
		t.Fatal("two codes hash alike")
	}
}

func TestAccountIDs(t *testing.T) {
	t.Parallel()
	if id := client.NewAccountID(); !regexp.MustCompile(`^C-\d{5}-\d{5}$`).MatchString(id) {
		t.Fatalf("account id %q", id)
	}
	for in, want := range map[string]string{"C-48215-53017": "C-48215-53017", "c 48215 53017": "C-48215-53017", "C4821553017": "C-48215-53017",
		"marie@example.org": "", "C-4821-5301": "", "48215-53017": "", "C-48215-5301x": ""} {
		got, ok := client.NormalizeAccountID(in)
		if got != want || ok != (want != "") {
			t.Errorf("%q: %q %v, want %q", in, got, ok, want)
		}
	}
	for in, want := range map[string]client.SignInFilter{"c-48215-53017": {AccountID: "C-48215-53017"}, " Marie.Dubois@Example.org ": {Email: "marie.dubois@example.org"}} {
		if got, err := client.ParseLogin(in); err != nil || got != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	if _, err := client.ParseLogin("marie"); countersign.ErrorCode(err) != countersign.EINVALID {
		t.Errorf("a name is no login: %v", err)
	}
}

func TestDecideInvitation(t *testing.T) {
	t.Parallel()
	c := &casefile.Case{ID: "case_1", TeamID: "team_1", WorkerID: "usr_w"}
	p := &casefile.Party{ID: "pty_1", CaseID: "case_1", Role: "client", Language: "nl"}
	worker := countersign.Actor{UserID: "usr_w", Role: countersign.RoleWorker, TeamID: "team_1"}
	for _, tt := range []struct {
		name string
		a    countersign.Actor
		p    *casefile.Party
		want string
	}{
		{"TheCasesWorker", worker, p, ""},
		{"ASupervisorOfItsTeam", countersign.Actor{UserID: "usr_s", Role: countersign.RoleSupervisor, TeamID: "team_1"}, p, ""},
		{"TheCommandLine", countersign.SystemCLI, p, ""},
		{"AnotherWorker", countersign.Actor{UserID: "usr_x", Role: countersign.RoleWorker, TeamID: "team_1"}, p, countersign.EFORBIDDEN},
		{"ASupervisorOfAnotherTeam", countersign.Actor{UserID: "usr_y", Role: countersign.RoleSupervisor, TeamID: "team_2"}, p, countersign.EFORBIDDEN},
		{"AnEthicsBoardMember", countersign.Actor{UserID: "usr_e", Role: countersign.RoleEthics}, p, countersign.EFORBIDDEN},
		{"AnAdmin", countersign.Actor{UserID: "usr_a", Role: countersign.RoleAdmin}, p, countersign.EFORBIDDEN},
		{"AClient", countersign.Actor{UserID: "client:C-1", Role: countersign.RoleClient}, p, countersign.EFORBIDDEN},
		{"NoClient", worker, &casefile.Party{ID: "pty_2", CaseID: "case_1", Role: "other"}, countersign.ECONFLICT},
		{"APartyOfAnotherCase", worker, &casefile.Party{ID: "pty_3", CaseID: "case_2", Role: "client"}, countersign.ENOTFOUND},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := client.DecideInvitation(tt.a, c, tt.p, "", nil, inviteAt)
			if got := countersign.ErrorCode(err); err != nil && got != tt.want || err == nil && tt.want != "" {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("MakesTheAccountOnceAndReplacesTheOpenInvitation", func(t *testing.T) {
		t.Parallel()
		d, err := client.DecideInvitation(worker, c, p, "", nil, inviteAt)
		if err != nil {
			t.Fatal(err)
		}
		if d.NewAccount == "" || d.Invitation.AccountID != d.NewAccount || !d.Invitation.ExpiresAt.Equal(inviteAt.Add(14*24*time.Hour)) {
			t.Fatalf("decision %+v", d)
		}
		if len(d.Events) != 2 || d.Events[0].Action != client.ActionAccountCreated || d.Events[1].Action != client.ActionInvitationCreated {
			t.Fatalf("events %+v", d.Events)
		}
		d, err = client.DecideInvitation(worker, c, p, "C-11111-22222", []string{"inv_old"}, inviteAt)
		if err != nil {
			t.Fatal(err)
		}
		if d.NewAccount != "" || d.Invitation.AccountID != "C-11111-22222" || len(d.Revoke) != 1 || d.Events[0].Action != client.ActionInvitationRevoked || d.Events[0].Payload["replaced"] != "true" {
			t.Fatalf("decision %+v", d)
		}
		for _, e := range d.Events {
			for k, v := range e.Payload {
				if strings.Contains(v, client.NormalizeCode(d.Code)) || strings.Contains(v, d.Code) {
					t.Fatalf("the event carries the code in %s", k)
				}
			}
		}
	})
}

func TestDecideRevokeInvitation(t *testing.T) {
	t.Parallel()
	c := &casefile.Case{ID: "case_1", TeamID: "team_1", WorkerID: "usr_w"}
	worker := countersign.Actor{UserID: "usr_w", Role: countersign.RoleWorker, TeamID: "team_1"}
	used, revoked := inviteAt.Add(-time.Hour), inviteAt.Add(-time.Minute)
	for _, tt := range []struct {
		name string
		inv  *client.Invitation
		want string
	}{
		{"AnOpenInvitation", &client.Invitation{ID: "inv_1", CaseID: "case_1", ExpiresAt: inviteAt.Add(time.Hour)}, ""},
		{"AnExpiredOne", &client.Invitation{ID: "inv_1", CaseID: "case_1", ExpiresAt: inviteAt.Add(-time.Hour)}, ""},
		{"AUsedOne", &client.Invitation{ID: "inv_1", CaseID: "case_1", UsedAt: &used}, countersign.ECONFLICT},
		{"ARevokedOne", &client.Invitation{ID: "inv_1", CaseID: "case_1", RevokedAt: &revoked}, countersign.ECONFLICT},
		{"None", nil, countersign.ENOTFOUND},
		{"OneOfAnotherCase", &client.Invitation{ID: "inv_1", CaseID: "case_2"}, countersign.ENOTFOUND},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := client.DecideRevokeInvitation(worker, c, tt.inv, inviteAt)
			if got := countersign.ErrorCode(err); err != nil && got != tt.want || err == nil && tt.want != "" {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}
