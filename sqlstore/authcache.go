package sqlstore

import (
	"sync"
	"time"

	"github.com/countersign/countersign/identity"
)

// tokenCache remembers the tokens Authenticate accepted, for DB.TokenCache,
// so that a client making many calls costs one query per period instead of
// one per call. The price is that a token revoked (or a user disabled) by
// another process or replica still works there until its entry ages out; a
// revocation through this DB clears the cache at once. Refusals are never
// cached, so a new token works at once.
type tokenCache struct {
	mu      sync.Mutex
	entries map[[32]byte]tokenEntry
	// gen counts the clears; an answer read from the database before a
	// clear is not kept after it.
	gen uint64
}

type tokenEntry struct {
	token identity.Token // its own expiry is checked on every hit
	user  identity.User
	until time.Time // when the entry must be read again from the database
}

// tokenCacheLimit bounds the memory a flood of distinct tokens can take;
// past it the cache starts again empty.
const tokenCacheLimit = 10_000

func (c *tokenCache) get(hash [32]byte, now time.Time) (*identity.Token, *identity.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || !now.Before(e.until) || identity.CheckToken(&e.token, false, now) != nil {
		return nil, nil, false
	}
	t, u := e.token, e.user
	return &t, &u, true
}

// generation returns the value to give put for an answer about to be read.
func (c *tokenCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *tokenCache) put(gen uint64, hash [32]byte, t *identity.Token, u *identity.User, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return // a token was revoked while this answer was being read
	}
	if c.entries == nil || len(c.entries) >= tokenCacheLimit {
		c.entries = map[[32]byte]tokenEntry{}
	}
	c.entries[hash] = tokenEntry{token: *t, user: *u, until: until}
}

// clear forgets every entry: a token was revoked through this DB.
func (c *tokenCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	c.gen++
}
