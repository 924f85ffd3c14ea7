package main

import (
	"context"
	"fmt"
	"github.com/countersign/countersign/client"
	"time"
	_ "time/tzdata" // the service's time zone is found even where the system has no zoneinfo (a distroless image)

	"github.com/countersign/countersign/api"
	"github.com/countersign/countersign/internal/mail"
	"github.com/countersign/countersign/sqlstore"
)

// wireAgenda gives the agenda the service's time zone and serves it
// through the API and the web interface (issue 16).
func (m *Main) wireAgenda(db *sqlstore.DB, s *api.Server) error {
	if m.Config.TimeZone != "" {
		loc, err := time.LoadLocation(m.Config.TimeZone)
		if err != nil {
			return &ConfigError{Message: fmt.Sprintf("COUNTERSIGN_TIME_ZONE (--time-zone) must be an IANA time zone such as Europe/Brussels, not %q.", m.Config.TimeZone)}
		}
		db.Location = loc
		client.SetTimeZone(loc) // the days and times of the client's file
	}
	s.Agenda = db.AgendaStore
	if m.Web != nil {
		m.Web.Agenda = db.AgendaStore
	}
	return nil
}

// runReminders delivers agenda reminders until ctx ends: in-app always,
// by e-mail when an SMTP server is configured. Every replica runs it; each
// reminder is delivered once (sqlstore.AgendaStore.DeliverReminders).
func (m *Main) runReminders(ctx context.Context, db *sqlstore.DB) {
	var mailer sqlstore.Mailer
	if m.Config.SMTPAddr != "" {
		mailer = &mail.SMTP{Addr: m.Config.SMTPAddr, From: m.Config.SMTPFrom, Username: m.Config.SMTPUsername, Password: m.Config.SMTPPassword}
	}
	every := m.Config.ReminderEvery
	if every <= 0 {
		every = time.Minute
	}
	db.AgendaStore.RunReminders(ctx, every, mailer, func(err error) {
		m.Logger.Error("deliver agenda reminders", "op", "agenda.reminders", "err", err)
	})
}
