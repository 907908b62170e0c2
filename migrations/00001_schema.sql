-- SafeGrid schema. Big tables (enterprises, pipelines, occupancy sites, underground
-- spaces, hazards, hazard history, inspections, grid cells) carry district_code, and their
-- keys include it, so they can be distributed by it on Citus. Small tables (areas, fire
-- stations, fishing ports, users, grid units) are reference tables; nothing small points
-- at something big.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS postgis;

-- +goose StatementBegin
CREATE FUNCTION h3_parent(cell bigint, res integer) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (cell & ~(15::bigint << 52)) | (res::bigint << 52) | ((1::bigint << (3 * (15 - res))) - 1);
-- +goose StatementEnd

COMMENT ON FUNCTION h3_parent(bigint, integer) IS 'the H3 parent of a cell at a coarser resolution, without the h3 extension';

-- +goose StatementBegin
CREATE FUNCTION h3_hex(cell bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN lpad(to_hex(cell), 15, '0');
-- +goose StatementEnd

CREATE TABLE areas (
    code text PRIMARY KEY CHECK (code ~ '^[0-9]{6}([0-9]{3}([0-9]{3})?)?$'),
    level text NOT NULL GENERATED ALWAYS AS (
        CASE length(code) WHEN 6 THEN 'district' WHEN 9 THEN 'street' ELSE 'community' END) STORED,
    parent_code text GENERATED ALWAYS AS (
        CASE length(code) WHEN 9 THEN left(code, 6) WHEN 12 THEN left(code, 9) END) STORED
        REFERENCES areas (code),
    district_code text NOT NULL GENERATED ALWAYS AS (left(code, 6)) STORED,
    name text NOT NULL CHECK (name <> ''),
    synthetic boolean NOT NULL DEFAULT false,
    geom geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE areas IS 'administrative areas: district 区 (6-digit code), street/town 街道/镇 (9), community 居委/村 (12)';
COMMENT ON COLUMN areas.synthetic IS 'true when the boundary was synthesised for the demo, not surveyed';
CREATE INDEX areas_geom_idx ON areas USING gist (geom);
CREATE INDEX areas_parent_idx ON areas (parent_code);

-- Areas cut into small pieces, so that point-in-area lookups test few vertices.
CREATE TABLE area_parts (
    code text NOT NULL REFERENCES areas (code) ON DELETE CASCADE,
    level text NOT NULL,
    geom geometry(Polygon, 4326) NOT NULL
);
CREATE INDEX area_parts_geom_idx ON area_parts USING gist (geom);
CREATE INDEX area_parts_code_idx ON area_parts (code);

-- area_pick is docs/DESIGN.md's rule for one level: the area of that level (under prefix)
-- containing p, the smallest code when several do (overlaps), else the nearest in metres.
-- +goose StatementBegin
CREATE FUNCTION area_pick(p geometry, lvl text, prefix text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN coalesce(
    (SELECT min(ap.code) FROM area_parts ap
      WHERE ap.level = lvl AND ap.code LIKE prefix || '%' AND ST_Intersects(ap.geom, p)),
    (SELECT n.code FROM (
        SELECT ap.code, ap.geom FROM area_parts ap
         WHERE ap.level = lvl AND ap.code LIKE prefix || '%'
         ORDER BY ap.geom <-> p LIMIT 16) n
      ORDER BY ST_Distance(n.geom::geography, p::geography), n.code LIMIT 1));
-- +goose StatementEnd

-- area_tag tags a point with its district, then the street within that district, then
-- the community within that street (NULL where a level has no areas loaded).
-- +goose StatementBegin
CREATE FUNCTION area_tag(p geometry, OUT district_code text, OUT street_code text, OUT community_code text)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    district_code := area_pick(p, 'district', '');
    IF district_code IS NOT NULL THEN
        street_code := area_pick(p, 'street', district_code);
    END IF;
    IF street_code IS NOT NULL THEN
        community_code := area_pick(p, 'community', street_code);
    END IF;
END
$$;
-- +goose StatementEnd

CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.-]{2,64}$'),
    display_name text NOT NULL DEFAULT '',
    role text NOT NULL CHECK (role IN ('admin', 'planner', 'street', 'officer')),
    street_code text REFERENCES areas (code),
    password_hash text NOT NULL,
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'street') = (street_code IS NOT NULL))
);
COMMENT ON TABLE users IS 'people who sign in: admin 管理员, planner 规划, street office 街道办 (one street), grid officer 网格员';

