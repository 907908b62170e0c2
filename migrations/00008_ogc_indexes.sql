-- Indexes for OGC API Features items (grid/layers), measured on the scale-50 set
-- (BENCHMARKS.md has the figures under load):
-- - enterprises (id): items are paged in id order and read one by id; the primary key
--   is (district_code, id), so without it the first page over Pudong's bounding box read
--   the whole table and sorted it (840 ms), and one item by id scanned the table. With
--   it a page walks the ids and stops after its 100 rows. (Hazards have hazards_id_idx.)
-- - enterprises (risk_level): filters (filter=, CQL2) select enterprises by risk level
--   more than by anything else, usually with an area: risk_level='重大' AND
--   S_INTERSECTS(geom, <district>). Without it such a filter read every enterprise in the
--   area's bounding box through the GiST index (471,000 rows for Pudong: 680 ms for a
--   page); with it PostgreSQL ANDs the two indexes' bitmaps and reads only the rows of
--   that level in the area (115 ms).

-- +goose Up
CREATE INDEX enterprises_id_idx ON enterprises (id);
CREATE INDEX enterprises_risk_level_idx ON enterprises (risk_level);

-- +goose Down
DROP INDEX enterprises_risk_level_idx;
DROP INDEX enterprises_id_idx;
