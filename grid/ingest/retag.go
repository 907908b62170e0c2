package ingest

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/twpayne/go-geom"

	"safegrid/geo"
	"safegrid/grid/internal/pg"
)

// Tags (district, street, community) are written with each feature. An areas import that
// moves a border would leave them stale, so it re-tags, in its own transaction, the
// features and hazards near the areas it changed, with the write path's rule: area_tag
// at the feature's representative point (geo.RepresentativePoint, so lines and areas land
// where the importer put them).

// retagTable is a table whose rows carry tags; child is the big table whose rows hang on
// it by (district_code, childKey) and move with it.
type retagTable struct {
	name            string
	big             bool
	child, childKey string
}

var retagTables = []retagTable{
	{name: "enterprises", big: true, child: "inspections", childKey: "enterprise_id"},
	{name: "pipelines", big: true},
	{name: "gas_occupancy_sites", big: true},
	{name: "underground_spaces", big: true},
	{name: "hazards", big: true, child: "hazard_history", childKey: "hazard_id"},
	{name: "fire_stations"},
	{name: "fishing_ports"},
}

// retagMarginDeg widens each changed area's box (about 2 km) to catch the points in the
// gaps beside it, which take the nearest area.
const retagMarginDeg = 0.02

// areaOldSQL keeps the geometries an areas import is about to replace (run before it).
const areaOldSQL = `CREATE TEMP TABLE area_old ON COMMIT DROP AS
SELECT a.code, a.geom FROM areas a WHERE a.code IN (SELECT code FROM staging)`

// areaZoneSQL is, per area the import added or changed, the box its old and new
// geometries span, widened by $1 degrees.
const areaZoneSQL = `CREATE TEMP TABLE area_zone ON COMMIT DROP AS
SELECT a.code, ST_Expand(ST_Envelope(ST_Collect(coalesce(o.geom, a.geom), a.geom)), $1::float8) AS box
  FROM areas a JOIN (SELECT DISTINCT code FROM staging) s ON s.code = a.code
  LEFT JOIN area_old o ON o.code = a.code
 WHERE o.geom IS NULL OR ST_AsBinary(o.geom) <> ST_AsBinary(a.geom)`

const retagDDL = `CREATE TEMP TABLE retag (tbl text NOT NULL, district_code text NOT NULL, id bigint NOT NULL,
 street_code text, community_code text, lon float8 NOT NULL, lat float8 NOT NULL,
 new_district text, new_street text, new_community text) ON COMMIT DROP`

// retagCandidates selects a table's rows that a changed area may re-tag: near one, or
// tagged with one.
const retagCandidates = `EXISTS (SELECT 1 FROM area_zone z WHERE z.box && t.geom)
    OR t.district_code IN (SELECT code FROM area_zone)
    OR t.street_code IN (SELECT code FROM area_zone)
    OR t.community_code IN (SELECT code FROM area_zone)`

// retagTagSQL is the write path's rule (area_tag); rows whose tags stay are dropped.
var retagTagSQL = []string{
	`UPDATE retag r SET (new_district, new_street, new_community) =
       (SELECT t.district_code, t.street_code, t.community_code
          FROM area_tag(ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326)) t)`,
	`DELETE FROM retag WHERE new_district IS NULL
    OR (new_district, new_street, new_community) IS NOT DISTINCT FROM (district_code, street_code, community_code)`,
}

// retagAreas re-tags after an areas import; it returns the rows re-tagged per table.
func retagAreas(ctx context.Context, tx pgx.Tx) (map[string]int, error) {
	if _, err := tx.Exec(ctx, areaZoneSQL, retagMarginDeg); err != nil {
		return nil, fmt.Errorf("retag: %w", err)
	}
	var zones int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM area_zone`).Scan(&zones); err != nil || zones == 0 {
		return nil, err
	}
	if _, err := tx.Exec(ctx, retagDDL); err != nil {
		return nil, fmt.Errorf("retag: %w", err)
	}
	for _, t := range retagTables {
		if err := collectRetag(ctx, tx, t.name); err != nil {
			return nil, fmt.Errorf("retag %s: %w", t.name, err)
		}
	}
	for _, q := range retagTagSQL {
		if _, err := tx.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("retag: %w", err)
		}
	}
	out := map[string]int{}
	for _, t := range retagTables {
		n, err := applyRetag(ctx, tx, t)
		if err != nil {
			return nil, fmt.Errorf("retag %s: %w", t.name, err)
		}
		if n > 0 {
			out[t.name] = n
		}
	}
	return out, nil
}

// collectRetag fills retag with the candidate rows of table and their representative
// points: a point is itself (in SQL); lines and areas go through geo.RepresentativePoint.
func collectRetag(ctx context.Context, tx pgx.Tx, table string) error {
	tbl := pg.Ident(table)
	if _, err := tx.Exec(ctx, `INSERT INTO retag (tbl, district_code, id, street_code, community_code, lon, lat)
SELECT $1, t.district_code, t.id, t.street_code, t.community_code, ST_X(t.geom), ST_Y(t.geom)
  FROM `+tbl+` t WHERE GeometryType(t.geom) = 'POINT' AND (`+retagCandidates+`)`, table); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT t.district_code, t.id, t.street_code, t.community_code, t.geom
  FROM `+tbl+` t WHERE GeometryType(t.geom) <> 'POINT' AND (`+retagCandidates+`)`)
	if err != nil {
		return err
	}
	var recs [][]any
	var district string
	var id int64
	var street, community *string
	var t geom.T
	_, err = pgx.ForEachRow(rows, []any{&district, &id, &street, &community, &t}, func() error {
		g, err := geo.FromGeom(t)
		if err != nil {
			return err
		}
		p := geo.RepresentativePoint(g)
		recs = append(recs, []any{table, district, id, street, community, p[0], p[1]})
		return nil
	})
	if err != nil || len(recs) == 0 {
		return err
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"retag"},
		[]string{"tbl", "district_code", "id", "street_code", "community_code", "lon", "lat"}, pgx.CopyFromRows(recs))
	return err
}