CREATE TABLE grid_units (
    code text PRIMARY KEY CHECK (code <> ''),
    name text NOT NULL,
    street_code text NOT NULL REFERENCES areas (code),
    officer_id bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE grid_units IS '网格: a named set of resolution-9 H3 cells inside one street, assigned to an officer';
CREATE INDEX grid_units_officer_idx ON grid_units (officer_id);
CREATE INDEX grid_units_street_idx ON grid_units (street_code);

CREATE TABLE grid_cells (
    district_code text NOT NULL REFERENCES areas (code),
    h3 bigint NOT NULL,
    unit_code text NOT NULL REFERENCES grid_units (code) ON DELETE CASCADE,
    PRIMARY KEY (district_code, h3)
);
COMMENT ON TABLE grid_cells IS 'the cells of each grid unit; a cell belongs to the district its centre is tagged with, and to one unit';
CREATE UNIQUE INDEX grid_cells_h3_idx ON grid_cells (h3);
CREATE INDEX grid_cells_unit_idx ON grid_cells (unit_code);

CREATE TABLE enterprises (
    district_code text NOT NULL REFERENCES areas (code),
    id bigint GENERATED ALWAYS AS IDENTITY,
    uscc text NOT NULL CHECK (uscc ~ '^[0-9A-HJ-NP-RTUWXY]{18}$'),
    name text NOT NULL CHECK (name <> ''),
    industry text NOT NULL CHECK (industry IN ('危化品生产', '危化品经营', '危化品储存', '危化品使用', '建筑施工', '工贸', '交通运输', '其他')),
    risk_level text NOT NULL CHECK (risk_level IN ('重大', '较大', '一般', '低')),
    major_hazard boolean NOT NULL DEFAULT false,
    employees integer CHECK (employees >= 0),
    address text,
    street_code text, -- tagged from areas on write; no foreign key, so bulk loads stay fast
    community_code text,
    h3 bigint NOT NULL,
    geom geometry(Point, 4326) NOT NULL,
    geom_m geometry(Point, 32651) GENERATED ALWAYS AS (ST_Transform(geom, 32651)) STORED,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_code, id),
    UNIQUE (district_code, uscc)
);
COMMENT ON TABLE enterprises IS '生产经营单位: production and business units under supervision';
COMMENT ON COLUMN enterprises.uscc IS '统一社会信用代码 (GB 32100-2015)';
COMMENT ON COLUMN enterprises.risk_level IS '重大/较大/一般/低 (red/orange/yellow/blue)';
COMMENT ON COLUMN enterprises.major_hazard IS '重大危险源';
COMMENT ON COLUMN enterprises.h3 IS 'resolution-9 H3 cell';
COMMENT ON COLUMN enterprises.geom_m IS 'the location in UTM 51N metres, for distance work';
CREATE INDEX enterprises_geom_idx ON enterprises USING gist (geom);
CREATE INDEX enterprises_geom_m_idx ON enterprises USING gist (geom_m);
CREATE INDEX enterprises_h3_idx ON enterprises (h3);
CREATE INDEX enterprises_uscc_idx ON enterprises (uscc);
CREATE INDEX enterprises_street_idx ON enterprises (street_code, community_code);

CREATE TABLE pipelines (
    district_code text NOT NULL REFERENCES areas (code),
    id bigint GENERATED ALWAYS AS IDENTITY,
    code text NOT NULL CHECK (code <> ''),
    name text,
    medium text NOT NULL CHECK (medium IN ('oil', 'gas')),
    class text NOT NULL CHECK (class IN ('transmission', 'distribution')),
    pressure text NOT NULL CHECK (pressure IN ('高压', '次高压', '中压', '低压')),
    diameter_mm integer CHECK (diameter_mm >= 0),
    operator text,
    street_code text, -- tagged from areas on write; no foreign key, so bulk loads stay fast
    community_code text,
    h3 bigint NOT NULL,
    h3_cells bigint[] NOT NULL,
    geom geometry(MultiLineString, 4326) NOT NULL CHECK (ST_IsValid(geom)),
    geom_m geometry(MultiLineString, 32651) GENERATED ALWAYS AS (ST_Transform(geom, 32651)) STORED,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_code, id),
    UNIQUE (district_code, code)
);
COMMENT ON TABLE pipelines IS '油气输送管道/燃气管线: oil and gas pipelines';
COMMENT ON COLUMN pipelines.h3 IS 'the resolution-9 cell of the point halfway along the line (it decides the areas)';
COMMENT ON COLUMN pipelines.h3_cells IS 'every resolution-9 cell the line crosses';
CREATE INDEX pipelines_geom_idx ON pipelines USING gist (geom);
CREATE INDEX pipelines_geom_m_idx ON pipelines USING gist (geom_m);
CREATE INDEX pipelines_h3_cells_idx ON pipelines USING gin (h3_cells);
CREATE INDEX pipelines_code_idx ON pipelines (code);

