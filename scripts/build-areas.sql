-- Builds SafeGrid's demo administrative areas (data/areas-synthetic.geojson) in PostGIS.
--
-- Run by scripts/build-areas.sh from inside data/ (the \copy and `cat` below read
-- shanghai-districts.geojson and shanghai-streets.csv from the current directory) against
-- a scratch database; everything is built in the schema "build", dropped first.
--
--   districts    16 real polygons (shanghai-districts.geojson, © OpenStreetMap contributors,
--                geoBoundaries, ODbL 1.0) with their adcodes.
--   streets      Voronoi cells of the 218 streets/towns that have a real OSM label point,
--                computed per district from that district's points only (in UTM 51N,
--                EPSG:32651) and clipped to the district. Real names and 9-digit codes
--                (Administrative-divisions-of-China, MIT); synthetic boundaries.
--   communities  Voronoi cells of seeded pseudo-random points inside each street (md5 of
--                code and index, no random()), about one per 0.4 km² in the 7 central
--                districts and one per 4 km² elsewhere, at least 2 and at most 40 per street,
--                clipped to the street; codes are the street's code + 001…; names synthetic.
--
-- Every geometry is a valid MultiPolygon with coordinates on a 1e-6 degree grid
-- (ST_ReducePrecision keeps it valid); the checks at the end stop the build otherwise.
-- The script ends by printing the GeoJSON FeatureCollection (one feature per line) on
-- stdout, districts then streets then communities, each ordered by code.

\set ON_ERROR_STOP on
\pset pager off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS postgis;
DROP SCHEMA IF EXISTS build CASCADE;
CREATE SCHEMA build;
SET search_path = build, public;

-- ---------------------------------------------------------------- districts
CREATE TABLE district_codes (short text PRIMARY KEY, code text NOT NULL UNIQUE, central boolean NOT NULL);
INSERT INTO district_codes VALUES
    ('黄浦', '310101', true), ('徐汇', '310104', true), ('长宁', '310105', true),
    ('静安', '310106', true), ('普陀', '310107', true), ('虹口', '310109', true),
    ('杨浦', '310110', true), ('闵行', '310112', false), ('宝山', '310113', false),
    ('嘉定', '310114', false), ('浦东新', '310115', false), ('金山', '310116', false),
    ('松江', '310117', false), ('青浦', '310118', false), ('奉贤', '310120', false),
    ('崇明', '310151', false);

\set districts_json `cat shanghai-districts.geojson`
CREATE TABLE districts AS
SELECT c.code,
       c.short || '区' AS name,
       c.central,
       ST_Multi(ST_CollectionExtract(ST_MakeValid(
           ST_ReducePrecision(ST_SetSRID(ST_GeomFromGeoJSON(f -> 'geometry'), 4326), 0.000001)), 3)) AS geom
FROM jsonb_array_elements((:'districts_json')::jsonb -> 'features') AS f
JOIN district_codes c ON c.short = f -> 'properties' ->> 'name';
ALTER TABLE districts ADD PRIMARY KEY (code);

DO $$
BEGIN
    IF (SELECT count(*) FROM districts) <> 16 THEN
        RAISE EXCEPTION 'expected 16 districts, got %', (SELECT count(*) FROM districts);
    END IF;
END $$;

-- ---------------------------------------------------------------- streets
CREATE TABLE streets_raw (
    code text PRIMARY KEY, name text NOT NULL, district_code text NOT NULL,
    district_name text NOT NULL, kind text NOT NULL, lon float8, lat float8);
\copy streets_raw FROM 'shanghai-streets.csv' WITH (FORMAT csv, HEADER true)

CREATE TABLE street_points AS
SELECT code, name, district_code, kind,
       ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 32651) AS pt
FROM streets_raw
WHERE lon IS NOT NULL AND lat IS NOT NULL;

-- One Voronoi diagram per district, from that district's points only (in metres), extended
-- well past the district so that every cell reaches its border. The cells are clipped to
-- the district in WGS84, not in UTM: the coast has straight edges tens of kilometres long
-- that would bend by metres in a round trip through another CRS. The overlay runs on the
-- 1e-6 degree grid the file is written with.
CREATE TABLE street_cells AS
WITH d AS (
    SELECT code, geom, ST_Transform(geom, 32651) AS g FROM districts
), v AS (
    SELECT d.code AS district_code, d.geom AS dgeom,
           (ST_Dump(ST_VoronoiPolygons(ST_Collect(p.pt ORDER BY p.code), 0, ST_Expand(d.g, 20000)))).geom AS cell
    FROM d JOIN street_points p ON p.district_code = d.code
    GROUP BY d.code, d.g, d.geom
)
SELECT p.code, p.name, p.district_code, p.kind,
       ST_Intersection(ST_Transform(v.cell, 4326), v.dgeom, 0.000001) AS g
