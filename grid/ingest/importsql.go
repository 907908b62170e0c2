package ingest

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// The SQL of an import is built from the kind's own field list: every identifier comes
// from kinds.go, every value travels through COPY or a bound parameter.

func sqlType(t grid.FieldType) string {
	switch t {
	case grid.Int:
		return "integer"
	case grid.Float:
		return "double precision"
	case grid.Bool:
		return "boolean"
	case grid.Date:
		return "date"
	case grid.Timestamp:
		return "timestamptz"
	}
	return "text"
}

func stagingColumns(k *grid.Kind) []string {
	cols := []string{"row_n"}
	for _, f := range k.Fields {
		cols = append(cols, f.Name)
	}
	return append(cols, "repair", "rep_lon", "rep_lat", "h3", "h3_cells", "geom",
		"district_code", "street_code", "community_code", "tag_sql")
}

func stagingDDL(k *grid.Kind) string {
	var b strings.Builder
	b.WriteString("CREATE TEMP TABLE staging (row_n integer NOT NULL")
	for _, f := range k.Fields {
		fmt.Fprintf(&b, ", %s %s", pg.Ident(f.Name), sqlType(f.Type))
	}
	b.WriteString(", repair boolean NOT NULL, rep_lon double precision NOT NULL, rep_lat double precision NOT NULL, h3 bigint NOT NULL, h3_cells bigint[], geom bytea NOT NULL")
	b.WriteString(", district_code text, street_code text, community_code text, tag_sql boolean NOT NULL) ON COMMIT DROP")
	return b.String()
}

func stagingValues(k *grid.Kind, rec record, vals []any) []any {
	vals = append(vals, int32(rec.n))
	vals = append(vals, rec.vals...)
	var cells any
	switch {
	case rec.cells != nil:
		cells = rec.cells
	case hasCells(k): // a point of a kind that also takes polygons
		cells = []int64{rec.h3}
	}
	vals = append(vals, rec.repair, rec.rep[0], rec.rep[1], rec.h3, cells, rec.ewkb)
	for _, code := range rec.tags {
		if code == "" {
			vals = append(vals, nil)
		} else {
			vals = append(vals, code)
		}
	}
	return append(vals, rec.tagSQL)
}

// writeStep is one statement of an import's write phase.
type writeStep struct {
	sql    string
	actor  bool   // takes the actor as $1
	counts string // "inserted", "updated", or "both" when it returns (inserted, updated)
}

// hasCells tells whether the table keeps every cell a geometry touches (non-point kinds).
func hasCells(k *grid.Kind) bool {
	for _, g := range k.Geoms {
		if g != grid.GeomPoint {
			return true
		}
	}
	return false
}

func repairable(k *grid.Kind) bool {
	for _, g := range k.Geoms {
		if g == grid.GeomPolygon || g == grid.GeomMultiPolygon {
			return true
		}
	}
	return false
}

// geomExpr is the stored geometry of a staging row.
func geomExpr(k *grid.Kind) string {
	g := "ST_GeomFromEWKB(s.geom)"
	if repairable(k) {
		return fmt.Sprintf("CASE WHEN s.repair THEN ST_Multi(ST_CollectionExtract(ST_MakeValid(%s), 3)) ELSE %s END", g, g)
	}
	return g
}

// tagSQL settles the rows the in-memory index left open (near a border, or in no area)
// with area_tag, docs/DESIGN.md's rule for gaps and overlaps.
const tagSQL = `UPDATE staging s SET (district_code, street_code, community_code) =
       (SELECT t.district_code, t.street_code, t.community_code
          FROM area_tag(ST_SetSRID(ST_MakePoint(s.rep_lon, s.rep_lat), 4326)) t)
 WHERE s.tag_sql`

// writeSQL updates the rows whose key is loaded already and inserts the others; plain
// INSERT and UPDATE, because ON CONFLICT's speculative insertion costs a third more per row.
// With bulk (the table was empty) it only tags and inserts.
func writeSQL(k *grid.Kind, bulk bool) []writeStep {
	if k.Name == "areas" {
		return areaWriteSQL
	}
	cols := []string{"district_code", "street_code", "community_code"}
	sel := []string{"s.district_code", "s.street_code", "s.community_code"}
	for _, f := range k.Fields {
		cols = append(cols, pg.Ident(f.Name))
		switch {
		case k.Name == "hazards" && f.Name == "status":
			sel = append(sel, "coalesce(s.status, 'reported')")
		case k.Name == "hazards" && f.Name == "reported_at":
			sel = append(sel, "coalesce(s.reported_at, now())")
		case f.Type == grid.Bool:
			sel = append(sel, "coalesce(s."+pg.Ident(f.Name)+", false)")
		default:
			sel = append(sel, "s."+pg.Ident(f.Name))
		}
	}
	cols = append(cols, "h3")
	sel = append(sel, "s.h3")
	if hasCells(k) {
		cols = append(cols, "h3_cells")
		sel = append(sel, "s.h3_cells")
	}
	cols = append(cols, "geom")
	sel = append(sel, geomExpr(k))

	table, key := pg.Ident(k.Table), pg.Ident(k.Key)
	match := fmt.Sprintf("t.%s = s.%s", key, key)
	if k.Big {
		match += " AND t.district_code = s.district_code"
	}
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = fmt.Sprintf("%s = %s", c, sel[i])
	}
	set = append(set, "updated_at = now()")
	if k.Name == "hazards" {
		set = append(set, "version = t.version + 1")
	}
	update := fmt.Sprintf("UPDATE %s t SET %s FROM staging s WHERE %s", table, strings.Join(set, ", "), match)
	insert := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM staging s", table, strings.Join(cols, ", "), strings.Join(sel, ", "))
	if !bulk {
		insert += fmt.Sprintf(" WHERE NOT EXISTS (SELECT 1 FROM %s t WHERE %s)", table, match)
	}

	steps := []writeStep{{sql: tagSQL}}
	if bulk {
		// Into an empty table: keys are unique within the file, nothing to update or move.
		// (The bulk path records the first risk levels after all its rows are in:
		// bulkRiskLevelSQL.)
		return append(steps, writeStep{sql: insert, counts: "inserted"})
	}
	if k.Name == "enterprises" {
		// Before the rows change: the levels a re-import changes, and the first level of
		// each new enterprise (a row moving to another district keeps its history).
		steps = append(steps, riskLevelSteps...)
	}
	if k.Big {
		// A row whose code now lands in another district moves: its old copy goes.
		steps = append(steps, writeStep{sql: fmt.Sprintf(
			"DELETE FROM %s t USING staging s WHERE t.%s = s.%s AND t.district_code <> s.district_code", table, key, key)})
	}
	steps = append(steps, writeStep{sql: update, counts: "updated"})
	if k.Name == "hazards" {
		// A new hazard's history starts with its import.
		insert = fmt.Sprintf(`WITH w AS (%s RETURNING district_code, id, status, reported_at)
INSERT INTO hazard_history (district_code, hazard_id, from_status, to_status, actor, note, at)
SELECT district_code, id, NULL, status, $1, 'imported', reported_at FROM w`, insert)
		return append(steps, writeStep{sql: insert, actor: true, counts: "inserted"})
	}
	return append(steps, writeStep{sql: insert, counts: "inserted"})
}

