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

// WithoutBulk keeps imports under ctx on the SQL path, to compare it with the bulk path.
func WithoutBulk(ctx context.Context) context.Context { return context.WithValue(ctx, noBulk{}, true) }

// AppendNumeric exposes the bulk COPY's numeric encoder: the value's binary form, without
// the length word.
func AppendNumeric(x float64, precision, scale int) ([]byte, error) {
	b, err := appendNumeric(nil, x, precision, scale)
	if err != nil {
		return nil, err
	}
	return b[4:], nil
}
