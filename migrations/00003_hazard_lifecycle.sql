-- The hazard lifecycle addresses a hazard by its id alone (ids come from one identity
-- sequence, so they are unique across districts): POST /api/v1/hazards/{id}/transition.
-- The primary key leads with district_code, so id needs an index of its own.

-- +goose Up
CREATE INDEX hazards_id_idx ON hazards (id);

-- +goose Down
DROP INDEX hazards_id_idx;
