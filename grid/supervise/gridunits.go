package supervise

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
	"safegrid/grid"
)

// UnitSpec is a grid unit (网格) as an admin writes it: a named set of resolution-9 cells
// inside one street.
type UnitSpec struct {
	Code       string
	Name       string
	StreetCode string
	Cells      []string // H3 hex ids
}

// UnitSummary is a grid unit with its officer and counts.
type UnitSummary struct {
	Code        string  `json:"code"`
	Name        string  `json:"name"`
	StreetCode  string  `json:"street_code"`
	Officer     *string `json:"officer" doc:"the assigned officer's username; null when none"`
	Cells       int     `json:"cells"`
	Enterprises int     `json:"enterprises" doc:"enterprises whose cell is in the unit"`
}

// UnitDetail is a grid unit with its cells.
type UnitDetail struct {
	UnitSummary
	CellIDs []string `json:"cell_ids" doc:"H3 hex ids, resolution 9"`
}

// CreateUnit adds a grid unit; its code must be new (else ErrConflict).
func (s *Service) CreateUnit(ctx context.Context, actor string, u UnitSpec) error {
	return s.saveUnit(ctx, actor, u, true)
}

// UpdateUnit replaces a grid unit's name, street and cells, keeping its officer.
func (s *Service) UpdateUnit(ctx context.Context, actor string, u UnitSpec) error {
	return s.saveUnit(ctx, actor, u, false)
}

// saveUnit checks and writes a unit. Every cell must be resolution 9 and have its centre
// in the unit's street (tagged by area_tag, the rule the demo and the importer use), else
// an InvalidFieldsError naming the cells; a cell of another unit is ErrConflict naming it.
func (s *Service) saveUnit(ctx context.Context, actor string, u UnitSpec, create bool) error {
	cells, err := checkUnitSpec(&u)
	if err != nil {
		return err
	}
	return s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		var level string
		err := tx.QueryRow(ctx, `SELECT level FROM areas WHERE code = $1`, u.StreetCode).Scan(&level)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && level != "street" {
			return &grid.InvalidError{Field: "street_code", Reason: fmt.Sprintf("%s is not a loaded street", u.StreetCode)}
		}
		if err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM grid_units WHERE code = $1)`, u.Code).Scan(&exists); err != nil {
			return err
		}
		if create && exists {
			return fmt.Errorf("%w: grid unit %s exists; update it with PUT", grid.ErrConflict, u.Code)
		}
		if !create && !exists {
			return &grid.NotFoundError{What: "grid unit", Key: u.Code}
		}
		if err := checkCellStreets(ctx, tx, u.StreetCode, cells); err != nil {
			return err
		}
		if err := checkCellOwners(ctx, tx, u.Code, cells); err != nil {
			return err
		}
		action := "unit_create"
		if create {
			_, err = tx.Exec(ctx, `INSERT INTO grid_units (code, name, street_code) VALUES ($1, $2, $3)`, u.Code, u.Name, u.StreetCode)
		} else {
			action = "unit_update"
			_, err = tx.Exec(ctx, `UPDATE grid_units SET name = $2, street_code = $3, updated_at = now() WHERE code = $1`, u.Code, u.Name, u.StreetCode)
			if err == nil {
				_, err = tx.Exec(ctx, `DELETE FROM grid_cells WHERE unit_code = $1`, u.Code)
			}
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO grid_cells (district_code, h3, unit_code)
SELECT left($2, 6), c, $1 FROM unnest($3::bigint[]) AS c`, u.Code, u.StreetCode, cells); err != nil {
			return err
		}
		return s.st.Record(ctx, tx, unitAudit(actor, action, u.Code, u.StreetCode, map[string]any{"name": u.Name, "street_code": u.StreetCode, "cells": u.Cells}))
	})
}

