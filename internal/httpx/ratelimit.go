package httpx

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/internal/metrics"
)

// Limits are the service's rate limits, shared by its two doors. Requests
// bounds each principal, known once its credential is checked: an API
// token by its id, a web session by its user; requests without a credential
// are bounded per client address. SignIns bounds the failed sign-ins of a
// client address: a wrong or revoked bearer token, a wrong token in the
// sign-in form. Either may be nil: no limit. They are kept per replica: with
// n replicas a client gets at most n times the rate.
type Limits struct {
	Requests *RateLimit
	SignIns  *RateLimit
}

// TokenKey is the limit's key of an API token: its id, never its secret,
// so the same token is one key however its header is spelt.
func TokenKey(tokenID string) string { return "tok:" + tokenID }

// UserKey is the limit's key of a signed-in web session: its user.
func UserKey(userID string) string { return "usr:" + userID }

// AddrKey is the limit's key of a request without a credential.
func AddrKey(r *http.Request) string { return "addr:" + ClientAddr(r) }

func signInKey(r *http.Request) string { return "signin:" + ClientAddr(r) }

// Request spends one request of key. Over the limit it sets Retry-After on
// w and returns ERATELIMIT, which the door renders its own way.
func (l *Limits) Request(w http.ResponseWriter, key string) error {
	if l == nil || !l.Requests.on() {
		return nil
	}
	if ok, wait := l.Requests.allow(key, time.Now()); !ok {
		metrics.RateLimited.WithLabelValues(metrics.LimitRequests).Inc()
		return refuse(w, wait, "Too many requests from this account. Please wait a moment and try again.")
	}
	return nil
}

// SignInBlocked returns ERATELIMIT, with Retry-After set on w, when r's
// client address has used up its failed sign-ins: the credential is then
// not even checked.
func (l *Limits) SignInBlocked(w http.ResponseWriter, r *http.Request) error {
	if l == nil || !l.SignIns.on() {
		return nil
	}
	if blocked, wait := l.SignIns.blocked(signInKey(r), time.Now()); blocked {
		metrics.RateLimited.WithLabelValues(metrics.LimitSignIns).Inc()
		return refuse(w, wait, "Too many failed sign-ins from this address. Please wait a moment and try again.")
	}
	return nil
}

// SignInFailed counts a failed sign-in against r's client address.
func (l *Limits) SignInFailed(r *http.Request) {
	if l == nil || !l.SignIns.on() {
		return
	}
	l.SignIns.allow(signInKey(r), time.Now())
}

func refuse(w http.ResponseWriter, wait time.Duration, message string) error {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	return countersign.Errorf(countersign.ERATELIMIT, "%s", message)
}

// RateLimit is a token bucket per key: PerSecond sustained, Burst at once.
type RateLimit struct {
	PerSecond float64
	Burst     int

	mu       sync.Mutex
	limiters map[string]*limiterEntry
	lastGC   time.Time
}

type limiterEntry struct {
	l    *rate.Limiter
	seen time.Time
}

func (rl *RateLimit) on() bool { return rl != nil && rl.PerSecond > 0 }

// limiter returns key's bucket; the caller holds rl.mu.
func (rl *RateLimit) limiter(key string, now time.Time) *rate.Limiter {
	if rl.limiters == nil {
		rl.limiters = map[string]*limiterEntry{}
	}
	// Forget idle keys so the map does not grow without bound. An idle
	// key's bucket is full again by then unless the rate is very slow, so
	// keep a key at least as long as its bucket takes to fill.
	idle := max(10*time.Minute, time.Duration(float64(rl.Burst)/rl.PerSecond*float64(time.Second)))
	if now.Sub(rl.lastGC) > time.Minute {
		for k, e := range rl.limiters {
			if now.Sub(e.seen) > idle {
				delete(rl.limiters, k)
			}
		}
		rl.lastGC = now
	}
	e, ok := rl.limiters[key]
	if !ok {
		e = &limiterEntry{l: rate.NewLimiter(rate.Limit(rl.PerSecond), max(1, rl.Burst))}
		rl.limiters[key] = e
	}
	e.seen = now
	return e.l
}

// allow spends one of key's requests if it may make one now, and
// otherwise says how long to wait.
func (rl *RateLimit) allow(key string, now time.Time) (bool, time.Duration) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	r := rl.limiter(key, now).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// blocked reports whether key has nothing left to spend now, and how long
// until it has, without spending anything.
func (rl *RateLimit) blocked(key string, now time.Time) (bool, time.Duration) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if tokens := rl.limiter(key, now).TokensAt(now); tokens < 1 {
		return true, time.Duration((1 - tokens) / rl.PerSecond * float64(time.Second))
	}
	return false, 0
}

// ClientAddr is the address the request came from: the peer, without its
// port. Behind a proxy it is the proxy's (SECURITY.md, Known limits).
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
