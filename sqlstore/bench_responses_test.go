package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/latency"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// BenchmarkClientResponses measures the right to answer where it is
// paid: a client's response and the worker's answer (two transactions,
// each with its event, the answer under the case's lock), and the
// list of responses waiting that the review queue reads on every first
// page, for a worker and a supervisor, with 20,000 responses in the
// database of which 10,000 wait (far more than any team has; set
// COUNTERSIGN_BENCH_RESPONSES for another number):
//
//	go test -run '^$' -bench ClientResponses -benchtime 300x ./sqlstore/
//	COUNTERSIGN_BENCH_DIALECT=postgres COUNTERSIGN_TEST_DATABASE_URL=postgres://… \
//	  go test -run '^$' -bench ClientResponses -benchtime 2000x ./sqlstore/
func BenchmarkClientResponses(b *testing.B) {
	dsn := storetest.SQLiteDSN(b)
	if os.Getenv("COUNTERSIGN_BENCH_DIALECT") == "postgres" {
		dsn = storetest.PostgresDSN(b)
	}
	db := storetest.MustOpen(b, dsn)
	f := storetest.MustSeed(b, db)
	e := storetest.MustSignedEntry(b, db, f, assistant.KindSummary, review.SharingShared, "")
	p := storetest.MustClientAccount(b, db, f.Case.ID, f.Client.ID, f.Client.FullName)
	// The responses of many clients, straight into the table: half
	// answered, half waiting, on the fixture's case.
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("COUNTERSIGN_BENCH_RESPONSES")); err == nil && v > 0 {
		n = v
	}
	x := db.Raw()
	tx := x.MustBegin()
	now := time.Now().UTC()
	for i := range n {
		status, outcome := client.ResponseOpen, (*string)(nil)
		if i%2 == 0 {
			o := string(client.OutcomeDeclined)
			status, outcome = client.ResponseAnswered, &o
		}
		if _, err := tx.Exec(x.Rebind(`INSERT INTO client_responses (id, case_id, party_id, account_id, entry_id, kind, text, salt,
			created_at, status, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), countersign.NewID(client.PrefixResponse), f.Case.ID,
			f.Client.ID, p.AccountID, e.ID, string(client.ResponseOwnView), "x", "", now.Add(time.Duration(i)*time.Millisecond), status, outcome); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	// Another client of the case answers and is answered at once, so
	// their responses never reach the bound on those waiting.
	other := &casefile.Party{CaseID: f.Case.ID, Role: "client", FullName: "Jean Dubois"}
	if err := db.AddParty(storetest.As(context.Background(), f.Worker), other); err != nil {
		b.Fatal(err)
	}
	cctx := client.NewContext(context.Background(), storetest.MustClientAccount(b, db, f.Case.ID, other.ID, other.FullName))
	wctx := storetest.As(context.Background(), f.Worker)
	for name, do := range map[string]func() error{
		"respond+answer": func() error {
			r, err := db.Respond(cctx, e.ID, client.ResponseOwnView, "I want my own view kept with this entry.")
			if err == nil {
				_, err = db.AnswerResponse(wctx, r.ID, client.Answer{Outcome: client.OutcomeDeclined, Reason: "Noted, but it stays."})
			}
			return err
		},
		"open/worker": func() error {
			rs, err := db.FindOpenResponses(storetest.As(context.Background(), f.Worker))
			if err == nil && len(rs) != client.MaxQueueResponses {
				err = fmt.Errorf("%d listed", len(rs))
			}
			return err
		},
		"open/supervisor": func() error {
			_, err := db.FindOpenResponses(storetest.As(context.Background(), f.Supervisor))
			return err
		},
	} {
		b.Run(name, func(b *testing.B) {
			var ds []time.Duration
			for b.Loop() {
				start := time.Now()
				if err := do(); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(start))
			}
			latency.Report(b, ds)
		})
	}
}
