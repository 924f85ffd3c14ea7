package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/countersign/countersign/assistant/openai/fakeopenai"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestServeHoldsADraftReadUntilGenerated: the service as serve wires it
// holds GET /v1/drafts/{id} with Prefer: wait=N (README) while its own
// drafting workers generate the draft, and answers once they are done:
// the runner's Watch reaches the API.
func TestServeHoldsADraftReadUntilGenerated(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := startDrafting(t, dsn(t), nil)
			// The model answers only when the test lets it.
			asked, release := make(chan struct{}, 1), make(chan struct{})
			b.fake.SetResponder(func(req *fakeopenai.ChatRequest) (string, error) {
				asked <- struct{}{}
				<-release
				return fakeopenai.Extract(context.Background(), req)
			})
			var d review.Draft
			b.do(t, b.f.Worker, "POST", "/v1/cases/"+b.f.Case.ID+"/drafts", map[string]any{"kind": "summary"}, nil, 202, &d)
			<-asked // generating now

			type answer struct {
				d       review.Draft
				applied string
				err     error
			}
			got := make(chan answer, 1)
			go func() { // no t.Fatal off the test's goroutine: the answer says
				var a answer
				req, _ := http.NewRequest("GET", b.base+"/v1/drafts/"+d.ID, nil)
				req.Header.Set("Authorization", "Bearer "+b.tokens[b.f.Worker])
				req.Header.Set("Prefer", "wait=10")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					a.err = err
				} else {
					defer resp.Body.Close()
					a.applied = resp.Header.Get("Preference-Applied")
					if resp.StatusCode != 200 {
						a.err = fmt.Errorf("status %d", resp.StatusCode)
					} else {
						a.err = json.NewDecoder(resp.Body).Decode(&a.d)
					}
				}
				got <- a
			}()
			for b.m.Runner.Watch.Holding() == 0 {
				select {
				case a := <-got:
					t.Fatalf("answered before the draft was generated: %s", a.d.Status)
				case <-time.After(time.Millisecond):
				}
			}
			close(release)
			a := <-got
			if a.err != nil {
				t.Fatal(a.err)
			}
			if a.d.Status != review.StatusPendingReview || a.d.Content == nil {
				t.Fatalf("the held read answered %s (%q)", a.d.Status, a.d.FailureReason)
			}
			if a.applied != "wait=10" {
				t.Errorf("Preference-Applied %q, want wait=10", a.applied)
			}
		})
	}
}
