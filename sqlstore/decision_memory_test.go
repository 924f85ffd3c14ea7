package sqlstore_test

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/caseload"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// approveAll is the approval of d that confirms each of its statements
// and accepts each of its items.
func approveAll(d *review.Draft) review.Approval {
	var ap review.Approval
	for _, s := range d.Content.Statements {
		ap.Statements = append(ap.Statements, review.StatementDecision{ID: s.ID, Action: review.StatementConfirmed})
	}
	for _, it := range d.Content.Items {
		ap.Items = append(ap.Items, review.ItemDecision{ID: it.ID, Accepted: true})
	}
	return ap
}

// generatedDraft requests a summary of f's case as its worker and
// generates it through db, leaving it pending and never opened.
func generatedDraft(t *testing.T, db *sqlstore.DB, f *storetest.Fixture) *review.Draft {
	t.Helper()
	ctx := storetest.As(context.Background(), f.Worker)
	d, err := db.RequestDraft(ctx, review.DraftRequest{CaseID: f.Case.ID, Kind: assistant.KindSummary})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&review.Runner{Store: db, Drafter: &assistant.Drafter{Model: assistant.Extractive{}}, Owner: "test"}).Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSignOffAfterOpening: on PostgreSQL an approval that follows its
// reviewer's opening of the draft in the same handle decides on what the
// opening read and writes in one fenced statement, with no read of its
// own, and writes what an approval that reads writes. Whatever another
// handle (another replica) changes between the opening and the approval
// that the approval depends on (the draft decided or reassigned, the case
// moved or closed, its key shredded), a change of the draft between the
// opening's read and its write, another user's approval and a memory kept
// too long make it read and answer as an approval without the memory does.
// SQLite never takes it and answers the same.
func TestSignOffAfterOpening(t *testing.T) {
	t.Parallel()
	for name, dsnOf := range caseKeyDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := dsnOf(t)
			db, other := storetest.MustOpen(t, dsn), storetest.MustOpen(t, dsn)
			pg := db.Dialect() == "postgres"
			ctx := context.Background()
			for _, h := range []*sqlstore.DB{db, other} {
				h.Policy = review.DefaultPolicy()
				// Every draft gets a vigilance check: the approval decides on it.
				h.Policy.Vigilance, h.Policy.VigilanceRate = true, 1
			}
			// remembered follows the path of the sign-offs of a draft:
			// called (whether it wrote) when one decided on the memory.
			remembered := func(t *testing.T, id string) *[]bool {
				var calls []bool
				t.Cleanup(sqlstore.AfterRememberedDecision(id, func(written bool) { calls = append(calls, written) }))
				return &calls
			}
			count := func(query string, args ...any) int {
				t.Helper()
				var n int
				if err := db.Raw().Get(&n, db.Raw().Rebind(query), args...); err != nil {
					t.Fatal(err)
				}
				return n
			}
			decisions := func(id string) int { return count(`SELECT COUNT(*) FROM decisions WHERE draft_id = ?`, id) }
			events := func(id, action string) int {
				return count(`SELECT (SELECT COUNT(*) FROM audit_pending WHERE subject_id = ? AND action = ?)
					+ (SELECT COUNT(*) FROM audit_event WHERE subject_id = ? AND action = ?)`, id, action, id, action)
			}

			// The approval after the opening writes without reading; one
			// in another case, opened through the other handle, reads; both
			// write the same decision, entry and events.
			t.Run("Remembered", func(t *testing.T) {
				f1, f2 := storetest.MustSeed(t, db), storetest.MustSeed(t, db)
				d1, d2 := generatedDraft(t, db, f1), generatedDraft(t, db, f2)
				w1, w2 := storetest.As(ctx, f1.Worker), storetest.As(ctx, f2.Worker)
				calls1, calls2 := remembered(t, d1.ID), remembered(t, d2.ID)
				o1, err := db.OpenDraft(w1, d1.ID)
				if err != nil {
					t.Fatal(err)
				}
				o2, err := other.OpenDraft(w2, d2.ID)
				if err != nil {
					t.Fatal(err)
				}
				s1, err := db.SignOffDraft(w1, d1.ID, approveAll(o1))
				if err != nil {
					t.Fatal(err)
				}
				s2, err := db.SignOffDraft(w2, d2.ID, approveAll(o2))
				if err != nil {
					t.Fatal(err)
				}
				if want := []bool{true}; pg && !slices.Equal(*calls1, want) || !pg && len(*calls1) != 0 {
					t.Fatalf("the approval after the opening in the same handle took the memory %v, want %v on %s", *calls1, want, name)
				}
				if len(*calls2) != 0 {
					t.Fatalf("the approval after an opening in another handle took a memory: %v", *calls2)
				}
				sameSignOff(t, s1, s2)
				// The statement planted differs (chosen at random); whether
				// it was caught does not.
				if s1.Vigilance == nil || s2.Vigilance == nil || s1.Vigilance.Missed != s2.Vigilance.Missed {
					t.Fatalf("vigilance results %+v and %+v", s1.Vigilance, s2.Vigilance)
				}
				// As stored: the decision and entry read back, and the events.
				for _, s := range []*review.SignOff{s1, s2} {
					got, err := db.FindDraftByID(storetest.As(ctx, &identity.User{ID: s.Draft.ReviewerID, Role: countersign.RoleWorker, TeamID: s.Draft.TeamID}), s.Draft.ID)
					if err != nil {
						t.Fatal(err)
					}
					if got.Status != review.StatusApproved || got.Decision == nil || got.Decision.ID != s.Draft.Decision.ID ||
						got.Decision.FinalText != s.Entry.Content || got.OpenedAt == nil || got.Vigilance == nil {
						t.Fatalf("stored draft %+v after sign-off %+v", got, s.Draft)
					}
				}
				e1, e2 := eventsOf(t, db, d1.ID, s1), eventsOf(t, db, d2.ID, s2)
				if !slices.Equal(e1, e2) {
					t.Fatalf("the remembered approval wrote events\n%v\nthe read one\n%v", e1, e2)
				}
			})

			// result is an approval's answer: its error's code and message.
			type result struct {
				code, msg string
			}
			answer := func(err error) result {
				if err == nil {
					return result{}
				}
				return result{countersign.ErrorCode(err), countersign.ErrorMessage(err)}
			}
			type step func(t *testing.T, f *storetest.Fixture, d *review.Draft)
			cases := []struct {
				name string
				// before runs before the worker opens the draft through
				// db, between after, then who (the worker when nil) approves
				// it through db.
				before, between step
				who             func(f *storetest.Fixture) *identity.User
			}{
				{name: "DraftRejectedMeanwhile", between: func(t *testing.T, f *storetest.Fixture, d *review.Draft) {
					if _, err := other.RejectDraft(storetest.As(ctx, f.Worker), d.ID, review.Rejection{Reason: "not_needed"}); err != nil {
						t.Fatal(err)
					}
				}},
				{name: "DraftApprovedMeanwhile", between: func(t *testing.T, f *storetest.Fixture, d *review.Draft) {
					// Through a handle that remembers nothing of it.
					o, err := other.FindDraftByID(storetest.As(ctx, f.Worker), d.ID)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := other.SignOffDraft(storetest.As(ctx, f.Worker), d.ID, approveAll(o)); err != nil {
						t.Fatal(err)
					}
				}},
				{name: "DraftReassignedMeanwhile", between: func(t *testing.T, f *storetest.Fixture, d *review.Draft) {
					if _, err := other.ReassignDraft(storetest.As(ctx, f.Supervisor), d.ID, mustWorker(t, db, f).ID); err != nil {
						t.Fatal(err)
					}
				}},
				{name: "DraftReassignedBeforeTheOpeningWrote", before: func(t *testing.T, f *storetest.Fixture, d *review.Draft) {
					second := mustWorker(t, db, f)
					t.Cleanup(sqlstore.AfterOpeningRead(d.ID, func() {
						if _, err := other.ReassignDraft(storetest.As(ctx, f.Supervisor), d.ID, second.ID); err != nil {
							t.Error(err)
						}
					}))
				}},
				{name: "CaseMovedMeanwhile", between: func(t *testing.T, f *storetest.Fixture, d *review.Draft) {
					if _, err := other.AssignCase(storetest.As(ctx, f.Supervisor), f.Case.ID, caseload.Assignment{WorkerID: mustWorker(t, db, f).ID}); err != nil {
						t.Fatal(err)
					}
				}},
				{name: "CaseClosedMeanwhile", between: func(t *testing.T, f *storetest.Fixture, d *review.Draft) {
					if _, err := other.CloseCase(storetest.As(ctx, f.Supervisor), f.Case.ID, "goals_met"); err != nil {
						t.Fatal(err)
					}
				}},
				{name: "CaseClosedByHandMeanwhile", between: func(t *testing.T, f *storetest.Fixture, d *review.Draft) {
					// The case's row alone (its drafts untouched, as a
					// closure through the store does not leave them).
					if _, err := other.Raw().Exec(other.Raw().Rebind(`UPDATE cases SET status = 'closed', closed_at = ? WHERE id = ?`),
						time.Now().UTC(), f.Case.ID); err != nil {
						t.Fatal(err)
					}
				}},
				{name: "CaseKeyShreddedMeanwhile", between: func(t *testing.T, f *storetest.Fixture, d *review.Draft) {
					// The key alone, which nothing but an erasure (that
					// also marks the case) does in the service: the write
					// holds the key row itself.
					if _, err := other.Raw().Exec(other.Raw().Rebind(`UPDATE case_keys SET wrapped_key = NULL, master_key_id = '', shredded_at = ? WHERE case_id = ?`),
						time.Now().UTC(), f.Case.ID); err != nil {
						t.Fatal(err)
					}
				}},
				{name: "AnotherUser", who: func(f *storetest.Fixture) *identity.User { return f.Supervisor }},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					f := storetest.MustSeed(t, db)
					d := generatedDraft(t, db, f)
					calls := remembered(t, d.ID)
					if c.before != nil {
						c.before(t, f, d)
					}
					o, err := db.OpenDraft(storetest.As(ctx, f.Worker), d.ID)
					if err != nil {
						t.Fatal(err)
					}
					if c.between != nil {
						c.between(t, f, d)
					}
					u := f.Worker
					if c.who != nil {
						u = c.who(f)
					}
					_, err = db.SignOffDraft(storetest.As(ctx, u), d.ID, approveAll(o))
					got := answer(err)
					if slices.Contains(*calls, true) {
						t.Fatalf("the approval wrote on its memory (%v): %+v", *calls, got)
					}
					switch {
					case c.who != nil && len(*calls) != 0:
						t.Fatalf("another user's approval took the worker's memory: %v", *calls)
					case c.before != nil && len(*calls) != 0:
						t.Fatalf("an opening whose draft changed before it wrote was remembered: %v", *calls)
					case pg && c.between != nil && !slices.Equal(*calls, []bool{false}):
						// What changed is what stopped the write.
						t.Fatalf("the approval tried its memory %v, want once, the write refused", *calls)
					}
					// Without a memory, through the other handle: the
					// same answer, a refusal.
					_, err = other.SignOffDraft(storetest.As(ctx, u), d.ID, approveAll(o))
					if want := answer(err); got == (result{}) || got != want {
						t.Fatalf("sign-off after %s: %+v, want %+v as without a memory", c.name, got, want)
					}
					wantDecisions, wantApprovals := 0, 0
					switch c.name {
					case "DraftRejectedMeanwhile":
						wantDecisions = 1
					case "DraftApprovedMeanwhile":
						wantDecisions, wantApprovals = 1, 1
					}
					if n, e := decisions(d.ID), events(d.ID, "draft.approved"); n != wantDecisions || e != wantApprovals {
						t.Fatalf("%d decisions and %d approvals after %s, want %d and %d", n, e, c.name, wantDecisions, wantApprovals)
					}
					if c.who != nil {
						// The worker's memory is still theirs.
						if _, err := db.SignOffDraft(storetest.As(ctx, f.Worker), d.ID, approveAll(o)); err != nil {
							t.Fatal(err)
						}
						if pg != slices.Equal(*calls, []bool{true}) {
							t.Fatalf("the worker's approval after another user's took the memory %v on %s", *calls, name)
						}
					}
				})
			}

			// A memory kept longer than a minute is not used: the approval
			// reads, and approves.
			t.Run("Expired", func(t *testing.T) {
				clock := &storetest.Clock{}
				h := storetest.MustOpen(t, dsn)
				h.Now, h.Policy = clock.Now, db.Policy
				f := storetest.MustSeed(t, h)
				d := generatedDraft(t, h, f)
				calls := remembered(t, d.ID)
				o, err := h.OpenDraft(storetest.As(ctx, f.Worker), d.ID)
				if err != nil {
					t.Fatal(err)
				}
				clock.Advance(61 * time.Second)
				s, err := h.SignOffDraft(storetest.As(ctx, f.Worker), d.ID, approveAll(o))
				if err != nil || s.Entry == nil {
					t.Fatalf("approval after a minute: %+v, %v", s, err)
				}
				if len(*calls) != 0 {
					t.Fatalf("an approval a minute after the opening took the memory: %v", *calls)
				}
			})
		})
	}
}

