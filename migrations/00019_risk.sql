-- The regional risk assessment (issue 14; docs/RISK.md): the four-colour risk map
-- 红橙黄蓝四色图 as dated snapshots, its configuration, early warnings 预警 and joint-control
-- zones 联动联控.
--
-- Snapshots are append-only: a recompute inserts a snapshot with its cells and areas in one
-- transaction, so a failed one leaves the previous snapshot as it was; risk_runs records
-- every attempt and, for a failed one, why. Each snapshot keeps a copy of the configuration
-- it was computed with, so an old map stays explainable after the weights change.
--
-- Citus: risk_cells, risk_areas and risk_warnings are big and carry district_code at the
-- head of their keys (distributed by it, colocated with the supervised tables); the rest
-- are small reference tables. No triggers, no data versions: the answers read from a
-- snapshot are keyed by its id, which never changes.

-- +goose Up
CREATE TABLE risk_configs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    config jsonb NOT NULL,
    note text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE risk_configs IS '风险评估参数: the risk index''s weights, thresholds and warning rules; append-only, the latest is in force';

CREATE TABLE risk_snapshots (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    taken_on date NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    config_id bigint REFERENCES risk_configs (id),
    config jsonb NOT NULL,
    trigger text NOT NULL CHECK (trigger IN ('schedule', 'manual', 'demo')),
    requested_by text NOT NULL,
    duration_ms integer NOT NULL CHECK (duration_ms >= 0),
    cells integer NOT NULL CHECK (cells >= 0),
    summary jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE risk_snapshots IS 'one computation of the risk index 风险快照, append-only; taken_on is its Asia/Shanghai date';
COMMENT ON COLUMN risk_snapshots.config_id IS 'the risk_configs row in force; NULL when the built-in defaults were';
COMMENT ON COLUMN risk_snapshots.config IS 'a copy of the configuration the snapshot was computed with';
CREATE INDEX risk_snapshots_taken_idx ON risk_snapshots (taken_on, id);

CREATE TABLE risk_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger text NOT NULL CHECK (trigger IN ('schedule', 'manual', 'demo')),
    requested_by text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    snapshot_id bigint REFERENCES risk_snapshots (id),
    error text
);
COMMENT ON TABLE risk_runs IS 'every recompute attempt: the snapshot it made, or why it failed';

CREATE TABLE risk_cells (
    snapshot_id bigint NOT NULL REFERENCES risk_snapshots (id),
    district_code text NOT NULL,
    h3 bigint NOT NULL,
    street_code text,
    community_code text,
    own double precision NOT NULL CHECK (own >= 0),
    spill double precision NOT NULL CHECK (spill >= 0),
    score double precision NOT NULL CHECK (score >= 0),
    score_colour text NOT NULL CHECK (score_colour IN ('red', 'orange', 'yellow', 'blue')),
    floor_colour text CHECK (floor_colour IN ('red', 'orange', 'yellow', 'blue')),
    colour text NOT NULL CHECK (colour IN ('red', 'orange', 'yellow', 'blue')),
    parts jsonb NOT NULL,
    top jsonb NOT NULL,
    geom geometry(Polygon, 4326) NOT NULL,
    PRIMARY KEY (snapshot_id, district_code, h3)
);
COMMENT ON TABLE risk_cells IS 'a snapshot''s resolution-9 cells with their risk score and colour';
COMMENT ON COLUMN risk_cells.parts IS 'the points by component (enterprises, hazards, pipelines, gas sites, underground spaces) and the fire factor';
COMMENT ON COLUMN risk_cells.top IS 'the top contributors: kind, id, code, name, points, share';
CREATE INDEX risk_cells_h3_idx ON risk_cells (snapshot_id, h3);

