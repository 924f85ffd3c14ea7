// Package mail sends the service's e-mail (agenda reminders) through an
// SMTP server, with github.com/emersion/go-smtp. It is off unless an
// operator configures a server (COUNTERSIGN_SMTP_ADDR).
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/countersign/countersign"
)

// SMTP sends plain-text mail through the server at Addr (host:port),
// upgrading to TLS with STARTTLS when the server offers it, and
// authenticating with PLAIN when Username is set, which it does only over
// TLS: a password is never sent in the clear.
type SMTP struct {
	Addr     string
	From     string
	Username string
	Password string
	// TLS configures STARTTLS; nil verifies the server's name in Addr
	// against the system's roots.
	TLS *tls.Config
	// Now dates the messages; nil means time.Now.
	Now func() time.Time
}

// Send sends one message to one address. Addresses with line breaks or
// that do not parse are refused before anything is sent, so no header can
// be injected.
func (m *SMTP) Send(ctx context.Context, to, subject, body string) error {
	from, err := netmail.ParseAddress(m.From)
	if err != nil {
		return fmt.Errorf("mail from %q: %w", m.From, err)
	}
	rcpt, err := netmail.ParseAddress(to)
	if err != nil || strings.ContainsAny(to, "\r\n") {
		return fmt.Errorf("mail to a malformed address: %w", errors.Join(err, errors.New("bad address")))
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	msg := Message(from.Address, rcpt.Address, subject, body, now())
	done := make(chan error, 1)
	go func() { done <- m.send(from.Address, rcpt.Address, msg) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("send mail through %s: %w", m.Addr, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// send delivers msg over one SMTP session: STARTTLS when offered (and
// required with a password), then PLAIN authentication when configured.
func (m *SMTP) send(from, to, msg string) error {
	cfg := m.TLS
	if cfg == nil {
		host, _, _ := net.SplitHostPort(m.Addr)
		cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	c, err := smtp.DialStartTLS(m.Addr, cfg)
	if err != nil && m.Username == "" && strings.Contains(err.Error(), "STARTTLS") {
		// A relay without TLS (a local MTA): plain, since no secret is sent.
		c, err = smtp.Dial(m.Addr)
		if err == nil {
			err = c.Hello("localhost")
		}
	}
	if err != nil {
		return err
	}
	defer c.Close()
	if m.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", m.Username, m.Password)); err != nil {
			return err
		}
	}
	if err := c.SendMail(from, []string{to}, strings.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit()
}

// Message is the RFC 5322 text of a plain-text message, lines ending in
// CRLF, the subject encoded as RFC 2047 words when it is not ASCII.
func Message(from, to, subject, body string, at time.Time) string {
	var b strings.Builder
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", from)
	h("To", to)
	h("Subject", mime.QEncoding.Encode("utf-8", strings.Map(oneLine, subject)))
	h("Date", at.Format(time.RFC1123Z))
	h("Message-ID", "<"+countersign.NewID("msg")+"@countersign>")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "8bit")
	h("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))
	return b.String()
}

func oneLine(r rune) rune {
	if r == '\r' || r == '\n' {
		return ' '
	}
	return r
}
