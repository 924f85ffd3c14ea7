package openai

import (
	"sync"
	"time"
)

// breaker is a small circuit breaker: after threshold consecutive failed
// calls it opens and fails calls fast for cooldown, so a dead endpoint does
// not hold every worker for the full retry schedule. After the cool-down one
// call goes through (half-open); its outcome closes or reopens the breaker.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	trial     bool // a half-open trial call is in flight
}

func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return true
	}
	if b.now().Before(b.openUntil) || b.trial {
		return false
	}
	b.trial = true
	return true
}

// record notes the outcome of a call and reports whether it opened the breaker.
func (b *breaker) record(ok bool) (opened bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
	if ok {
		b.failures = 0
		b.openUntil = time.Time{}
		return false
	}
	b.failures++
	if b.failures >= b.threshold {
		b.openUntil = b.now().Add(b.cooldown)
		return true
	}
	return false
}

// release ends a half-open trial whose outcome says nothing about health.
func (b *breaker) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
}

func (b *breaker) closed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures < b.threshold || (!b.now().Before(b.openUntil) && !b.trial)
}
