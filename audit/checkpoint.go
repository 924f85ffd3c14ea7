package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
)

// chainPrefix starts the one otherdata line of a checkpoint body.
const chainPrefix = "chain "

// Checkpoint is a signed statement by the log that its first Size events have
// the Merkle root Root and the hash chain head Chain. Note is the signed note
// exactly as it was signed, so it can be stored, served and re-verified
// byte for byte.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
	Chain  []byte
	Note   []byte
}

// Body returns the checkpoint body that is signed: the transparency-dev
// checkpoint lines (origin, size, base64 root) and one otherdata line
// "chain <base64 chain hash>". It holds no timestamp, so every signature ever
// made over the same tree size covers identical bytes and cosignatures (from
// a second log key or the ethics board) can be merged into one note.
func (c *Checkpoint) Body() []byte {
	b := log.Checkpoint{Origin: c.Origin, Size: c.Size, Hash: c.Root}.Marshal()
	return fmt.Appendf(b, "%s%s\n", chainPrefix, base64.StdEncoding.EncodeToString(c.Chain))
}

// LoadOrCreateSigner returns the log's signer and its public verifier key,
// read from the file at path. On first use it generates an Ed25519 key named
// origin with note.GenerateKey and writes the "PRIVATE+KEY+…" string to path
// with mode 0600 (creating the directory with mode 0700). The key lives
// outside the database on purpose: whoever can write the database must not
// also be able to sign a rewritten history.
func LoadOrCreateSigner(path, origin string) (note.Signer, string, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := createKeyFile(path, origin); err != nil {
			return nil, "", err
		}
	} else if err != nil {
		return nil, "", fmt.Errorf("audit signing key %s: %w", path, err)
	}
	// Always read the key back from the file, so a second replica that lost
	// the race to create it uses the same key as the winner.
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("read audit signing key: %w", err)
	}
	s, vkey, err := SignerFromKey(string(b))
	if err != nil {
		return nil, "", fmt.Errorf("audit signing key %s: %w", path, err)
	}
	return s, vkey, nil
}

// createKeyFile writes a new key to path without ever overwriting an
// existing one: the key is written to a temporary file which is then
// hard-linked into place, and the link fails if path appeared meanwhile.
func createKeyFile(path, origin string) error {
	if !validKeyName(origin) {
		return fmt.Errorf("audit origin %q cannot name a key: it must be non-empty, without spaces or '+'", origin)
	}
	skey, _, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return fmt.Errorf("generate audit signing key: %w", err)
	}
	return installKeyFile(path, skey+"\n", "audit signing key")
}

// installKeyFile writes content to a new file at path, mode 0600 whatever
// the umask, without ever overwriting an existing one: it is written and
// synced to a temporary file beside path, which is then hard-linked into
// place; the link fails if path appeared meanwhile, and that key is kept.
// what names the key in errors.
func installKeyFile(path, content, what string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s directory: %w", what, err)
	}
	f, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", what, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	// CreateTemp already uses 0600; Chmod makes it explicit whatever the umask.
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.WriteString(content)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("install %s: %w", what, err)
	}
	return nil
}

