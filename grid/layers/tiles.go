package layers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// Vector tiles (Mapbox Vector Tile 2.1, extent 4096, 64 units of buffer). Every layer
// selects with the tile's envelope buffered and transformed to EPSG:4326, so the GiST
// index on geom is used (the column is never transformed for the test), clips with the
// exact envelope in EPSG:3857, and encodes with ST_AsMVT over a CTE that names its
// geometry column. Tiles are scoped like OGC items: an officer's tile holds their
// features only, a street office's its street's.
const (
	// DataMaxZoom is the zoom at which tiles hold every detail; clients overzoom past it.
	DataMaxZoom = 16
	// AggregateBelow is the zoom under which the big point layers (enterprises, hazards)
	// are aggregated to H3 parents, so that no tile grows past a few hundred kilobytes
	// (the raw zoom-8 enterprise tile over central Shanghai is about 29 MB).
	AggregateBelow = 12
	// GridCellsMinZoom: grid cells are 0.1 km² hexagons, invisible below zoom 11, and a
	// zoom-10 tile of a fully gridded city would hold 10,000 of them.
	GridCellsMinZoom = 11
	// MaxTileBytes bounds a big point layer's tile: a raw tile (zoom 12 and up) larger
	// than this over a dense district is served aggregated to supervision cells instead
	// (a zoom-12 tile holds at most about 700 of them). 1M enterprises over Shanghai are
	// about 11,000 per zoom-12 tile on average, some 1 MB raw.
	MaxTileBytes = 450 << 10
	// MaxTileFeatures is the same bound counted before any tile is built: an enterprise
	// takes about 115 bytes of a raw tile, so a tile that would hold more than this many
	// features is aggregated straight away. Building it raw only to throw it away cost
	// 0.2 s for a tile of 4,000 enterprises and 3 s for the densest zoom-12 tile of the
	// scale-50 data set (72,000). The byte bound still catches features with long texts.
	MaxTileFeatures = 4000
)

// TileLayer is one layer of /tiles: a feature collection, the grid cells or the areas.
type TileLayer struct {
	ID          string
	Title       string
	Description string
	MinZoom     int
	Collection  *Collection // nil for grid_cells and areas
	// Fields are the attributes of the layer's features and their TileJSON types
	// (String, Number, Boolean).
	Fields map[string]string
}

// tileOmitted are long texts left out of tiles (they are in the OGC items): they make
// point tiles large and a map does not draw them.
var tileOmitted = []string{"address", "description", "measures"}

// tileLayers lists the layers: each feature collection, then grid_cells and areas.
var tileLayers = func() []*TileLayer {
	var out []*TileLayer
	for _, c := range collections {
		fields := map[string]string{"street_code": "String", "community_code": "String", "cell": "String"}
		for _, f := range c.Kind.Fields {
			if !slices.Contains(tileOmitted, f.Name) {
				fields[f.Name] = tileJSONType(f.Type)
			}
		}
		desc := c.Kind.Doc
		if c.Aggregate {
			desc += fmt.Sprintf(". Below zoom %d, and in any denser tile above, one point per H3 cell with count (and resolution, cell) instead of the features", AggregateBelow)
			fields["count"], fields["resolution"] = "Number", "Number"
			if k, ok := aggregateExtra[c.ID]; ok {
				fields[k.name] = "Number"
			}
		}
		out = append(out, &TileLayer{ID: c.ID, Title: c.Title(), Description: desc, Collection: c, Fields: fields})
	}
	out = append(out,
		&TileLayer{ID: "grid_cells", Title: "网格单元 Grid cells", MinZoom: GridCellsMinZoom,
			Description: "the resolution-9 H3 cells of the grid units, as hexagons, with their unit and officer",
			Fields:      map[string]string{"cell": "String", "unit_code": "String", "unit_name": "String", "street_code": "String", "officer": "String"}},
		&TileLayer{ID: "areas", Title: "行政区划 Administrative areas",
			Description: "district 区 boundaries at every zoom, streets 街道/镇 from zoom 9, communities 居委/村 from zoom 12; not scoped (boundaries are public)",
			Fields:      map[string]string{"code": "String", "name": "String", "level": "String", "parent_code": "String"}},
	)
	return out
}()

// TileLayerByID returns the layer called id, or a NotFoundError.
func TileLayerByID(id string) (*TileLayer, error) {
	for _, l := range tileLayers {
		if l.ID == id {
			return l, nil
		}
	}
	return nil, &grid.NotFoundError{What: "tile layer", Key: id}
}

func tileJSONType(t grid.FieldType) string {
	switch t {
	case grid.Int, grid.Float:
		return "Number"
	case grid.Bool:
		return "Boolean"
	default:
		return "String"
	}
}

