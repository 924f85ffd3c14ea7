package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/sqlstore"
	"github.com/countersign/countersign/sqlstore/storetest"
	"github.com/countersign/countersign/web"
)

// failingReads is a client file whose access log cannot be written.
type failingReads struct{ client.FileStore }

func (failingReads) RecordRead(context.Context, client.Read) error {
	return fmt.Errorf("the access log is away: %w", errors.New("disk full"))
}

// The case page writes its read's event while the rest of the page is read
// (issue 18), and still shows nothing of the case when the event fails:
// no content leaves unlogged.
func TestUICaseReadNotShownWhenItsEventFails(t *testing.T) {
	t.Parallel()
	b := uiSetup(t)
	note := "two months of rent to pay" // in the fixture's first note

	w := b.signIn(t, "worker")
	resp, body := w.get("/cases/" + b.f.Case.ID)
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, note) {
		t.Fatalf("the logged case page does not show the note:\n%s", body)
	}

	s := &web.Server{Identity: b.db, Cases: b.db, Review: b.db, Audit: b.db, Clients: b.db, Files: failingReads{b.db}}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	fb := &uiBundle{srv: srv, db: b.db, f: b.f, tokens: b.tokens}
	before := countEvents(t, b, audit.ActionCaseRead)
	fw := fb.signIn(t, "worker")
	resp, body = fw.get("/cases/" + b.f.Case.ID)
	if resp.StatusCode == http.StatusOK || strings.Contains(body, note) {
		t.Fatalf("status %d: the case page was shown although its read could not be logged:\n%s", resp.StatusCode, body)
	}
	if got := countEvents(t, b, audit.ActionCaseRead) - before; got != 0 {
		t.Fatalf("%d reads logged by a store that logs none", got)
	}
}

// noReads is a client file that logs no reads: the benchmark's baseline.
type noReads struct{ client.FileStore }

func (noReads) RecordRead(context.Context, client.Read) error { return nil }

// BenchmarkCasePage is the case page (GET /cases/{id}, the fixture's case:
// three notes, consent, parties) with its read logged and, as a baseline,
// with a store that logs none, on each dialect:
//
//	go test -run '^$' -bench BenchmarkCasePage -count 3 ./web/
func BenchmarkCasePage(b *testing.B) {
	for _, d := range []struct {
		name string
		open func(testing.TB) *sqlstore.DB
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		db := d.open(b)
		f := storetest.MustSeed(b, db)
		_, secret, err := db.CreateToken(storetest.CLI(), f.Worker.ID, "bench", nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, mode := range []string{"logged", "unlogged"} {
			b.Run(d.name+"/"+mode, func(b *testing.B) {
				s := &web.Server{Identity: db, Cases: db, Review: db, Audit: db, Clients: db}
				if mode == "unlogged" {
					s.Files = noReads{db}
				}
				srv := httptest.NewServer(s.Handler())
				defer srv.Close()
				ub := &uiBundle{srv: srv, db: db, f: f, tokens: map[string]string{"worker": secret}}
				w := ub.signIn(b, "worker")
				for b.Loop() {
					if resp, body := w.get("/cases/" + f.Case.ID); resp.StatusCode != http.StatusOK {
						b.Fatalf("status %d: %s", resp.StatusCode, body)
					}
				}
			})
		}
	}
}
