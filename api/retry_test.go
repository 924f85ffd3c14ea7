package api_test

import (
	"context"
	"testing"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

func TestRetryOverHTTP(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, open storetest.Opener) {
		b := setup(t, open)
		d := storetest.MustFailedDraft(t, b.db, b.f, assistant.KindSuggestions)
		path := "/v1/drafts/" + d.ID + "/retry"

		var got review.Draft
		b.call(t, "worker", "GET", "/v1/drafts/"+d.ID, nil, 200, &got)
		if got.Status != review.StatusFailed || got.FailureReason == "" {
			t.Fatalf("draft %s (%q)", got.Status, got.FailureReason)
		}
		before := b.events(t)
		b.call(t, "", "POST", path, nil, 401, nil)
		b.call(t, "othersup", "POST", path, nil, 403, nil)
		b.call(t, "ethics", "POST", path, nil, 403, nil)
		b.call(t, "worker", "POST", "/v1/drafts/drf_missing/retry", nil, 404, nil)
		if b.events(t) != before {
			t.Fatal("a refused retry wrote an audit event")
		}

		got = review.Draft{}
		resp := b.call(t, "worker", "POST", path, nil, 202, &got)
		if got.Status != review.StatusQueued || got.FailureReason != "" || resp.Header.Get("Location") != "/v1/drafts/"+d.ID {
			t.Fatalf("retried: %s (%q), Location %q", got.Status, got.FailureReason, resp.Header.Get("Location"))
		}
		var p problem
		b.call(t, "worker", "POST", path, nil, 409, &p)
		if p.Code != "conflict" {
			t.Fatalf("problem %+v", p)
		}
		if err := b.runner.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.call(t, "worker", "GET", "/v1/drafts/"+d.ID, nil, 200, &got)
		if got.Status != review.StatusPendingReview || got.Content == nil || len(got.Content.Items) == 0 {
			t.Fatalf("after the retry: %s", got.Status)
		}
		b.call(t, "supervisor", "POST", path, nil, 409, nil)
	})
}
