package httpx

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/countersign/countersign"
)

func TestRateLimit(t *testing.T) {
	t.Parallel()
	t.Run("RefusesBeyondTheBurstAndSaysWhenToRetry", func(t *testing.T) {
		t.Parallel()
		rl := &RateLimit{PerSecond: 2, Burst: 3}
		now := time.Unix(1000, 0)
		for i := range 3 {
			if ok, _ := rl.allow("a", now); !ok {
				t.Fatalf("request %d refused within the burst", i)
			}
		}
		ok, wait := rl.allow("a", now)
		if ok || wait <= 0 || wait > time.Second {
			t.Fatalf("4th request: ok=%v wait=%v", ok, wait)
		}
		if ok, _ := rl.allow("b", now); !ok {
			t.Fatal("another key was limited by the first")
		}
		if ok, _ := rl.allow("a", now.Add(wait)); !ok {
			t.Fatal("refused after waiting as told")
		}
	})
	t.Run("ForgetsIdleClients", func(t *testing.T) {
		t.Parallel()
		rl := &RateLimit{PerSecond: 1, Burst: 1}
		now := time.Unix(1000, 0)
		rl.allow("idle", now)
		rl.allow("busy", now.Add(20*time.Minute))
		if _, ok := rl.limiters["idle"]; ok {
			t.Fatal("an idle client's limiter was kept")
		}
	})
	t.Run("BlockedSpendsNothing", func(t *testing.T) {
		t.Parallel()
		rl := &RateLimit{PerSecond: 1.0 / 60, Burst: 2}
		now := time.Unix(1000, 0)
		for range 5 {
			if blocked, _ := rl.blocked("a", now); blocked {
				t.Fatal("looking spent the budget")
			}
		}
		rl.allow("a", now)
		rl.allow("a", now)
		blocked, wait := rl.blocked("a", now)
		if !blocked || wait < 59*time.Second || wait > time.Minute {
			t.Fatalf("after two failures: blocked=%v wait=%v, want a minute", blocked, wait)
		}
	})
}

func TestLimits(t *testing.T) {
	t.Parallel()
	t.Run("NilLimitsNothing", func(t *testing.T) {
		t.Parallel()
		var l *Limits
		w, r := httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)
		for range 100 {
			l.SignInFailed(r)
			if err := l.Request(w, TokenKey("tok_1")); err != nil {
				t.Fatal(err)
			}
			if err := l.SignInBlocked(w, r); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("FailedSignInsBlockTheAddressWithRetryAfter", func(t *testing.T) {
		t.Parallel()
		l := &Limits{SignIns: &RateLimit{PerSecond: 1.0 / 60, Burst: 2}}
		r := httptest.NewRequest("POST", "/signin", nil)
		r.RemoteAddr = "192.0.2.7:51000"
		other := httptest.NewRequest("POST", "/signin", nil)
		other.RemoteAddr = "192.0.2.8:51000"
		l.SignInFailed(r)
		r.RemoteAddr = "192.0.2.7:51001" // another connection, the same address
		l.SignInFailed(r)
		w := httptest.NewRecorder()
		err := l.SignInBlocked(w, r)
		if countersign.ErrorCode(err) != countersign.ERATELIMIT || w.Header().Get("Retry-After") == "" {
			t.Fatalf("after two failures: %v, Retry-After %q", err, w.Header().Get("Retry-After"))
		}
		if err := l.SignInBlocked(httptest.NewRecorder(), other); err != nil {
			t.Fatalf("another address was blocked: %v", err)
		}
	})
}
