// Package migrations embeds the forward-only, numbered SQL migrations of both
// dialects. The two trees list the same files; a test checks it.
//
// Expand, then contract: the previous release and the new one run on the
// same database while replicas roll over, so a migration may only expand
// what the previous release uses (new tables, nullable columns or columns
// with a default, new indexes, wider CHECK constraints). Renaming or dropping
// a column or table, making a column NOT NULL without a default, or
// narrowing a constraint is a contraction: it waits for a later release, once
// no replica of the release that used the old shape runs. docs/OPERATIONS.md
// ("Upgrading") explains the rule; TestExpandOnly refuses a contraction among
// the migrations added since the previous release, and
// cmd/countersign's TestUpgradeSideBySide runs the previous release's binary
// and this one on one PostgreSQL database.
package migrations

import "embed"

// FS holds postgres/*.sql and sqlite/*.sql.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
