-- Inspection check-in (issue 15, "Inspection check-in"; the rules are docs/FIELDWORK.md).
--
-- An officer records an inspection with the phone's position (browser geolocation) and the
-- accuracy the browser reported. The server stores the position, its distance to the
-- enterprise (metres, geography) and a verdict: 'far' when the distance exceeds the configured
-- limit (serve -checkin-max-distance, default 200 m); else 'inaccurate' when the accuracy
-- exceeds its limit (serve -checkin-max-accuracy, default 100 m); else 'located'; 'unlocated'
-- when the request carried no position. Existing rows become 'unlocated'.
--
-- Citus: one subcommand per ALTER TABLE; inspections keeps district_code in its primary key.
-- The data-version trigger of inspections (00007) already covers these columns.

-- +goose Up
ALTER TABLE inspections ADD COLUMN checkin_geom geometry(Point, 4326);  -- where the officer's phone was; NULL = unlocated
ALTER TABLE inspections ADD COLUMN checkin_accuracy_m real;             -- the browser's reported accuracy (metres)
ALTER TABLE inspections ADD COLUMN checkin_distance_m real;             -- metres from checkin_geom to the enterprise
ALTER TABLE inspections ADD COLUMN checkin text NOT NULL DEFAULT 'unlocated' CHECK (checkin IN ('located', 'far', 'inaccurate', 'unlocated'));
COMMENT ON TABLE inspections IS '检查记录: an officer''s inspection of an enterprise, with the officer''s check-in (签到) position';
COMMENT ON COLUMN inspections.checkin_geom IS 'where the officer''s phone was when the inspection was recorded (browser geolocation); NULL = unlocated';
COMMENT ON COLUMN inspections.checkin_accuracy_m IS 'the accuracy the browser reported for checkin_geom, metres (radius of 68% confidence); NULL when unlocated';
COMMENT ON COLUMN inspections.checkin_distance_m IS 'metres from checkin_geom to the enterprise (geography distance); NULL when unlocated';
COMMENT ON COLUMN inspections.checkin IS 'check-in verdict: far (distance over the limit), else inaccurate (accuracy over its limit), else located; unlocated without a position';

-- +goose Down
COMMENT ON TABLE inspections IS '检查记录: an officer''s inspection of an enterprise';
ALTER TABLE inspections DROP COLUMN checkin;
ALTER TABLE inspections DROP COLUMN checkin_distance_m;
ALTER TABLE inspections DROP COLUMN checkin_accuracy_m;
ALTER TABLE inspections DROP COLUMN checkin_geom;
