package review

import (
	"slices"
	"strings"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
)

// Sharing says whether the person a case is about may read a signed entry
// in their own file. It is decided once, by the signer, when the entry is
// signed (DecideSharing); a correction keeps the sharing of the entry it
// corrects.
const (
	// SharingShared: the client reads the entry.
	SharingShared = "shared"
	// SharingWithheld: the client sees that an entry was written, when,
	// and why it is withheld (WithheldReasons), never its text.
	SharingWithheld = "withheld"
	// SharingUndecided is the sharing of an entry signed before sharing
	// was asked (migration 0011): nobody decided, so the client sees it
	// as withheld until a person decides.
	SharingUndecided = ""
)

// Reasons an entry is withheld from the client. Append only: the codes go
// into the audit log and into the client's file.
const (
	// WithheldThirdParty: the entry holds information about other people.
	WithheldThirdParty = "third_party"
	// WithheldSafeguarding: reading it could put someone at risk (a child
	// protection enquiry, a suspicion not yet checked).
	WithheldSafeguarding = "safeguarding"
	// WithheldLegal: the law or a court keeps it from the client for now.
	WithheldLegal = "legal"
)

// WithheldReasons lists the reason codes a signer may give. Append only.
var WithheldReasons = []string{WithheldThirdParty, WithheldSafeguarding, WithheldLegal}

// ValidWithheldReason reports whether r is one of WithheldReasons.
func ValidWithheldReason(r string) bool { return slices.Contains(WithheldReasons, r) }

// SharingChoice is the sharing decided for an entry, and whether the
// signer chose it or the default applied.
type SharingChoice struct {
	Sharing        string
	WithheldReason string
	// Default is set when the signer did not choose and DecideSharing's
	// default applied.
	Default bool
}

// DecideSharing decides whether the client may read the entry an approval
// signs, whose text is text.
//
// The signer chooses: shared, or withheld with one of WithheldReasons.
// A door that asked the question (ap.SharingAsked: the web sign-off form
// always does) must get an answer. When the signer says nothing (a JSON
// client that does not send "sharing"), the default is the person's right
// of access, shared, except when the text holds a statement the service
// itself reads as about risk or safeguarding (assistant.Categorize): then
// it is withheld for safeguarding, so that an entry about suspected abuse
// never reaches a parent by accident. A withheld entry can be shared later
// by a person; a shared one cannot be unread. Returns EINVALID naming the
// fields "sharing" or "withheld_reason".
func DecideSharing(ap Approval, text string) (SharingChoice, error) {
	bad := func(field, msg string) (SharingChoice, error) {
		return SharingChoice{}, countersign.InvalidFields("The draft could not be approved.", countersign.FieldError{Field: field, Message: msg})
	}
	switch ap.Sharing {
	case SharingShared:
		if ap.WithheldReason != "" {
			return bad("withheld_reason", "A shared entry is not withheld: leave the reason out, or choose withheld.")
		}
		return SharingChoice{Sharing: SharingShared}, nil
	case SharingWithheld:
		if !ValidWithheldReason(ap.WithheldReason) {
			return bad("withheld_reason", "Say why the client may not read this entry: "+strings.Join(WithheldReasons, ", ")+".")
		}
		return SharingChoice{Sharing: SharingWithheld, WithheldReason: ap.WithheldReason}, nil
	case "":
		if ap.SharingAsked {
			return bad("sharing", "Choose whether the client may read this entry in their file.")
		}
		if ap.WithheldReason != "" {
			return bad("sharing", "Choose withheld to give a reason for withholding the entry.")
		}
		if SpeaksOfSafeguarding(text) {
			return SharingChoice{Sharing: SharingWithheld, WithheldReason: WithheldSafeguarding, Default: true}, nil
		}
		return SharingChoice{Sharing: SharingShared, Default: true}, nil
	}
	return bad("sharing", "Choose "+SharingShared+" or "+SharingWithheld+".")
}

// SpeaksOfSafeguarding reports whether text holds a sentence the service
// reads as about risk or safeguarding.
func SpeaksOfSafeguarding(text string) bool {
	for _, s := range assistant.Sentences(text) {
		if c := assistant.Categorize(s); c == assistant.CategoryRisk || c == assistant.CategorySafeguarding {
			return true
		}
	}
	return false
}
