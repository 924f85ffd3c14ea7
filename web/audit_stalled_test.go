package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/sqlstore/storetest"
	"github.com/countersign/countersign/web"
)

// TestAuditPageWhenATileStopsTheSequencer: the ethics board's page, which
// sequences the log before it shows it, still opens when the sequencer
// has met a stored tile that differs from the events (the level-1 tile
// holds a hash where the one a pending entry completes goes), on both
// databases: with a notice to press "Verify the log" and tell the
// operators, the button, and the latest stored checkpoint. Before, the
// board got "Internal error." in its place and could not reach the
// button. A worker is still refused, and a healthy log's page has no
// notice.
func TestAuditPageWhenATileStopsTheSequencer(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			logs := &syncBuffer{}
			b, _ := verifySetup(t, dsn(t), func(s *web.Server) { s.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
			c, cpSize := almostFullTile(t, b)

			// The level-1 tile holds a ninth hash that is not the events',
			// and the worker's sign-in, pending, completes the ninth
			// level-0 tile.
			l1, err := b.db.ReadTile(ctx, 1, 0)
			if err != nil {
				t.Fatal(err)
			}
			storetest.MustTamperTile(t, b.db, 1, 0, append(bytes.Clone(l1), bytes.Repeat([]byte{0x5a}, sha256.Size)...))
			worker := b.signIn(t, "worker")
			if _, err := b.db.Sequence(ctx); err == nil {
				t.Fatal("the sequencer continued over the tile")
			}

			body := wantStalledPage(t, c, cpSize)
			if strings.Contains(body, "No checkpoint has been signed yet.") {
				t.Fatalf("the page on a stalled log says no checkpoint was signed:\n%s", body)
			}
			if !strings.Contains(body, "cas_filler_") {
				t.Fatalf("the page on a stalled log shows no trail:\n%s", body)
			}
			line := logs.String()
			if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "op=web.audit") {
				t.Fatalf("no warning logged for the stalled page:\n%s", line)
			}

			resp, body := worker.get("/audit")
			wantStatus(t, resp, body, http.StatusForbidden)
			if strings.Contains(body, stalledNotice) {
				t.Fatalf("a worker reads the notice:\n%s", body)
			}
		})
	}
}

// TestAuditPageWhenTheSequencerFailsOtherwise: only a stored tile that
// stops the sequencer lets the ethics page open on the log as it is; any
// other failure to sequence (the database went away) is still the error
// page, on both databases.
func TestAuditPageWhenTheSequencerFailsOtherwise(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, _ := verifySetup(t, dsn(t), func(s *web.Server) { s.Audit = unsequencable{s.Audit} })
			c := b.signIn(t, "ethics")
			resp, body := c.get("/audit")
			wantStatus(t, resp, body, http.StatusInternalServerError)
			if strings.Contains(body, stalledNotice) {
				t.Fatalf("the error page shows the notice:\n%s", body)
			}
		})
	}
}

// unsequencable is a log whose sequencer fails as it does when the
// database goes away.
type unsequencable struct{ audit.Log }

func (unsequencable) Sequence(context.Context) (uint64, error) {
	return 0, errors.New("connection refused")
}

// syncBuffer is a buffer the server's logger writes to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestAuditPageWhenATileIsMissing: the ethics board's page still opens
// when the sequencer stops at a stored tile above level 0 that is missing
// (deleted behind the service's back), on both databases: the log ends one
// entry short of the ninth full level-0 tile, the level-1 tile, where the
// pending entry's completed tile must add a hash, is gone. The page shows
// the notice, the "Verify the log" button and the latest stored checkpoint;
// before, the sequencer's refusal was one nothing outside the store told
// from an operational failure, and the board got "Internal error."
func TestAuditPageWhenATileIsMissing(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, _ := verifySetup(t, dsn(t))
			c, cpSize := almostFullTile(t, b)
			storetest.MustTamperTile(t, b.db, 1, 0, nil)
			b.signIn(t, "worker") // pending: it completes the ninth level-0 tile
			if _, err := b.db.Sequence(context.Background()); !errors.Is(err, audit.ErrTileDiffers) {
				t.Fatalf("the sequencer over the missing tile: %v, want audit.ErrTileDiffers", err)
			}
			wantStalledPage(t, c, cpSize)
		})
	}
}

// stalledNotice is the notice the ethics page shows when the sequencer
// stops at a stored tile.
const stalledNotice = "The log could not be brought up to date"

// almostFullTile gives b's worker a token (whose sign-in, pending, will
// complete the ninth full level-0 tile), signs the ethics board in, and
// brings the log to one entry short of that tile, with the checkpoint of
// it signed by the page, which shows it without the notice. It returns the
// board's client and the checkpoint's line on the page.
func almostFullTile(t *testing.T, b *uiBundle) (*uiClient, string) {
	t.Helper()
	_, secret, err := b.db.CreateToken(storetest.CLI(), b.f.Worker.ID, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	b.tokens["worker"] = secret
	c := b.signIn(t, "ethics")
	resp, body := c.get("/audit")
	wantStatus(t, resp, body, http.StatusOK)
	if strings.Contains(body, stalledNotice) {
		t.Fatalf("a healthy log's page shows the notice:\n%s", body)
	}
	h, err := b.db.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const size = 9*audit.TileWidth - 1
	storetest.MustAddPending(t, b.db, int(size-h.Size)) // MustFillLog's entries are there already
	resp, body = c.get("/audit")
	wantStatus(t, resp, body, http.StatusOK)
	cpSize := fmt.Sprintf("<dt>Entries</dt><dd>%d</dd>", size)
	if !strings.Contains(body, cpSize) || strings.Contains(body, stalledNotice) {
		t.Fatalf("the healthy page does not show the checkpoint %q, or shows the notice:\n%s", cpSize, body)
	}
	return c, cpSize
}

// wantStalledPage checks the board's page on a stalled log: 200, with the
// notice, the "Verify the log" button and the checkpoint cpSize; it
// returns the page's text.
func wantStalledPage(t *testing.T, c *uiClient, cpSize string) string {
	t.Helper()
	resp, body := c.get("/audit")
	wantStatus(t, resp, body, http.StatusOK)
	body = html.UnescapeString(body)
	for _, want := range []string{stalledNotice, `Press "Verify the log"`, `action="/audit/verify"`, cpSize} {
		if !strings.Contains(body, want) {
			t.Fatalf("the page on a stalled log does not show %q:\n%s", want, body)
		}
	}
	return body
}
