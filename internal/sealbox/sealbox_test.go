package sealbox_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/countersign/countersign/internal/sealbox"
)

func TestSealOpensOnlyInItsPlace(t *testing.T) {
	t.Parallel()
	k, err := sealbox.NewCaseKey(sealbox.NewDataKey())
	if err != nil {
		t.Fatal(err)
	}
	at := sealbox.Where{Table: "notes", Column: "body", Row: "note_1"}
	s := k.Seal(at, "She has rent arrears.")
	if !sealbox.IsSealed(s) || strings.Contains(s, "rent") {
		t.Fatalf("sealed as %q", s)
	}
	if s2 := k.Seal(at, "She has rent arrears."); s2 == s {
		t.Fatal("two seals of one text are equal: the nonce is not random")
	}
	if got, err := k.Open(at, s); err != nil || got != "She has rent arrears." {
		t.Fatalf("open: %q, %v", got, err)
	}
	other, _ := sealbox.NewCaseKey(sealbox.NewDataKey())
	for name, try := range map[string]func() (string, error){
		"another row": func() (string, error) { return k.Open(sealbox.Where{Table: "notes", Column: "body", Row: "note_2"}, s) },
		"another column": func() (string, error) {
			return k.Open(sealbox.Where{Table: "notes", Column: "title", Row: "note_1"}, s)
		},
		"another key": func() (string, error) { return other.Open(at, s) },
		"altered":     func() (string, error) { return k.Open(at, s[:len(s)-2]+"AA") },
		"no key":      func() (string, error) { return (*sealbox.CaseKey)(nil).Open(at, s) },
	} {
		if _, err := try(); !errors.Is(err, sealbox.ErrOpen) {
			t.Errorf("%s: %v, want ErrOpen", name, err)
		}
	}
	// Plaintext of an earlier release opens as it is; "" stays "".
	if got, err := k.Open(at, "written in 1.0"); err != nil || got != "written in 1.0" {
		t.Fatalf("plaintext: %q, %v", got, err)
	}
	if k.Seal(at, "") != "" {
		t.Fatal("the empty text was sealed")
	}
}

func TestKeyringWrapRotateRetire(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "case.keyring")
	ring, err := sealbox.LoadOrCreateKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keyring file: %v, %v", fi, err)
	}
	again, err := sealbox.LoadOrCreateKeyring(path)
	if err != nil || again.Primary() != ring.Primary() {
		t.Fatalf("read back: %v, %v", again, err)
	}
	dek := sealbox.NewDataKey()
	m1, w1, err := ring.Wrap("case_1", "ck_1", dek)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ring.Unwrap(m1, "case_2", "ck_1", w1); !errors.Is(err, sealbox.ErrOpen) {
		t.Fatalf("a key wrapped for case_1 unwrapped for case_2: %v", err)
	}
	m2 := ring.Add()
	if ring.Primary() != m2 || ring.Remove(m2) == nil {
		t.Fatal("the new key is not the primary one, or the primary could be retired")
	}
	if err := ring.Save(path); err != nil {
		t.Fatal(err)
	}
	saved, err := sealbox.LoadKeyring(path)
	if err != nil || saved.Primary() != m2 || !saved.Has(m1) {
		t.Fatalf("saved keyring: %v %v", saved.IDs(), err)
	}
	if got, err := saved.Unwrap(m1, "case_1", "ck_1", w1); err != nil || string(got) != string(dek) {
		t.Fatalf("unwrap under the old key: %v", err)
	}
	if err := saved.Remove(m1); err != nil {
		t.Fatal(err)
	}
	if _, err := saved.Unwrap(m1, "case_1", "ck_1", w1); !errors.Is(err, sealbox.ErrUnknownMaster) {
		t.Fatalf("unwrap after retiring: %v, want ErrUnknownMaster", err)
	}
	for _, bad := range []string{"", "countersign-case-master-v1:ab:00\n", "countersign-event-key-v1:" + strings.Repeat("00", 32)} {
		if _, err := sealbox.ParseKeyring(bad); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

// BenchmarkSeal measures sealing and opening a note of 600 bytes with its
// case's key: the cryptography's own share of a write and of a read.
//
//	go test -run '^$' -bench Seal ./internal/sealbox/
func BenchmarkSeal(b *testing.B) {
	k, err := sealbox.NewCaseKey(sealbox.NewDataKey())
	if err != nil {
		b.Fatal(err)
	}
	at := sealbox.Where{Table: "notes", Column: "body", Row: "note_0123456789abcdef01234567"}
	text := strings.Repeat("Home visit; rent arrears. ", 24)
	sealed := k.Seal(at, text)
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for range b.N {
			k.Seal(at, text)
		}
	})
	b.Run("open", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for range b.N {
			if _, err := k.Open(at, sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unwrap", func(b *testing.B) {
		ring := sealbox.NewKeyring()
		m, w, _ := ring.Wrap("case_1", "ck_1", sealbox.NewDataKey())
		for range b.N {
			dek, err := ring.Unwrap(m, "case_1", "ck_1", w)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := sealbox.NewCaseKey(dek); err != nil {
				b.Fatal(err)
			}
		}
	})
}
