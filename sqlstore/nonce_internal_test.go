package sqlstore

import (
	"bytes"
	"testing"
	"time"
)

// TestNonceOrder: nonces sort by their events' times, so the log's unique
// index on them grows at its right edge; two of one instant still differ.
func TestNonceOrder(t *testing.T) {
	at := time.Date(2026, 12, 1, 19, 0, 0, 0, time.UTC)
	prev := newNonce(at)
	for i := 1; i <= 1000; i++ {
		n := newNonce(at.Add(time.Duration(i) * time.Microsecond))
		if len(n) != nonceSize {
			t.Fatalf("nonce of %d bytes, want %d", len(n), nonceSize)
		}
		if bytes.Compare(prev, n) >= 0 {
			t.Fatalf("nonce %x of a later event sorts before %x", n, prev)
		}
		prev = n
	}
	if a, b := newNonce(at), newNonce(at); bytes.Equal(a, b) {
		t.Fatalf("two nonces of one instant are equal: %x", a)
	}
}
