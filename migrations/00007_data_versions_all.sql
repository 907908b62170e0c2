-- Data versions for every table the service answers from, so that it can keep answers
-- (tiles, lists, cell views) until the data under them changes (api/respcache.go). Tables
-- written together share one counter, so a transaction writing both takes one row lock:
-- areas with area_parts, grid_units with grid_cells (grid), hazards with hazard_history.
-- Like the enterprises trigger of 00006 they are ENABLE ALWAYS, so they fire in the
-- import's bulk path too. sessions and audit_log are not versioned: no kept answer reads
-- them.
--
-- A counter moves to at least the clock in milliseconds, never by one only, so that it
-- never takes a value it had before with other rows behind it: not after a backup is
-- restored and written to again, nor after this migration is undone and redone.

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION bump_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_versions
       SET version = greatest(version + 1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
     WHERE name = coalesce(TG_ARGV[0], TG_TABLE_NAME);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

UPDATE data_versions SET version = greatest(version + 1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint);

-- +goose StatementBegin
DO $$
DECLARE
    t text[];
BEGIN
    FOREACH t SLICE 1 IN ARRAY ARRAY[
        ['areas', 'areas'], ['area_parts', 'areas'], ['users', 'users'],
        ['grid_units', 'grid'], ['grid_cells', 'grid'],
        ['pipelines', 'pipelines'], ['gas_occupancy_sites', 'gas_occupancy_sites'],
        ['fire_stations', 'fire_stations'], ['fishing_ports', 'fishing_ports'],
        ['underground_spaces', 'underground_spaces'],
        ['hazards', 'hazards'], ['hazard_history', 'hazards'], ['inspections', 'inspections']]
    LOOP
        INSERT INTO data_versions (name, version)
        VALUES (t[2], (extract(epoch FROM clock_timestamp()) * 1000)::bigint) ON CONFLICT DO NOTHING;
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
            FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version(%L)', t[1] || '_data_version', t[1], t[2]);
        EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', t[1], t[1] || '_data_version');
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['areas', 'area_parts', 'users', 'grid_units', 'grid_cells', 'pipelines',
        'gas_occupancy_sites', 'fire_stations', 'fishing_ports', 'underground_spaces', 'hazards',
        'hazard_history', 'inspections']
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_data_version', t);
    END LOOP;
END
$$;
-- +goose StatementEnd
DELETE FROM data_versions WHERE name <> 'enterprises';
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION bump_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_versions SET version = version + 1 WHERE name = TG_TABLE_NAME;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
