-- A GiST index on the polygons of joint-control zones (docs/RISK.md "Joint-control zones"),
-- as every geometry column has one. risk_cells.geom has none on purpose: a snapshot's cells
-- are read by (snapshot_id, h3), the cells covering a tile computed in Go (risk_cells_h3_idx),
-- and an index over every snapshot's hexagons would only slow each recompute's COPY.

-- +goose Up
CREATE INDEX risk_zones_geom_idx ON risk_zones USING gist (geom);

-- +goose Down
DROP INDEX risk_zones_geom_idx;
