package audit_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/countersign/countersign/audit"
	"golang.org/x/mod/sumdb/note"
)

func TestCheckpoint(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		log *testLog
		cp  *audit.Checkpoint
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		l := mustBuildLog(t, 13)
		return &testBundle{log: l, cp: l.mustCheckpoint(t, 13)}
	}

	t.Run("SignsTheDocumentedBody", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		want := testOrigin + "\n13\n" + base64.StdEncoding.EncodeToString(b.log.roots[13]) + "\n" +
			"chain " + base64.StdEncoding.EncodeToString(b.log.chains[13]) + "\n"
		body, _, ok := strings.Cut(string(b.cp.Note), "\n\n")
		if !ok || body+"\n" != want || string(b.cp.Body()) != want {
			t.Fatalf("note:\n%s\nwant body:\n%s", b.cp.Note, want)
		}
		if !strings.HasPrefix(strings.SplitN(string(b.cp.Note), "\n\n", 2)[1], "— "+testOrigin+" ") {
			t.Fatalf("signature line: %q", b.cp.Note)
		}
	})

	t.Run("OpensWhatItSigned", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		got, err := audit.OpenCheckpoint(b.cp.Note, testOrigin, b.log.keys[0])
		if err != nil {
			t.Fatal(err)
		}
		if got.Origin != testOrigin || got.Size != 13 || !bytes.Equal(got.Root, b.log.roots[13]) ||
			!bytes.Equal(got.Chain, b.log.chains[13]) || !bytes.Equal(got.Note, b.cp.Note) {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("SignsTheEmptyLog", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cp, err := audit.SignCheckpoint(b.log.signer, testOrigin, audit.NewHead())
		if err != nil {
			t.Fatal(err)
		}
		got, err := audit.OpenCheckpoint(cp.Note, testOrigin, b.log.keys[0])
		if err != nil {
			t.Fatal(err)
		}
		if got.Size != 0 || !bytes.Equal(got.Root, audit.Hasher.EmptyRoot()) || !bytes.Equal(got.Chain, audit.ZeroChain) {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("RefusesEveryByteEdit", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for i := range b.cp.Note {
			for _, mask := range []byte{0x01, 0x20} {
				edited := bytes.Clone(b.cp.Note)
				edited[i] ^= mask
				if _, err := audit.OpenCheckpoint(edited, testOrigin, b.log.keys[0]); err == nil {
					t.Fatalf("byte %d ^ %#x accepted:\n%s", i, mask, edited)
				}
			}
		}
	})

	t.Run("RefusesReadably", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other := mustBuildLog(t, 0)
		badSig := flipSignatureBit(t, b.cp.Note)
		for _, tc := range []struct {
			name   string
			note   []byte
			origin string
			want   error
		}{
			{"SizeChanged", bytes.Replace(b.cp.Note, []byte("\n13\n"), []byte("\n12\n"), 1), testOrigin, audit.ErrBadSignature},
			{"SignatureChanged", badSig, testOrigin, audit.ErrBadSignature},
			{"WrongOrigin", b.cp.Note, "elsewhere.test/audit", audit.ErrWrongOrigin},
			{"SignedByAnotherKey", other.mustCheckpoint(t, 0).Note, testOrigin, audit.ErrUnknownKey},
			{"SignatureBlockMissing", b.cp.Body(), testOrigin, audit.ErrMalformedCheckpoint},
			{"NotUTF8", append([]byte{0xff}, b.cp.Note...), testOrigin, audit.ErrMalformedCheckpoint},
			{"Empty", nil, testOrigin, audit.ErrMalformedCheckpoint},
			{"SignatureLineRepeated", append(bytes.Clone(b.cp.Note), b.cp.Note[bytes.LastIndex(b.cp.Note, []byte("\n\n"))+2:]...), testOrigin, audit.ErrMalformedCheckpoint},
			{"SignaturePaddingBitsSet", setPaddingBit(b.cp.Note), testOrigin, audit.ErrMalformedCheckpoint},
		} {
			_, err := audit.OpenCheckpoint(tc.note, tc.origin, b.log.keys[0])
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
			}
		}
	})

	t.Run("RefusesBodiesNotInCanonicalForm", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		root := base64.StdEncoding.EncodeToString(b.log.roots[13])
		chain := "chain " + base64.StdEncoding.EncodeToString(b.log.chains[13]) + "\n"
		for name, body := range map[string]string{
			"LeadingZeroInSize": testOrigin + "\n013\n" + root + "\n" + chain,
			"ChainLineMissing":  testOrigin + "\n13\n" + root + "\n",
			"ExtraLine":         testOrigin + "\n13\n" + root + "\n" + chain + "time 1\n",
			"ShortRoot":         testOrigin + "\n13\n" + base64.StdEncoding.EncodeToString([]byte("short")) + "\n" + chain,
			"ShortChain":        testOrigin + "\n13\n" + root + "\nchain AAAA\n",
			"EmptyOrigin":       "\n13\n" + root + "\n" + chain,
		} {
			if _, err := audit.ParseCheckpointBody([]byte(body)); !errors.Is(err, audit.ErrMalformedCheckpoint) {
				t.Errorf("%s: got %v", name, err)
			}
			// Even a valid signature over such a body is refused.
			signed, err := note.Sign(&note.Note{Text: body}, b.log.signer)
			if err == nil {
				if _, err := audit.OpenCheckpoint(signed, testOrigin, b.log.keys[0]); !errors.Is(err, audit.ErrMalformedCheckpoint) {
					t.Errorf("%s signed: got %v", name, err)
				}
			}
		}
	})

	t.Run("AcceptsOldAndNewKeyDuringRotation", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		newKey := mustBuildLog(t, 0)
		oldV, newV := b.log.keys[0], newKey.keys[0]
		both, err := audit.SignCheckpoint(b.log.signer, testOrigin, b.log.head, newKey.signer)
		if err != nil {
			t.Fatal(err)
		}
		onlyNew, err := audit.SignCheckpoint(newKey.signer, testOrigin, b.log.head)
		if err != nil {
			t.Fatal(err)
		}
		cosigned, err := audit.Cosign(b.cp.Note, newKey.signer)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(cosigned, both.Note) && strings.Count(string(cosigned), "— ") != 2 {
			t.Fatalf("cosigned note has not two signatures:\n%s", cosigned)
		}
		for _, tc := range []struct {
			name string
			note []byte
			keys []note.Verifier
			ok   bool
		}{
			{"BothSignaturesOldKey", both.Note, []note.Verifier{oldV}, true},
			{"BothSignaturesNewKey", both.Note, []note.Verifier{newV}, true},
			{"BothSignaturesBothKeys", both.Note, []note.Verifier{oldV, newV}, true},
			{"CosignedNewKey", cosigned, []note.Verifier{newV}, true},
			{"CosignedOldKey", cosigned, []note.Verifier{oldV}, true},
			{"NewOnlyBothKeys", onlyNew.Note, []note.Verifier{oldV, newV}, true},
			{"NewOnlyOldKey", onlyNew.Note, []note.Verifier{oldV}, false},
			{"OldOnlyNewKey", b.cp.Note, []note.Verifier{newV}, false},
		} {
			_, err := audit.OpenCheckpoint(tc.note, testOrigin, tc.keys[0], tc.keys[1:]...)
			if (err == nil) != tc.ok {
				t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
			}
		}
		// A bad signature by a known key spoils the note even if another verifies.
		if _, err := audit.OpenCheckpoint(flipSignatureBit(t, cosigned), testOrigin, oldV, newV); !errors.Is(err, audit.ErrBadSignature) {
			t.Fatalf("spoiled second signature: %v", err)
		}
	})
}

