package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/review"
	"github.com/countersign/countersign/sqlstore/storetest"
	"github.com/countersign/countersign/web"
)

// staffSetup is the board's side of uiSetup, with StatsRealIDs set as
// given, and one draft approved by the worker.
func staffSetup(t *testing.T, realIDs bool) (*uiBundle, *audit.Notary) {
	t.Helper()
	db := storetest.OpenSQLite(t)
	f := storetest.MustSeed(t, db)
	signer, _, err := audit.LoadOrCreateSigner(filepath.Join(t.TempDir(), "key"), "test.local/audit")
	if err != nil {
		t.Fatal(err)
	}
	notary := &audit.Notary{Store: db, Signer: signer, Origin: "test.local/audit"}
	srv := httptest.NewServer((&web.Server{Identity: db, Cases: db, Review: db, Audit: db, Checkpoints: notary, StatsRealIDs: realIDs}).Handler())
	t.Cleanup(srv.Close)
	b := &uiBundle{srv: srv, db: db, f: f, tokens: map[string]string{}}
	_, b.tokens["ethics"], err = db.CreateToken(storetest.CLI(), f.Ethics.ID, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := storetest.MustDraft(t, db, f, assistant.KindSummary)
	wctx := storetest.As(context.Background(), f.Worker)
	if _, err := db.OpenDraft(wctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RejectDraft(wctx, d.ID, review.Rejection{Reason: "inaccurate"}); err != nil {
		t.Fatal(err)
	}
	return b, notary
}

// TestBoardSeesStaffAsPseudonyms shows the ethics board's pages naming a
// worker by the same pseudonym in the trail as in the statistics, never by
// their user id; filtering the trail by that pseudonym; and everything by
// user id when the service is told to show real ids.
func TestBoardSeesStaffAsPseudonyms(t *testing.T) {
	t.Parallel()
	t.Run("ByDefault", func(t *testing.T) {
		t.Parallel()
		b, notary := staffSetup(t, false)
		key, err := notary.PseudonymKey()
		if err != nil {
			t.Fatal(err)
		}
		worker := audit.Pseudonymizer(key)(b.f.Worker.ID)
		c := b.signIn(t, "ethics")
		resp, body := c.get("/audit")
		wantStatus(t, resp, body, http.StatusOK)
		for _, id := range []string{b.f.Worker.ID, b.f.Ethics.ID, b.f.Admin.ID, b.f.Supervisor.ID} {
			if strings.Contains(body, id) {
				t.Errorf("the board's page shows the user id %s", id)
			}
		}
		if n := strings.Count(body, worker); n < 3 { // the trail (link and text) and the table by reviewer
			t.Fatalf("the worker's pseudonym %s appears %d times, want in the trail and the statistics:\n%s", worker, n, body)
		}

		resp, body = c.get("/audit?actor=" + url.QueryEscape(worker))
		wantStatus(t, resp, body, http.StatusOK)
		if !strings.Contains(body, "draft.rejected") || strings.Contains(body, "checkpoint.signed</code>") {
			t.Fatalf("the trail filtered by the worker's pseudonym:\n%s", body)
		}
		resp, body = c.get("/audit?actor=" + b.f.Worker.ID)
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "pseudonym") || strings.Contains(body, "draft.rejected</code>") {
			t.Fatalf("a filter by user id was not refused:\n%s", body)
		}
	})

	t.Run("RealIDsWhenAskedFor", func(t *testing.T) {
		t.Parallel()
		b, notary := staffSetup(t, true)
		key, err := notary.PseudonymKey()
		if err != nil {
			t.Fatal(err)
		}
		c := b.signIn(t, "ethics")
		resp, body := c.get("/audit?actor=" + b.f.Worker.ID)
		wantStatus(t, resp, body, http.StatusOK)
		if strings.Contains(body, audit.Pseudonymizer(key)(b.f.Worker.ID)) || strings.Count(body, b.f.Worker.ID) < 3 {
			t.Fatalf("with real ids, the page does not show the worker's id everywhere:\n%s", body)
		}
	})
}
