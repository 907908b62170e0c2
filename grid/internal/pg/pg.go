// Package pg is the database plumbing the grid packages share and nothing else may use:
// the key that opens a grid.Store's pool, table locks for writers, and quoting of the
// identifiers that come from the code's own lists. Being internal to grid/, it can only be
// imported by grid and its capability packages (docs/ARCHITECTURE.md).
package pg

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Key opens a grid.Store's pool (grid.Store.DB). Only packages under grid/ can name it, so
// only they can reach the database; everything else goes through their functions.
type Key struct{ _ [0]func() }

// Querier runs a query: a *pgxpool.Pool, a pgx.Tx or a *pgx.Conn.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// LockForWrite takes the tables a bulk writer (an import, a CSV loader, a re-tag) writes
// in SHARE ROW EXCLUSIVE mode before its first write: readers go on, writers (an officer's
// hazard, another import) wait for it to commit, and it waits for writers already running.
// Without it an import that writes a table in several statements would hold the table's
// data-version row (migration 00007) from the first one, and an officer's transaction
// that had changed a row the import comes to next would wait for that row lock while the
// import waits for it: a deadlock.
func LockForWrite(ctx context.Context, tx pgx.Tx, tables []string) error {
	_, err := tx.Exec(ctx, "LOCK TABLE "+IdentList(tables)+" IN SHARE ROW EXCLUSIVE MODE")
	return err
}

// Ident quotes a table or column name taken from the code's own lists.
func Ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// IdentList quotes names and joins them with commas.
func IdentList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = Ident(n)
	}
	return strings.Join(out, ", ")
}

// Literal quotes s as an SQL string literal, for the statements that take no parameters
// (SET TRANSACTION SNAPSHOT, COMMENT ON) and values from the code's own lists.
func Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Collect runs sql and scans every row into one value of T.
func Collect[T any](ctx context.Context, q Querier, dst *[]T, sql string, args ...any) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	v, err := pgx.CollectRows(rows, pgx.RowTo[T])
	*dst = v
	return err
}
