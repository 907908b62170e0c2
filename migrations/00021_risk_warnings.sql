-- Early warnings 预警 (issue 14; docs/RISK.md, "Early warnings"): the hazard-burst rule
-- counts the hazards reported in the last days in each cell and street, on every recompute
-- and every run of the notification scheduler. Without an index on reported_at that is a
-- scan of every hazard each minute; with it, the window's rows only.

-- +goose Up
CREATE INDEX hazards_reported_idx ON hazards (reported_at);

-- +goose Down
DROP INDEX hazards_reported_idx;
