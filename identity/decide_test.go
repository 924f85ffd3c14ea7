package identity_test

import (
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/identity"
)

func TestCheckSession(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Second)
	live := func() (*identity.Session, *identity.Token) {
		return &identity.Session{ID: "ses_1", UserID: "usr_1", TokenID: "tok_1", ExpiresAt: later},
			&identity.Token{ID: "tok_1", UserID: "usr_1"}
	}
	for _, tc := range []struct {
		name     string
		change   func(s *identity.Session, tk *identity.Token)
		disabled bool
		ok       bool
	}{
		{"LiveSessionOfALiveToken", func(*identity.Session, *identity.Token) {}, false, true},
		{"TokenWithAFutureExpiry", func(_ *identity.Session, tk *identity.Token) { tk.ExpiresAt = &later }, false, true},
		{"EndedSession", func(s *identity.Session, _ *identity.Token) { s.EndedAt = &earlier }, false, false},
		{"ExpiredSession", func(s *identity.Session, _ *identity.Token) { s.ExpiresAt = now }, false, false},
		{"RevokedToken", func(_ *identity.Session, tk *identity.Token) { tk.RevokedAt = &earlier }, false, false},
		{"ExpiredToken", func(_ *identity.Session, tk *identity.Token) { tk.ExpiresAt = &now }, false, false},
		{"DisabledUser", func(*identity.Session, *identity.Token) {}, true, false},
		{"AnotherToken", func(_ *identity.Session, tk *identity.Token) { tk.ID = "tok_2" }, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, tk := live()
			tc.change(s, tk)
			err := identity.CheckSession(s, tk, tc.disabled, now)
			if tc.ok != (err == nil) {
				t.Fatalf("CheckSession: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && countersign.ErrorCode(err) != countersign.EUNAUTHORIZED {
				t.Fatalf("code %q, want unauthorized", countersign.ErrorCode(err))
			}
		})
	}
}

func TestDecideSession(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	u := &identity.User{ID: "usr_1", Role: countersign.RoleWorker, TeamID: "team_1"}
	t.Run("LastsNoLongerThanItsToken", func(t *testing.T) {
		t.Parallel()
		soon := now.Add(time.Hour)
		s, ev, err := identity.DecideSession(u, &identity.Token{ID: "tok_1", UserID: u.ID, ExpiresAt: &soon}, false, 12*time.Hour, now)
		if err != nil {
			t.Fatal(err)
		}
		if !s.ExpiresAt.Equal(soon) || s.TokenID != "tok_1" || ev.Action != identity.ActionSessionStarted || ev.Payload["token"] != "tok_1" {
			t.Fatalf("session %+v, event %+v", s, ev)
		}
	})
	t.Run("RefusesARevokedToken", func(t *testing.T) {
		t.Parallel()
		_, _, err := identity.DecideSession(u, &identity.Token{ID: "tok_1", UserID: u.ID, RevokedAt: &now}, false, time.Hour, now)
		if countersign.ErrorCode(err) != countersign.EUNAUTHORIZED {
			t.Fatalf("%v, want unauthorized", err)
		}
	})
}

func TestDecideToken(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		expires *time.Time
		code    string
	}{
		{"NeverExpiring", nil, ""},
		{"ExpiringLater", new(now.Add(24 * time.Hour)), ""},
		{"ExpiringNow", new(now), countersign.EINVALID},
		{"AlreadyExpired", new(now.Add(-time.Hour)), countersign.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := identity.DecideToken(countersign.SystemCLI, &identity.Token{UserID: "usr_1", ExpiresAt: tc.expires}, true, now)
			if got := countersign.ErrorCode(err); (err == nil) != (tc.code == "") || (err != nil && got != tc.code) {
				t.Fatalf("DecideToken: %v, want code %q", err, tc.code)
			}
		})
	}
}

func TestDecideDisable(t *testing.T) {
	t.Parallel()
	if _, err := identity.DecideDisable(countersign.Actor{UserID: "usr_2", Role: countersign.RoleSupervisor}, "usr_1", false); countersign.ErrorCode(err) != countersign.EFORBIDDEN {
		t.Fatalf("a supervisor disabling: %v, want forbidden", err)
	}
	if _, err := identity.DecideDisable(countersign.SystemCLI, "usr_1", true); countersign.ErrorCode(err) != countersign.ECONFLICT {
		t.Fatalf("disabling twice: %v, want conflict", err)
	}
	ev, err := identity.DecideDisable(countersign.SystemCLI, "usr_1", false)
	if err != nil || ev.Action != identity.ActionUserDisabled || ev.SubjectID != "usr_1" || len(ev.Payload) != 0 {
		t.Fatalf("event %+v, %v: want user.disabled naming the user by id only", ev, err)
	}
}

func TestDecidePurge(t *testing.T) {
	t.Parallel()
	if identity.DecidePurge(0) != nil {
		t.Fatal("a purge of nothing is recorded")
	}
	if ev := identity.DecidePurge(3); ev == nil || ev.Payload["count"] != "3" || ev.Actor != countersign.System {
		t.Fatalf("purge event %+v", ev)
	}
}
