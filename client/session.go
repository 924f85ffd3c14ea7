package client

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
)

// MinPassphrase is the fewest characters a passphrase may have: a few
// ordinary words ("blue kettle on the stairs"), easier to remember than a
// short password with symbols and harder to guess.
const MinPassphrase = 12

// MaxPassphrase bounds a passphrase, so hashing stays cheap to refuse.
const MaxPassphrase = 256

// ValidatePassphrase returns EINVALID, for field, when p is too short,
// too long or not plain text.
func ValidatePassphrase(field, p string) error {
	n := utf8.RuneCountInString(p)
	switch {
	case !utf8.ValidString(p) || strings.ContainsRune(p, 0):
		return countersign.InvalidFields("The passphrase could not be set.", countersign.FieldError{Field: field, Message: "Use letters, digits, spaces or punctuation."})
	case n < MinPassphrase:
		return countersign.InvalidFields("The passphrase could not be set.", countersign.FieldError{Field: field,
			Message: fmt.Sprintf("Use at least %d characters. A few words you remember work well.", MinPassphrase)})
	case n > MaxPassphrase:
		return countersign.InvalidFields("The passphrase could not be set.", countersign.FieldError{Field: field,
			Message: fmt.Sprintf("Use at most %d characters.", MaxPassphrase)})
	}
	return nil
}

// argon2id parameters: OWASP's first recommended configuration (19 MiB,
// two passes, one lane), so that a small server on two cores serves
// sign-ins side by side; CheckPassphrase reads the parameters from each
// hash, so they can be raised later without a migration.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassphrase returns the argon2id hash of p in the PHC string format
// ($argon2id$v=19$m=65536,t=3,p=1$salt$hash), with a fresh salt.
func HashPassphrase(p string) string {
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		panic(err)
	}
	key := argon2.IDKey([]byte(p), salt[:], argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt[:]), enc.EncodeToString(key))
}

