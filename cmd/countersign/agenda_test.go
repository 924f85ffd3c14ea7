package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// mailbox is an in-process SMTP server's backend that hands each message on.
type mailbox chan string

func (b mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: b}, nil }

type mailSession struct {
	box mailbox
	to  []string
}

func (s *mailSession) Reset()                                    {}
func (s *mailSession) Logout() error                             { return nil }
func (s *mailSession) Mail(string, *smtp.MailOptions) error      { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = append(s.to, to); return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box <- strings.Join(s.to, ",") + "\n" + string(b)
	return nil
}

// TestServeRemindsAndEscalatesByMail starts the service as serve does, with
// an SMTP server configured: a hard deadline already overdue escalates to
// the team's supervisor, in the app and by e-mail, once, and the mail names
// no one.
func TestServeRemindsAndEscalatesByMail(t *testing.T) {
	t.Parallel()
	box := make(mailbox, 10)
	srv := smtp.NewServer(box)
	srv.Domain, srv.AllowInsecureAuth = "localhost", true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); ln.Close() })

	dir := t.TempDir()
	m := NewMain(io.Discard, io.Discard, env(map[string]string{"COUNTERSIGN_AUDIT_KEY": filepath.Join(dir, "audit.key"),
		"COUNTERSIGN_EVENT_KEY": storetest.MustWriteEventKey(t, dir), "COUNTERSIGN_SMTP_ADDR": ln.Addr().String(),
		"COUNTERSIGN_SMTP_FROM": "agenda@countersign.example"}))
	m.Config.DSN, m.Config.Addr, m.Config.Demo, m.Config.RateLimit = storetest.SQLiteDSN(t), "127.0.0.1:0", true, 0
	m.Config.ReminderEvery = 20 * time.Millisecond // a pacing field: the scheduler looks often
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	base := "http://" + m.Addr()
	var worker, supervisor string
	for _, tok := range m.Tokens {
		switch tok.Role {
		case countersign.RoleWorker:
			worker = tok.Token
		case countersign.RoleSupervisor:
			supervisor = tok.Token
		}
	}
	var cases struct {
		Cases []struct {
			ID        string `json:"id"`
			Reference string `json:"reference"`
		} `json:"cases"`
	}
	get(t, base+"/v1/cases", worker, &cases)
	c := cases.Cases[0]
	date := time.Now().AddDate(0, 0, -3).Format(time.DateOnly)
	post(t, base+"/v1/cases/"+c.ID+"/agenda", worker, fmt.Sprintf(`{"kind":"hard_deadline","date":%q,"title":"Appeal for the demo client"}`, date), 201, nil)

	var msg string
	select {
	case msg = <-box:
	case <-time.After(60 * time.Second):
		t.Fatal("no e-mail from the scheduler")
	}
	to, body, _ := strings.Cut(msg, "\n")
	if to != "supervisor@demo.countersign.local" || !strings.Contains(body, "Subject: Overdue: hard deadline of case "+c.Reference) ||
		strings.Contains(body, "Appeal") || strings.Contains(body, "demo client") {
		t.Fatalf("mail to %s:\n%s", to, body)
	}
	var ns struct {
		Unread int `json:"unread"`
		Items  []struct {
			Kind string `json:"kind"`
		} `json:"items"`
	}
	get(t, base+"/v1/me/notifications", supervisor, &ns)
	if ns.Unread != 1 || ns.Items[0].Kind != "escalation" {
		t.Fatalf("supervisor's notifications: %+v", ns)
	}
	select {
	case again := <-box:
		t.Fatalf("a second e-mail:\n%s", again)
	default:
	}
}
