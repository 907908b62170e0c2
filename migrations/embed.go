// Package migrations holds SafeGrid's SQL schema, applied in order by goose. Each file
// sends one statement per call (goose splits on semicolons; function bodies are marked),
// as Citus requires.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
