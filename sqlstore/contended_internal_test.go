package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/countersign/countersign"
)

// TestDeadlockIsAConflictToRetry makes PostgreSQL break a real deadlock
// (two transactions locking two rows in opposite orders) and checks that
// the one it rolls back reaches a person as ECONFLICT with a sentence,
// while the driver's error stays underneath for the log.
func TestDeadlockIsAConflictToRetry(t *testing.T) {
	t.Parallel()
	url := os.Getenv("COUNTERSIGN_TEST_DATABASE_URL")
	if url == "" {
		t.Skip("COUNTERSIGN_TEST_DATABASE_URL is not set")
	}
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Two sessions must see the table: a real one, named for this run.
	table := strings.ReplaceAll(strings.ToLower(countersign.NewID("deadlock_probe")), "-", "_")
	if _, err := db.ExecContext(ctx, `CREATE TABLE `+table+` (id INT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	defer db.ExecContext(context.Background(), `DROP TABLE `+table)
	if _, err := db.ExecContext(ctx, `INSERT INTO `+table+` VALUES (1), (2)`); err != nil {
		t.Fatal(err)
	}
	a, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Rollback()
	b, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Rollback()
	if _, err := a.ExecContext(ctx, `SELECT id FROM `+table+` WHERE id = 1 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ExecContext(ctx, `SELECT id FROM `+table+` WHERE id = 2 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	// a waits for b's row; b then asks for a's, and PostgreSQL's deadlock
	// check (deadlock_timeout, 1 s by default) rolls one of them back.
	aErr := make(chan error, 1)
	go func() {
		_, err := a.ExecContext(ctx, `SELECT id FROM `+table+` WHERE id = 2 FOR UPDATE`)
		aErr <- err
	}()
	_, bErr := b.ExecContext(ctx, `SELECT id FROM `+table+` WHERE id = 1 FOR UPDATE`)
	if bErr == nil {
		b.Rollback() // b won: release its rows so a can finish and report
	} else {
		a.Rollback()
	}
	errs := []error{bErr, <-aErr}
	var lost error
	for _, e := range errs {
		var pe *pq.Error
		if errors.As(e, &pe) && pe.Code == "40P01" {
			lost = e
		}
	}
	if lost == nil {
		t.Fatalf("no transaction was rolled back as a deadlock: %v", errs)
	}
	got := postgres{}.translate(lost)
	if countersign.ErrorCode(got) != countersign.ECONFLICT {
		t.Fatalf("a deadlock translates to %q (%v), want a conflict", countersign.ErrorCode(got), got)
	}
	if msg := countersign.ErrorMessage(got); msg == "" || msg == "Internal error." {
		t.Fatalf("a deadlock's sentence for a person is %q", msg)
	}
	var pe *pq.Error
	if !errors.As(got, &pe) || pe.Code != "40P01" {
		t.Fatalf("the driver's error is lost for the log: %v", got)
	}
}