// SignerFromKey parses a "PRIVATE+KEY+<name>+<hash>+<base64>" signer key, as
// written by LoadOrCreateSigner or passed in an environment variable, and
// returns the signer and its public verifier key.
func SignerFromKey(skey string) (note.Signer, string, error) {
	skey = strings.TrimSpace(skey)
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, "", fmt.Errorf("parse audit signing key: %w", err)
	}
	// note has no API from signer key to verifier key; the fifth field is
	// base64(0x01 || Ed25519 seed), which NewSigner has just validated.
	// (base64 may itself contain '+', hence SplitN.)
	f := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(f[len(f)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, "", fmt.Errorf("parse audit signing key: not an Ed25519 key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return nil, "", fmt.Errorf("derive audit verifier key: %w", err)
	}
	return s, vkey, nil
}

// ParseVerifierKeys parses verifier keys ("<name>+<hash>+<base64>"), for
// example the current and the previous log key during a key rotation.
func ParseVerifierKeys(vkeys ...string) ([]note.Verifier, error) {
	vs := make([]note.Verifier, 0, len(vkeys))
	for _, k := range vkeys {
		v, err := note.NewVerifier(strings.TrimSpace(k))
		if err != nil {
			return nil, fmt.Errorf("parse audit verifier key %q: %w", k, err)
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// SignCheckpoint signs a checkpoint for the tree h describes. During a key
// rotation pass the old and the new signer, so that boards holding either
// verifier key accept the note.
func SignCheckpoint(s note.Signer, origin string, h *Head, more ...note.Signer) (*Checkpoint, error) {
	if err := validOrigin(origin); err != nil {
		return nil, err
	}
	root, err := h.Root()
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint at size %d: %w", h.Size, err)
	}
	if len(h.Chain) != sha256.Size {
		return nil, fmt.Errorf("sign checkpoint at size %d: chain hash has %d bytes, want %d", h.Size, len(h.Chain), sha256.Size)
	}
	cp := &Checkpoint{Origin: origin, Size: h.Size, Root: root, Chain: append([]byte(nil), h.Chain...)}
	signers := append([]note.Signer{s}, more...)
	cp.Note, err = note.Sign(&note.Note{Text: string(cp.Body())}, signers...)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint at size %d: %w", h.Size, err)
	}
	return cp, nil
}

// Cosign adds signatures by signers to an already signed checkpoint and
// returns the merged note; existing signatures, including ones by keys the
// caller does not know, are kept. An ethics board can use it to countersign
// a checkpoint it has verified, and an operator to add the new key's
// signature during a rotation.
func Cosign(signed []byte, signers ...note.Signer) ([]byte, error) {
	n, err := note.Open(signed, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		// With no known verifiers Open can only succeed vacuously or fail
		// as unverified; anything else means the note is malformed.
		return nil, fmt.Errorf("cosign checkpoint: %w", ErrMalformedCheckpoint)
	}
	n = unverified.Note
	out, err := note.Sign(n, signers...)
	if err != nil {
		return nil, fmt.Errorf("cosign checkpoint: %w", err)
	}
	return out, nil
}

// Checkpoint errors, to be matched with errors.Is. Each describes, in a
// sentence, why a checkpoint was refused.
var (
	ErrMalformedCheckpoint = errors.New("the checkpoint is not a well-formed signed note")
	ErrBadSignature        = errors.New("a signature on the checkpoint does not verify: the checkpoint was altered or forged")
	ErrUnknownKey          = errors.New("the checkpoint is not signed by any of the given verifier keys")
	ErrWrongOrigin         = errors.New("the checkpoint belongs to a different log")
)

// OpenCheckpoint verifies a signed checkpoint and parses it. It succeeds when
// at least one of the given keys has signed it and no given key's signature
// is invalid; signatures by other keys (cosigners, retired keys) are ignored.
// Passing several keys is how a verifier accepts both sides of a key
// rotation. Errors wrap ErrMalformedCheckpoint, ErrBadSignature,
// ErrUnknownKey or ErrWrongOrigin.
func OpenCheckpoint(signed []byte, origin string, v note.Verifier, more ...note.Verifier) (*Checkpoint, error) {
	vs := append([]note.Verifier{v}, more...)
	for i, k := range vs {
		if k == nil {
			return nil, fmt.Errorf("open checkpoint: verifier key %d is missing", i)
		}
	}
	n, err := note.Open(signed, note.VerifierList(vs...))
	if err != nil {
		var bad *note.InvalidSignatureError
		var unverified *note.UnverifiedNoteError
		switch {
		case errors.As(err, &bad):
			return nil, fmt.Errorf("%w (key %s+%08x)", ErrBadSignature, bad.Name, bad.Hash)
		case errors.As(err, &unverified):
			return nil, ErrUnknownKey
		default:
			return nil, fmt.Errorf("%w: %w", ErrMalformedCheckpoint, err)
		}
	}
	if err := strictSignatures(signed); err != nil {
		return nil, err
	}
	cp, err := ParseCheckpointBody([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	if cp.Origin != origin {
		return nil, fmt.Errorf("%w: it names %q, expected %q", ErrWrongOrigin, cp.Origin, origin)
	}
	cp.Note = append([]byte(nil), signed...)
	return cp, nil
}

// ParseCheckpointBody parses a checkpoint body without checking any
// signature. The body must be exactly what Body would produce for the
// values it holds (no leading zeros, canonical base64, 32-byte hashes, the
// one chain line), so that one tree state has one encoding.
func ParseCheckpointBody(body []byte) (*Checkpoint, error) {
	var lc log.Checkpoint
	rest, err := lc.Unmarshal(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedCheckpoint, err)
	}
	if len(lc.Hash) != sha256.Size {
		return nil, fmt.Errorf("%w: root hash has %d bytes, want %d", ErrMalformedCheckpoint, len(lc.Hash), sha256.Size)
	}
	line, ok := bytes.CutPrefix(rest, []byte(chainPrefix))
	if !ok || len(line) == 0 || line[len(line)-1] != '\n' {
		return nil, fmt.Errorf("%w: the chain line is missing", ErrMalformedCheckpoint)
	}
	chain, err := base64.StdEncoding.DecodeString(string(line[:len(line)-1]))
	if err != nil || len(chain) != sha256.Size {
		return nil, fmt.Errorf("%w: the chain line does not hold a 32-byte base64 hash", ErrMalformedCheckpoint)
	}
	cp := &Checkpoint{Origin: lc.Origin, Size: lc.Size, Root: lc.Hash, Chain: chain}
	if !bytes.Equal(cp.Body(), body) {
		return nil, fmt.Errorf("%w: the body is not in canonical form", ErrMalformedCheckpoint)
	}
	return cp, nil
}

// strictSignatures refuses the edits note.Open tolerates: base64 with
// non-zero padding bits (which decodes to the same signature) and repeated
// signature lines (which Open drops). Without it a signed checkpoint could
// change bytes and still verify; with it, every byte of the note counts.
func strictSignatures(signed []byte) error {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	seen := map[string]bool{}
	for _, line := range strings.SplitAfter(string(signed[i+2:]), "\n") {
		if line == "" {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if _, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSuffix(line[sp+1:], "\n")); err != nil {
			return fmt.Errorf("%w: a signature is not in canonical base64", ErrMalformedCheckpoint)
		}
		if seen[line] {
			return fmt.Errorf("%w: a signature line is repeated", ErrMalformedCheckpoint)
		}
		seen[line] = true
	}
	return nil
}

// validOrigin checks that origin can be the first line of a checkpoint.
func validOrigin(origin string) error {
	if origin == "" || strings.ContainsAny(origin, "\n") {
		return fmt.Errorf("audit origin %q must be one non-empty line", origin)
	}
	for _, r := range origin {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("audit origin %q must not hold control characters", origin)
		}
	}
	return nil
}

// validKeyName mirrors note's rule for key names: non-empty, no spaces, no '+'.
func validKeyName(name string) bool {
	return validOrigin(name) == nil && !strings.Contains(name, "+") && strings.IndexFunc(name, unicode.IsSpace) < 0
}