func TestLoadOrCreateSigner(t *testing.T) {
	t.Parallel()

	t.Run("CreatesAPrivateKeyFileOnceAndRereadsIt", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "keys", "audit.key")
		s1, v1, err := audit.LoadOrCreateSigner(path, testOrigin)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("key mode %v", fi.Mode())
		}
		di, _ := os.Stat(filepath.Dir(path))
		if di.Mode().Perm() != 0o700 {
			t.Fatalf("dir mode %v", di.Mode())
		}
		b, _ := os.ReadFile(path)
		if !strings.HasPrefix(string(b), "PRIVATE+KEY+"+testOrigin+"+") {
			t.Fatalf("key file %q", b)
		}
		s2, v2, err := audit.LoadOrCreateSigner(path, testOrigin)
		if err != nil {
			t.Fatal(err)
		}
		if v1 != v2 || s1.KeyHash() != s2.KeyHash() {
			t.Fatalf("second load gave another key: %s vs %s", v1, v2)
		}
		v, err := audit.ParseVerifierKeys(v1)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := audit.SignCheckpoint(s2, testOrigin, audit.NewHead())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := audit.OpenCheckpoint(cp.Note, testOrigin, v[0]); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ReplicasStartingTogetherShareOneKey", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "audit.key")
		var wg sync.WaitGroup
		vkeys := make([]string, 8)
		for i := range vkeys {
			wg.Go(func() {
				_, vk, err := audit.LoadOrCreateSigner(path, testOrigin)
				if err != nil {
					t.Error(err)
				}
				vkeys[i] = vk
			})
		}
		wg.Wait()
		for _, vk := range vkeys {
			if vk != vkeys[0] {
				t.Fatalf("replicas got different keys: %v", vkeys)
			}
		}
	})

	t.Run("RefusesAnOriginThatCannotNameAKey", func(t *testing.T) {
		t.Parallel()
		if _, _, err := audit.LoadOrCreateSigner(filepath.Join(t.TempDir(), "k"), "has space"); err == nil {
			t.Fatal("expected an error")
		}
	})

	t.Run("SignerFromKeyDerivesTheVerifierKey", func(t *testing.T) {
		t.Parallel()
		skey, vkey, err := note.GenerateKey(rand.Reader, testOrigin)
		if err != nil {
			t.Fatal(err)
		}
		_, got, err := audit.SignerFromKey(" " + skey + "\n")
		if err != nil || got != vkey {
			t.Fatalf("got %q, %v; want %q", got, err, vkey)
		}
		if _, _, err := audit.SignerFromKey(vkey); err == nil {
			t.Fatal("a verifier key was accepted as a signer key")
		}
	})
}

// flipSignatureBit flips one bit of the Ed25519 signature on the last
// signature line of a note, keeping the base64 well formed.
func flipSignatureBit(t *testing.T, signed []byte) []byte {
	t.Helper()
	lines := strings.Split(string(signed), "\n")
	last := lines[len(lines)-2]
	i := strings.LastIndex(last, " ") + 1
	raw, err := base64.StdEncoding.DecodeString(last[i:])
	if err != nil {
		t.Fatal(err)
	}
	raw[10] ^= 1 // inside the signature, after the 4-byte key hash
	lines[len(lines)-2] = last[:i] + base64.StdEncoding.EncodeToString(raw)
	return []byte(strings.Join(lines, "\n"))
}

// setPaddingBit sets an unused low bit of the last base64 digit of the
// signature: the decoded bytes stay the same, the note's bytes do not.
func setPaddingBit(signed []byte) []byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	out := bytes.Clone(signed)
	i := len(out) - 3 // before "=\n"
	v := strings.IndexByte(alphabet, out[i])
	out[i] = alphabet[v|1]
	if v|1 == v {
		out[i] = alphabet[v&^1]
	}
	return out
}