// applyRetag writes the new tags of one table. A row of a big table whose district
// changes moves (district_code leads its key and is the distribution column: it is never
// updated in place): a copy with the same id goes into the new district, its child rows
// follow, the old rows go.
func applyRetag(ctx context.Context, tx pgx.Tx, t retagTable) (int, error) {
	tbl := pg.Ident(t.name)
	set := "district_code = r.new_district, street_code = r.new_street, community_code = r.new_community, updated_at = now()"
	same := ""
	if t.big {
		set = "street_code = r.new_street, community_code = r.new_community, updated_at = now()"
		same = " AND r.new_district = r.district_code"
	}
	tag, err := tx.Exec(ctx, `UPDATE `+tbl+` t SET `+set+`
  FROM retag r WHERE r.tbl = $1 AND t.district_code = r.district_code AND t.id = r.id`+same, t.name)
	if err != nil || !t.big {
		return int(tag.RowsAffected()), err
	}
	n := int(tag.RowsAffected())
	const moving = ` JOIN retag r ON r.tbl = $1 AND r.new_district <> r.district_code`
	cols, err := copyColumns(ctx, tx, t.name, map[string]string{"district_code": "r.new_district",
		"street_code": "r.new_street", "community_code": "r.new_community", "updated_at": "now()"})
	if err != nil {
		return 0, err
	}
	tag, err = tx.Exec(ctx, `INSERT INTO `+tbl+` (`+cols[0]+`) OVERRIDING SYSTEM VALUE
SELECT `+cols[1]+` FROM `+tbl+` t`+moving+` AND t.district_code = r.district_code AND t.id = r.id`, t.name)
	if err != nil {
		return 0, err
	}
	n += int(tag.RowsAffected())
	if t.child != "" {
		child, key := pg.Ident(t.child), pg.Ident(t.childKey)
		ccols, err := copyColumns(ctx, tx, t.child, map[string]string{"district_code": "r.new_district"})
		if err != nil {
			return 0, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+child+` (`+ccols[0]+`) OVERRIDING SYSTEM VALUE
SELECT `+ccols[1]+` FROM `+child+` t`+moving+` AND t.district_code = r.district_code AND t.`+key+` = r.id`, t.name); err != nil {
			return 0, err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM `+child+` t USING retag r
 WHERE r.tbl = $1 AND r.new_district <> r.district_code AND t.district_code = r.district_code AND t.`+key+` = r.id`, t.name); err != nil {
			return 0, err
		}
	}
	_, err = tx.Exec(ctx, `DELETE FROM `+tbl+` t USING retag r
 WHERE r.tbl = $1 AND r.new_district <> r.district_code AND t.district_code = r.district_code AND t.id = r.id`, t.name)
	return n, err
}

// copyColumns lists a table's stored columns (not generated ones) from the catalog, and
// the select list that copies a row as t with the given columns replaced.
func copyColumns(ctx context.Context, tx pgx.Tx, table string, replace map[string]string) ([2]string, error) {
	rows, err := tx.Query(ctx, `SELECT attname FROM pg_attribute
 WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`, table)
	if err != nil {
		return [2]string{}, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return [2]string{}, err
	}
	if len(names) == 0 {
		return [2]string{}, fmt.Errorf("no columns for %s", table)
	}
	cols, sel := make([]string, len(names)), make([]string, len(names))
	for i, n := range names {
		cols[i] = pg.Ident(n)
		sel[i] = "t." + pg.Ident(n)
		if e, ok := replace[n]; ok {
			sel[i] = e
		}
	}
	return [2]string{strings.Join(cols, ", "), strings.Join(sel, ", ")}, nil
}
