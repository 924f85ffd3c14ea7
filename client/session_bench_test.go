package client_test

import (
	"testing"

	"github.com/countersign/countersign/client"
)

// BenchmarkCheckPassphrase is the cost of one sign-in with a passphrase
// (and of one failed guess): an argon2id check at the service's parameters.
func BenchmarkCheckPassphrase(b *testing.B) {
	h := client.HashPassphrase("blue kettle on the stairs")
	b.ReportAllocs()
	for b.Loop() {
		if !client.CheckPassphrase(h, "blue kettle on the stairs") {
			b.Fatal("the passphrase does not check")
		}
	}
}
