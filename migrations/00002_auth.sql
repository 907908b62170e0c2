-- Sign-in sessions and the officer scope. sessions is small and keyed by user, so on Citus
-- it is a reference table like users.

-- +goose Up
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
COMMENT ON TABLE sessions IS 'bearer tokens handed out at login; only the SHA-256 of a token is stored, so a leaked table cannot be replayed';
COMMENT ON COLUMN sessions.revoked_at IS 'set by logout; a revoked token is refused even before it expires';
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- officer_cells is the officer's scope: the resolution-9 cells of every grid unit assigned
-- to the user. A plain SQL function so the planner inlines it when it is used in FROM:
-- WHERE h3 IN (SELECT h3 FROM officer_cells($1) AS h3).
-- +goose StatementBegin
CREATE FUNCTION officer_cells(user_id bigint) RETURNS SETOF bigint
LANGUAGE sql STABLE PARALLEL SAFE ROWS 200
AS $$
    SELECT gc.h3 FROM grid_cells gc JOIN grid_units u ON u.code = gc.unit_code WHERE u.officer_id = user_id
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION officer_cells(bigint) IS 'the H3 cells (resolution 9) of the grid units assigned to an officer';

-- +goose Down
DROP FUNCTION officer_cells(bigint);
DROP TABLE sessions;
