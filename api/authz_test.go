package api_test

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// roles of the authorization matrix: the case's worker, a supervisor of its
// team, a worker and a supervisor of another team, an ethics-board member,
// an admin, no token, a revoked token and an expired token.
var matrixRoles = []string{"worker", "supervisor", "other", "othersup", "ethics", "admin", "none", "revoked", "expired"}

type cell map[string]int

// allowedTo builds a row where the listed roles get ok, the other
// authenticated roles forbidden, and anonymous or dead tokens 401.
func allowedTo(ok int, roles ...string) cell {
	c := cell{"none": 401, "revoked": 401, "expired": 401}
	for _, r := range []string{"worker", "supervisor", "other", "othersup", "ethics", "admin"} {
		c[r] = 403
	}
	for _, r := range roles {
		c[r] = ok
	}
	return c
}

func (c cell) with(role string, status int) cell {
	out := cell{}
	for k, v := range c {
		out[k] = v
	}
	out[role] = status
	return out
}

// TestAuthorizationMatrix calls every endpoint as every role and asserts the
// exact status, and that no refused call wrote anything.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		ctx := storetest.CLI()
		revoked, revokedSecret, err := b.db.CreateToken(ctx, b.f.Worker.ID, "revoked", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.db.RevokeToken(ctx, revoked.ID); err != nil {
			t.Fatal(err)
		}
		// A token cannot be issued already expired: this one expires later,
		// as time passes.
		soon := time.Now().Add(time.Hour)
		expired, expiredSecret, err := b.db.CreateToken(ctx, b.f.Worker.ID, "expired", &soon)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.db.Raw().Exec(b.db.Raw().Rebind(`UPDATE tokens SET expires_at = ? WHERE id = ?`), time.Now().Add(-time.Hour).UTC(), expired.ID); err != nil {
			t.Fatal(err)
		}
		b.tokens["revoked"], b.tokens["expired"], b.tokens["none"] = revokedSecret, expiredSecret, ""
		colleague := &identity.User{Name: "Second worker", Email: "second." + b.f.Worker.Email, Role: countersign.RoleWorker, TeamID: b.f.Team.ID}
		if err := b.db.CreateUser(ctx, colleague); err != nil {
			t.Fatal(err)
		}

		c := "/v1/cases/" + b.f.Case.ID
		var n atomic.Int64
		uniq := func() string { return fmt.Sprint(time.Now().UnixNano(), "-", n.Add(1)) }
		pending := func() string { return "/v1/drafts/" + storetest.MustDraft(t, b.db, b.f, assistant.KindSummary).ID }
		entry := func() string {
			d := storetest.MustDraft(t, b.db, b.f, assistant.KindSuggestions)
			e, err := storetest.Approve(b.db, storetest.As(ctx, b.f.Worker), d.ID, review.Approval{Statements: confirmAll(d)})
			if err != nil {
				t.Fatal(err)
			}
			return c + "/record/" + e.ID + "/correct"
		}
		rows := []struct {
			method string
			path   func() string
			body   func() any
			want   cell
		}{
			{"GET", fixed("/v1/me"), nil, allowedTo(200, "worker", "supervisor", "other", "othersup", "ethics", "admin")},
			{"GET", fixed("/v1/cases"), nil, allowedTo(200, "worker", "supervisor", "other", "othersup")},
			{"POST", fixed("/v1/cases"), func() any { return map[string]any{"reference": uniq(), "title": "t", "worker_id": b.f.Worker.ID} },
				allowedTo(201, "worker", "supervisor").with("othersup", 422)},
			{"GET", fixed(c), nil, allowedTo(200, "worker", "supervisor")},
			{"GET", fixed(c + "/parties"), nil, allowedTo(200, "worker", "supervisor")},
			{"POST", fixed(c + "/parties"), func() any { return map[string]any{"role": "other", "full_name": "Paul Martin"} }, allowedTo(201, "worker", "supervisor")},
			{"GET", fixed(c + "/notes"), nil, allowedTo(200, "worker", "supervisor")},
			{"POST", fixed(c + "/notes"), func() any { return map[string]any{"body": "A visit."} }, allowedTo(201, "worker", "supervisor")},
			{"POST", fixed(c + "/drafts"), func() any { return map[string]any{"kind": "summary"} }, allowedTo(202, "worker", "supervisor")},
			{"GET", fixed(c + "/consent"), nil, allowedTo(200, "worker", "supervisor")},
			{"POST", fixed(c + "/consent"), func() any { return map[string]any{"given": true} }, allowedTo(201, "worker", "supervisor")},
			{"GET", fixed(c + "/record"), nil, allowedTo(200, "worker", "supervisor")},
			{"GET", pending, nil, allowedTo(200, "worker", "supervisor")},
			{"POST", func() string { return pending() + "/reject" }, func() any { return map[string]any{"reason": "incomplete"} }, allowedTo(200, "worker", "supervisor")},
			{"POST", func() string { return pending() + "/countersign" }, func() any { return map[string]any{} }, allowedTo(409, "supervisor")},
			{"POST", func() string { return pending() + "/reassign" }, func() any { return map[string]any{"worker_id": colleague.ID} }, allowedTo(200, "supervisor")},
			{"POST", entry, func() any { return map[string]any{"content": "Corrected text.", "reason": "factual_error"} }, allowedTo(201, "worker", "supervisor")},
			{"GET", fixed("/v1/review/queue"), nil, allowedTo(200, "worker", "supervisor", "other", "othersup")},
			{"GET", fixed("/v1/audit/entries"), nil, allowedTo(200, "ethics", "admin")},
			{"GET", fixed("/v1/audit/entries/0"), nil, allowedTo(200, "ethics", "admin")},
			{"GET", fixed("/v1/audit/export"), nil, allowedTo(200, "ethics", "admin")},
			{"GET", fixed("/v1/audit/checkpoint"), nil, allowedTo(200, "ethics", "admin")},
			{"GET", fixed("/v1/audit/proof/inclusion?index=0"), nil, allowedTo(200, "ethics", "admin")},
			{"GET", fixed("/v1/audit/proof/consistency?from=1"), nil, allowedTo(200, "ethics", "admin")},
			{"GET", fixed("/v1/audit/stats"), nil, allowedTo(200, "ethics", "admin")},
		}
		// Approval, which needs a body fitted to the draft it approves.
		approveRow := cell(allowedTo(200, "worker", "supervisor"))

		var failures []string
		check := func(method, path string, body any, role string, want int) {
			before := b.footprint(t)
			got := rawStatus(t, b, role, method, path, body)
			if got != want {
				failures = append(failures, fmt.Sprintf("%s %s as %s: %d, want %d", method, path, role, got, want))
			}
			if got >= 400 {
				if after := b.footprint(t); after != before {
					failures = append(failures, fmt.Sprintf("%s %s as %s was refused (%d) but wrote: %s -> %s", method, path, role, got, before, after))
				}
			}
		}
		for _, row := range rows {
			for _, role := range matrixRoles {
				var body any
				if row.body != nil {
					body = row.body()
				}
				check(row.method, row.path(), body, role, row.want[role])
			}
		}
		for _, role := range matrixRoles {
			d := storetest.MustDraft(t, b.db, b.f, assistant.KindSummary)
			rawStatus(t, b, role, "GET", "/v1/drafts/"+d.ID, nil) // a decision needs the signer's own reading
			check("POST", "/v1/drafts/"+d.ID+"/approve", map[string]any{"statements": confirmAll(d)}, role, approveRow[role])
		}
		sort.Strings(failures)
		if len(failures) > 0 {
			t.Fatalf("authorization matrix:\n%s", strings.Join(failures, "\n"))
		}
	})
}

