package api

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/countersign/countersign"
)

// RateLimit bounds how fast one token (or, before authentication, one
// client address) may call the service. Limits are kept per replica: with n
// replicas behind a load balancer a client gets at most n times the rate,
// which still stops a runaway script from starving everyone else.
type RateLimit struct {
	// PerSecond is the sustained rate; Burst the requests allowed at once.
	PerSecond float64
	Burst     int

	mu       sync.Mutex
	limiters map[string]*entry
	lastGC   time.Time
}

type entry struct {
	l    *rate.Limiter
	seen time.Time
}

// allow reports whether key may make a request now, and if not, how long to wait.
func (rl *RateLimit) allow(key string, now time.Time) (bool, time.Duration) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if rl.limiters == nil {
		rl.limiters = map[string]*entry{}
	}
	// Forget idle clients so the map does not grow without bound.
	if now.Sub(rl.lastGC) > time.Minute {
		for k, e := range rl.limiters {
			if now.Sub(e.seen) > 10*time.Minute {
				delete(rl.limiters, k)
			}
		}
		rl.lastGC = now
	}
	e, ok := rl.limiters[key]
	if !ok {
		e = &entry{l: rate.NewLimiter(rate.Limit(rl.PerSecond), rl.Burst)}
		rl.limiters[key] = e
	}
	e.seen = now
	r := e.l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// limit refuses requests over the rate with 429 and Retry-After. The key is
// a hash of the bearer token when there is one (never the token itself), or
// the client address.
func (s *Server) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.RateLimit == nil || s.RateLimit.PerSecond <= 0 || unlimited[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		key := "addr:" + clientAddr(r)
		if h := r.Header.Get("Authorization"); h != "" {
			key = "tok:" + shortHash(h)
		}
		if ok, wait := s.RateLimit.allow(key, time.Now()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			Error(w, r, countersign.Errorf(countersign.ERATELIMIT, "Too many requests from this account. Please wait a moment and try again."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// unlimited paths serve probes and scrapers, which must never be refused.
var unlimited = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}
