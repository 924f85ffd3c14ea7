package audit_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/countersign/countersign/audit"
)

func TestEventKey(t *testing.T) {
	t.Parallel()
	t.Run("CreatedOnceWithMode0600AndReadBackBySeveralReplicas", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "keys", "event.key")
		keys := make([]audit.EventKey, 8)
		var wg sync.WaitGroup
		for i := range keys {
			wg.Go(func() {
				k, err := audit.LoadOrCreateEventKey(path)
				if err != nil {
					t.Error(err)
				}
				keys[i] = k
			})
		}
		wg.Wait()
		for _, k := range keys[1:] {
			if !bytes.Equal(k, keys[0]) || len(k) != audit.EventKeySize {
				t.Fatalf("replicas read different keys: %x and %x", keys[0], k)
			}
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file %v %v, want mode 0600", fi, err)
		}
	})
	t.Run("RefusesAFileThatIsNotAnEventKey", func(t *testing.T) {
		t.Parallel()
		for _, s := range []string{"", "countersign-event-key-v1:abcd", "PRIVATE+KEY+test+abc", audit.NewEventKey().String()[1:]} {
			if _, err := audit.ParseEventKey(s); err == nil {
				t.Errorf("ParseEventKey(%q) accepted", s)
			}
		}
		k := audit.NewEventKey()
		if back, err := audit.ParseEventKey(k.String() + "\n"); err != nil || !bytes.Equal(back, k) {
			t.Fatalf("round trip: %x %v", back, err)
		}
	})
	t.Run("TheMACCoversEveryFieldAndItsBoundaries", func(t *testing.T) {
		t.Parallel()
		k := audit.NewEventKey()
		nonce := []byte("0123456789abcdef")
		fields := []string{"2026-12-01T09:00:00.000000000Z", "usr_1", "worker", "note.added", "note", "note_1", "case_1", `{"a":1}`}
		mac := k.MAC(nonce, fields...)
		if !k.Verify(mac, nonce, fields...) {
			t.Fatal("a MAC does not verify")
		}
		for i := range fields {
			changed := append([]string(nil), fields...)
			changed[i] += "x"
			if k.Verify(mac, nonce, changed...) {
				t.Errorf("field %d changed, MAC still verifies", i)
			}
		}
		// Moving a byte across a boundary changes the MAC too.
		moved := append([]string(nil), fields...)
		moved[1], moved[2] = "usr_1w", "orker"
		if k.Verify(mac, nonce, moved...) {
			t.Error("a byte moved between fields, MAC still verifies")
		}
		if k.Verify(mac, []byte("another nonce..."), fields...) || audit.NewEventKey().Verify(mac, nonce, fields...) {
			t.Error("another nonce or key verifies")
		}
		if audit.EventKey(nil).Verify(mac, nonce, fields...) || k.Verify(nil, nonce, fields...) {
			t.Error("no key or no MAC verifies")
		}
	})
}
