// Package migrations embeds the forward-only, numbered SQL migrations of both
// dialects. The two trees list the same files; a test checks it.
package migrations

import "embed"

// FS holds postgres/*.sql and sqlite/*.sql.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
