package ingest

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// DeferForeignKeys and CheckForeignKeys expose the bulk path's one-pass foreign-key check
// to the external tests.
func DeferForeignKeys(ctx context.Context, tx pgx.Tx, table string) (deferred bool, check func() error, err error) {
	fks, err := deferForeignKeys(ctx, tx, table)
	return fks != nil, func() error { return fks.check(ctx, tx, table) }, err
}
