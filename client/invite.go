package client

import (
	"crypto/rand"
	"crypto/sha256"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
)

// Languages are the languages of the client's letters and pages, in the
// order of the language switch; the first is the default. A party's
// language is one of them (casefile.DecideParty checks it).
var Languages = casefile.PartyLanguages

// DefaultLanguage is the language of a party for whom none was given.
const DefaultLanguage = casefile.DefaultPartyLanguage

// ValidLanguage reports whether lang is one of Languages.
func ValidLanguage(lang string) bool { return slices.Contains(Languages, lang) }

// InvitationTTL is how long an invitation code can be used.
const InvitationTTL = 14 * 24 * time.Hour

// codeAlphabet has no letters and digits that are easily mistaken for one
// another (no 0/O, 1/I/L): the code is typed by hand from a paper letter.
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// codeLength is the number of characters of a code: 12 of 31, about 59
// bits, with a single use, 14 days and the sign-in limits.
const codeLength = 12

// NewCode returns a fresh invitation code, "ABCD-EFGH-JKMN".
func NewCode() string {
	var raw [codeLength]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	var b strings.Builder
	for i, r := range raw {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		// 256 is not a multiple of 31: the first 8 letters are very
		// slightly likelier (9 in 256 instead of 8); the code keeps
		// more than 58 bits.
		b.WriteByte(codeAlphabet[int(r)%len(codeAlphabet)])
	}
	return b.String()
}