// mustWorker creates another worker of f's team.
func mustWorker(t *testing.T, db *sqlstore.DB, f *storetest.Fixture) *identity.User {
	t.Helper()
	u := &identity.User{Name: "second", Email: countersign.NewID("w") + "@example.org", Role: countersign.RoleWorker, TeamID: f.Team.ID}
	if err := db.CreateUser(storetest.CLI(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// sameSignOff fails unless a and b, sign-offs of drafts of identical
// cases by their workers, decided and signed the same but for ids and
// times.
func sameSignOff(t *testing.T, a, b *review.SignOff) {
	t.Helper()
	da, db := *a.Draft.Decision, *b.Draft.Decision
	if da.Outcome != db.Outcome || da.FinalText != db.FinalText || da.Edited != db.Edited || da.EditRatio != db.EditRatio ||
		da.CountersignRequired != db.CountersignRequired || da.Sharing != db.Sharing || da.ReasonCode != db.ReasonCode ||
		da.DecidedBy != a.Draft.ReviewerID || db.DecidedBy != b.Draft.ReviewerID || len(da.Statements) != len(db.Statements) {
		t.Fatalf("decisions differ:\n%+v\n%+v", da, db)
	}
	if a.Draft.Status != b.Draft.Status || (a.Entry == nil) != (b.Entry == nil) {
		t.Fatalf("sign-offs differ: %s %v, %s %v", a.Draft.Status, a.Entry, b.Draft.Status, b.Entry)
	}
	if a.Entry != nil {
		ea, eb := *a.Entry, *b.Entry
		if ea.Content != eb.Content || ea.Kind != eb.Kind || ea.AIDrafted != eb.AIDrafted || ea.Model != eb.Model ||
			ea.PromptVersion != eb.PromptVersion || ea.Edited != eb.Edited || ea.SignedBy != da.DecidedBy || eb.SignedBy != db.DecidedBy ||
			ea.DraftID != a.Draft.ID || eb.DraftID != b.Draft.ID || ea.Sharing != eb.Sharing {
			t.Fatalf("entries differ:\n%+v\n%+v", ea, eb)
		}
	}
}

// eventsOf returns the events a sign-off s of draft id wrote (about the
// draft, its decision or its entry, but its opening and reads), each as
// its action and its payload with ids, times and salted commitments
// replaced by their keys.
func eventsOf(t *testing.T, db *sqlstore.DB, id string, s *review.SignOff) []string {
	t.Helper()
	subjects := []any{id, s.Draft.Decision.ID, ""}
	if s.Entry != nil {
		subjects[2] = s.Entry.ID
	}
	var rows []struct {
		Action  string `db:"action"`
		Payload string `db:"payload"`
	}
	q := `SELECT action, payload FROM audit_pending WHERE subject_id IN (?, ?, ?) AND action NOT IN ('draft.opened', 'case.read', 'draft.generated', 'draft.requested')
		UNION ALL SELECT action, payload FROM audit_event WHERE subject_id IN (?, ?, ?) AND action NOT IN ('draft.opened', 'case.read', 'draft.generated', 'draft.requested')`
	if err := db.Raw().Select(&rows, db.Raw().Rebind(q), append(subjects, subjects...)...); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		var p map[string]string
		if err := json.Unmarshal([]byte(r.Payload), &p); err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(p))
		for k, v := range p {
			switch {
			case k == "decision" || k == "draft" || k == "review_ms" || k == "fast_sign_off" || strings.HasSuffix(k, "_commitment"):
				keys = append(keys, k) // ids, times, salted
			default:
				if v == id || v == s.Draft.Decision.ID || v == s.Draft.CaseID || s.Entry != nil && v == s.Entry.ID {
					keys = append(keys, k+"=<id>")
				} else {
					keys = append(keys, k+"="+v)
				}
			}
		}
		sort.Strings(keys)
		b, _ := json.Marshal(keys)
		out = append(out, r.Action+" "+string(b))
	}
	sort.Strings(out)
	return out
}