FROM v JOIN street_points p ON p.district_code = v.district_code AND ST_Intersects(v.cell, p.pt);
ALTER TABLE street_cells ADD PRIMARY KEY (code);

CREATE TABLE streets AS
SELECT s.code, s.name, s.district_code, s.kind, d.central,
       ST_Multi(ST_CollectionExtract(ST_MakeValid(s.g), 3)) AS geom
FROM street_cells s JOIN districts d ON d.code = s.district_code;
ALTER TABLE streets ADD PRIMARY KEY (code);
ALTER TABLE streets ADD COLUMN g geometry;
UPDATE streets SET g = ST_Transform(geom, 32651);

-- ---------------------------------------------------------------- communities
-- How many communities each street gets.
CREATE TABLE community_counts AS
SELECT code,
       greatest(2, least(40, round(ST_Area(g) / CASE WHEN central THEN 400000.0 ELSE 4000000.0 END)))::int AS n
FROM streets;

-- Seed points: candidate i of street c is the point at fractions (h1, h2) of the street's
-- bounding box, h1 and h2 taken from md5(c || ':' || i); the first n candidates inside
-- the street are kept. Deterministic: no random().
CREATE TABLE community_seeds AS
WITH s AS (
    SELECT st.code, st.g, n.n, ST_XMin(st.g) AS x0, ST_YMin(st.g) AS y0,
           ST_XMax(st.g) - ST_XMin(st.g) AS dx, ST_YMax(st.g) - ST_YMin(st.g) AS dy
    FROM streets st JOIN community_counts n USING (code)
), cand AS (
    SELECT s.code, s.g, s.n, i,
           ST_SetSRID(ST_MakePoint(
               s.x0 + s.dx * (('x' || substr(md5(s.code || ':' || i), 1, 8))::bit(32)::bigint / 4294967296.0),
               s.y0 + s.dy * (('x' || substr(md5(s.code || ':' || i), 9, 8))::bit(32)::bigint / 4294967296.0)),
               32651) AS pt
    FROM s, generate_series(1, 4000) AS i
), inside AS (
    SELECT code, n, i, pt, row_number() OVER (PARTITION BY code ORDER BY i) AS k
    FROM cand
    WHERE ST_Intersects(g, pt)
)
SELECT code, i, pt FROM inside WHERE k <= n;

DO $$
DECLARE short int;
BEGIN
    SELECT count(*) INTO short FROM community_counts c
    WHERE c.n <> (SELECT count(*) FROM community_seeds s WHERE s.code = c.code);
    IF short > 0 THEN
        RAISE EXCEPTION '% streets did not get all their community seeds', short;
    END IF;
END $$;

-- Number the communities of a street from north-west to south-east (rows of ~500 m).
CREATE TABLE community_cells AS
WITH v AS (
    SELECT s.code, st.geom AS sgeom,
           (ST_Dump(ST_VoronoiPolygons(ST_Collect(s.pt ORDER BY s.i), 0, ST_Expand(st.g, 20000)))).geom AS cell
    FROM community_seeds s JOIN streets st USING (code)
    GROUP BY s.code, st.g, st.geom
), numbered AS (
    SELECT code, pt, row_number() OVER (
        PARTITION BY code ORDER BY floor(-ST_Y(pt) / 500), ST_X(pt), ST_Y(pt)) AS k
    FROM community_seeds
)
SELECT n.code || lpad(n.k::text, 3, '0') AS code, n.code AS street_code, n.k,
       ST_Intersection(ST_Transform(v.cell, 4326), v.sgeom, 0.000001) AS g
FROM v JOIN numbered n ON n.code = v.code AND ST_Intersects(v.cell, n.pt);

CREATE TABLE communities AS
SELECT c.code, c.street_code,
       regexp_replace(s.name, '(街道|镇|乡)$', '') || '第' || c.k ||
           CASE WHEN s.central OR s.kind = '街道' THEN '居委会' ELSE '村' END AS name,
       ST_Multi(ST_CollectionExtract(ST_MakeValid(c.g), 3)) AS geom
