-- A street office's hazard list (GET /api/v1/streets/{code}/hazards) is paged newest
-- first. Without an index in that order every page read and sorted all of the street's
-- hazards (62,000 in the largest street of the scale-50 set: 2 s cold); with it a page
-- reads its own rows. The id breaks ties, as the list's ORDER BY does.
-- (Numbered 00005: an 00004 is in progress elsewhere.)

-- +goose Up
CREATE INDEX hazards_street_reported_idx ON hazards (street_code, reported_at DESC, id DESC);

-- +goose Down
DROP INDEX hazards_street_reported_idx;