CREATE TABLE gas_occupancy_sites (
    district_code text NOT NULL REFERENCES areas (code),
    id bigint GENERATED ALWAYS AS IDENTITY,
    code text NOT NULL CHECK (code <> ''),
    pipeline_code text,
    occupant text NOT NULL CHECK (occupant <> ''),
    status text NOT NULL CHECK (status IN ('待整治', '整治中', '已整治')),
    deadline date,
    street_code text, -- tagged from areas on write; no foreign key, so bulk loads stay fast
    community_code text,
    h3 bigint NOT NULL,
    h3_cells bigint[] NOT NULL,
    geom geometry(Geometry, 4326) NOT NULL CHECK (GeometryType(geom) IN ('POINT', 'MULTIPOLYGON') AND ST_IsValid(geom)),
    geom_m geometry(Geometry, 32651) GENERATED ALWAYS AS (ST_Transform(geom, 32651)) STORED,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_code, id),
    UNIQUE (district_code, code)
);
COMMENT ON TABLE gas_occupancy_sites IS '燃气管道占压: a building or structure sitting on a gas pipe';
COMMENT ON COLUMN gas_occupancy_sites.status IS 'remediation status 待整治/整治中/已整治';
CREATE INDEX gas_occupancy_sites_geom_idx ON gas_occupancy_sites USING gist (geom);
CREATE INDEX gas_occupancy_sites_geom_m_idx ON gas_occupancy_sites USING gist (geom_m);
CREATE INDEX gas_occupancy_sites_h3_cells_idx ON gas_occupancy_sites USING gin (h3_cells);
CREATE INDEX gas_occupancy_sites_code_idx ON gas_occupancy_sites (code);

CREATE TABLE fire_stations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text NOT NULL UNIQUE CHECK (code <> ''),
    name text NOT NULL CHECK (name <> ''),
    type text NOT NULL CHECK (type IN ('特勤', '一级普通', '二级普通', '小型', '战勤保障')),
    status text NOT NULL CHECK (status IN ('existing', 'planned')),
    vehicles integer CHECK (vehicles >= 0),
    staff integer CHECK (staff >= 0),
    district_code text NOT NULL REFERENCES areas (code),
    street_code text REFERENCES areas (code),
    community_code text REFERENCES areas (code),
    h3 bigint NOT NULL,
    geom geometry(Point, 4326) NOT NULL,
    geom_m geometry(Point, 32651) GENERATED ALWAYS AS (ST_Transform(geom, 32651)) STORED,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE fire_stations IS '消防站: fire and rescue stations (a reference table)';
CREATE INDEX fire_stations_geom_idx ON fire_stations USING gist (geom);
CREATE INDEX fire_stations_geom_m_idx ON fire_stations USING gist (geom_m);
CREATE INDEX fire_stations_h3_idx ON fire_stations (h3);

CREATE TABLE fishing_ports (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text NOT NULL UNIQUE CHECK (code <> ''),
    name text NOT NULL CHECK (name <> ''),
    level text NOT NULL CHECK (level IN ('中心', '一级', '二级', '三级', '等级以下')),
    vessels integer CHECK (vessels >= 0),
    district_code text NOT NULL REFERENCES areas (code),
    street_code text REFERENCES areas (code),
    community_code text REFERENCES areas (code),
    h3 bigint NOT NULL,
    h3_cells bigint[] NOT NULL,
    geom geometry(Geometry, 4326) NOT NULL CHECK (GeometryType(geom) IN ('POINT', 'MULTIPOLYGON') AND ST_IsValid(geom)),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE fishing_ports IS '渔港: fishing ports (a reference table)';
CREATE INDEX fishing_ports_geom_idx ON fishing_ports USING gist (geom);
CREATE INDEX fishing_ports_h3_cells_idx ON fishing_ports USING gin (h3_cells);

CREATE TABLE underground_spaces (
    district_code text NOT NULL REFERENCES areas (code),
    id bigint GENERATED ALWAYS AS IDENTITY,
    code text NOT NULL CHECK (code <> ''),
    name text,
    use text NOT NULL CHECK (use IN ('民防工程', '地下商业', '地下车库', '轨交站', '综合管廊')),
    levels integer CHECK (levels >= 0),
    floor_area_m2 double precision CHECK (floor_area_m2 >= 0),
    depth_m double precision CHECK (depth_m >= 0),
    street_code text, -- tagged from areas on write; no foreign key, so bulk loads stay fast
    community_code text,
    h3 bigint NOT NULL,
    h3_cells bigint[] NOT NULL,
    geom geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
    geom_m geometry(MultiPolygon, 32651) GENERATED ALWAYS AS (ST_Transform(geom, 32651)) STORED,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_code, id),
    UNIQUE (district_code, code)
);
COMMENT ON TABLE underground_spaces IS '地下空间: underground spaces';
CREATE INDEX underground_spaces_geom_idx ON underground_spaces USING gist (geom);
CREATE INDEX underground_spaces_geom_m_idx ON underground_spaces USING gist (geom_m);
CREATE INDEX underground_spaces_h3_cells_idx ON underground_spaces USING gin (h3_cells);
CREATE INDEX underground_spaces_code_idx ON underground_spaces (code);

