package risk

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"safegrid/geo"
	"safegrid/grid"
)

// The four-colour map as vector tiles (Mapbox Vector Tile 2.1, extent 4096, the buffer of
// geo.TileBuffer), read from one snapshot and never recomputed, the way grid/layers builds
// its tiles: the selection uses an index (areas' GiST on geom; risk_cells' (snapshot_id,
// h3) with the tile's candidate cells from geo.TileCells), ST_AsMVTGeom clips with the
// exact envelope in EPSG:3857, ST_AsMVT encodes a CTE ordered by key so that equal
// snapshots give equal bytes.
//
//	risk_areas  districts up to zoom 9, streets at 10 and 11, communities at 12
//	risk_cells  the resolution-9 cells from zoom 13
//
// Cells start at 13, not 12: a zoom-12 tile over the demo's centre holds some 1,000 cells
// (95 KB, 19 ms against 4 ms for the enterprise tile); from 13 a tile costs what a
// grid_cells tile does (docs/RISK.md has the figures).
const (
	LayerAreas = "risk_areas"
	LayerCells = "risk_cells"
	// StreetsMinZoom, CommunitiesMinZoom and CellsMinZoom are where each level of the
	// map starts; areas end where the cells take over (AreasMaxZoom).
	StreetsMinZoom     = 10
	CommunitiesMinZoom = 12
	AreasMaxZoom       = 12
	CellsMinZoom       = 13
	// TilesMaxZoom is the deepest zoom with data; clients overzoom past it.
	TilesMaxZoom = 16
)

// TileFields are each layer's attributes and their TileJSON types.
func TileFields() map[string]map[string]string {
	return map[string]map[string]string{
		LayerAreas: {"code": "String", "name": "String", "level": "String", "district_code": "String",
			"score": "Number", "colour": "String", "score_colour": "String", "floor_colour": "String"},
		LayerCells: {"h3": "String", "level": "String", "district_code": "String", "street_code": "String", "community_code": "String",
			"score": "Number", "colour": "String", "score_colour": "String", "floor_colour": "String"},
	}
}

// AreaTileLevel is the level of the areas drawn at zoom z ("" above AreasMaxZoom).
func AreaTileLevel(z int) string {
	switch {
	case z > AreasMaxZoom:
		return ""
	case z >= CommunitiesMinZoom:
		return LevelCommunity
	case z >= StreetsMinZoom:
		return LevelStreet
	}
	return LevelDistrict
}

// TileSource is what a tile is drawn from: one snapshot in one view. Key names it for an
// ETag: the snapshot's rows never change, so equal keys (with the caller's scope and the
// tile) mean equal tiles.
type TileSource struct {
	Snapshot SnapshotRef
	Key      string
	view     view
}

// TileSource picks the snapshot of the tiles (by id or date, else the latest) and checks
// the view (zone membership), as Areas does.
func (s *Service) TileSource(ctx context.Context, p *grid.Principal, pick Pick, zone string) (*TileSource, error) {
	v, err := s.newView(ctx, p, zone)
	if err != nil {
		return nil, err
	}
	cur, err := s.pickOne(ctx, pick, "date")
	if err != nil {
		return nil, err
	}
	key := "snapshot=" + strconv.FormatInt(cur.ID, 10)
	if zone != "" {
		// A zone's picture changes with its areas or polygon, under the same snapshot.
		var updated time.Time
		if err := s.db.QueryRow(ctx, `SELECT updated_at FROM risk_zones WHERE code = $1`, zone).Scan(&updated); err != nil {
			return nil, err
		}
		key += ";zone=" + zone + "@" + strconv.FormatInt(updated.UnixMicro(), 10)
	}
	return &TileSource{Snapshot: cur, Key: key, view: v}, nil
}

