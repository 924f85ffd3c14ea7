package mail_test

import (
	"context"
	"io"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/countersign/countersign/internal/mail"
)

// inbox is an in-process SMTP server's backend that keeps what it receives.
type inbox struct {
	mu   sync.Mutex
	msgs []received
}

type received struct {
	from string
	to   []string
	data string
}

type session struct {
	box *inbox
	cur received
}

func (b *inbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{box: b}, nil }
func (s *session) Reset()                                    { s.cur = received{} }
func (s *session) Logout() error                             { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = string(b)
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, s.cur)
	s.box.mu.Unlock()
	return nil
}

// mustServe starts an SMTP server on a free local port and returns its
// address and inbox.
func mustServe(t *testing.T) (string, *inbox) {
	t.Helper()
	box := &inbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // an error once the listener is closed
	}()
	t.Cleanup(func() {
		srv.Close()
		ln.Close() // Serve returns when its listener closes
		<-done
	})
	return ln.Addr().String(), box
}

func TestSMTP(t *testing.T) {
	t.Parallel()
	t.Run("SendsAPlainTextMessage", func(t *testing.T) {
		t.Parallel()
		addr, box := mustServe(t)
		m := &mail.SMTP{Addr: addr, From: "Countersign <agenda@example.org>", Now: func() time.Time { return time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) }}
		if err := m.Send(context.Background(), "worker@example.org", "Reminder: hard deadline of case REF-1 on 2026-12-15", "The hard deadline of case REF-1 is due 2026-12-15.\n"); err != nil {
			t.Fatal(err)
		}
		if len(box.msgs) != 1 {
			t.Fatalf("%d messages", len(box.msgs))
		}
		got := box.msgs[0]
		if got.from != "agenda@example.org" || len(got.to) != 1 || got.to[0] != "worker@example.org" {
			t.Fatalf("envelope %+v", got)
		}
		msg, err := netmail.ReadMessage(strings.NewReader(got.data))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(msg.Body)
		if msg.Header.Get("Subject") != "Reminder: hard deadline of case REF-1 on 2026-12-15" || !strings.Contains(string(body), "due 2026-12-15") ||
			msg.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("message %+v\n%s", msg.Header, body)
		}
	})
	t.Run("RefusesAnAddressThatWouldInjectAHeader", func(t *testing.T) {
		t.Parallel()
		addr, box := mustServe(t)
		m := &mail.SMTP{Addr: addr, From: "agenda@example.org"}
		if err := m.Send(context.Background(), "a@example.org\r\nBcc: b@example.org", "s", "b"); err == nil {
			t.Fatal("sent to an address with a line break")
		}
		if len(box.msgs) != 0 {
			t.Fatalf("%d messages", len(box.msgs))
		}
	})
	t.Run("AServerThatIsDownIsAnError", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if err := (&mail.SMTP{Addr: addr, From: "agenda@example.org"}).Send(context.Background(), "w@example.org", "s", "b"); err == nil {
			t.Fatal("no error from a closed port")
		}
	})
}
