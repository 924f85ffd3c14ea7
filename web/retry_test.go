package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

func TestUIRetry(t *testing.T) {
	t.Parallel()

	t.Run("AFailedDraftIsTriedAgainFromItsPage", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		d := storetest.MustFailedDraft(t, b.db, b.f, assistant.KindSummary)
		page := "/drafts/" + d.ID

		// The ethics board sees no button and may not retry.
		eth := b.signIn(t, "ethics")
		if _, body := eth.get(page); strings.Contains(body, `action="`+page+`/retry"`) {
			t.Fatal("the ethics board is offered to retry")
		}
		resp, body := eth.post(page+"/retry", nil)
		wantStatus(t, resp, body, http.StatusForbidden)

		c := b.signIn(t, "worker")
		resp, body = c.get(page)
		wantStatus(t, resp, body, http.StatusOK)
		if !strings.Contains(body, d.FailureReason) || !strings.Contains(body, `action="`+page+`/retry"`) || !strings.Contains(body, "Try again") {
			t.Fatalf("the failed page lacks its reason or the retry button:\n%s", body)
		}
		// Without the form's CSRF token nothing happens.
		resp, body = c.post(page+"/retry", url.Values{"csrf": {"forged"}})
		wantStatus(t, resp, body, http.StatusForbidden)
		if n := b.countEvents(t, audit.ActionDraftRequeued); n != 0 {
			t.Fatalf("%d requeued events after refused retries", n)
		}

		resp, _ = c.post(page+"/retry", nil)
		wantRedirect(t, resp, page)
		if n := b.countEvents(t, audit.ActionDraftRequeued); n != 1 {
			t.Fatalf("%d requeued events, want 1", n)
		}
		if err := b.runner.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		got, err := b.db.FindDraftByID(storetest.As(context.Background(), b.f.Worker), d.ID)
		if err != nil || got.Status != review.StatusPendingReview {
			t.Fatalf("after the retry: %v %v", got.Status, err)
		}
		// Retrying a draft that no longer failed is refused with the reason.
		resp, body = c.post(page+"/retry", nil)
		wantStatus(t, resp, body, http.StatusConflict)
	})

	t.Run("TheReviewPageMarksCompletedDatesAndLeftOutEntries", func(t *testing.T) {
		t.Parallel()
		b := uiSetup(t)
		d := storetest.MustDraftWith(t, b.db, b.f, assistant.KindSuggestions, datedDrafter{})
		c := b.signIn(t, "worker")
		resp, body := c.get("/drafts/" + d.ID)
		wantStatus(t, resp, body, http.StatusOK)
		for _, want := range []string{"The note gives “28 novembre” without a year", "Check this date", "12 more suggestions were left out"} {
			if !strings.Contains(body, want) {
				t.Errorf("the review page lacks %q", want)
			}
		}
		c.get("/lang/fr")
		_, body = c.get("/drafts/" + d.ID)
		for _, want := range []string{"sans année", "12 autres suggestions ont été laissées de côté"} {
			if !strings.Contains(body, want) {
				t.Errorf("the French review page lacks %q", want)
			}
		}
	})
}

// datedDrafter drafts offline, then marks its first item's due date as
// completed by the service and says that twelve suggestions were left out,
// as the Drafter does for dates without a year and long inputs.
type datedDrafter struct{}

func (datedDrafter) Draft(ctx context.Context, req assistant.Request) (*assistant.Result, error) {
	res, err := (&assistant.Drafter{Model: assistant.Extractive{}}).Draft(ctx, req)
	if err != nil {
		return nil, err
	}
	c := &res.Content
	if len(c.Items) == 0 {
		c.Items = append(c.Items, assistant.Item{ID: "it_x", Type: assistant.ItemAction, Text: c.Statements[0].Text, Citations: c.Statements[0].Citations})
	}
	due := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	c.Items[0].Due = due
	c.Items[0].CompletedDates = []assistant.CompletedDate{{Written: "28 novembre", Date: due}}
	c.Omitted = &assistant.Omitted{Items: 12, Note: "12 more suggestions were left out: a draft holds at most 100 of each."}
	return res, nil
}