// CheckPassphrase reports whether p is the passphrase of hash (made by
// HashPassphrase, with whatever parameters it names).
func CheckPassphrase(hash, p string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var mem, iter uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iter, &threads); err != nil {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(p), salt, iter, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when there is no account, so a sign-in
// takes as long whether the account exists or not.
var dummyHash = HashPassphrase("not a passphrase anyone has")

// CheckNoPassphrase spends the time of CheckPassphrase, and fails.
func CheckNoPassphrase(p string) bool {
	CheckPassphrase(dummyHash, p)
	return false
}

// TokenPrefix starts every client bearer token: not the staff tokens' cst_,
// so a leaked client token is told apart at a glance.
const TokenPrefix = "ccl_"

// SessionKind is what a client session is for.
type SessionKind string

// Session kinds: a bearer token of the JSON API, or a browser session.
const (
	KindToken   SessionKind = "token"
	KindBrowser SessionKind = "browser"
)

// Lifetimes of client sessions. A browser session is short: clients often
// use a shared or public computer.
const (
	TokenTTL    = 12 * time.Hour
	BrowserTTL  = 2 * time.Hour
	CeremonyTTL = 15 * time.Minute
)

// Session is a signed-in client: a bearer token or a browser session. Only
// the hash of its secret is stored.
type Session struct {
	ID        string      `json:"id"`
	AccountID string      `json:"account_id"`
	Kind      SessionKind `json:"kind"`
	// CSRF is the secret every form of a browser session carries.
	CSRF string `json:"-"`
	// Language is the language the client chose for their pages.
	Language  string     `json:"language"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
}

// NewSecret returns a 256-bit random secret, base64url.
func NewSecret() string {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// Account is a client's account: the party it was made for, with what
// the client is greeted with.
type Account struct {
	ID       string `json:"id"`
	PartyID  string `json:"party_id"`
	CaseID   string `json:"case_id"`
	Name     string `json:"-"`
	Language string `json:"language"`
	// Activated says whether the client has signed in once (a passkey or
	// passphrase is set).
	Activated  bool `json:"activated"`
	Disabled   bool `json:"-"`
	HasPasskey bool `json:"-"`
}

// Principal returns the signed-in client of a, in language lang ("" for
// the party's).
func (a *Account) Principal(lang string) Principal {
	if lang == "" {
		lang = a.Language
	}
	return Principal{AccountID: a.ID, Name: a.Name, Language: lang, Parties: []PartyRef{{CaseID: a.CaseID, PartyID: a.PartyID}}}
}

// Actor is the account as the actor of its own events.
func (a *Account) Actor() countersign.Actor { return a.Principal("").Actor() }

// ErrSignIn is the one answer to a failed sign-in: it never says whether
// the account exists, nor which part was wrong.
var ErrSignIn = countersign.Errorf(countersign.EUNAUTHORIZED, "We could not sign you in. Check your account number or email, and your passphrase.")

// ErrCode is the one answer to a code that cannot be used.
var ErrCode = countersign.Errorf(countersign.EUNAUTHORIZED, "This code does not work. It may be mistyped, already used or too old. Ask your social worker for a new letter.")

// ErrSessionEnded is the answer to a client session that is unknown, ended or expired.
var ErrSessionEnded = countersign.Errorf(countersign.EUNAUTHORIZED, "You are signed out. Please sign in again.")

// CheckSession returns nil when s may be used at now by an account that
// is not disabled.
func CheckSession(s *Session, kind SessionKind, disabled bool, now time.Time) error {
	if s == nil || s.Kind != kind || s.EndedAt != nil || !now.Before(s.ExpiresAt) || disabled {
		return ErrSessionEnded
	}
	return nil
}

// Redemption is a first sign-in: the invitation (by its code, or by the
// ceremony begun with it) and the credential the client chose.
type Redemption struct {
	// Code is the letter's code (the JSON API), or
	Code string
	// Ceremony is the secret of the ceremony begun with the code (the pages).
	Ceremony string
	// Passphrase is the passphrase to set, or
	Passphrase string
	// Passkey is the passkey registered.
	Passkey *Passkey
	// Kind is the kind of session to start.
	Kind SessionKind
	// Language is the language chosen on the pages, "" for the party's.
	Language string
}

// Passkey is a WebAuthn credential of an account; Credential is the
// library's own record of it (JSON), opaque to the domain.
type Passkey struct {
	ID           string    `json:"id"`
	AccountID    string    `json:"account_id"`
	CredentialID []byte    `json:"credential_id"`
	Credential   []byte    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
}

// DecideRedemption decides a first sign-in with inv for acc at now: the
// invitation must be open and acc not disabled. It returns the events:
// the invitation used, the credential set, the client signed in.
func DecideRedemption(acc *Account, inv *Invitation, red *Redemption, s *Session, now time.Time) ([]audit.Record, error) {
	if inv == nil || acc == nil || !inv.Open(now) || acc.Disabled {
		return nil, ErrCode
	}
	if red.Passkey == nil {
		if err := ValidatePassphrase("passphrase", red.Passphrase); err != nil {
			return nil, err
		}
	}
	a := acc.Actor()
	evs := []audit.Record{{Actor: a, Action: ActionInvitationUsed, SubjectType: "client_invitation", SubjectID: inv.ID, CaseID: inv.CaseID,
		Payload: audit.Payload{"account": acc.ID}}}
	if red.Passkey != nil {
		red.Passkey.ID, red.Passkey.AccountID, red.Passkey.CreatedAt = countersign.NewID(PrefixPasskey), acc.ID, now
		evs = append(evs, audit.Record{Actor: a, Action: ActionPasskeyRegistered, SubjectType: "client_passkey", SubjectID: red.Passkey.ID, CaseID: inv.CaseID,
			Payload: audit.Payload{"account": acc.ID}})
	} else {
		evs = append(evs, audit.Record{Actor: a, Action: ActionPassphraseSet, SubjectType: "client_account", SubjectID: acc.ID, CaseID: inv.CaseID})
	}
	return append(evs, SignInEvent(acc, s, "invitation")), nil
}

// NewSession returns a session of kind for acc at now, in lang ("" for
// the account's language).
func NewSession(acc *Account, kind SessionKind, lang string, now time.Time) *Session {
	ttl := BrowserTTL
	if kind == KindToken {
		ttl = TokenTTL
	}
	if !ValidLanguage(lang) {
		lang = acc.Language
	}
	return &Session{ID: countersign.NewID(PrefixSession), AccountID: acc.ID, Kind: kind, CSRF: NewSecret(), Language: lang,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}
}

// SignInEvent is the event of acc signing in with method ("invitation",
// "passphrase", "passkey"), starting s.
func SignInEvent(acc *Account, s *Session, method string) audit.Record {
	return audit.Record{Actor: acc.Actor(), Action: ActionSignedIn, SubjectType: "client_session", SubjectID: s.ID, CaseID: acc.CaseID,
		Payload: audit.Payload{"account": acc.ID, "method": method, "session_kind": string(s.Kind)}}
}

// SignInFilter is how a later sign-in names the account: its id, or the
// party's email address.
type SignInFilter struct {
	AccountID string
	Email     string
}

// ParseLogin reads what the client typed in "account number or email".
func ParseLogin(s string) (SignInFilter, error) {
	if id, ok := NormalizeAccountID(s); ok {
		return SignInFilter{AccountID: id}, nil
	}
	s = strings.TrimSpace(s)
	if strings.Contains(s, "@") && len(s) <= 320 {
		return SignInFilter{Email: strings.ToLower(s)}, nil
	}
	return SignInFilter{}, countersign.InvalidFields("We could not sign you in.", countersign.FieldError{Field: "email_or_id",
		Message: "Give your account number (it starts with C) or your email address."})
}

// Ceremony is a sign-up or passkey sign-in in progress in a browser: the
// invitation whose code was entered (none for a passkey sign-in), and the
// WebAuthn challenge the server issued.
type Ceremony struct {
	ID           string
	InvitationID string
	WebAuthn     []byte
	ExpiresAt    time.Time
}

// Accounts is the store of the client's accounts, invitations, passkeys
// and sessions. Staff methods take the actor from the context; the
// sign-in methods need none (the client is not signed in yet).
type Accounts interface {
	// CreateInvitation invites party partyID of case caseID to their file
	// (DecideInvitation) and returns the invitation and its code, shown
	// once. Returns ENOTFOUND, EFORBIDDEN, ECONFLICT (not a client).
	CreateInvitation(ctx context.Context, caseID, partyID string) (*Invitation, string, error)
	// RevokeInvitation revokes an open invitation. Returns ENOTFOUND,
	// EFORBIDDEN, ECONFLICT (used or revoked already).
	RevokeInvitation(ctx context.Context, caseID, partyID, invitationID string) error
	// FindInvitationLetter returns the invitation, its account and party
	// for the printed letter, when code is its code. Returns ENOTFOUND
	// (also for a wrong code) or EFORBIDDEN.
	FindInvitationLetter(ctx context.Context, caseID, partyID, invitationID, code string) (*Invitation, *Account, error)

	// StartCeremony begins a browser ceremony: with the code of an open
	// invitation (sign-up), or with no code (passkey sign-in). It returns
	// the ceremony's secret and, for a sign-up, the account. Returns
	// ErrCode (EUNAUTHORIZED) for a code that cannot be used.
	StartCeremony(ctx context.Context, code string) (string, *Account, error)
	// FindCeremony returns the live ceremony of secret and its account
	// (nil for a passkey sign-in). Returns EUNAUTHORIZED when there is none.
	FindCeremony(ctx context.Context, secret string) (*Ceremony, *Account, error)
	// SaveChallenge keeps the WebAuthn challenge of a ceremony.
	SaveChallenge(ctx context.Context, secret string, webauthn []byte) error
	// Redeem is the first sign-in with an invitation (DecideRedemption):
	// it uses the invitation, sets the passphrase or saves the passkey, and
	// starts a session, whose secret it returns (a bearer token starts
	// with TokenPrefix). Returns ErrCode, EINVALID (passphrase).
	Redeem(ctx context.Context, r Redemption) (*Session, string, error)
	// SignInWithPassphrase starts a session for the account f names when
	// passphrase is its passphrase. Returns ErrSignIn.
	SignInWithPassphrase(ctx context.Context, f SignInFilter, passphrase string, kind SessionKind, lang string) (*Session, string, error)
	// FindPasskeys returns an account and its passkeys, for a passkey
	// sign-in. Returns ErrSignIn when there is no such active account.
	FindPasskeys(ctx context.Context, accountID string) (*Account, []*Passkey, error)
	// SignInWithPasskey ends the passkey sign-in ceremony and starts a
	// browser session for the passkey's account; credential is the
	// library's record of it after the sign-in (its counter moved).
	SignInWithPasskey(ctx context.Context, ceremony string, credentialID, credential []byte, lang string) (*Session, string, error)

	// AuthenticateClient returns the client a bearer token belongs to.
	// Returns EUNAUTHORIZED when it is unknown, ended or expired.
	AuthenticateClient(ctx context.Context, secret string) (*Session, Principal, error)
	// FindClientSession returns the browser session of secret and its
	// client. Returns EUNAUTHORIZED when it is unknown, ended or expired.
	FindClientSession(ctx context.Context, secret string) (*Session, Principal, error)
	// SetSessionLanguage remembers the language a client chose.
	SetSessionLanguage(ctx context.Context, sessionID, lang string) error
	// EndClientSession ends the session of secret (signing out).
	EndClientSession(ctx context.Context, secret string) error
}
