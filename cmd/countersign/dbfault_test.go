package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// dbProxy stands between the service and PostgreSQL so a test can take the
// database away and bring it back, as a restart or failover would, without
// touching the real server other tests share.
type dbProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newDBProxy(t *testing.T, target string) *dbProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go p.serve()
	return p
}

func (p *dbProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.track(c, s)
		go func() { io.Copy(s, c); s.Close() }()
		go func() { io.Copy(c, s); c.Close() }()
	}
}

func (p *dbProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = true
	}
}

// setDown cuts every open connection and refuses new ones, or lets them in again.
func (p *dbProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

// runBehindProxy starts the service with the demo on a PostgreSQL database
// it reaches only through a dbProxy.
func runBehindProxy(t *testing.T) (*dbProxy, *Main) {
	t.Helper()
	u, err := url.Parse(storetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newDBProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	return proxy, MustRunMain(t, u.String(), true, io.Discard)
}

func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	proxy, m := runBehindProxy(t)
	addr := m.Addr()
	worker := m.Tokens[0].Token
	caseID := firstCase(t, addr, worker)
	ctx := context.Background()
	if code := postJSON(ctx, addr, worker, "/v1/cases/"+caseID+"/notes", `{"body":"Before the outage."}`, nil); code != 201 {
		t.Fatalf("note before the outage: %d", code)
	}
	var before struct {
		Notes []any `json:"notes"`
	}
	getJSON(ctx, addr, worker, "/v1/cases/"+caseID+"/notes", &before)

	proxy.setDown(true)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/cases/" + caseID + "/notes", `{"body":"During the outage."}`},
		{"GET", "/v1/cases", ""},
		{"GET", "/readyz", ""},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+worker)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s %s during the outage: %d (Retry-After %q): %s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Retry-After"), raw)
		}
		if strings.Contains(string(raw), "pq:") || strings.Contains(string(raw), "dial") {
			t.Fatalf("driver detail leaked: %s", raw)
		}
	}
	if code := getJSON(ctx, addr, "", "/healthz", nil); code != 200 {
		t.Fatalf("healthz during the outage: %d", code)
	}

	proxy.setDown(false)
	// database/sql discards the broken connections and dials new ones.
	if code := postJSON(ctx, addr, worker, "/v1/cases/"+caseID+"/notes", `{"body":"After the outage."}`, nil); code != 201 {
		t.Fatalf("note after the outage: %d", code)
	}
	var after struct {
		Notes []struct {
			Body string `json:"body"`
		} `json:"notes"`
	}
	getJSON(ctx, addr, worker, "/v1/cases/"+caseID+"/notes", &after)
	if len(after.Notes) != len(before.Notes)+1 {
		t.Fatalf("notes %d -> %d: the refused write left something behind or the new one is missing", len(before.Notes), len(after.Notes))
	}
	for _, n := range after.Notes {
		if strings.Contains(n.Body, "During the outage") {
			t.Fatal("a write refused with 503 was stored")
		}
	}
}

// TestDatabaseOutageUnderLoad cuts the database away while clients are
// writing, twice, and brings it back. Every answer is a success or a 503
// with Retry-After (never a 500); afterwards every write answered 201 is
// there, and every write that is there is whole (its audit event with it).
func TestDatabaseOutageUnderLoad(t *testing.T) {
	t.Parallel()
	proxy, m := runBehindProxy(t)
	addr, worker := m.Addr(), m.Tokens[0].Token
	caseID := firstCase(t, addr, worker)

	var mu sync.Mutex
	statuses := map[int]int{}
	stored, refused := map[string]bool{}, map[string]bool{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				body := fmt.Sprintf("Load note %d-%d.", c, i)
				req, _ := http.NewRequest("POST", "http://"+addr+"/v1/cases/"+caseID+"/notes", strings.NewReader(`{"body":"`+body+`"}`))
				req.Header.Set("Authorization", "Bearer "+worker)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				switch {
				case resp.StatusCode == 201:
					stored[body] = true
				case resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "":
					refused[body] = true
				}
				mu.Unlock()
			}
		})
	}
	for range 2 {
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return statuses[201] > 0 })
		proxy.setDown(true)
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return statuses[503] > 0 })
		proxy.setDown(false)
		mu.Lock()
		statuses[201] = 0
		mu.Unlock()
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return statuses[201] > 0 })
	cancel()
	wg.Wait()

	for code, n := range statuses {
		if code != 201 && code != 503 {
			t.Errorf("%d answers with status %d", n, code)
		}
	}
	var notes struct {
		Notes []struct {
			Body string `json:"body"`
		} `json:"notes"`
	}
	if code := getJSON(context.Background(), addr, worker, "/v1/cases/"+caseID+"/notes", &notes); code != 200 {
		t.Fatalf("notes: %d", code)
	}
	have := map[string]bool{}
	for _, n := range notes.Notes {
		have[n.Body] = true
	}
	for b := range stored {
		if !have[b] {
			t.Errorf("%q was answered 201 but is lost", b)
		}
	}
	// A write answered 503 may still be stored: when the connection breaks
	// after COMMIT was sent, the service cannot know whether it arrived
	// (no system can). What must never be is half a write: every stored
	// note has its audit event, and the log verifies.
	if len(refused) == 0 {
		t.Fatal("no write was refused: the outage did not happen")
	}
	var orphans int
	if _, err := m.DB.Sequence(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.DB.Raw().Get(&orphans, `
		SELECT COUNT(*) FROM notes n
		WHERE NOT EXISTS (SELECT 1 FROM audit_event e WHERE e.action = 'note.added' AND e.subject_id = n.id)`); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Fatalf("%d notes were stored without their audit event", orphans)
	}
}

// waitFor polls cond until it holds, failing the test after patience.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached in %v", patience)
		}
		time.Sleep(pollInterval)
	}
}