// Tile is the z/x/y tile of src: its layers for the zoom, in the view; empty (no bytes)
// when nothing is in it.
func (s *Service) Tile(ctx context.Context, src *TileSource, z, x, y int) ([]byte, error) {
	if !geo.ValidTile(z, x, y) {
		return nil, Bad("z/x/y", fmt.Sprintf("no tile %d/%d/%d: zoom 0 to %d, x and y 0 to 2^zoom-1", z, x, y, geo.MaxZoom))
	}
	var out []byte
	if level := AreaTileLevel(z); level != "" {
		cond, cargs := src.view.areaCond(8)
		// Half a pixel of the tile in metres: simplifying by it changes nothing drawn.
		tolerance := 40075016.686 / float64(uint64(1)<<z) / geo.TileExtent / 2
		var tile []byte
		if err := s.db.QueryRow(ctx, fmt.Sprintf(areasTileSQL, cond), append([]any{z, x, y,
			float64(geo.TileBuffer) / geo.TileExtent, src.Snapshot.ID, level, tolerance}, cargs...)...).Scan(&tile); err != nil {
			return nil, err
		}
		out = append(out, tile...)
	}
	if z >= CellsMinZoom {
		cond, cargs := src.view.cellCond(6)
		var tile []byte
		if err := s.db.QueryRow(ctx, fmt.Sprintf(cellsTileSQL, cond), append([]any{z, x, y,
			src.Snapshot.ID, geo.TileCells(z, x, y, geo.SupervisionRes)}, cargs...)...).Scan(&tile); err != nil {
			return nil, err
		}
		// A tile is a sequence of layers: two encoded tiles joined are one tile with both.
		out = append(out, tile...)
	}
	return out, nil
}

// areasTileSQL: $1-$3 z/x/y, $4 the selection margin, $5 the snapshot, $6 the level, $7
// the simplification tolerance (metres), the view's condition (%s) from $8. The id is the
// area's code as a number (codes are digits), for feature state.
var areasTileSQL = `WITH mvtgeom AS MATERIALIZED (
    SELECT ST_AsMVTGeom(ST_Simplify(ST_Transform(g.geom, 3857), $7::float8, true), ST_TileEnvelope($1::int, $2::int, $3::int), ` +
	strconv.Itoa(geo.TileExtent) + `, ` + strconv.Itoa(geo.TileBuffer) + `, true) AS geom,
           a.code::bigint AS id, a.code, coalesce(g.name, a.code) AS name, a.level, a.district_code,
           round(a.score::numeric, 1)::float8 AS score, a.colour, a.score_colour, coalesce(a.floor_colour, '') AS floor_colour
    FROM areas g
    JOIN risk_areas a ON a.snapshot_id = $5::bigint AND a.district_code = g.district_code AND a.code = g.code
    WHERE g.geom && ST_Transform(ST_TileEnvelope($1::int, $2::int, $3::int, margin => $4::float8), 4326)
      AND g.level = $6::text AND %s
    ORDER BY a.code
)
SELECT coalesce(ST_AsMVT(mvtgeom.*, '` + LayerAreas + `', ` + strconv.Itoa(geo.TileExtent) + `, 'geom', 'id'), '') FROM mvtgeom WHERE geom IS NOT NULL`

// cellsTileSQL: $1-$3 z/x/y, $4 the snapshot, $5 the tile's candidate cells, the view's
// condition (%s) from $6.
var cellsTileSQL = `WITH mvtgeom AS MATERIALIZED (
    SELECT ST_AsMVTGeom(ST_Transform(c.geom, 3857), ST_TileEnvelope($1::int, $2::int, $3::int), ` +
	strconv.Itoa(geo.TileExtent) + `, ` + strconv.Itoa(geo.TileBuffer) + `, true) AS geom,
           c.h3 AS id, h3_hex(c.h3) AS h3, 'cell' AS level, c.district_code, coalesce(c.street_code, '') AS street_code,
           coalesce(c.community_code, '') AS community_code, round(c.score::numeric, 1)::float8 AS score,
           c.colour, c.score_colour, coalesce(c.floor_colour, '') AS floor_colour
    FROM risk_cells c
    WHERE c.snapshot_id = $4::bigint AND c.h3 = ANY($5::bigint[]) AND %s
    ORDER BY c.h3
)
SELECT coalesce(ST_AsMVT(mvtgeom.*, '` + LayerCells + `', ` + strconv.Itoa(geo.TileExtent) + `, 'geom', 'id'), '') FROM mvtgeom WHERE geom IS NOT NULL`

// TileBounds is the extent TileJSON reports: Shanghai's.
func TileBounds() [4]float64 { return geo.ShanghaiExtent() }
