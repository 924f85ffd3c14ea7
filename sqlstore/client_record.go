package sqlstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/sealbox"
	"github.com/countersign/countersign/review"
)

var _ client.FileStore = (*DB)(nil)

// FindClientRecord returns the record of the signed-in client of ctx: the
// signed entries of the principal's cases, in force (every version with
// history), shared ones with their text and provenance, withheld ones as a
// notice (client.BuildRecord decides). It reads only the principal's
// cases; a correction waiting for a countersignature is not in
// record_entries, so it is never read here.
func (db *ReviewStore) FindClientRecord(ctx context.Context, history bool) (*client.Record, error) {
	p, err := client.PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	cases := principalCases(p)
	if len(cases) == 0 {
		return client.BuildRecord(p, nil, nil, history), nil
	}
	query, args, err := sqlx.In(recordQuery+` WHERE e.case_id IN (?) ORDER BY e.signed_at, e.id`, cases)
	if err != nil {
		return nil, fmt.Errorf("client record query: %w", err)
	}
	var rows []entryRow
	if err := db.r.SelectContext(ctx, &rows, db.r.Rebind(query), args...); err != nil {
		return nil, db.translate(fmt.Errorf("find client record: %w", err))
	}
	entries := make([]*review.Entry, 0, len(rows))
	var signers []string
	o := db.openers(db.r)
	if err := preload(ctx, o, rows, func(r *entryRow) string { return r.CaseID }); err != nil {
		return nil, err
	}
	for i := range rows {
		e, err := rows[i].toDomain(ctx, o)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
		signers = append(signers, e.SignedBy)
		if e.CountersignedBy != "" {
			signers = append(signers, e.CountersignedBy)
		}
	}
	staff, err := db.staffNames(ctx, db.r, signers)
	if err != nil {
		return nil, err
	}
	return client.BuildRecord(p, entries, staff, history), nil
}

// principalCases lists the ids of p's cases, each once.
func principalCases(p client.Principal) []string {
	var ids []string
	for _, r := range p.Parties {
		if r.CaseID != "" && !slices.Contains(ids, r.CaseID) {
			ids = append(ids, r.CaseID)
		}
	}
	return ids
}

// staffNames returns the name and role of each staff user of ids, by id.
func (db *conn) staffNames(ctx context.Context, q queryer, ids []string) (map[string]client.Staff, error) {
	out := map[string]client.Staff{}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 {
		return out, nil
	}
	query, args, err := sqlx.In(`SELECT id, name, role FROM users WHERE id IN (?)`, ids)
	if err != nil {
		return nil, fmt.Errorf("staff names query: %w", err)
	}
	var rows []struct {
		ID   string `db:"id"`
		Name string `db:"name"`
		Role string `db:"role"`
	}
	if err := q.SelectContext(ctx, &rows, q.Rebind(query), args...); err != nil {
		return nil, db.translate(fmt.Errorf("find staff names: %w", err))
	}
	for _, r := range rows {
		out[r.ID] = client.Staff{Name: r.Name, Role: r.Role}
	}
	return out, nil
}

// PartyPrincipal returns the principal the client party partyID of caseID
// would be when signed in, limited to that case, for a worker's export on
// the person's behalf. The actor must be allowed to read the case
// (casefile.CheckRead); a party that is not the case's client is not
// found, whatever it is.
func (db *CaseStore) PartyPrincipal(ctx context.Context, caseID, partyID string) (client.Principal, error) {
	if _, err := db.findCase(ctx, db.r, caseID, false); err != nil {
		return client.Principal{}, err
	}
	var rows []struct {
		ID       string  `db:"id"`
		Name     string  `db:"full_name"`
		Language string  `db:"language"`
		Account  *string `db:"account_id"`
	}
	if err := db.r.SelectContext(ctx, &rows, db.r.Rebind(`
		SELECT p.id, p.full_name, p.language, a.id AS account_id
		FROM parties p
		LEFT JOIN client_accounts a ON a.party_id = p.id
		WHERE p.id = ? AND p.case_id = ? AND p.role = 'client'`), partyID, caseID); err != nil {
		return client.Principal{}, db.translate(fmt.Errorf("find client party: %w", err))
	}
	if len(rows) == 0 {
		return client.Principal{}, countersign.Errorf(countersign.ENOTFOUND, "This case has no client with this id.")
	}
	r := rows[0]
	o, err := db.opener(ctx, db.r, caseID)
	if err != nil {
		return client.Principal{}, err
	}
	if r.Name, err = o.open(sealbox.Where{Table: "parties", Column: "full_name", Row: r.ID}, r.Name); err != nil {
		return client.Principal{}, err
	}
	// A party never invited has no account: the export is still theirs.
	account := "party:" + r.ID
	if r.Account != nil {
		account = *r.Account
	}
	return client.Principal{AccountID: account, Name: r.Name, Language: r.Language,
		Parties: []client.PartyRef{{CaseID: caseID, PartyID: r.ID}}}, nil
}
