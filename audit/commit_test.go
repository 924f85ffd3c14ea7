package audit_test

import (
	"regexp"
	"testing"

	"github.com/countersign/countersign/audit"
)

// The worked example of AUDIT.md, section 13, reproduced with Python's
// hmac and hashlib alone.
func TestCommitVectors(t *testing.T) {
	t.Parallel()
	salt := "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	for text, want := range map[string]string{
		"duplicate":            "53394743cfcea929910724acfe5a69567a7767b865a82d9913c241ab44b429eb",
		"Visite à domicile.\n": "0023167b361832d49f1d4848e8f236c4b6610f5484f816c659217f3c1056c6b2",
	} {
		if got := audit.Commit(salt, text); got != want {
			t.Errorf("Commit(%q) = %s, want %s", text, got, want)
		}
	}
	// The plain digest of the same guess, as events before keyed
	// commitments carry it: anyone can compute it; the commitment no one
	// can without the salt.
	if got := audit.Digest("duplicate"); got != "e24a5a32c9b8c8637ee33cd72bff6a05a140a48891a1c1a3b06447e1900b6446" {
		t.Errorf("Digest = %s", got)
	}
}

func TestCommitNeedsAWholeSalt(t *testing.T) {
	t.Parallel()
	for _, salt := range []string{"", "00", "zz" + audit.NewSalt()[2:], audit.NewSalt() + "00", audit.NewSalt()[:62]} {
		if c := audit.Commit(salt, "x"); c != "" {
			t.Errorf("Commit with salt %q = %s, want none", salt, c)
		}
	}
	s1, s2 := audit.NewSalt(), audit.NewSalt()
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(s1) || s1 == s2 {
		t.Fatalf("salts %s, %s", s1, s2)
	}
	if audit.Commit(s1, "duplicate") == audit.Commit(s2, "duplicate") {
		t.Fatal("the same text under two salts commits alike: a guess could be confirmed across rows")
	}
}

func TestPayloadOpen(t *testing.T) {
	t.Parallel()
	salt := audit.NewSalt()
	keyed := audit.Payload{}
	keyed.Commit("body", salt, "Visit.")
	legacy := audit.Payload{"body_sha256": audit.Digest("Visit.")}
	for _, c := range []struct {
		name       string
		p          audit.Payload
		salt, text string
		want       audit.Opening
	}{
		{"keyed, as stored", keyed, salt, "Visit.", audit.Opens},
		{"keyed, text changed", keyed, salt, "Visit!", audit.DoesNotOpen},
		{"keyed, salt changed", keyed, audit.NewSalt(), "Visit.", audit.DoesNotOpen},
		{"keyed, salt erased", keyed, "", "Visit.", audit.DoesNotOpen},
		{"legacy row, no salt", legacy, "", "Visit.", audit.Opens},
		{"legacy, text changed", legacy, "", "Visit!", audit.DoesNotOpen},
		{"legacy event, a salt added", legacy, salt, "Visit.", audit.DoesNotOpen},
		{"no commitment", audit.Payload{"amends": "note_1"}, salt, "Visit.", audit.NotCommitted},
	} {
		if got := c.p.Open("body", c.salt, c.text); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
