package review_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/mock"
	"github.com/countersign/countersign/review"
)

// queue is a job store holding queued drafts; it counts every claim and
// reports each one and each completion.
type queue struct {
	mu      sync.Mutex
	jobs    []string
	claims  int
	empty   int
	claimed chan bool // true when a claim found a draft
	done    chan string
}

func newQueue() *queue {
	return &queue{claimed: make(chan bool, 100), done: make(chan string, 100)}
}

func (q *queue) add(ids ...string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, ids...)
}

func (q *queue) counts() (claims, empty int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.claims, q.empty
}

func (q *queue) store() *mock.JobStore {
	return &mock.JobStore{
		ClaimJobFunc: func(ctx context.Context, owner string, lease time.Duration) (*review.Job, error) {
			q.mu.Lock()
			defer q.mu.Unlock()
			q.claims++
			if len(q.jobs) == 0 {
				q.empty++
				report(q.claimed, false)
				return nil, countersign.Errorf(countersign.ENOTFOUND, "none")
			}
			id := q.jobs[0]
			q.jobs = q.jobs[1:]
			report(q.claimed, true)
			return &review.Job{DraftID: id, Attempt: 1, Owner: owner, LeaseEnd: time.Now().Add(lease)}, nil
		},
		CompleteJobFunc: func(ctx context.Context, job *review.Job, res *assistant.Result) error {
			q.done <- job.DraftID
			return nil
		},
		FailJobFunc: func(ctx context.Context, job *review.Job, reason string, retryAt *time.Time) error {
			return fmt.Errorf("job %s failed: %s", job.DraftID, reason)
		},
	}
}

// report sends v unless the channel is full (claims nobody waits for).
func report(c chan bool, v bool) {
	select {
	case c <- v:
	default:
	}
}

var instant = &mock.Drafter{DraftFunc: func(context.Context, assistant.Request) (*assistant.Result, error) {
	return &assistant.Result{}, nil
}}

// The drafting workers claim once per queued draft, and a worker that
// finished a job does not wake another to find nothing (issue 18): with
// polling out of the way, the only empty claim is the poll at start.
func TestRunnerClaimsOncePerWakeUp(t *testing.T) {
	t.Parallel()
	q := newQueue()
	r := &review.Runner{Store: q.store(), Drafter: instant, Workers: 4, Owner: "t", Poll: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { r.Run(ctx); close(stopped) }()
	if <-q.claimed {
		t.Fatal("the claim at start found a draft in an empty queue")
	}
	for i := range 3 {
		q.add(fmt.Sprintf("drf_%d", i))
		r.Wake(fmt.Sprintf("drf_%d", i)) // as the service does once the request has committed
	}
	for range 3 {
		<-q.done
	}
	cancel()
	<-stopped
	if claims, empty := q.counts(); claims != 4 || empty != 1 {
		t.Fatalf("%d claims, %d of them empty, for 3 drafts: want 4 and 1 (the poll at start)", claims, empty)
	}
}

// Drafts queued without a wake-up here (by another replica) are claimed
// by the poll, every one of them.
func TestRunnerPollClaimsDraftsQueuedElsewhere(t *testing.T) {
	t.Parallel()
	q := newQueue()
	q.add("drf_a", "drf_b", "drf_c", "drf_d", "drf_e")
	r := &review.Runner{Store: q.store(), Drafter: instant, Workers: 2, Owner: "t", Poll: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	seen := map[string]bool{}
	for len(seen) < 5 {
		id := <-q.done
		if seen[id] {
			t.Fatalf("%s drafted twice", id)
		}
		seen[id] = true
	}
}

// claimsByID is the queue's store able to claim a draft by its id
// (review.DraftClaimer), as the database's store is.
type claimsByID struct {
	*mock.JobStore
	q     *queue
	asked chan string
}

func (s *claimsByID) ClaimDraft(ctx context.Context, owner string, lease time.Duration, id string) (*review.Job, error) {
	s.asked <- id
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	for i, j := range s.q.jobs {
		if j == id {
			s.q.jobs = append(s.q.jobs[:i], s.q.jobs[i+1:]...)
			return &review.Job{DraftID: id, Attempt: 1, Owner: owner, LeaseEnd: time.Now().Add(lease)}, nil
		}
	}
	return nil, countersign.Errorf(countersign.ENOTFOUND, "not waiting")
}

// A worker woken for a draft claims that draft by its id, not the oldest
// one waiting; when it was taken meanwhile, the worker claims once from
// the queue instead, as a wake-up without an id does.
func TestRunnerClaimsTheDraftItWasWokenFor(t *testing.T) {
	t.Parallel()
	q := newQueue()
	s := &claimsByID{JobStore: q.store(), q: q, asked: make(chan string, 10)}
	r := &review.Runner{Store: s, Drafter: instant, Workers: 1, Owner: "t", Poll: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	if <-q.claimed {
		t.Fatal("the claim at start found a draft in an empty queue")
	}
	q.add("drf_old", "drf_new")
	r.Wake("drf_new")
	if id := <-s.asked; id != "drf_new" {
		t.Fatalf("the worker asked for %s, want the draft it was woken for", id)
	}
	if id := <-q.done; id != "drf_new" {
		t.Fatalf("woken for drf_new, the worker drafted %s", id)
	}
	r.Wake("drf_gone") // queued, then claimed by another replica
	if id := <-s.asked; id != "drf_gone" {
		t.Fatalf("the worker asked for %s, want drf_gone", id)
	}
	if id := <-q.done; id != "drf_old" {
		t.Fatalf("its draft taken, the worker drafted %s, want the oldest waiting (drf_old)", id)
	}
	if claims, empty := q.counts(); claims != 2 || empty != 1 {
		t.Fatalf("%d claims from the queue, %d of them empty: want the poll at start and the one for drf_gone", claims, empty)
	}
}
