// Package sealbox encrypts the text of a case at rest: each case has a
// random 256-bit data key of its own (a CaseKey), which seals every text
// of the case with AES-256-GCM, and the data keys are kept wrapped
// (encrypted, AES-256-GCM too) by a master key that lives in a file outside
// the database (a Keyring). Destroying a case's wrapped key makes its text
// unreadable; rotating the master key and retiring the old one makes the
// wrapped keys in older copies of the database (backups) unreadable too.
//
// It uses crypto/aes and crypto/cipher from the standard library: AES-GCM
// with random 96-bit nonces and additional data is all it needs, the
// standard library's implementation is constant-time on every platform Go
// supports and is the one Go's FIPS 140-3 module validates, and the key
// handling around it (a file of master keys, a table of wrapped keys) is
// the service's own either way.
package sealbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of master keys and case data keys: AES-256.
const KeySize = 32

// Prefix starts every sealed text: version 1 of the format, then the
// unpadded base64url of the 12-byte nonce and the AES-GCM ciphertext with
// its tag. A text without it is plaintext written before encryption at
// rest (an earlier release), which Open returns as it is.
const Prefix = "cs1:"

// ErrOpen is returned when a sealed text does not open under its case's
// key: it was altered, moved from another row or column, or sealed under
// another key.
var ErrOpen = errors.New("sealbox: the text does not open under its case's key")

// IsSealed reports whether s is a sealed text (rather than plaintext of an
// earlier release).
func IsSealed(s string) bool { return strings.HasPrefix(s, Prefix) }

// CaseKey seals and opens the texts of one case.
type CaseKey struct{ aead cipher.AEAD }

// NewDataKey returns a new random case data key.
func NewDataKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k)
	return k
}

// NewCaseKey returns the CaseKey of a data key.
func NewCaseKey(dek []byte) (*CaseKey, error) {
	a, err := newAEAD(dek)
	if err != nil {
		return nil, err
	}
	return &CaseKey{aead: a}, nil
}

func newAEAD(k []byte) (cipher.AEAD, error) {
	if len(k) != KeySize {
		return nil, fmt.Errorf("sealbox: want a %d-byte key, got %d bytes", KeySize, len(k))
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Where names the place of a text: its table, column and row id. It is the
// additional data of the seal, so a sealed text opens only in its place.
type Where struct{ Table, Column, Row string }

func (w Where) ad(label string) []byte {
	var b []byte
	for _, f := range []string{label, w.Table, w.Column, w.Row} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

const sealLabel = "countersign case text v1"

// Seal encrypts text for its place w. The empty text stays empty (that a
// party has no phone number is not hidden), so that SQL can still tell
// an empty column from a filled one. A nil key leaves text as it is: the
// store's way of writing plaintext while a database upgraded from 1.0 is
// not sealing yet.
func (k *CaseKey) Seal(w Where, text string) string {
	if text == "" || k == nil {
		return text
	}
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	out := k.aead.Seal(nonce, nonce, []byte(text), w.ad(sealLabel))
	return Prefix + base64.RawURLEncoding.EncodeToString(out)
}

// Open decrypts a text sealed for w; plaintext of an earlier release
// (no Prefix) is returned as it is. k may be nil for a case that has no
// key (yet): then only plaintext opens.
func (k *CaseKey) Open(w Where, s string) (string, error) {
	if !IsSealed(s) {
		return s, nil
	}
	if k == nil {
		return "", ErrOpen
	}
	b, err := base64.RawURLEncoding.DecodeString(s[len(Prefix):])
	n := k.aead.NonceSize()
	if err != nil || len(b) < n+k.aead.Overhead() {
		return "", ErrOpen
	}
	p, err := k.aead.Open(nil, b[:n], b[n:], w.ad(sealLabel))
	if err != nil {
		return "", ErrOpen
	}
	return string(p), nil
}

// ActionMasterKeyRotated is the audit event of a run of `countersign keys
// rotate`: its payload names the master key ids and counts keys, nothing
// else.
const ActionMasterKeyRotated = "case_keys.rotated"

// ActionExistingSealed is the audit event of a run of `countersign keys
// encrypt-existing`: the counts of case keys created and rows sealed.
const ActionExistingSealed = "case_keys.existing_sealed"
