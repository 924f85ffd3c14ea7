package review_test

import (
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/review"
)

func pendingDraft() *review.Draft {
	gen := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	return &review.Draft{ID: "drf_1", CaseID: "case_1", Kind: assistant.KindSummary, Status: review.StatusPendingReview,
		ReviewerID: "usr_w", TeamID: "team_1", GeneratedAt: &gen, Content: &assistant.Content{Statements: []assistant.Statement{
			{ID: "s1", Text: "Marie has rent arrears."},
			{ID: "s2", Text: "Her heating was cut off."},
		}}}
}

// The edited text a reviewer signs loses the lines of the statements they
// removed, whoever sends the approval: the JSON API and the web page pass
// the same Approval and get the same text.
func TestApprovalTakesRemovedStatementsOutOfEditedText(t *testing.T) {
	worker := countersign.Actor{UserID: "usr_w", Role: countersign.RoleWorker, TeamID: "team_1"}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	opened := now.Add(-time.Minute)
	d := pendingDraft()
	res, err := review.DecideApproval(review.ApprovalInput{Actor: worker, Draft: d, OpenedAt: &opened, Policy: review.DefaultPolicy(), Now: now,
		Approval: review.Approval{Content: "Marie has two months of rent arrears.\nHer heating was cut off.\n",
			Statements: []review.StatementDecision{{ID: "s2", Action: review.StatementRemoved}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Entry.Content, "Marie has two months of rent arrears.\n"; got != want {
		t.Fatalf("signed %q, want %q", got, want)
	}
	if res.Decision.ReviewMS != time.Minute.Milliseconds() || res.Status != review.StatusApproved || len(res.Events) != 2 {
		t.Fatalf("decision %+v, status %s, %d events", res.Decision, res.Status, len(res.Events))
	}
}

func TestApprovalNeedsAnOpeningAndTheCurrentVersion(t *testing.T) {
	worker := countersign.Actor{UserID: "usr_w", Role: countersign.RoleWorker, TeamID: "team_1"}
	now := time.Now()
	d := pendingDraft()
	in := review.ApprovalInput{Actor: worker, Draft: d, Policy: review.DefaultPolicy(), Now: now}
	if _, err := review.DecideApproval(in); countersign.ErrorCode(err) != countersign.ECONFLICT || !strings.Contains(countersign.ErrorMessage(err), "Open the draft") {
		t.Fatalf("unopened: %v", err)
	}
	in.OpenedAt = &now
	stale := *d
	stale.ReviewerID = "usr_other"
	in.Approval.IfMatch = review.DraftETag(&stale)
	if _, err := review.DecideApproval(in); countersign.ErrorCode(err) != countersign.EPRECONDITION {
		t.Fatalf("stale If-Match: %v", err)
	}
	in.Approval.IfMatch = strings.Trim(review.DraftETag(d), `"`) // quotes dropped by the client
	if _, err := review.DecideApproval(in); err != nil {
		t.Fatalf("current If-Match: %v", err)
	}
	in.Actor = countersign.Actor{UserID: "usr_x", Role: countersign.RoleWorker, TeamID: "team_1"}
	if _, err := review.DecideApproval(in); countersign.ErrorCode(err) != countersign.EFORBIDDEN {
		t.Fatalf("another worker: %v", err)
	}
}

func TestTransitionFollowsTheStateMachine(t *testing.T) {
	for _, from := range review.Statuses {
		for _, to := range review.Statuses {
			err := review.Transition(from, to)
			if (err == nil) != from.CanTransition(to) {
				t.Fatalf("Transition(%s, %s) = %v, CanTransition %v", from, to, err, from.CanTransition(to))
			}
			if err != nil && countersign.ErrorCode(err) != countersign.ECONFLICT {
				t.Fatalf("Transition(%s, %s): %v, want ECONFLICT", from, to, err)
			}
		}
	}
}

func TestCorrectionAddingAHighStakesStatementMustConfirmIt(t *testing.T) {
	if added := review.AddedHighStakes("Marie has rent arrears.", "Marie has rent arrears. She talks of suicide since the eviction notice."); len(added) != 1 ||
		added[0].Category != assistant.CategoryRisk {
		t.Fatalf("added: %+v", added)
	}
	if added := review.AddedHighStakes("She sees her doctor weekly.", "She sees her doctor weekly."); len(added) != 0 {
		t.Fatalf("unchanged text added %+v", added)
	}
}

// Text sent back as drafted, spacing and line ends aside, is no edit: the
// draft's own text is signed, as when no text is sent.
func TestTextSentBackAsDraftedIsNoEdit(t *testing.T) {
	worker := countersign.Actor{UserID: "usr_w", Role: countersign.RoleWorker, TeamID: "team_1"}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	opened := now.Add(-time.Minute)
	d := pendingDraft()
	decide := func(content string) *review.ApprovalResult {
		t.Helper()
		res, err := review.DecideApproval(review.ApprovalInput{Actor: worker, Draft: d, OpenedAt: &opened, Policy: review.DefaultPolicy(), Now: now,
			Approval: review.Approval{Content: content}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	none, rewrapped := decide(""), decide("Marie has rent arrears.\r\n  Her heating\nwas cut off.")
	if rewrapped.Entry.Content != none.Entry.Content || rewrapped.Decision.Edited || rewrapped.Entry.Edited {
		t.Fatalf("re-wrapped text signed as %q (edited %v), want %q unedited", rewrapped.Entry.Content, rewrapped.Decision.Edited, none.Entry.Content)
	}
	if changed := decide("Marie has rent arrears.\nHer heating was cut off last week."); !changed.Decision.Edited {
		t.Fatal("a changed text was not an edit")
	}
}