// NormalizeCode returns code as it is hashed: upper case, without the
// spaces, dashes and dots people type between its groups.
func NormalizeCode(code string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(code) {
		switch {
		case r == ' ' || r == '-' || r == '\t' || r == '.':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// HashCode is what is stored of a code: the SHA-256 of its normal form.
// The code itself is shown once, on the letter.
func HashCode(code string) []byte {
	h := sha256.Sum256([]byte("countersign-client-code\n" + NormalizeCode(code)))
	return h[:]
}

// Invitation is a worker's invitation of a client to their own file. Only
// the hash of its code is stored.
type Invitation struct {
	ID        string     `json:"id"`
	AccountID string     `json:"account_id"`
	CaseID    string     `json:"case_id"`
	PartyID   string     `json:"party_id"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Open reports whether the invitation's code may still be used at now.
func (i *Invitation) Open(now time.Time) bool {
	return i.UsedAt == nil && i.RevokedAt == nil && now.Before(i.ExpiresAt)
}

// Audit actions of the client's file. Append only; do not rename: the names
// are part of every leaf ever hashed.
const (
	ActionInvitationCreated = "client.invitation_created"
	ActionInvitationRevoked = "client.invitation_revoked"
	ActionInvitationUsed    = "client.invitation_used"
	ActionAccountCreated    = "client.account_created"
	ActionPasskeyRegistered = "client.passkey_registered"
	ActionPassphraseSet     = "client.passphrase_set"
	ActionSignedIn          = "client.signed_in"
	ActionSignedOut         = "client.signed_out"
)

// CheckInvite returns nil when a may invite the parties of c to their
// file, or revoke their invitations: the case's worker, a supervisor of
// its team, or the service itself.
func CheckInvite(a countersign.Actor, c *casefile.Case) error {
	switch a.Role {
	case countersign.RoleWorker, countersign.RoleSupervisor, countersign.RoleSystem:
	default:
		return countersign.Errorf(countersign.EFORBIDDEN, "Only the case's worker or a supervisor of its team can invite the client.")
	}
	return casefile.CheckWrite(a, c)
}

// InvitationDecision is what inviting a party changes.
type InvitationDecision struct {
	Invitation *Invitation
	// Code is the code of the letter, shown once.
	Code string
	// NewAccount is set when the party had no account yet: the store
	// creates it with this id.
	NewAccount string
	// Revoke lists the party's invitations still open, which the new one
	// replaces: one letter in force at a time.
	Revoke []string
	Events []audit.Record
}

// DecideInvitation decides inviting party p of case c. accountID is the
// party's account ("" when it has none yet); open are the ids of its
// invitations still open at now.
func DecideInvitation(a countersign.Actor, c *casefile.Case, p *casefile.Party, accountID string, open []string, now time.Time) (*InvitationDecision, error) {
	if err := CheckInvite(a, c); err != nil {
		return nil, err
	}
	if err := casefile.CheckOpen(c); err != nil {
		return nil, err
	}
	if p.CaseID != c.ID {
		return nil, errPartyNotInCase
	}
	if p.Role != "client" {
		return nil, countersign.Errorf(countersign.ECONFLICT, "Only the client of a case can be invited to their file; this person's role is %q.", p.Role)
	}
	d := &InvitationDecision{Code: NewCode(), Revoke: open}
	if accountID == "" {
		accountID = NewAccountID()
		d.NewAccount = accountID
		d.Events = append(d.Events, audit.Record{Actor: a, Action: ActionAccountCreated, SubjectType: "client_account", SubjectID: accountID,
			CaseID: c.ID, Payload: audit.Payload{"party": p.ID}})
	}
	for _, id := range open {
		d.Events = append(d.Events, audit.Record{Actor: a, Action: ActionInvitationRevoked, SubjectType: "client_invitation", SubjectID: id,
			CaseID: c.ID, Payload: audit.Payload{"party": p.ID, "replaced": "true"}})
	}
	d.Invitation = &Invitation{ID: countersign.NewID(PrefixInvitation), AccountID: accountID, CaseID: c.ID, PartyID: p.ID,
		CreatedBy: a.UserID, CreatedAt: now, ExpiresAt: now.Add(InvitationTTL)}
	d.Events = append(d.Events, audit.Record{Actor: a, Action: ActionInvitationCreated, SubjectType: "client_invitation", SubjectID: d.Invitation.ID,
		CaseID: c.ID, Payload: audit.Payload{"party": p.ID, "account": accountID, "expires_at": d.Invitation.ExpiresAt.UTC().Format(time.RFC3339)}})
	return d, nil
}

var errPartyNotInCase = countersign.Errorf(countersign.ENOTFOUND, "There is no such person in this case.")

// ErrNoInvitation is the answer for an invitation that is not the party's.
var ErrNoInvitation = countersign.Errorf(countersign.ENOTFOUND, "There is no such invitation for this person.")

// DecideRevokeInvitation decides revoking inv of case c (nil when the
// store found no such invitation of the party).
func DecideRevokeInvitation(a countersign.Actor, c *casefile.Case, inv *Invitation, now time.Time) (*audit.Record, error) {
	if err := CheckInvite(a, c); err != nil {
		return nil, err
	}
	if inv == nil || inv.CaseID != c.ID {
		return nil, ErrNoInvitation
	}
	if inv.UsedAt != nil {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This invitation was already used; the client has signed in with it.")
	}
	if inv.RevokedAt != nil {
		return nil, countersign.Errorf(countersign.ECONFLICT, "This invitation was already revoked.")
	}
	return &audit.Record{Actor: a, Action: ActionInvitationRevoked, SubjectType: "client_invitation", SubjectID: inv.ID,
		CaseID: c.ID, Payload: audit.Payload{"party": inv.PartyID}}, nil
}

// ID prefixes of the client's file.
const (
	PrefixInvitation = "inv"
	PrefixPasskey    = "pk"
	PrefixSession    = "cls"
	PrefixCeremony   = "cer"
)

// NewAccountID returns a fresh account id, "C-48215-53017": ten digits,
// easy to read out on the phone and to type. It is not a secret.
func NewAccountID() string {
	var raw [10]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic(err)
	}
	var b strings.Builder
	b.WriteString("C-")
	for i, r := range raw {
		if i == 5 {
			b.WriteByte('-')
		}
		b.WriteByte('0' + r%10)
	}
	return b.String()
}

// NormalizeAccountID returns the account id s names ("c 48215 53017",
// "C4821553017"), and false when s is not an account id (an email address).
func NormalizeAccountID(s string) (string, bool) {
	var digits []byte
	s = strings.TrimSpace(strings.ToUpper(s))
	if !strings.HasPrefix(s, "C") {
		return "", false
	}
	for _, r := range s[1:] {
		switch {
		case r >= '0' && r <= '9':
			digits = append(digits, byte(r))
		case r == '-' || r == ' ':
		default:
			return "", false
		}
	}
	if len(digits) != 10 {
		return "", false
	}
	return "C-" + string(digits[:5]) + "-" + string(digits[5:]), true
}

// LetterPath is the address of the printable letter of inv, whose code is
// code: a page of the web interface for whoever may invite the client.
// The code travels in the query, since only its hash is stored; the page
// shows the letter only for the invitation's own code.
func LetterPath(inv *Invitation, code string) string {
	return "/cases/" + url.PathEscape(inv.CaseID) + "/parties/" + url.PathEscape(inv.PartyID) + "/invitations/" +
		url.PathEscape(inv.ID) + "/letter?code=" + url.QueryEscape(code)
}
