-- Data versions: a counter per table, bumped by every statement that changes the table, in
-- the writing transaction (so a reader sees the version that matches its snapshot). The
-- coverage analysis keeps a per-cell summary of the enterprises and rebuilds it only when
-- their version moves. The trigger is ENABLE ALWAYS so that it fires in the import's bulk
-- path too (session_replication_role = replica, which silences ordinary triggers).

-- +goose Up
CREATE TABLE data_versions (
    name text PRIMARY KEY,
    version bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE data_versions IS 'a counter per table, bumped by each statement that writes it';
INSERT INTO data_versions (name) VALUES ('enterprises');

-- +goose StatementBegin
CREATE FUNCTION bump_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_versions SET version = version + 1 WHERE name = TG_TABLE_NAME;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER enterprises_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON enterprises
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();
ALTER TABLE enterprises ENABLE ALWAYS TRIGGER enterprises_data_version;

-- +goose Down
DROP TRIGGER enterprises_data_version ON enterprises;
DROP FUNCTION bump_data_version();
DROP TABLE data_versions;