CREATE SEQUENCE hazard_code_seq;

CREATE TABLE hazards (
    district_code text NOT NULL REFERENCES areas (code),
    id bigint GENERATED ALWAYS AS IDENTITY,
    code text NOT NULL DEFAULT 'HZ' || lpad(nextval('hazard_code_seq')::text, 10, '0') CHECK (code <> ''),
    level text NOT NULL CHECK (level IN ('一般', '重大')),
    category text NOT NULL CHECK (category <> ''),
    description text NOT NULL CHECK (description <> ''),
    status text NOT NULL DEFAULT 'reported'
        CHECK (status IN ('reported', 'registered', 'assigned', 'rectifying', 'verified', 'closed')),
    supervised boolean NOT NULL GENERATED ALWAYS AS (level = '重大') STORED,
    feature_kind text CHECK (feature_kind IN ('enterprises', 'pipelines', 'gas_occupancy_sites', 'fire_stations', 'fishing_ports', 'underground_spaces')),
    feature_code text,
    reporter text,
    responsible text,
    deadline date,
    funds numeric(14, 2) CHECK (funds >= 0),
    measures text,
    reported_at timestamptz NOT NULL DEFAULT now(),
    closed_at timestamptz,
    version integer NOT NULL DEFAULT 1,
    street_code text, -- tagged from areas on write; no foreign key, so bulk loads stay fast
    community_code text,
    h3 bigint NOT NULL,
    geom geometry(Point, 4326) NOT NULL,
    geom_m geometry(Point, 32651) GENERATED ALWAYS AS (ST_Transform(geom, 32651)) STORED,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_code, id),
    UNIQUE (district_code, code),
    CHECK ((feature_kind IS NULL) = (feature_code IS NULL))
);
COMMENT ON TABLE hazards IS '隐患: safety hazards, from report 上报 to closing 销号';
COMMENT ON COLUMN hazards.supervised IS '挂牌督办: every 重大 hazard is listed for supervision';
COMMENT ON COLUMN hazards.version IS 'raised by every change, for optimistic concurrency';
CREATE INDEX hazards_geom_idx ON hazards USING gist (geom);
CREATE INDEX hazards_geom_m_idx ON hazards USING gist (geom_m);
CREATE INDEX hazards_h3_idx ON hazards (h3);
CREATE INDEX hazards_code_idx ON hazards (code);
CREATE INDEX hazards_street_idx ON hazards (street_code, community_code, status);
CREATE INDEX hazards_feature_idx ON hazards (feature_kind, feature_code);

CREATE TABLE hazard_history (
    district_code text NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    hazard_id bigint NOT NULL,
    from_status text,
    to_status text NOT NULL,
    actor text NOT NULL,
    note text,
    details jsonb,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_code, id),
    FOREIGN KEY (district_code, hazard_id) REFERENCES hazards (district_code, id) ON DELETE CASCADE
);
COMMENT ON TABLE hazard_history IS 'every change of a hazard: who, when, from which status to which';
CREATE INDEX hazard_history_hazard_idx ON hazard_history (district_code, hazard_id, at);

CREATE TABLE inspections (
    district_code text NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    enterprise_id bigint NOT NULL,
    officer_id bigint REFERENCES users (id),
    inspected_at timestamptz NOT NULL DEFAULT now(),
    result text NOT NULL CHECK (result IN ('passed', 'hazards_found', 'closed_down', 'not_found')),
    hazards_found integer NOT NULL DEFAULT 0 CHECK (hazards_found >= 0),
    notes text,
    h3 bigint NOT NULL,
    geom geometry(Point, 4326) NOT NULL,
    PRIMARY KEY (district_code, id),
    FOREIGN KEY (district_code, enterprise_id) REFERENCES enterprises (district_code, id) ON DELETE CASCADE
);
COMMENT ON TABLE inspections IS '检查记录: an officer''s inspection of an enterprise';
CREATE INDEX inspections_geom_idx ON inspections USING gist (geom);
CREATE INDEX inspections_enterprise_idx ON inspections (district_code, enterprise_id, inspected_at DESC);

CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    target text,
    details jsonb
);
COMMENT ON TABLE audit_log IS 'every write: who, when, what';
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- +goose Down
DROP TABLE audit_log, inspections, hazard_history, hazards, underground_spaces, fishing_ports,
    fire_stations, gas_occupancy_sites, pipelines, enterprises, grid_cells, grid_units, users,
    area_parts, areas;
DROP SEQUENCE hazard_code_seq;
DROP FUNCTION area_tag(geometry), area_pick(geometry, text, text), h3_hex(bigint), h3_parent(bigint, integer);