// checkUnitSpec checks what needs no database and returns the cells as ids (sorted,
// duplicates dropped).
func checkUnitSpec(u *UnitSpec) ([]int64, error) {
	var bad []grid.InvalidError
	u.Code, u.Name, u.StreetCode = strings.TrimSpace(u.Code), strings.TrimSpace(u.Name), strings.TrimSpace(u.StreetCode)
	if u.Code == "" || len(u.Code) > 64 {
		bad = append(bad, grid.InvalidError{Field: "code", Reason: "is required, at most 64 characters"})
	}
	if u.Name == "" {
		bad = append(bad, grid.InvalidError{Field: "name", Reason: "is required"})
	}
	if u.StreetCode == "" {
		bad = append(bad, grid.InvalidError{Field: "street_code", Reason: "is required"})
	}
	if len(u.Cells) == 0 {
		bad = append(bad, grid.InvalidError{Field: "cells", Reason: "a grid unit needs at least one cell"})
	}
	cells := make([]int64, 0, len(u.Cells))
	for i, hex := range u.Cells {
		c, err := grid.ParseCell(strings.TrimSpace(hex))
		field := fmt.Sprintf("cells[%d]", i)
		switch {
		case err != nil:
			bad = append(bad, grid.InvalidError{Field: field, Reason: err.Error()})
		case h3.Cell(c).Resolution() != geo.SupervisionRes:
			bad = append(bad, grid.InvalidError{Field: field, Reason: fmt.Sprintf("%s has resolution %d; grid cells are resolution %d", hex, h3.Cell(c).Resolution(), geo.SupervisionRes)})
		default:
			cells = append(cells, c)
		}
	}
	if len(bad) > 0 {
		return nil, &grid.InvalidFieldsError{Errors: bad}
	}
	slices.Sort(cells)
	return slices.Compact(cells), nil
}

// checkCellStreets refuses cells whose centre is tagged with another street.
func checkCellStreets(ctx context.Context, tx pgx.Tx, street string, cells []int64) error {
	lon, lat := make([]float64, len(cells)), make([]float64, len(cells))
	for i, c := range cells {
		ll := h3.CellToLatLng(h3.Cell(c))
		lon[i], lat[i] = ll.Lng, ll.Lat
	}
	rows, err := tx.Query(ctx, `SELECT c.h3, t.street_code
  FROM unnest($1::bigint[], $2::float8[], $3::float8[]) AS c(h3, lon, lat),
       LATERAL area_tag(ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)) AS t
 WHERE t.street_code IS DISTINCT FROM $4`, cells, lon, lat, street)
	if err != nil {
		return err
	}
	var bad []grid.InvalidError
	var c int64
	var in *string
	_, err = pgx.ForEachRow(rows, []any{&c, &in}, func() error {
		where := "no street"
		if in != nil {
			where = "street " + *in
		}
		bad = append(bad, grid.InvalidError{Field: "cells", Reason: fmt.Sprintf("cell %s lies in %s, not in %s", cellHex(c), where, street)})
		return nil
	})
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return &grid.InvalidFieldsError{Errors: bad}
	}
	return nil
}

// checkCellOwners refuses cells that belong to another unit. The unique index on
// grid_cells.h3 backs this up against a concurrent write.
func checkCellOwners(ctx context.Context, tx pgx.Tx, unit string, cells []int64) error {
	rows, err := tx.Query(ctx, `SELECT h3, unit_code FROM grid_cells WHERE h3 = ANY($1) AND unit_code <> $2 ORDER BY h3`, cells, unit)
	if err != nil {
		return err
	}
	var taken []string
	var c int64
	var other string
	_, err = pgx.ForEachRow(rows, []any{&c, &other}, func() error {
		taken = append(taken, fmt.Sprintf("cell %s is in grid unit %s", cellHex(c), other))
		return nil
	})
	if err != nil {
		return err
	}
	if len(taken) > 0 {
		const show = 20
		msg := strings.Join(taken[:min(len(taken), show)], "; ")
		if len(taken) > show {
			msg += fmt.Sprintf("; and %d more", len(taken)-show)
		}
		return fmt.Errorf("%w: %s (no cell may be in two units)", grid.ErrConflict, msg)
	}
	return nil
}

func cellHex(c int64) string { return h3.Cell(c).String() }