// aggregateExtra is one more count per aggregated cell, for styling.
var aggregateExtra = map[string]struct{ name, expr string }{
	"enterprises": {"major", "count(*) FILTER (WHERE t.risk_level = '重大')"},
	"hazards":     {"open", "count(*) FILTER (WHERE t.status <> 'closed')"},
}

// AggregateRes is the H3 resolution points aggregate to at zoom z (below AggregateBelow):
// a parent a dozen or so pixels across.
func AggregateRes(z int) int { return min(max(z-3, 3), 8) }

// aggregateMargin is the selection buffer (a fraction of the tile) that holds every member
// of a parent cell whose members' mean lies in the tile: about a cell's diameter, with the
// Mercator scale of Shanghai's latitude.
func aggregateMargin(z, res int) float64 {
	tileM := 40075016.686 / float64(uint64(1)<<z)
	return 2.6 * geo.H3EdgeM(res) * 1.25 / tileM
}

// Tile returns the z/x/y tile of layer in p's scope; empty (no bytes) when it has no
// features.
func (s *Service) Tile(ctx context.Context, l *TileLayer, p *grid.Principal, z, x, y int) ([]byte, error) {
	if !geo.ValidTile(z, x, y) {
		return nil, &grid.InvalidError{Field: "z/x/y", Reason: fmt.Sprintf("no tile %d/%d/%d: zoom 0 to %d, x and y 0 to 2^zoom-1", z, x, y, geo.MaxZoom)}
	}
	if z < l.MinZoom {
		return nil, nil
	}
	var (
		sql  string
		args = []any{z, x, y}
	)
	switch {
	case l.ID == "grid_cells":
		return s.gridCellsTile(ctx, p, z, x, y)
	case l.ID == "areas":
		sql, args = areasTileSQL, append(args, float64(geo.TileBuffer)/geo.TileExtent)
	case l.Collection.Aggregate && z < AggregateBelow:
		return s.aggregateTile(ctx, l.Collection, p, z, x, y, AggregateRes(z))
	default:
		if l.Collection.Aggregate {
			dense, err := s.tileDenserThan(ctx, l.Collection, p, z, x, y, MaxTileFeatures)
			if err != nil {
				return nil, err
			}
			if dense {
				return s.aggregateTile(ctx, l.Collection, p, z, x, y, geo.SupervisionRes)
			}
		}
		cond, sargs := l.Collection.scope(p, 5)
		sql = l.Collection.tileSQL(cond)
		args = append(append(args, float64(geo.TileBuffer)/geo.TileExtent), sargs...)
	}
	var tile []byte
	if err := s.db.QueryRow(ctx, sql, args...).Scan(&tile); err != nil {
		return nil, err
	}
	if l.Collection != nil && l.Collection.Aggregate && len(tile) > MaxTileBytes {
		return s.aggregateTile(ctx, l.Collection, p, z, x, y, geo.SupervisionRes)
	}
	return tile, nil
}

// tileDenserThan reports whether more than n of c's features in p's scope fall in the
// z/x/y tile's selection (its envelope with the buffer margin, as tileSQL selects). It
// reads at most n+1 index entries, so it stays cheap however dense the tile.
func (s *Service) tileDenserThan(ctx context.Context, c *Collection, p *grid.Principal, z, x, y, n int) (bool, error) {
	cond, sargs := c.scope(p, 6)
	args := append([]any{z, x, y, float64(geo.TileBuffer) / geo.TileExtent, n + 1}, sargs...)
	var count int
	err := s.db.QueryRow(ctx, c.tileCountSQL(cond), args...).Scan(&count)
	return count > n, err
}

// tileCountSQL counts c's features in a tile's selection, up to a limit: $1-$3 z/x/y,
// $4 the selection margin, $5 the limit, scope after.
func (c *Collection) tileCountSQL(scope string) string {
	return fmt.Sprintf(`SELECT count(*)::int FROM (
    SELECT FROM %[1]s t
    WHERE t.geom && ST_Transform(ST_TileEnvelope($1::int, $2::int, $3::int, margin => $4::float8), 4326)
      AND %[2]s
    LIMIT $5::int
) x`, c.table(), scope)
}

func (s *Service) aggregateTile(ctx context.Context, c *Collection, p *grid.Principal, z, x, y, res int) ([]byte, error) {
	cond, sargs := c.scope(p, 6)
	args := append([]any{z, x, y, res, aggregateMargin(z, res)}, sargs...)
	var tile []byte
	err := s.db.QueryRow(ctx, c.aggregateTileSQL(cond), args...).Scan(&tile)
	return tile, err
}

