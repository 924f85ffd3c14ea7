package client_test

import (
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/client"
)

func TestValidatePassphrase(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]string{
		"blue kettle on the stairs": "",
		"twelve chars":              "",
		"short":                     countersign.EINVALID,
		"eleven char":               countersign.EINVALID,
		"éééééééééééé":              "", // twelve characters, more bytes
		strings.Repeat("a", 257):    countersign.EINVALID,
		"twelve\x00chars!":          countersign.EINVALID,
	} {
		err := client.ValidatePassphrase("passphrase", p)
		if got := countersign.ErrorCode(err); err != nil && got != want || err == nil && want != "" {
			t.Errorf("%q: %v, want %q", p, err, want)
		}
	}
}

func TestPassphraseHash(t *testing.T) {
	t.Parallel()
	h := client.HashPassphrase("blue kettle on the stairs")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "kettle") {
		t.Fatalf("hash %q", h)
	}
	if h == client.HashPassphrase("blue kettle on the stairs") {
		t.Fatal("two hashes of one passphrase are equal: no salt")
	}
	if !client.CheckPassphrase(h, "blue kettle on the stairs") || client.CheckPassphrase(h, "blue kettle on the stair") || client.CheckPassphrase("garbage", "x") {
		t.Fatal("CheckPassphrase does not tell right from wrong")
	}
	if client.CheckNoPassphrase("anything inviteAt all") {
		t.Fatal("no account signs in")
	}
}

func TestCheckSession(t *testing.T) {
	t.Parallel()
	ended := inviteAt.Add(-time.Minute)
	live := &client.Session{Kind: client.KindBrowser, ExpiresAt: inviteAt.Add(time.Hour)}
	for _, tt := range []struct {
		name     string
		s        *client.Session
		kind     client.SessionKind
		disabled bool
		ok       bool
	}{
		{"ALiveSession", live, client.KindBrowser, false, true},
		{"ABrowserSessionUsedAsAToken", live, client.KindToken, false, false},
		{"AnExpiredOne", &client.Session{Kind: client.KindBrowser, ExpiresAt: inviteAt}, client.KindBrowser, false, false},
		{"AnEndedOne", &client.Session{Kind: client.KindBrowser, ExpiresAt: inviteAt.Add(time.Hour), EndedAt: &ended}, client.KindBrowser, false, false},
		{"ADisabledAccount", live, client.KindBrowser, true, false},
		{"None", nil, client.KindBrowser, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := client.CheckSession(tt.s, tt.kind, tt.disabled, inviteAt)
			if (err == nil) != tt.ok || err != nil && countersign.ErrorCode(err) != countersign.EUNAUTHORIZED {
				t.Fatalf("error %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestDecideRedemption(t *testing.T) {
	t.Parallel()
	acc := &client.Account{ID: "C-11111-22222", CaseID: "case_1", PartyID: "pty_1", Language: "fr"}
	open := &client.Invitation{ID: "inv_1", CaseID: "case_1", ExpiresAt: inviteAt.Add(time.Hour)}
	used := inviteAt.Add(-time.Minute)
	s := client.NewSession(acc, client.KindToken, "", inviteAt)
	if s.Language != "fr" || !s.ExpiresAt.Equal(inviteAt.Add(client.TokenTTL)) || s.CSRF == "" {
		t.Fatalf("session %+v", s)
	}
	if s := client.NewSession(acc, client.KindBrowser, "de", inviteAt); s.Language != "de" || !s.ExpiresAt.Equal(inviteAt.Add(client.BrowserTTL)) {
		t.Fatalf("session %+v", s)
	}
	evs, err := client.DecideRedemption(acc, open, &client.Redemption{Passphrase: "blue kettle on the stairs"}, s, inviteAt)
	if err != nil || len(evs) != 3 || evs[0].Action != client.ActionInvitationUsed || evs[1].Action != client.ActionPassphraseSet || evs[2].Action != client.ActionSignedIn {
		t.Fatalf("events %+v, %v", evs, err)
	}
	if evs[0].Actor.Role != countersign.RoleClient || evs[0].Actor.UserID != "client:C-11111-22222" {
		t.Fatalf("actor %+v", evs[0].Actor)
	}
	red := &client.Redemption{Passkey: &client.Passkey{CredentialID: []byte{1}}}
	if evs, err := client.DecideRedemption(acc, open, red, s, inviteAt); err != nil || evs[1].Action != client.ActionPasskeyRegistered || red.Passkey.ID == "" || red.Passkey.AccountID != acc.ID {
		t.Fatalf("passkey: %+v, %v", evs, err)
	}
	for name, inv := range map[string]*client.Invitation{"Used": {ID: "inv_1", UsedAt: &used, ExpiresAt: inviteAt.Add(time.Hour)}, "Expired": {ID: "inv_1", ExpiresAt: inviteAt}, "None": nil} {
		if _, err := client.DecideRedemption(acc, inv, &client.Redemption{Passphrase: "blue kettle on the stairs"}, s, inviteAt); err != client.ErrCode {
			t.Errorf("%s: %v, want ErrCode", name, err)
		}
	}
	if _, err := client.DecideRedemption(acc, open, &client.Redemption{Passphrase: "short"}, s, inviteAt); countersign.ErrorCode(err) != countersign.EINVALID {
		t.Errorf("short passphrase: %v", err)
	}
}
