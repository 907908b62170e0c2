-- A snapshot's cells keep their parts and top contributors as json, not jsonb (docs/RISK.md
-- "Snapshots"): they are written once per recompute (90,000 cells, about 80 MB stored on
-- the scaled city) and read back whole for one cell's breakdown, never queried inside.
-- PostgreSQL only checks json where it converts jsonb: on the scaled city's cells that is
-- 0.76 s instead of 1.45 s of each recompute's insert. Areas stay jsonb (2,600 rows).

-- +goose Up
ALTER TABLE risk_cells ALTER COLUMN parts TYPE json USING parts::json;
ALTER TABLE risk_cells ALTER COLUMN top TYPE json USING top::json;

-- +goose Down
ALTER TABLE risk_cells ALTER COLUMN parts TYPE jsonb USING parts::jsonb;
ALTER TABLE risk_cells ALTER COLUMN top TYPE jsonb USING top::jsonb;
