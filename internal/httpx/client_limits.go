package httpx

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"
)

// SignInKey is the limit's key of what a sign-in names: an invitation code
// ("code") or an account ("login"), each in its normal form
// (client.NormalizeCode, client.ParseLogin), so that spelling it otherwise
// does not make a new key. It is a digest: the limiter's memory never holds
// a code.
func SignInKey(kind, value string) string {
	h := sha256.Sum256([]byte(value))
	return "signin-" + kind + ":" + hex.EncodeToString(h[:12])
}

// SignInKeyBlocked is SignInBlocked for key (SignInKey) instead of the
// client address: the failed sign-ins with one code, or on one account,
// from any address.
func (l *Limits) SignInKeyBlocked(w http.ResponseWriter, key string) error {
	if l == nil || !l.SignIns.on() {
		return nil
	}
	if blocked, wait := l.SignIns.blocked(key, time.Now()); blocked {
		return refuse(w, wait, "Too many failed sign-ins. Please wait a moment and try again.")
	}
	return nil
}

// SignInKeyFailed counts a failed sign-in against key.
func (l *Limits) SignInKeyFailed(key string) {
	if l == nil || !l.SignIns.on() {
		return
	}
	l.SignIns.allow(key, time.Now())
}