// riskLevelSteps record, in enterprise_risk_levels (migration 00017), each level an import
// of enterprises into a loaded table changes and the first level of each enterprise it
// adds, with the import's actor; they run on the tagged staging rows before the update.
var riskLevelSteps = []writeStep{
	{actor: true, sql: `INSERT INTO enterprise_risk_levels (district_code, uscc, from_level, risk_level, actor)
SELECT s.district_code, s.uscc, t.risk_level, s.risk_level, $1
  FROM staging s JOIN enterprises t ON t.uscc = s.uscc
 WHERE t.risk_level <> s.risk_level`},
	{actor: true, sql: `INSERT INTO enterprise_risk_levels (district_code, uscc, from_level, risk_level, actor)
SELECT s.district_code, s.uscc, NULL, s.risk_level, $1
  FROM staging s WHERE NOT EXISTS (SELECT 1 FROM enterprises t WHERE t.uscc = s.uscc)`},
}

// bulkRiskLevelSQL records the first level of every enterprise the bulk path loaded: the
// table was empty when the import began, so every row in it is the import's.
const bulkRiskLevelSQL = `INSERT INTO enterprise_risk_levels (district_code, uscc, from_level, risk_level, actor)
SELECT district_code, uscc, NULL, risk_level, $1 FROM enterprises`

var areaWriteSQL = []writeStep{
	{counts: "both", sql: `WITH w AS (
INSERT INTO areas AS t (code, name, synthetic, geom)
SELECT s.code, s.name, coalesce(s.synthetic, false),
       CASE WHEN s.repair THEN ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_GeomFromEWKB(s.geom)), 3))
            ELSE ST_GeomFromEWKB(s.geom) END
  FROM staging s ORDER BY length(s.code), s.code
ON CONFLICT (code) DO UPDATE SET name = excluded.name, synthetic = excluded.synthetic,
       geom = excluded.geom, updated_at = now()
RETURNING (t.xmax = 0) AS inserted)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM w`},
	{sql: `DELETE FROM area_parts WHERE code IN (SELECT code FROM staging)`},
	{sql: `INSERT INTO area_parts (code, level, geom)
SELECT a.code, a.level, (ST_Dump(ST_Subdivide(a.geom, 64))).geom
  FROM areas a WHERE a.code IN (SELECT code FROM staging)`},
}

// checkAreaParents refuses streets and communities whose parent is neither loaded nor in
// the same file.
func checkAreaParents(ctx context.Context, tx pgx.Tx) ([]Rejection, error) {
	rows, err := tx.Query(ctx, `
SELECT s.row_n, s.code, CASE length(s.code) WHEN 9 THEN left(s.code, 6) ELSE left(s.code, 9) END AS parent
  FROM staging s
 WHERE length(s.code) > 6
   AND NOT EXISTS (SELECT 1 FROM areas a WHERE a.code = CASE length(s.code) WHEN 9 THEN left(s.code, 6) ELSE left(s.code, 9) END)
   AND NOT EXISTS (SELECT 1 FROM staging p WHERE p.code = CASE length(s.code) WHEN 9 THEN left(s.code, 6) ELSE left(s.code, 9) END)
 ORDER BY s.row_n`)
	if err != nil {
		return nil, err
	}
	var out []Rejection
	var n int32
	var code, parent string
	_, err = pgx.ForEachRow(rows, []any{&n, &code, &parent}, func() error {
		out = append(out, Rejection{Row: int(n), Field: "code", Reason: fmt.Sprintf("the parent area %s of %s is not loaded and not in this file", parent, code)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) > 0 {
		_, err = tx.Exec(ctx, `DELETE FROM staging s WHERE length(s.code) > 6
   AND NOT EXISTS (SELECT 1 FROM areas a WHERE a.code = CASE length(s.code) WHEN 9 THEN left(s.code, 6) ELSE left(s.code, 9) END)
   AND NOT EXISTS (SELECT 1 FROM staging p WHERE p.code = CASE length(s.code) WHEN 9 THEN left(s.code, 6) ELSE left(s.code, 9) END)`)
	}
	return out, err
}