// tileSQL is the SQL of c's tile: $1-$3 z/x/y, $4 the selection margin, scope after.
func (c *Collection) tileSQL(scope string) string {
	cols := []string{"t.id", "t.street_code", "t.community_code", "h3_hex(t.h3) AS cell"}
	for _, f := range c.Kind.Fields {
		if slices.Contains(tileOmitted, f.Name) {
			continue
		}
		col := "t." + pg.Ident(f.Name)
		switch {
		case f.Type == grid.Timestamp:
			col = grid.TimeSQL(col)
		case f.Type == grid.Date:
			col += "::text"
		case f.Type == grid.Float:
			col += "::float8"
		}
		cols = append(cols, col+" AS "+pg.Ident(f.Name))
	}
	// MATERIALIZED: inlined, the CTE's geom IS NOT NULL test became a filter on the scan
	// that ran ST_AsMVTGeom a second time for every row (a quarter of the query's time).
	// ORDER BY id: the bytes, and so the ETag, must not change with the order a parallel
	// scan returns the rows in.
	return fmt.Sprintf(`WITH mvtgeom AS MATERIALIZED (
    SELECT ST_AsMVTGeom(ST_Transform(t.geom, 3857), ST_TileEnvelope($1::int, $2::int, $3::int), %[1]d, %[2]d, true) AS geom,
           %[3]s
    FROM %[4]s t
    WHERE t.geom && ST_Transform(ST_TileEnvelope($1::int, $2::int, $3::int, margin => $4::float8), 4326)
      AND %[5]s
    ORDER BY t.id
)
SELECT ST_AsMVT(mvtgeom.*, %[6]s, %[1]d, 'geom', 'id') FROM mvtgeom WHERE geom IS NOT NULL`,
		geo.TileExtent, geo.TileBuffer, strings.Join(cols, ", "), c.table(), scope, pg.Literal(c.ID))
}

// aggregateTileSQL is the SQL of c's aggregated tile: $1-$3 z/x/y, $4 the H3 resolution,
// $5 the selection margin, scope after. A parent cell is drawn at the mean of its members,
// in the one tile that mean falls in (half-open on the tile's edges, compared exactly:
// && compares float4 boxes, which puts a point on an edge in both tiles), with the count
// of all its members: the margin is a cell wide, so none is missed at the tile's edge.
func (c *Collection) aggregateTileSQL(scope string) string {
	extra := ""
	if k, ok := aggregateExtra[c.ID]; ok {
		extra = fmt.Sprintf(", (%s)::int AS %s", k.expr, k.name)
	}
	extraCol := ""
	if k, ok := aggregateExtra[c.ID]; ok {
		extraCol = ", " + k.name
	}
	return fmt.Sprintf(`WITH cells AS (
    SELECT h3_parent(t.h3, $4::int) AS cell, count(*)::int AS count%[1]s,
           ST_Transform(ST_SetSRID(ST_MakePoint(avg(ST_X(t.geom)), avg(ST_Y(t.geom))), 4326), 3857) AS centre
    FROM %[2]s t
    WHERE t.geom && ST_Transform(ST_TileEnvelope($1::int, $2::int, $3::int, margin => $5::float8), 4326)
      AND %[3]s
    GROUP BY 1
), mvtgeom AS (
    SELECT ST_AsMVTGeom(centre, ST_TileEnvelope($1::int, $2::int, $3::int), %[4]d, 0, false) AS geom,
           cell AS id, h3_hex(cell) AS cell, $4::int AS resolution, count%[5]s
    FROM cells, (SELECT ST_TileEnvelope($1::int, $2::int, $3::int) AS env) e
    WHERE ST_X(centre) >= ST_XMin(e.env) AND ST_X(centre) < ST_XMax(e.env)
      AND ST_Y(centre) > ST_YMin(e.env) AND ST_Y(centre) <= ST_YMax(e.env)
    ORDER BY cells.cell
)
SELECT ST_AsMVT(mvtgeom.*, %[6]s, %[4]d, 'geom', 'id') FROM mvtgeom WHERE geom IS NOT NULL`,
		extra, c.table(), scope, geo.TileExtent, extraCol, pg.Literal(c.ID))
}

// areasTileSQL: districts at every zoom, streets from 9, communities from 12. Areas are
// public reference data, so the layer is not scoped.
var areasTileSQL = fmt.Sprintf(`WITH mvtgeom AS (
    SELECT ST_AsMVTGeom(ST_Transform(t.geom, 3857), ST_TileEnvelope($1::int, $2::int, $3::int), %[1]d, %[2]d, true) AS geom,
           t.code, t.name, t.level, t.parent_code
    FROM areas t
    WHERE t.geom && ST_Transform(ST_TileEnvelope($1::int, $2::int, $3::int, margin => $4::float8), 4326)
      AND (t.level = 'district' OR (t.level = 'street' AND $1::int >= 9) OR $1::int >= 12)
)
SELECT ST_AsMVT(mvtgeom.*, 'areas', %[1]d, 'geom') FROM mvtgeom WHERE geom IS NOT NULL`, geo.TileExtent, geo.TileBuffer)

