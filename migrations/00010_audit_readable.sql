-- The audit log 审计日志, readable and append-only (issue 13, section 2).
--
-- Readable: every record names the kind of object it is about (object_kind: hazard,
-- enterprise, user, session, unit, dataset), the object's own key (object_id: the hazard's
-- code, the USCC, the username, the unit's code, the dataset's kind name) and the street the
-- object lies in (street_code), so that GET /api/v1/admin/audit filters on columns with
-- indexes instead of parsing target and details. target stays, written as before (it is
-- object_id for every record that has an object). Records written before this migration are
-- backfilled from action and target as far as they tell: the kind from the action's name,
-- the street from the object where it still exists (a hazard, an enterprise, a unit, a
-- street office's user; a unit's own record also names its street in details).
--
-- Append-only: the service connects as the role that owns the tables (DATABASE_URL names
-- it; the project's private cluster makes it a superuser, since initdb created it). A
-- table's owner and a superuser are not bound by GRANT and REVOKE, so revoking UPDATE and
-- DELETE would promise something it does not hold, and splitting ownership would need a
-- second role that every deployment creates and the migrations run as. A trigger binds every
-- role, the owner and a superuser too: UPDATE, DELETE and TRUNCATE of audit_log raise an
-- error (SQLSTATE 42501). It is ENABLE ALWAYS, so session_replication_role = replica (the
-- import's bulk path) does not silence it either. Only DDL gets past it (ALTER TABLE ...
-- DISABLE TRIGGER, DROP TABLE, or goose down of this migration), which the service never
-- runs; the database administrator keeps that power, and that is the point of having one.
-- Nothing in the code base removes audit rows: tests drop whole cloned databases (not a
-- write, not stopped), `safegrid demo` only adds its mark, and imports truncate only the
-- table they load (audit_log has no foreign key, so no TRUNCATE ... CASCADE reaches it).
--
-- On Citus, audit_log stays a plain table on the coordinator (it has no district_code and is
-- written once per change), where triggers work; it is neither distributed nor a reference
-- table.

-- +goose Up
ALTER TABLE audit_log ADD COLUMN object_kind text;
ALTER TABLE audit_log ADD COLUMN object_id text;
ALTER TABLE audit_log ADD COLUMN street_code text;
COMMENT ON COLUMN audit_log.object_kind IS 'what the record is about: hazard, enterprise, user, session, unit or dataset; NULL for records about nothing in particular (the demo mark)';
COMMENT ON COLUMN audit_log.object_id IS 'the object''s key: hazard code, USCC, username, grid unit code, dataset (kind) name';
COMMENT ON COLUMN audit_log.street_code IS 'the 9-digit street the object lies in, when it has one (a hazard''s, an enterprise''s, a grid unit''s, a street office''s)';
COMMENT ON TABLE audit_log IS 'every write: who, when, what; append-only (a trigger refuses UPDATE, DELETE and TRUNCATE)';

UPDATE audit_log SET object_id = target, object_kind = CASE
    WHEN action LIKE 'hazard\_%' THEN 'hazard'
    WHEN action = 'inspection' THEN 'enterprise'
    WHEN action LIKE 'user\_%' OR action LIKE 'password\_%' THEN 'user'
    WHEN action IN ('login', 'login_failed', 'logout') OR action LIKE 'session\_%' THEN 'session'
    WHEN action LIKE 'unit\_%' OR action IN ('assign', 'unassign') THEN 'unit'
    WHEN action = 'import' THEN 'dataset'
    END
 WHERE action LIKE 'hazard\_%' OR action IN ('inspection', 'login', 'login_failed', 'logout', 'assign', 'unassign', 'import')
    OR action LIKE 'user\_%' OR action LIKE 'password\_%' OR action LIKE 'session\_%' OR action LIKE 'unit\_%';

UPDATE audit_log a SET street_code = h.street_code
  FROM hazards h WHERE a.object_kind = 'hazard' AND h.code = a.object_id AND h.street_code ~ '^[0-9]{9}$';
UPDATE audit_log a SET street_code = e.street_code
  FROM enterprises e WHERE a.object_kind = 'enterprise' AND e.uscc = a.object_id AND e.street_code ~ '^[0-9]{9}$';
UPDATE audit_log a SET street_code = u.street_code
  FROM grid_units u WHERE a.object_kind = 'unit' AND u.code = a.object_id AND u.street_code ~ '^[0-9]{9}$';
UPDATE audit_log SET street_code = details->>'street_code'
 WHERE object_kind = 'unit' AND street_code IS NULL AND details->>'street_code' ~ '^[0-9]{9}$';
UPDATE audit_log a SET street_code = u.street_code
  FROM users u WHERE a.object_kind IN ('user', 'session') AND u.username = a.object_id AND u.street_code ~ '^[0-9]{9}$';

-- Newest first, with the id breaking ties, for every filter: the list is ORDER BY at DESC,
-- id DESC, and each filter's index ends in the same order so a page stops after its rows.
-- Measured on 500,000 records (2026-12-03): a page of 100 by actor, object, street or time
-- 0.1-5 ms, each by its index; an action alone walks the time index (0.2 ms for a common
-- one); counting the whole log for the total 107 ms.
DROP INDEX audit_log_at_idx;
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, at DESC, id DESC);
CREATE INDEX audit_log_object_idx ON audit_log (object_kind, object_id, at DESC, id DESC);
CREATE INDEX audit_log_street_idx ON audit_log (street_code, at DESC, id DESC);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit records are never changed or removed; see migrations/00010_audit_readable.sql';
END
$$;
-- +goose StatementEnd
COMMENT ON FUNCTION audit_log_append_only() IS 'refuses every UPDATE, DELETE and TRUNCATE of audit_log';

-- One statement-level trigger: it fires once per statement before any row is touched, also
-- when the statement matches no row, so nobody learns by trying that a write would pass.
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_append_only;

-- +goose Down
DROP TRIGGER audit_log_append_only ON audit_log;
DROP FUNCTION audit_log_append_only();
DROP INDEX audit_log_street_idx;
DROP INDEX audit_log_object_idx;
DROP INDEX audit_log_actor_idx;
DROP INDEX audit_log_at_idx;
CREATE INDEX audit_log_at_idx ON audit_log (at);
ALTER TABLE audit_log DROP COLUMN street_code;
ALTER TABLE audit_log DROP COLUMN object_id;
ALTER TABLE audit_log DROP COLUMN object_kind;
COMMENT ON TABLE audit_log IS 'every write: who, when, what';
