package audit

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/countersign/countersign"
)

// Record is an event a domain decision asks the store to append, in the
// same transaction as the change it describes. The store adds the time and
// the log assigns the sequence; the decision names everything else, so the
// rule that decides a change also decides what the log says about it.
type Record struct {
	Actor       countersign.Actor
	Action      string
	SubjectType string
	SubjectID   string
	CaseID      string
	Payload     Payload
}

// Digest is the commitment to a text that an event carries instead of the
// text itself: the hex SHA-256 of its bytes. Every payload's *_sha256 field
// is made here, so changing how the log commits to content is one change.
func Digest(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}