// gridCellsTileSQL picks the grid cells among the tile's candidate cells ($1) in scope.
const gridCellsTileSQL = `SELECT gc.h3, gc.unit_code, u.name, u.street_code, coalesce(o.username, '')
FROM grid_cells gc JOIN grid_units u ON u.code = gc.unit_code LEFT JOIN users o ON o.id = u.officer_id
WHERE gc.h3 = ANY($1) AND `

// gridCellsTile builds the grid cell layer in Go: PostgreSQL has no H3 boundary function
// without the h3 extension, so the candidates (the resolution-9 cells of the tile's
// envelope grown by a cell) and the hexagons come from h3-go, and the database only says
// which candidates are grid cells in scope (an index lookup on grid_cells.h3).
func (s *Service) gridCellsTile(ctx context.Context, p *grid.Principal, z, x, y int) ([]byte, error) {
	scope, sargs := grid.Scope(p, grid.ScopeCols{District: "gc.district_code", Street: "u.street_code", Cell: "gc.h3"}, 2)
	if scope == "false" {
		return nil, nil
	}
	args := append([]any{nil}, sargs...)
	tile := maptile.New(uint32(x), uint32(y), maptile.Zoom(z))
	args[0] = candidateCells(tile.Bound())
	rows, err := s.db.Query(ctx, gridCellsTileSQL+scope, args...)
	if err != nil {
		return nil, err
	}
	fc := geojson.NewFeatureCollection()
	var (
		cell                      int64
		unit, name, street, owner string
	)
	_, err = pgx.ForEachRow(rows, []any{&cell, &unit, &name, &street, &owner}, func() error {
		c := h3.Cell(cell)
		f := geojson.NewFeature(geo.CellPolygon(c))
		f.ID = uint64(cell)
		f.Properties = geojson.Properties{"cell": c.String(), "unit_code": unit, "unit_name": name, "street_code": street, "officer": owner}
		fc.Append(f)
		return nil
	})
	if err != nil || len(fc.Features) == 0 {
		return nil, err
	}
	layer := mvt.NewLayer("grid_cells", fc)
	layer.ProjectToTile(tile)
	layer.Clip(orb.Bound{Min: orb.Point{-geo.TileBuffer, -geo.TileBuffer}, Max: orb.Point{geo.TileExtent + geo.TileBuffer, geo.TileExtent + geo.TileBuffer}})
	return mvt.Marshal(mvt.Layers{layer})
}

// candidateCells are the resolution-9 cells whose centres lie in b grown by about two
// cell widths, a superset of the cells whose hexagons touch b.
func candidateCells(b orb.Bound) []int64 {
	return geo.BoundCells(b, 0.005, geo.SupervisionRes) // 0.005°: about 500 m, two res-9 cells
}

// LayerBounds is the lon/lat extent of a layer's features in p's scope: the collection's
// extent, or the areas' for grid_cells and areas; geo.ShanghaiExtent() when empty.
func (s *Service) LayerBounds(ctx context.Context, l *TileLayer, p *grid.Principal) ([4]float64, error) {
	if l.Collection != nil {
		b, ok, err := s.Extent(ctx, l.Collection, p)
		if err != nil || !ok {
			return geo.ShanghaiExtent(), err
		}
		return b, nil
	}
	var x0, y0, x1, y1 *float64
	err := s.db.QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT ST_Extent(geom) AS e FROM areas WHERE level = 'district') x`).Scan(&x0, &y0, &x1, &y1)
	if err != nil || x0 == nil {
		return geo.ShanghaiExtent(), err
	}
	return [4]float64{*x0, *y0, *x1, *y1}, nil
}

// Tables are the tables a tile of layer l is drawn from: its own, the grid (an
// officer's scope) and areas; grid_cells' tiles also show officers' names from users.
func (l *TileLayer) Tables() []string {
	own := l.ID
	if l.Collection != nil {
		own = l.Collection.Kind.Table
	}
	out := []string{grid.VersionName(own), "grid", "areas"}
	if l.ID == "grid_cells" {
		out = append(out, "users")
	}
	return out
}

// TileLayers lists the layers: each feature collection, then grid_cells and areas.
// Callers get a copy: the table itself is fixed.
func TileLayers() []*TileLayer { return slices.Clone(tileLayers) }
