package grid

import (
	"context"
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
	rows, err := s.pool.Query(ctx, `SELECT c FROM officer_cells($1) AS c ORDER BY c`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// OfficerHasCell reports whether cell (resolution 9) is one of the officer's: a location an
// officer records must pass this, or the write is refused with ErrForbidden.
func (s *Store) OfficerHasCell(ctx context.Context, userID, cell int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM officer_cells($1) AS c WHERE c = $2)`, userID, cell).Scan(&ok)
	return ok, err
}

// ScopeCols names the columns of one row (with their table alias) that Scope's condition
// reads. A column a table does not have is left empty; a role whose scope needs it then
// sees nothing of that table (the condition is false), never everything.
type ScopeCols struct {
	District string // district_code (text)
	Street   string // street_code (text)
	Cell     string // h3, the resolution-9 cell (bigint) of a point
	Cells    string // h3_cells (bigint[]) of a line or area; used for officers instead of Cell when set
}

// Scope is the SQL condition that keeps the rows p may see, binding its one value (if any)
// as $n; args are the values to append to the statement's, nil when it binds none:
//
//	admin, planner           true
//	district (区安监局)        <District> = $n   (Principal.DistrictCode)
//	street (街道办)            <Street> = $n     (Principal.StreetCode)
//	officer (网格员)           <Cells> && officer_cells($n), or <Cell> IN officer_cells($n)
//	anyone else, nil p       false
//
// Every capability filters with it, in SQL, so that paging and counts stay right, and a row
// out of scope reads exactly like a missing one.
func Scope(p *Principal, c ScopeCols, n int) (cond string, args []any) {
	if p == nil {
		return "false", nil
	}
	switch p.Role {
	case RoleAdmin, RolePlanner:
		return "true", nil
	case RoleDistrict:
		if c.District == "" || p.DistrictCode == "" {
			return "false", nil
		}
		return fmt.Sprintf("%s = $%d", c.District, n), []any{p.DistrictCode}
	case RoleStreet:
		if c.Street == "" || p.StreetCode == "" {
			return "false", nil
		}
		return fmt.Sprintf("%s = $%d", c.Street, n), []any{p.StreetCode}
	case RoleOfficer:
		switch {
		case c.Cells != "":
			return OverlapsOfficerCells(c.Cells, n), []any{p.UserID}
		case c.Cell != "":
			return InOfficerCells(c.Cell, n), []any{p.UserID}
		}
	}
	return "false", nil
}
