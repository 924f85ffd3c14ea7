package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/countersign/countersign/assistant/openai/fakeopenai"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestServeHoldsADraftRequestUntilGenerated: the service as serve wires it
// holds POST /v1/cases/{id}/drafts with Prefer: wait=N while its own
// drafting workers generate the draft it queued, and answers 200 with the
// draft ready, without its content: the runner's wake-up and its end reach
// the request through the runner's Watch.
func TestServeHoldsADraftRequestUntilGenerated(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := startDrafting(t, dsn(t), nil)
			asked := make(chan struct{}, 1)
			b.fake.SetResponder(func(req *fakeopenai.ChatRequest) (string, error) {
				asked <- struct{}{}
				return fakeopenai.Extract(context.Background(), req)
			})
			var d review.Draft
			h := b.do(t, b.f.Worker, "POST", "/v1/cases/"+b.f.Case.ID+"/drafts", map[string]any{"kind": "summary"},
				http.Header{"Prefer": {"wait=10"}}, 200, &d)
			select {
			case <-asked:
			default:
				t.Fatal("answered 200 without the model being asked")
			}
			if d.Status != review.StatusPendingReview || d.Content != nil || h.Get("Preference-Applied") != "wait=10" {
				t.Fatalf("the held request answered %s, content %v, Preference-Applied %q", d.Status, d.Content != nil, h.Get("Preference-Applied"))
			}
			// The queue, as README shows it, lists the draft without its
			// text: reading it is the opening below, which is logged.
			var queue struct {
				Drafts []map[string]any `json:"drafts"`
			}
			b.do(t, b.f.Worker, "GET", "/v1/review/queue", nil, nil, 200, &queue)
			if len(queue.Drafts) != 1 || queue.Drafts[0]["id"] != d.ID || queue.Drafts[0]["content"] != nil {
				t.Fatalf("the queue lists %v", queue.Drafts)
			}
			var opened review.Draft
			b.do(t, b.f.Worker, "GET", "/v1/drafts/"+d.ID, nil, nil, 200, &opened)
			if opened.Status != review.StatusPendingReview || opened.Content == nil {
				t.Fatalf("the draft reads as %s", opened.Status)
			}
		})
	}
}
