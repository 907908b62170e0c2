-- Early warnings 预警 (issue 14; docs/RISK.md, "Early warnings"): the hazard-burst rule
-- counts the hazards reported in the last days in each cell and street, on every recompute
-- and every run of the notification scheduler. Without an index on reported_at that is a
-- scan of every hazard each minute; with it, the window's rows only. The overdue rule and a
-- zone's major hazard installations look the 重大危险源 up by USCC (the hazards' feature_code):
-- a partial index holds just those.

-- +goose Up
CREATE INDEX hazards_reported_idx ON hazards (reported_at);
CREATE INDEX enterprises_major_hazard_idx ON enterprises (uscc) WHERE major_hazard;

-- +goose Down
DROP INDEX enterprises_major_hazard_idx;
DROP INDEX hazards_reported_idx;
