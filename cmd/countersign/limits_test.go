package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/sqlstore/storetest"
)

// TestServerLimits checks the limits the http.Server itself enforces: a
// request whose headers exceed the bound is refused before any handler
// runs, a client that sends its headers too slowly is cut off, and the
// timeouts are set at all.
func TestServerLimits(t *testing.T) {
	t.Parallel()
	m := NewMain(io.Discard, io.Discard, env(map[string]string{"COUNTERSIGN_AUDIT_KEY": t.TempDir() + "/audit.key"}))
	m.Config.DSN, m.Config.Addr, m.Config.ReadHeaderTimeout = storetest.SQLiteDSN(t), "127.0.0.1:0", 200*time.Millisecond
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if m.http.ReadHeaderTimeout <= 0 || m.http.ReadTimeout <= 0 || m.http.WriteTimeout <= 0 || m.http.IdleTimeout <= 0 || m.http.MaxHeaderBytes <= 0 {
		t.Fatalf("server timeouts or header limit unset: %+v", m.http)
	}

	t.Run("OversizedHeadersAreRefused", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+m.Addr()+"/v1/cases", nil)
		req.Header.Set("Authorization", "Bearer "+strings.Repeat("x", 64<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d, want 431", resp.StatusCode)
		}
	})

	t.Run("SlowHeadersAreCutOff", func(t *testing.T) {
		c, err := net.Dial("tcp", m.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n") // and never the blank line
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = bufio.NewReader(c).ReadString('\n')
		if err == nil {
			return // the server answered the incomplete request with an error status and closed
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the server kept a connection with unfinished headers open for 10s")
		}
	})
}
