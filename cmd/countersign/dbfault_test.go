package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

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

func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newDBProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	m := MustRunMain(t, u.String(), true, io.Discard)
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