func fixed(p string) func() string { return func() string { return p } }

// confirmAll confirms every high-stakes statement of d, as its reviewer would.
func confirmAll(d *review.Draft) []review.StatementDecision {
	var out []review.StatementDecision
	for _, s := range d.Content.Statements {
		if s.Category != "" {
			out = append(out, review.StatementDecision{ID: s.ID, Action: "confirmed"})
		}
	}
	return out
}

// footprint counts the rows every write touches, so a refused call that
// wrote anything shows.
func (b *testBundle) footprint(t *testing.T) string { return dbFootprint(t, b.db) }

func dbFootprint(t testing.TB, db *sqlstore.DB) string {
	var parts []string
	for _, table := range []string{"cases", "parties", "notes", "drafts", "decisions", "record_entries", "audit_pending", "audit_event", "tokens", "users"} {
		var n int
		if err := db.Raw().Get(&n, `SELECT COUNT(*) FROM `+table); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("%s=%d", table, n))
	}
	var updated int
	if err := db.Raw().Get(&updated, `SELECT COUNT(*) FROM drafts WHERE opened_at IS NOT NULL OR status <> 'pending_review'`); err != nil {
		t.Fatal(err)
	}
	return strings.Join(append(parts, fmt.Sprintf("drafts_touched=%d", updated)), " ")
}

func rawStatus(t *testing.T, b *testBundle, role, method, path string, body any) int {
	resp := rawCall(t, b, role, method, path, body)
	return resp.StatusCode
}
