package api

import (
	"testing"
	"time"
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
}
