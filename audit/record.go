package audit

import (
	"crypto/hmac"
	"crypto/rand"
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

// SaltSize is the size in bytes of the random salt each row of case
// content gets for its commitments (AUDIT.md, section 13).
const SaltSize = 32

// NewSalt returns a fresh salt for a row of case content: SaltSize bytes
// from crypto/rand, as lower-case hex. The row keeps it beside its text;
// erasing the two together leaves the log's commitment unlinkable to
// anything.
func NewSalt() string {
	b := make([]byte, SaltSize)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// Commit is the commitment to a text that an event carries instead of the
// text itself: hex HMAC-SHA256 keyed with the row's salt (its SaltSize
// bytes, decoded from hex) over the text's UTF-8 bytes. Without the salt a
// commitment says nothing about a guessed text. Every payload's
// *_commitment field is made here, so changing how the log commits to
// content is one change. Commit returns "" for a salt that is not
// SaltSize bytes of hex, which matches no commitment.
func Commit(salt, text string) string {
	key, err := hex.DecodeString(salt)
	if err != nil || len(key) != SaltSize {
		return ""
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(text))
	return hex.EncodeToString(m.Sum(nil))
}

// Digest is the plain hex SHA-256 of a text. Events written before keyed
// commitments carry it in their *_sha256 fields, for case content too (a
// guess of such a text can be confirmed, which Commit prevents); today it
// is used only for texts the service itself writes (failure reasons) and
// to check those old events.
func Digest(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// Commit puts the commitment to text, under salt, in p as
// field+"_commitment".
func (p Payload) Commit(field, salt, text string) {
	p[field+"_commitment"] = Commit(salt, text)
}

// Opening is what a payload says about a stored text.
type Opening int

const (
	// NotCommitted: the payload holds no commitment to the field.
	NotCommitted Opening = iota
	// Opens: the stored text (with its salt) is the one committed.
	Opens
	// DoesNotOpen: the payload commits to another text, or the salt was changed.
	DoesNotOpen
)

// Open checks the stored text of field, with the salt stored beside it,
// against the commitment in p: field+"_commitment" (keyed, Commit), or in
// events written before keyed commitments field+"_sha256" (Digest), which
// only a row without a salt can open.
func (p Payload) Open(field, salt, text string) Opening {
	if c, ok := p[field+"_commitment"]; ok {
		if want := Commit(salt, text); want != "" && hmac.Equal([]byte(want), []byte(c)) {
			return Opens
		}
		return DoesNotOpen
	}
	if d, ok := p[field+"_sha256"]; ok {
		if salt == "" && hmac.Equal([]byte(Digest(text)), []byte(d)) {
			return Opens
		}
		return DoesNotOpen
	}
	return NotCommitted
}

// Escape returns s escaped as values are in the canonical encoding: '%'
// and every byte outside printable ASCII as %XX (upper-case hex).
func Escape(s string) string { return string(appendEscaped(nil, s)) }
