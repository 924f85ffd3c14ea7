package client_test

import (
	"testing"
	"time"

	"github.com/countersign/countersign/client"
)

// TestTimesInTheServicesZone: a read at 23:30 UTC on 3 December is on 4
// December at 00:30 in Brussels, and the client reads it so, with the zone
// named. Not parallel: the zone is the service's, set once by serve.
func TestTimesInTheServicesZone(t *testing.T) {
	at := time.Date(2026, 12, 3, 23, 30, 0, 0, time.UTC)
	if got := client.Clock(at); got != "23:30 UTC" {
		t.Errorf("without a zone: %q, want 23:30 UTC", got)
	}
	brussels, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	client.SetTimeZone(brussels)
	defer client.SetTimeZone(nil)
	if got := client.Clock(at); got != "00:30 CET" {
		t.Errorf("in Brussels: %q, want 00:30 CET", got)
	}
	if got := client.Date("fr", at); got != "4 décembre 2026" {
		t.Errorf("in Brussels, in French: %q, want 4 décembre 2026", got)
	}
}
