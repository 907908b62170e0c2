package grid

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
)

// The SQL of an import is built from the kind's own field list: every identifier comes
// from kinds.go, every value travels through COPY or a bound parameter.

func (t FieldType) sqlType() string {
	switch t {
	case Int:
		return "integer"
	case Float:
		return "double precision"
	case Bool:
		return "boolean"
	case Date:
		return "date"
	case Timestamp:
		return "timestamptz"
	}
	return "text"
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

func (k *Kind) stagingColumns() []string {
	cols := []string{"row_n"}
	for _, f := range k.Fields {
		cols = append(cols, f.Name)
	}
	return append(cols, "repair", "rep_lon", "rep_lat", "h3", "h3_cells", "geom")
}

func (k *Kind) stagingDDL() string {
	var b strings.Builder
	b.WriteString("CREATE TEMP TABLE staging (row_n integer NOT NULL")
	for _, f := range k.Fields {
		fmt.Fprintf(&b, ", %s %s", ident(f.Name), f.Type.sqlType())
	}
	b.WriteString(", repair boolean NOT NULL, rep_lon double precision NOT NULL, rep_lat double precision NOT NULL, h3 bigint NOT NULL, h3_cells bigint[], geom bytea NOT NULL) ON COMMIT DROP")
	return b.String()
}

func (k *Kind) stagingValues(rec record, vals []any) []any {
	vals = append(vals, int32(rec.n))
	vals = append(vals, rec.vals...)
	var cells any
	switch {
	case rec.cells != nil:
		cells = rec.cells
	case k.hasCells(): // a point of a kind that also takes polygons
		cells = []int64{rec.h3}
	}
	return append(vals, rec.repair, rec.rep[0], rec.rep[1], rec.h3, cells, rec.wkb)
}

type writeStep struct {
	sql    string
	counts bool // returns (inserted, updated); takes the actor as $1
}

// hasCells tells whether the table keeps every cell a geometry touches (non-point kinds).
func (k *Kind) hasCells() bool {
	for _, g := range k.Geoms {
		if g != GeomPoint {
			return true
		}
	}
	return false
}

func (k *Kind) repairable() bool {
	for _, g := range k.Geoms {
		if g == GeomPolygon || g == GeomMultiPolygon {
			return true
		}
	}
	return false
}

// geomExpr is the stored geometry of a staging row.
func (k *Kind) geomExpr() string {
	g := "ST_GeomFromWKB(s.geom, 4326)"
	if k.repairable() {
		return fmt.Sprintf("CASE WHEN s.repair THEN ST_Multi(ST_CollectionExtract(ST_MakeValid(%s), 3)) ELSE %s END", g, g)
	}
	return g
}

// tagSQL tags every staged row with its areas: cells wholly inside one community are looked
// up; the rest go through area_tag, DESIGN.md's rule for gaps and overlaps.
const tagSQL = `CREATE TEMP TABLE tagged ON COMMIT DROP AS
SELECT s.*, coalesce(ac.district_code, t.district_code) AS district_code,
       coalesce(ac.street_code, t.street_code) AS street_code,
       coalesce(ac.community_code, t.community_code) AS community_code
  FROM staging s
  LEFT JOIN area_cells ac ON ac.h3 = s.h3
  LEFT JOIN LATERAL (SELECT * FROM area_tag(ST_SetSRID(ST_MakePoint(s.rep_lon, s.rep_lat), 4326))
                      WHERE ac.h3 IS NULL) t ON true`

func (k *Kind) writeSQL() []writeStep {
	if k.Name == "areas" {
		return areaWriteSQL
	}
	cols := []string{"district_code", "street_code", "community_code"}
	sel := []string{"s.district_code", "s.street_code", "s.community_code"}
	for _, f := range k.Fields {
		cols = append(cols, ident(f.Name))
		switch {
		case k.Name == "hazards" && f.Name == "status":
			sel = append(sel, "coalesce(s.status, 'reported')")
		case k.Name == "hazards" && f.Name == "reported_at":
			sel = append(sel, "coalesce(s.reported_at, now())")
		case f.Type == Bool:
			sel = append(sel, "coalesce(s."+ident(f.Name)+", false)")
		default:
			sel = append(sel, "s."+ident(f.Name))
		}
	}
	cols = append(cols, "h3")
	sel = append(sel, "s.h3")
	if k.hasCells() {
		cols = append(cols, "h3_cells")
		sel = append(sel, "s.h3_cells")
	}
	cols = append(cols, "geom")
	sel = append(sel, k.geomExpr())

	var set []string
	for _, c := range cols {
		set = append(set, fmt.Sprintf("%s = excluded.%s", c, c))
	}
	set = append(set, "updated_at = now()")
	conflict := "(" + ident(k.Key) + ")"
	if k.Big {
		conflict = "(district_code, " + ident(k.Key) + ")"
	}
	if k.Name == "hazards" {
		set = append(set, "version = t.version + 1")
	}
	table := ident(k.Table)
	insert := fmt.Sprintf("INSERT INTO %s AS t (%s) SELECT %s FROM tagged s ORDER BY s.row_n ON CONFLICT %s DO UPDATE SET %s",
		table, strings.Join(cols, ", "), strings.Join(sel, ", "), conflict, strings.Join(set, ", "))

	var counted string
	if k.Name == "hazards" {
		counted = fmt.Sprintf(`WITH w AS (%s RETURNING t.district_code, t.id, t.status, t.reported_at, (t.xmax = 0) AS inserted),
h AS (INSERT INTO hazard_history (district_code, hazard_id, from_status, to_status, actor, note, at)
      SELECT district_code, id, NULL, status, $1, 'imported', reported_at FROM w WHERE inserted)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM w`, insert)
	} else {
		counted = fmt.Sprintf(`WITH w AS (%s RETURNING (t.xmax = 0) AS inserted)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM w WHERE $1::text IS NOT NULL`, insert)
	}
	steps := []writeStep{{sql: tagSQL}}
	if k.Big {
		// A row whose external code now lands in another district moves: its old copy goes.
		steps = append(steps, writeStep{sql: fmt.Sprintf(
			"DELETE FROM %s t USING tagged s WHERE t.%s = s.%s AND t.district_code <> s.district_code",
			table, ident(k.Key), ident(k.Key))})
	}
	return append(steps, writeStep{sql: counted, counts: true})
}

var areaWriteSQL = []writeStep{
	{counts: true, sql: `WITH w AS (
INSERT INTO areas AS t (code, name, synthetic, geom)
SELECT s.code, s.name, coalesce(s.synthetic, false),
       CASE WHEN s.repair THEN ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_GeomFromWKB(s.geom, 4326)), 3))
            ELSE ST_GeomFromWKB(s.geom, 4326) END
  FROM staging s ORDER BY length(s.code), s.code
ON CONFLICT (code) DO UPDATE SET name = excluded.name, synthetic = excluded.synthetic,
       geom = excluded.geom, updated_at = now()
RETURNING (t.xmax = 0) AS inserted)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM w WHERE $1::text IS NOT NULL`},
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

// rebuildAreaCells recomputes the cells that lie wholly inside one community (and its
// street and district) and touch no other area. Only those may skip the geometric test.
func rebuildAreaCells(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT code, ST_AsBinary(geom) FROM areas WHERE level = 'community'`)
	if err != nil {
		return err
	}
	type cand struct {
		h3   int64
		code string
	}
	var cands []cand
	var code string
	var data []byte
	_, err = pgx.ForEachRow(rows, []any{&code, &data}, func() error {
		g, err := wkb.Unmarshal(data)
		if err != nil {
			return err
		}
		for _, c := range geo.Cells(g, geo.SupervisionRes) {
			cands = append(cands, cand{int64(c), code})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE cell_cands (h3 bigint, code text, hex bytea) ON COMMIT DROP`); err != nil {
		return err
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"cell_cands"}, []string{"h3", "code", "hex"},
		pgx.CopyFromSlice(len(cands), func(i int) ([]any, error) {
			hex, err := wkb.Marshal(geo.CellPolygon(h3.Cell(cands[i].h3)))
			if err != nil {
				return nil, err
			}
			return []any{cands[i].h3, cands[i].code, hex}, nil
		}))
	if err != nil {
		return fmt.Errorf("area cells: %w", err)
	}
	for _, q := range []string{
		`DELETE FROM area_cells`,
		`INSERT INTO area_cells (h3, district_code, street_code, community_code)
SELECT DISTINCT ON (c.h3) c.h3, d.code, st.code, com.code
  FROM (SELECT h3, code, ST_GeomFromWKB(hex, 4326) AS hex FROM cell_cands) c
  JOIN areas com ON com.code = c.code
  JOIN areas st ON st.code = com.parent_code
  JOIN areas d ON d.code = st.parent_code
 WHERE ST_ContainsProperly(com.geom, c.hex)
   AND ST_ContainsProperly(st.geom, c.hex)
   AND ST_ContainsProperly(d.geom, c.hex)
   AND NOT EXISTS (SELECT 1 FROM area_parts o
                    WHERE o.code NOT IN (com.code, st.code, d.code) AND ST_Intersects(o.geom, c.hex))
 ORDER BY c.h3, com.code`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("area cells: %w", err)
		}
	}
	return nil
}
