package countersign

import (
	"crypto/rand"
	"encoding/hex"
)

// ID prefixes make identifiers self-describing in logs and the audit trail.
const (
	PrefixTeam     = "team"
	PrefixUser     = "usr"
	PrefixToken    = "tok"
	PrefixCase     = "case"
	PrefixParty    = "pty"
	PrefixNote     = "note"
	PrefixDraft    = "drf"
	PrefixDecision = "dec"
	PrefixEntry    = "rec"
	PrefixConsent  = "cns"
)

// NewID returns a random identifier such as "case_3f9a…" (96 random bits).
func NewID(prefix string) string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return prefix + "_" + hex.EncodeToString(b[:])
}
