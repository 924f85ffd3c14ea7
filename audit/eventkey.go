package audit

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// EventKey is the secret with which the service authenticates the events
// it writes, before they are sequenced: each pending event carries a MAC
// (HMAC-SHA256) under it, and the sequencer refuses an event whose MAC does
// not verify. Whoever can write to the database but does not hold the key
// (it lives in a file of its own, beside the signing key, never in the
// database) cannot forge an event the log will take.
type EventKey []byte

// EventKeySize is the length of an EventKey in bytes.
const EventKeySize = 32

// eventMACLabel separates the MAC's input from any other use of the key;
// append only, never change: a new layout takes a new label.
const eventMACLabel = "countersign/pending-event/v1"

// MAC returns the HMAC-SHA256 under k of a pending event's stored columns:
// its nonce, then fields in the order of the row (at, actor_id, role,
// action, subject_type, subject_id, case_id, payload), each preceded by its
// length as a 4-byte big-endian number, so that no two different rows
// encode alike.
func (k EventKey) MAC(nonce []byte, fields ...string) []byte {
	m := hmac.New(sha256.New, k)
	var n [4]byte
	write := func(b []byte) {
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		m.Write(n[:])
		m.Write(b)
	}
	write([]byte(eventMACLabel))
	write(nonce)
	for _, f := range fields {
		write([]byte(f))
	}
	return m.Sum(nil)
}

// Verify reports whether mac is the MAC of the row, in constant time.
func (k EventKey) Verify(mac, nonce []byte, fields ...string) bool {
	return len(k) > 0 && len(mac) == sha256.Size && hmac.Equal(mac, k.MAC(nonce, fields...))
}

// LoadOrCreateEventKey reads the event key from path, creating the file
// with a new random key (mode 0600, never overwriting a file that appeared
// meanwhile) when there is none. Every replica must read the same file.
func LoadOrCreateEventKey(path string) (EventKey, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := createEventKeyFile(path); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("audit event key %s: %w", path, err)
	}
	// Always read the key back, so a replica that lost the race to create
	// the file uses the winner's key.
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read audit event key: %w", err)
	}
	return ParseEventKey(string(b))
}

// eventKeyPrefix starts an event key file, so that it cannot be mistaken
// for the signing key or any other secret.
const eventKeyPrefix = "countersign-event-key-v1:"

// ParseEventKey reads an event key in the form of its file.
func ParseEventKey(s string) (EventKey, error) {
	h, ok := strings.CutPrefix(strings.TrimSpace(s), eventKeyPrefix)
	k, err := hex.DecodeString(h)
	if !ok || err != nil || len(k) != EventKeySize {
		return nil, fmt.Errorf("audit event key: want %q and %d hex-encoded bytes", eventKeyPrefix, EventKeySize)
	}
	return k, nil
}

// String returns the key in the form of its file.
func (k EventKey) String() string { return eventKeyPrefix + hex.EncodeToString(k) }

// NewEventKey returns a new random key.
func NewEventKey() EventKey {
	k := make(EventKey, EventKeySize)
	rand.Read(k)
	return k
}

func createEventKeyFile(path string) error {
	return installKeyFile(path, NewEventKey().String()+"\n", "audit event key")
}
