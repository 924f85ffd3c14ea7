package assistant

import (
	"crypto/rand"
	"encoding/hex"
)

// Entry id prefixes. Every statement and item gets a random id with one of
// them, so that nothing in an id tells one entry from another: not its
// place, not the order it was written in, not whether the service added it
// (a vigilance check, package review).
const (
	statementIDPrefix = "st_"
	itemIDPrefix      = "it_"
)

// NewStatementID returns a random statement id that c does not use yet.
func NewStatementID(c *Content) string { return freshID(statementIDPrefix, c) }

func freshID(prefix string, c *Content) string {
	for {
		var b [6]byte // 48 bits: unique within a draft, short enough to read
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		id := prefix + hex.EncodeToString(b[:])
		if c == nil || !c.usesID(id) {
			return id
		}
	}
}

func (c *Content) usesID(id string) bool {
	for _, s := range c.Statements {
		if s.ID == id {
			return true
		}
	}
	for _, it := range c.Items {
		if it.ID == id {
			return true
		}
	}
	return false
}

// assignIDs replaces the ids the model gave with random ones. Ids name
// nothing else in a draft (citations name notes), so the model's own are
// simply dropped.
func assignIDs(c *Content) {
	fresh := &Content{}
	for i := range c.Statements {
		c.Statements[i].ID = freshID(statementIDPrefix, fresh)
		fresh.Statements = append(fresh.Statements, Statement{ID: c.Statements[i].ID})
	}
	for i := range c.Items {
		c.Items[i].ID = freshID(itemIDPrefix, fresh)
		fresh.Items = append(fresh.Items, Item{ID: c.Items[i].ID})
	}
}
