package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/assistant/openai"
	"github.com/countersign/countersign/assistant/openai/fakeopenai"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// BenchmarkDraftOverhead measures the service's own cost of a draft, from
// the POST /v1/cases/{id}/drafts request to the moment the draft is stored
// as pending_review, with a model that answers at once: the offline
// extractive drafter, or the go-openai provider against an in-process fake
// OpenAI server whose answers are computed once per prompt and then served
// from memory. The service is wired as `serve` wires it: HTTP over loopback,
// bearer authentication, 4 drafting workers woken by each request, and the
// audit sequencer running. Requesters send drafts one after another, each
// waiting for its draft; p50 and p99 are of the time from sending the
// request to the commit that makes the draft pending_review.
//
//	go test -run '^$' -bench BenchmarkDraftOverhead -benchtime 400x ./cmd/countersign
//
// PostgreSQL runs when COUNTERSIGN_TEST_DATABASE_URL is set.
func BenchmarkDraftOverhead(b *testing.B) {
	for _, dialect := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", storetest.SQLiteDSN}, {"postgres", storetest.PostgresDSN}} {
		for _, model := range []string{"extractive", "fakeopenai"} {
			for _, requesters := range []int{1, 8} {
				b.Run(fmt.Sprintf("db=%s/model=%s/requesters=%d", dialect.name, model, requesters), func(b *testing.B) {
					benchDrafts(b, dialect.dsn(b), model, requesters)
				})
			}
		}
	}
}

// doneStore tells the benchmark when each draft is stored.
type doneStore struct {
	*sqlstore.DB
	done sync.Map // draft id -> chan error
}

func (s *doneStore) ch(id string) chan error {
	c, _ := s.done.LoadOrStore(id, make(chan error, 1))
	return c.(chan error)
}

// CompleteJobStatus is the completion the Runner calls
// (review.CompletionReporter); CompleteJob goes through it too.
func (s *doneStore) CompleteJobStatus(ctx context.Context, job *review.Job, res *assistant.Result) (review.Status, error) {
	st, err := s.DB.CompleteJobStatus(ctx, job, res)
	s.ch(job.DraftID) <- err
	return st, err
}

func (s *doneStore) CompleteJob(ctx context.Context, job *review.Job, res *assistant.Result) error {
	_, err := s.CompleteJobStatus(ctx, job, res)
	return err
}

func (s *doneStore) FailJobWithResult(ctx context.Context, job *review.Job, res *assistant.Result, reason string, retryAt *time.Time) error {
	err := s.DB.FailJobWithResult(ctx, job, res, reason, retryAt)
	s.ch(job.DraftID) <- fmt.Errorf("draft failed: %s", reason)
	return err
}

const benchCases = 32

func benchDrafts(b *testing.B, dsn, modelName string, requesters int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db := storetest.MustOpen(b, dsn)
	f := storetest.MustSeed(b, db)
	wctx := countersign.NewContextWithActor(ctx, f.Worker.Actor())
	cases := []string{f.Case.ID}
	for i := 1; i < benchCases; i++ {
		c := &casefile.Case{Reference: fmt.Sprintf("BENCH-%d-%s", i, f.Case.Reference), Title: "Housing support"}
		mustBench(b, db.CreateCase(wctx, c))
		mustBench(b, db.AddParty(wctx, &casefile.Party{CaseID: c.ID, Role: "client", FullName: f.Client.FullName, DateOfBirth: f.Client.DateOfBirth,
			Address: f.Client.Address, Phone: f.Client.Phone, Email: f.Client.Email, NationalID: f.Client.NationalID}))
		for _, n := range f.Notes {
			mustBench(b, db.AddNote(wctx, &casefile.Note{CaseID: c.ID, Body: n.Body}))
		}
		mustBench(b, db.RecordConsent(wctx, &casefile.Consent{CaseID: c.ID, Given: true}))
		cases = append(cases, c.ID)
	}

	var model assistant.Model = assistant.Extractive{}
	if modelName == "fakeopenai" {
		fake := fakeopenai.New()
		b.Cleanup(fake.Close)
		var memo sync.Map
		fake.SetResponder(func(r *fakeopenai.ChatRequest) (string, error) {
			key := r.Message("user")
			if v, ok := memo.Load(key); ok {
				return v.(string), nil
			}
			s, err := fakeopenai.Extract(context.Background(), r)
			if err == nil {
				memo.Store(key, s)
			}
			return s, err
		})
		c, err := openai.New(openai.Config{BaseURL: fake.BaseURL(), APIKey: "bench", Model: "gpt-bench", Logger: quiet})
		mustBench(b, err)
		model = c
	}

	store := &doneStore{DB: db}
	runner := &review.Runner{Store: store, Drafter: &assistant.Drafter{Model: model}, Logger: quiet, Owner: "bench", Workers: 4}
	var bg sync.WaitGroup
	bg.Go(func() { runner.Run(ctx) })
	bg.Go(func() { db.RunSequencer(ctx, 200*time.Millisecond, func(error) {}) })
	defer bg.Wait()
	defer cancel()

	s := api.NewServer()
	s.Identity, s.Cases, s.Review, s.Audit = db, db, db, db
	s.Logger, s.DraftQueued = quiet, runner.Wake
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	_, token, err := db.CreateToken(storetest.CLI(), f.Worker.ID, "bench", nil)
	mustBench(b, err)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: requesters}}

	draft := func(caseID string) (time.Duration, error) {
		start := time.Now()
		req, _ := http.NewRequest("POST", srv.URL+"/v1/cases/"+caseID+"/drafts", strings.NewReader(`{"kind":"summary"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		loc := resp.Header.Get("Location")
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return 0, fmt.Errorf("POST drafts: status %d", resp.StatusCode)
		}
		id := strings.TrimPrefix(loc, "/v1/drafts/")
		select {
		case err := <-store.ch(id):
			store.done.Delete(id)
			return time.Since(start), err
		case <-time.After(time.Minute):
			return 0, fmt.Errorf("draft %s not generated within a minute", id)
		}
	}
	// Warm up: one draft per case, so the fake's answers are cached and
	// connections and statements are ready.
	for _, c := range cases {
		if _, err := draft(c); err != nil {
			b.Fatal(err)
		}
	}

	var next atomic.Int64
	lat := make([][]time.Duration, requesters)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for r := range requesters {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				d, err := draft(cases[int(i)%len(cases)])
				if err != nil {
					b.Error(err)
					return
				}
				lat[r] = append(lat[r], d)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "drafts/s")
}

func mustBench(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
