package grid

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// An officer's scope is the set of resolution-9 cells of the grid units assigned to them;
// the SQL function officer_cells(user_id) (migration 00002) returns it. Filter in SQL, not
// in Go, so that paging and counts stay right, with the officer's Principal.UserID bound:
//
//	"WHERE " + grid.InOfficerCells("e.h3", 1)             // e.h3 IN (SELECT c FROM officer_cells($1) AS c)
//	"WHERE " + grid.OverlapsOfficerCells("p.h3_cells", 1) // lines and areas touching a cell
//
// A street office's scope is simpler: street_code = Principal.StreetCode, bound like any value.

// InOfficerCells is an SQL condition: the bigint column col is one of the cells of the
// officer whose id is bound to $n. col must be a constant column name, never user input.
func InOfficerCells(col string, n int) string {
	return fmt.Sprintf("%s IN (SELECT c FROM officer_cells($%d) AS c)", col, n)
}

// OverlapsOfficerCells is an SQL condition: the bigint[] column col (h3_cells) shares a
// cell with the officer bound to $n, so a pipeline or underground space that touches the
// officer's cells is in scope.
func OverlapsOfficerCells(col string, n int) string {
	return fmt.Sprintf("%s && ARRAY(SELECT c FROM officer_cells($%d) AS c)", col, n)
}

// OfficerCells returns the cells assigned to an officer (empty for other users).
func (s *Store) OfficerCells(ctx context.Context, userID int64) ([]int64, error) {
	rows, err := s.Pool.Query(ctx, `SELECT c FROM officer_cells($1) AS c ORDER BY c`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// OfficerHasCell reports whether cell (resolution 9) is one of the officer's: a location an
// officer records must pass this, or the write is refused with ErrForbidden.
func (s *Store) OfficerHasCell(ctx context.Context, userID, cell int64) (bool, error) {
	var ok bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM officer_cells($1) AS c WHERE c = $2)`, userID, cell).Scan(&ok)
	return ok, err
}

// AssignUnit makes the user named officer (role officer) the officer of a grid unit,
// replacing any previous one, and audits it.
func (s *Store) AssignUnit(ctx context.Context, actor, unit, officer string) error {
	return s.writeTx(ctx, func(tx pgx.Tx) error {
		var id int64
		var role string
		err := tx.QueryRow(ctx, `SELECT id, role FROM users WHERE username = $1`, officer).Scan(&id, &role)
		if errors.Is(err, pgx.ErrNoRows) {
			return &NotFoundError{What: "officer", Key: officer}
		}
		if err != nil {
			return err
		}
		if role != RoleOfficer {
			return &InvalidError{Field: "officer", Reason: fmt.Sprintf("user %q has the role %s; only an officer can be assigned a grid unit", officer, role)}
		}
		prev, err := lockUnit(ctx, tx, unit)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE grid_units SET officer_id = $1, updated_at = now() WHERE code = $2`, id, unit); err != nil {
			return err
		}
		return s.Audit(ctx, tx, actor, "assign", unit, map[string]any{"officer": officer, "previous": prev})
	})
}

// UnassignUnit leaves a grid unit without an officer, and audits it.
func (s *Store) UnassignUnit(ctx context.Context, actor, unit string) error {
	return s.writeTx(ctx, func(tx pgx.Tx) error {
		prev, err := lockUnit(ctx, tx, unit)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE grid_units SET officer_id = NULL, updated_at = now() WHERE code = $1`, unit); err != nil {
			return err
		}
		return s.Audit(ctx, tx, actor, "unassign", unit, map[string]any{"previous": prev})
	})
}

// lockUnit locks a grid unit row for the rest of tx and returns its current officer's
// username (nil when it has none), so the audit record says what was replaced.
func lockUnit(ctx context.Context, tx pgx.Tx, unit string) (*string, error) {
	var prev *string
	err := tx.QueryRow(ctx, `SELECT o.username FROM grid_units g LEFT JOIN users o ON o.id = g.officer_id
WHERE g.code = $1 FOR UPDATE OF g`, unit).Scan(&prev)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &NotFoundError{What: "grid unit", Key: unit}
	}
	return prev, err
}
