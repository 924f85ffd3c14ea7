// Package client is the client's own file: the person a case is about reads
// what was signed about them, sees who looked, and answers. It holds the
// types and pure rules (invitations, sign-in, what a client may see, their
// responses); sqlstore applies them, api and web serve them.
//
// A client is never a staff user: their tokens, sessions and cookies are
// kept apart from staff ones, their actor has countersign.RoleClient, and
// every staff endpoint refuses them (and every client endpoint refuses staff).
package client

import (
	"context"

	"github.com/countersign/countersign"
)

// PartyRef is one case in which the signed-in client is a party.
type PartyRef struct {
	CaseID  string `json:"case_id"`
	PartyID string `json:"party_id"`
}

// Principal is a signed-in client.
type Principal struct {
	// AccountID is the client account's opaque id.
	AccountID string `json:"account_id"`
	// Name is how the client is greeted (the party's full name).
	Name string `json:"name"`
	// Language is the client's preferred language ("en", "fr", "nl", "de").
	Language string `json:"language"`
	// Parties are the cases this client may read, one party each.
	Parties []PartyRef `json:"parties"`
}

// Actor is the principal as the actor of what it does (audit events).
func (p Principal) Actor() countersign.Actor {
	return countersign.Actor{UserID: "client:" + p.AccountID, Name: p.Name, Role: countersign.RoleClient}
}

// Party returns the principal's party in caseID, and false when the client
// is not a party of that case.
func (p Principal) Party(caseID string) (PartyRef, bool) {
	for _, r := range p.Parties {
		if r.CaseID == caseID {
			return r, true
		}
	}
	return PartyRef{}, false
}

type principalKey struct{}

// NewContext returns a copy of ctx carrying p and p's actor.
func NewContext(ctx context.Context, p Principal) context.Context {
	ctx = countersign.NewContextWithActor(ctx, p.Actor())
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the signed-in client of ctx, or EUNAUTHORIZED.
func PrincipalFrom(ctx context.Context) (Principal, error) {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok && p.AccountID != "" {
		return p, nil
	}
	return Principal{}, countersign.Errorf(countersign.EUNAUTHORIZED, "Sign in to your file first.")
}