CREATE TABLE risk_areas (
    snapshot_id bigint NOT NULL REFERENCES risk_snapshots (id),
    district_code text NOT NULL,
    code text NOT NULL,
    level text NOT NULL CHECK (level IN ('district', 'street', 'community')),
    score double precision NOT NULL CHECK (score >= 0),
    score_colour text NOT NULL CHECK (score_colour IN ('red', 'orange', 'yellow', 'blue')),
    floor_colour text CHECK (floor_colour IN ('red', 'orange', 'yellow', 'blue')),
    colour text NOT NULL CHECK (colour IN ('red', 'orange', 'yellow', 'blue')),
    parts jsonb NOT NULL,
    top jsonb NOT NULL,
    counts jsonb NOT NULL,
    PRIMARY KEY (snapshot_id, district_code, code)
);
COMMENT ON TABLE risk_areas IS 'a snapshot''s districts, streets and communities with their risk score, colour and top contributors';
COMMENT ON COLUMN risk_areas.floor_colour IS 'the colour of the highest enterprise risk level inside: the area is never coloured below it';
CREATE INDEX risk_areas_level_idx ON risk_areas (snapshot_id, level, score DESC);

CREATE TABLE risk_zones (
    code text PRIMARY KEY CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    name text NOT NULL CHECK (name <> '' AND length(name) <= 100),
    geom geometry(MultiPolygon, 4326) CHECK (geom IS NULL OR ST_IsValid(geom)),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE risk_zones IS '联动联控区: a joint-control zone, a named set of districts and streets, or a polygon';
COMMENT ON COLUMN risk_zones.geom IS 'the polygon an admin loaded; NULL when the zone is its areas';

CREATE TABLE risk_zone_areas (
    zone_code text NOT NULL REFERENCES risk_zones (code) ON DELETE CASCADE,
    area_code text NOT NULL REFERENCES areas (code),
    PRIMARY KEY (zone_code, area_code)
);
COMMENT ON TABLE risk_zone_areas IS 'the districts and streets of a zone; for a polygon zone, the districts and streets it overlaps. Their users are the zone''s members';
CREATE INDEX risk_zone_areas_area_idx ON risk_zone_areas (area_code);

CREATE TABLE risk_warnings (
    district_code text NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    street_code text,
    area_level text NOT NULL CHECK (area_level IN ('district', 'street', 'community', 'cell')),
    area_code text NOT NULL,
    rule text NOT NULL CHECK (rule IN ('colour_rise', 'turned_red', 'major_hazard_overdue', 'hazard_burst')),
    cause text NOT NULL CHECK (cause <> ''),
    snapshot_id bigint REFERENCES risk_snapshots (id),
    title text NOT NULL,
    reason text NOT NULL,
    figures jsonb NOT NULL,
    status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'acknowledged', 'closed')),
    raised_at timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    acknowledged_by text,
    ack_note text CHECK (length(ack_note) <= 2000),
    closed_at timestamptz,
    closed_by text,
    close_note text CHECK (length(close_note) <= 2000),
    version integer NOT NULL DEFAULT 1,
    PRIMARY KEY (district_code, id),
    UNIQUE (district_code, rule, cause)
);
COMMENT ON TABLE risk_warnings IS '预警: an early warning, raised once per cause (rule and cause are unique)';
COMMENT ON COLUMN risk_warnings.area_code IS 'the district, street or community code, or the H3 cell as a decimal number';
COMMENT ON COLUMN risk_warnings.cause IS 'what the warning is about, so the same cause is never warned twice';
CREATE INDEX risk_warnings_status_idx ON risk_warnings (district_code, status, raised_at DESC);
CREATE INDEX risk_warnings_street_idx ON risk_warnings (street_code, status);

-- +goose Down
DROP TABLE risk_warnings;
DROP TABLE risk_zone_areas;
DROP TABLE risk_zones;
DROP TABLE risk_areas;
DROP TABLE risk_cells;
DROP TABLE risk_runs;
DROP TABLE risk_snapshots;
DROP TABLE risk_configs;