FROM community_cells c JOIN streets s ON s.code = c.street_code;
ALTER TABLE communities ADD PRIMARY KEY (code);

-- ---------------------------------------------------------------- all areas, checks
-- The geometries exactly as the GeoJSON file will hold them (6 decimals, read back), so
-- that the checks below judge what an importer reads.
CREATE TABLE areas AS
SELECT level, code, name, synthetic, ST_SetSRID(ST_GeomFromGeoJSON(ST_AsGeoJSON(geom, 6)), 4326) AS geom
FROM (
    SELECT 1 AS level, code, name, false AS synthetic, geom FROM districts
    UNION ALL
    SELECT 2, code, name, true, geom FROM streets
    UNION ALL
    SELECT 3, code, name, true, geom FROM communities
) a;

DO $$
DECLARE
    bad int;
BEGIN
    SELECT count(*) INTO bad FROM areas
    WHERE geom IS NULL OR ST_IsEmpty(geom) OR NOT ST_IsValid(geom)
       OR GeometryType(geom) <> 'MULTIPOLYGON' OR ST_SRID(geom) <> 4326;
    IF bad > 0 THEN RAISE EXCEPTION '% areas are empty, invalid or not MultiPolygons', bad; END IF;

    -- written with 6 decimals, a geometry must not move by more than the float noise
    SELECT count(*) INTO bad FROM areas a
    JOIN (SELECT code, geom FROM districts UNION ALL SELECT code, geom FROM streets
          UNION ALL SELECT code, geom FROM communities) b USING (code)
    WHERE ST_HausdorffDistance(a.geom, b.geom) > 1e-9;
    IF bad > 0 THEN RAISE EXCEPTION '% areas move when written with 6 decimals', bad; END IF;

    SELECT count(*) - count(DISTINCT code) INTO bad FROM areas;
    IF bad > 0 THEN RAISE EXCEPTION '% duplicate area codes', bad; END IF;

    -- Within their parent, up to the snapping of new vertices to the 1e-6 degree grid:
    -- every child lies inside its parent grown by 2e-6 degrees (about 20 cm).
    CREATE TEMP TABLE parents AS SELECT code, ST_Buffer(geom, 0.000002) AS g FROM areas WHERE level < 3;
    SELECT count(*) INTO bad FROM areas c JOIN parents p ON p.code = left(c.code, 6)
    WHERE length(c.code) = 9 AND NOT ST_CoveredBy(c.geom, p.g);
    IF bad > 0 THEN RAISE EXCEPTION '% streets leak out of their district', bad; END IF;
    SELECT count(*) INTO bad FROM areas c JOIN parents p ON p.code = left(c.code, 9)
    WHERE length(c.code) = 12 AND NOT ST_CoveredBy(c.geom, p.g);
    IF bad > 0 THEN RAISE EXCEPTION '% communities leak out of their street', bad; END IF;
END $$;

\echo build: areas by level
SELECT level, count(*) AS areas, round((sum(ST_Area(geom::geography)) / 1e6)::numeric) AS km2,
       round((min(ST_Area(geom::geography)) / 1e6)::numeric, 3) AS min_km2,
       round((max(ST_Area(geom::geography)) / 1e6)::numeric, 1) AS max_km2
FROM areas GROUP BY level ORDER BY level;
\echo build: streets and communities per district (central first)
SELECT d.code, d.name, d.central, count(DISTINCT s.code) AS streets, count(c.code) AS communities,
       round((avg(ST_Area(s.geom::geography)) / 1e6)::numeric, 1) AS avg_street_km2
FROM districts d JOIN streets s ON s.district_code = d.code JOIN communities c ON c.street_code = s.code
GROUP BY d.code, d.name, d.central ORDER BY d.central DESC, d.code;
\echo build: exactly within their parent (before the 20 cm tolerance for grid snapping)
SELECT (SELECT count(*) FILTER (WHERE ST_CoveredBy(s.geom, d.geom)) || '/' || count(*)
        FROM areas s JOIN areas d ON d.code = left(s.code, 6) WHERE s.level = 2 AND d.level = 1) AS streets_in_district,
       (SELECT count(*) FILTER (WHERE ST_CoveredBy(c.geom, s.geom)) || '/' || count(*)
        FROM areas c JOIN areas s ON s.code = left(c.code, 9) WHERE c.level = 3 AND s.level = 2) AS communities_in_street;
