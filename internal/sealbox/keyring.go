package sealbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Keyring holds the master keys that wrap case data keys, each under a
// short id that the wrapped key's row names. The last key is the primary
// one: it wraps every new case key, and `countersign keys rotate` rewraps
// the others to it. Older keys stay until they are retired, so that keys
// wrapped by them still open meanwhile.
type Keyring struct {
	ids  []string // in the order of the file; the last is primary
	keys map[string]cipherKey
}

type cipherKey []byte

// keyringPrefix starts each line of a keyring file, so that the file
// cannot be mistaken for the signing key, the event key or another secret.
const keyringPrefix = "countersign-case-master-v1:"

// NewKeyring returns a keyring with one new random master key.
func NewKeyring() *Keyring {
	k := &Keyring{keys: map[string]cipherKey{}}
	k.Add()
	return k
}

// Add generates a new random master key, makes it the primary key and
// returns its id.
func (k *Keyring) Add() string {
	for {
		var id [4]byte
		rand.Read(id[:])
		s := hex.EncodeToString(id[:])
		if _, taken := k.keys[s]; !taken {
			k.ids, k.keys[s] = append(k.ids, s), NewDataKey()
			return s
		}
	}
}

// Remove retires the master key id. The primary key cannot be removed.
func (k *Keyring) Remove(id string) error {
	if _, ok := k.keys[id]; !ok {
		return fmt.Errorf("sealbox: no master key %q in the keyring", id)
	}
	if id == k.Primary() {
		return fmt.Errorf("sealbox: master key %s is the primary key; rotate to a new key before retiring it", id)
	}
	delete(k.keys, id)
	k.ids = slices.DeleteFunc(k.ids, func(s string) bool { return s == id })
	return nil
}

// Primary returns the id of the key that wraps new case keys.
func (k *Keyring) Primary() string { return k.ids[len(k.ids)-1] }

// IDs returns the ids of the keys, the primary last.
func (k *Keyring) IDs() []string { return slices.Clone(k.ids) }

// Has reports whether the keyring holds the master key id.
func (k *Keyring) Has(id string) bool { _, ok := k.keys[id]; return ok }

const wrapLabel = "countersign case key v1"

// Wrap encrypts a case's data key under the primary master key, bound to
// the case's id and the key's own id; it returns the master key's id and
// the wrapped key (nonce, then ciphertext and tag).
func (k *Keyring) Wrap(caseID, keyID string, dek []byte) (string, []byte, error) {
	id := k.Primary()
	a, err := newAEAD(k.keys[id])
	if err != nil {
		return "", nil, err
	}
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce)
	return id, a.Seal(nonce, nonce, dek, Where{"case_keys", id, caseID + "/" + keyID}.ad(wrapLabel)), nil
}

// ErrUnknownMaster is returned by Unwrap when the keyring does not hold
// the master key that wrapped a case key (it was retired, or this process
// reads an older keyring file).
var ErrUnknownMaster = errors.New("sealbox: the master key that wrapped this case key is not in the keyring")

// Unwrap decrypts a case data key wrapped by the master key masterID.
func (k *Keyring) Unwrap(masterID, caseID, keyID string, wrapped []byte) ([]byte, error) {
	m, ok := k.keys[masterID]
	if !ok {
		return nil, fmt.Errorf("%w (master key %s)", ErrUnknownMaster, masterID)
	}
	a, err := newAEAD(m)
	if err != nil {
		return nil, err
	}
	n := a.NonceSize()
	if len(wrapped) < n+a.Overhead() {
		return nil, ErrOpen
	}
	dek, err := a.Open(nil, wrapped[:n], wrapped[n:], Where{"case_keys", masterID, caseID + "/" + keyID}.ad(wrapLabel))
	if err != nil {
		return nil, ErrOpen
	}
	return dek, nil
}

// String returns the keyring in the form of its file: one key a line, the
// primary last.
func (k *Keyring) String() string {
	var b strings.Builder
	for _, id := range k.ids {
		fmt.Fprintf(&b, "%s%s:%s\n", keyringPrefix, id, hex.EncodeToString(k.keys[id]))
	}
	return b.String()
}

// ParseKeyring reads a keyring in the form of its file.
func ParseKeyring(s string) (*Keyring, error) {
	k := &Keyring{keys: map[string]cipherKey{}}
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rest, ok := strings.CutPrefix(line, keyringPrefix)
		id, h, ok2 := strings.Cut(rest, ":")
		key, err := hex.DecodeString(h)
		if !ok || !ok2 || id == "" || err != nil || len(key) != KeySize {
			return nil, fmt.Errorf("case master keyring: want lines %q, an id, a colon and %d hex-encoded bytes", keyringPrefix, KeySize)
		}
		if _, dup := k.keys[id]; dup {
			return nil, fmt.Errorf("case master keyring: key id %s appears twice", id)
		}
		k.ids, k.keys[id] = append(k.ids, id), key
	}
	if len(k.ids) == 0 {
		return nil, errors.New("case master keyring: the file holds no key")
	}
	return k, nil
}

// LoadKeyring reads the keyring file at path.
func LoadKeyring(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read case master keyring: %w", err)
	}
	return ParseKeyring(string(b))
}

// LoadOrCreateKeyring reads the keyring file at path, creating it with one
// new random master key (mode 0600, never overwriting a file that appeared
// meanwhile) when there is none. Every replica must read the same file.
func LoadOrCreateKeyring(path string) (*Keyring, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("case master keyring: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		switch {
		case errors.Is(err, fs.ErrExist): // another replica made it: read theirs
		case err != nil:
			return nil, fmt.Errorf("create case master keyring: %w", err)
		default:
			_, werr := f.WriteString(NewKeyring().String())
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				os.Remove(path)
				return nil, fmt.Errorf("write case master keyring: %w", werr)
			}
		}
	} else if err != nil {
		return nil, fmt.Errorf("case master keyring %s: %w", path, err)
	}
	return LoadKeyring(path)
}

// Save writes the keyring to path atomically (a new file renamed over the
// old one, mode 0600).
func (k *Keyring) Save(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".countersign-case-keyring-*")
	if err != nil {
		return fmt.Errorf("save case master keyring: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(k.String()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
