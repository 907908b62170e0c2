-- Managing people and their sessions (grid/users.go, api/users.go, `safegrid users`).
--
-- - users.removed_at: removing a user is a soft delete. Their row stays, so the hazards
--   they reported (hazards.reporter), their inspections (inspections.officer_id) and the
--   audit rows naming them keep pointing at someone; a removed user is also disabled, and
--   their username stays taken, so it can never name a second person in that history.
-- - users.last_login_at: the last successful POST /api/v1/auth/login. It is written in the
--   login's transaction, so a login moves the users data version (kept grid_cells tiles,
--   which show officers' names, are redrawn once).
-- - users.credentials_version: raised whenever a user's password changes or they are
--   disabled or removed. The service remembers good HTTP Basic credentials to skip bcrypt
--   (api/auth.go) and checks this number on every request, so no remembered credential
--   outlives the change.
-- - sessions.id: a session's public name, for listing and revoking it; the token's hash
--   is never shown. sessions.last_seen_at: when the token was last used (at most a minute
--   old, so a burst of requests writes it once).

-- +goose Up
ALTER TABLE users ADD COLUMN removed_at timestamptz;
ALTER TABLE users ADD COLUMN last_login_at timestamptz;
ALTER TABLE users ADD COLUMN credentials_version integer NOT NULL DEFAULT 1;
ALTER TABLE users ADD CONSTRAINT users_removed_disabled CHECK (removed_at IS NULL OR disabled);
COMMENT ON COLUMN users.removed_at IS 'set when the user is removed: the row stays for their history (hazards, inspections, audit) and the username stays taken';
COMMENT ON COLUMN users.last_login_at IS 'the last successful login (bearer token); HTTP Basic requests do not set it';
COMMENT ON COLUMN users.credentials_version IS 'raised by a password change, disabling and removal; remembered Basic credentials of an older version are refused';
ALTER TABLE sessions ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE sessions ADD CONSTRAINT sessions_id_key UNIQUE (id);
ALTER TABLE sessions ADD COLUMN last_seen_at timestamptz;
COMMENT ON COLUMN sessions.id IS 'the session''s public name (listing, revoking); the token is never shown';
COMMENT ON COLUMN sessions.last_seen_at IS 'when the token was last used, to the minute';

-- +goose Down
ALTER TABLE sessions DROP COLUMN last_seen_at;
ALTER TABLE sessions DROP CONSTRAINT sessions_id_key;
ALTER TABLE sessions DROP COLUMN id;
ALTER TABLE users DROP CONSTRAINT users_removed_disabled;
ALTER TABLE users DROP COLUMN credentials_version;
ALTER TABLE users DROP COLUMN last_login_at;
ALTER TABLE users DROP COLUMN removed_at;
