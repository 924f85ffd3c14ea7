package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/identity"
	"github.com/countersign/countersign/sqlstore"
)

// openDB opens the database named by --db, DATABASE_URL or the config
// file, with the event key of COUNTERSIGN_EVENT_KEY or the config file.
func openDB(ctx context.Context, fs *flag.FlagSet, args []string, getenv func(string) string) (*sqlstore.DB, error) {
	cfg, err := loadConfig(fs, args, getenv, "config", "db")
	if err != nil {
		return nil, err
	}
	return cfg.openDB(ctx)
}

func runMigrate(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	db, err := openDB(ctx, fs, args, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(stdout, "Migrations applied (%s).\n", db.Dialect())
	return nil
}

func runUser(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	ctx = countersign.NewContextWithActor(ctx, countersign.SystemCLI)
	if len(args) > 0 && isHelp(args[0]) {
		return groupHelp(stdout, "user", "add --name N --email E --role worker|supervisor|ethics|admin [--team T]", "disable --email E")
	}
	if len(args) > 0 && args[0] == "disable" {
		return runUserDisable(ctx, args[1:], stdout, getenv)
	}
	if len(args) == 0 || args[0] != "add" {
		return countersign.Errorf(countersign.EINVALID, "Use: countersign user add --name N --email E --role worker|supervisor|ethics|admin [--team T], or user disable --email E")
	}
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(stdout)
	name := fs.String("name", "", "the person's name")
	email := fs.String("email", "", "the person's work email")
	role := fs.String("role", "", "worker, supervisor, ethics or admin")
	teamName := fs.String("team", "", "team name (created if it does not exist)")
	db, err := openDB(ctx, fs, args[1:], getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	u := &identity.User{Name: *name, Email: *email, Role: countersign.Role(*role)}
	if *teamName != "" {
		team, err := db.FindTeamByName(ctx, *teamName)
		if countersign.ErrorCode(err) == countersign.ENOTFOUND {
			team = &identity.Team{Name: *teamName}
			err = db.CreateTeam(ctx, team)
		}
		if err != nil {
			return err
		}
		u.TeamID = team.ID
	}
	if err := db.CreateUser(ctx, u); err != nil {
		return err
	}
	_, err = db.Sequence(ctx)
	fmt.Fprintf(stdout, "Added %s (%s) as %s, id %s.\n", u.Name, u.Email, u.Role, u.ID)
	return err
}

func runToken(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	ctx = countersign.NewContextWithActor(ctx, countersign.SystemCLI)
	if len(args) > 0 && isHelp(args[0]) {
		return groupHelp(stdout, "token", "create --email E [--label L] [--days N]", "revoke --id TOKEN_ID")
	}
	if len(args) == 0 || (args[0] != "create" && args[0] != "revoke") {
		return countersign.Errorf(countersign.EINVALID, "Use: countersign token create --email E [--label L] [--days N], or token revoke --id TOKEN_ID")
	}
	fs := flag.NewFlagSet("token "+args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	var (
		email, label, id string
		days             int
	)
	if args[0] == "create" {
		fs.StringVar(&email, "email", "", "the user's email")
		fs.StringVar(&label, "label", "cli", "what the token is for")
		fs.IntVar(&days, "days", 90, "days until the token expires (at least 1)")
	} else {
		fs.StringVar(&id, "id", "", "the token's id")
	}
	db, err := openDB(ctx, fs, args[1:], getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	if args[0] == "revoke" {
		if err := db.RevokeToken(ctx, id); err != nil {
			return err
		}
		_, err = db.Sequence(ctx)
		fmt.Fprintf(stdout, "Token %s revoked; the web sessions signed in with it have ended.\n", id)
		return err
	}
	if days <= 0 {
		return countersign.Errorf(countersign.EINVALID, "--days must be a whole number of days of at least 1 (given: %d): every token expires, and one that never expires or has already expired is refused.", days)
	}
	u, err := db.FindUserByEmail(ctx, email)
	if err != nil {
		return err
	}
	exp := time.Now().Add(time.Duration(days) * 24 * time.Hour)
	t, secret, err := db.CreateToken(ctx, u.ID, label, &exp)
	if err != nil {
		return err
	}
	if _, err := db.Sequence(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Token %s for %s (%s). It is shown only once:\n%s\n", t.ID, u.Name, u.Role, secret)
	return nil
}

// runUserDisable disables the user with --email: their tokens and web
// sessions stop working (at once on a replica's next check, within the
// token cache's time for a token another replica has just accepted).
func runUserDisable(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("user disable", flag.ContinueOnError)
	fs.SetOutput(stdout)
	email := fs.String("email", "", "the person's work email")
	db, err := openDB(ctx, fs, args, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	if *email == "" {
		return countersign.Errorf(countersign.EINVALID, "Name the user to disable: countersign user disable --email E.")
	}
	u, err := db.FindUserByEmail(ctx, *email)
	if err != nil {
		return err
	}
	if err := db.DisableUser(ctx, u.ID); err != nil {
		return err
	}
	_, err = db.Sequence(ctx)
	fmt.Fprintf(stdout, "Disabled %s (%s), id %s: their tokens and web sessions no longer work.\n", u.Name, u.Email, u.ID)
	return err
}