// DeleteUnit removes a grid unit and its cells.
func (s *Service) DeleteUnit(ctx context.Context, actor, code string) error {
	return s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		prev, street, err := lockUnit(ctx, tx, code)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `WITH d AS (DELETE FROM grid_cells WHERE unit_code = $1 RETURNING 1) SELECT count(*) FROM d`, code).Scan(&n); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM grid_units WHERE code = $1`, code); err != nil {
			return err
		}
		return s.st.Record(ctx, tx, unitAudit(actor, "unit_delete", code, street, map[string]any{"officer": prev, "cells": n}))
	})
}

const unitSummarySelect = `SELECT g.code, g.name, g.street_code, o.username,
       (SELECT count(*) FROM grid_cells gc WHERE gc.unit_code = g.code)::int,
       (SELECT count(*) FROM grid_cells gc JOIN enterprises e ON e.h3 = gc.h3 WHERE gc.unit_code = g.code)::int
  FROM grid_units g LEFT JOIN users o ON o.id = g.officer_id`

// Units lists grid units (of one street when street is not empty, of one district when
// district is not empty), by code, a page at a time, with the total.
func (s *Service) Units(ctx context.Context, district, street string, limit, offset int) ([]UnitSummary, int, error) {
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM grid_units WHERE ($1 = '' OR street_code = $1) AND ($2 = '' OR left(street_code, 6) = $2)`,
		street, district).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.Query(ctx, unitSummarySelect+`
 WHERE ($1 = '' OR g.street_code = $1) AND ($2 = '' OR left(g.street_code, 6) = $2) ORDER BY g.code LIMIT $3 OFFSET $4`, street, district, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	items, err := pgx.CollectRows(rows, pgx.RowToStructByPos[UnitSummary])
	if items == nil {
		items = []UnitSummary{}
	}
	return items, total, err
}

// Unit returns one grid unit with its cells; with district not empty, a unit of another
// district is not found, as if it did not exist.
func (s *Service) Unit(ctx context.Context, district, code string) (*UnitDetail, error) {
	rows, err := s.db.Query(ctx, unitSummarySelect+` WHERE g.code = $1 AND ($2 = '' OR left(g.street_code, 6) = $2)`, code, district)
	if err != nil {
		return nil, err
	}
	sum, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[UnitSummary])
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &grid.NotFoundError{What: "grid unit", Key: code}
	}
	if err != nil {
		return nil, err
	}
	rows, err = s.db.Query(ctx, `SELECT h3_hex(h3) FROM grid_cells WHERE unit_code = $1 ORDER BY h3`, code)
	if err != nil {
		return nil, err
	}
	cells, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	if cells == nil {
		cells = []string{}
	}
	return &UnitDetail{UnitSummary: sum, CellIDs: cells}, nil
}

// AssignUnit makes the user named officer (role officer) the officer of a grid unit,
// replacing any previous one, and audits it.
func (s *Service) AssignUnit(ctx context.Context, actor, unit, officer string) error {
	return s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		var id int64
		var role string
		// A removed user is no one: their name is kept for the history only.
		err := tx.QueryRow(ctx, `SELECT id, role FROM users WHERE username = $1 AND removed_at IS NULL`, officer).Scan(&id, &role)
		if errors.Is(err, pgx.ErrNoRows) {
			return &grid.NotFoundError{What: "officer", Key: officer}
		}
		if err != nil {
			return err
		}
		if role != grid.RoleOfficer {
			return &grid.InvalidError{Field: "officer", Reason: fmt.Sprintf("user %q has the role %s; only an officer can be assigned a grid unit", officer, role)}
		}
		prev, street, err := lockUnit(ctx, tx, unit)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE grid_units SET officer_id = $1, updated_at = now() WHERE code = $2`, id, unit); err != nil {
			return err
		}
		return s.st.Record(ctx, tx, unitAudit(actor, "assign", unit, street, map[string]any{"officer": officer, "previous": prev}))
	})
}

// UnassignUnit leaves a grid unit without an officer, and audits it.
func (s *Service) UnassignUnit(ctx context.Context, actor, unit string) error {
	return s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		prev, street, err := lockUnit(ctx, tx, unit)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE grid_units SET officer_id = NULL, updated_at = now() WHERE code = $1`, unit); err != nil {
			return err
		}
		return s.st.Record(ctx, tx, unitAudit(actor, "unassign", unit, street, map[string]any{"previous": prev}))
	})
}

// lockUnit locks a grid unit row for the rest of tx and returns its current officer's
// username (nil when it has none), so the audit record says what was replaced, and its
// street, which the record is filed under.
func lockUnit(ctx context.Context, tx pgx.Tx, unit string) (prev *string, street string, err error) {
	err = tx.QueryRow(ctx, `SELECT o.username, g.street_code FROM grid_units g LEFT JOIN users o ON o.id = g.officer_id
WHERE g.code = $1 FOR UPDATE OF g`, unit).Scan(&prev, &street)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", &grid.NotFoundError{What: "grid unit", Key: unit}
	}
	return prev, street, err
}

// unitAudit is the audit record of a write to a grid unit.
func unitAudit(actor, action, unit, street string, details map[string]any) grid.AuditEntry {
	return grid.AuditEntry{Actor: actor, Action: action, Kind: grid.AuditUnit, Object: unit, Street: street, Details: details}
}
