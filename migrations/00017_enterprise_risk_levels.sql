-- The risk level history of enterprises (风险等级变更记录), for the enterprise dossier 一企一档
-- (issue 15; docs/DOSSIER.md). One row per level an enterprise was given: its first level
-- when an import creates it (from_level NULL) and every change a re-import makes
-- (from_level, risk_level). The import paths write it in the import's transaction
-- (grid/ingest: the bulk COPY path and the SQL upsert path); nothing else changes
-- enterprises.risk_level.
--
-- Citus: a big table like hazard_history, so district_code leads the key (the district the
-- enterprise had when the level was given). No foreign key to enterprises: a row moving to
-- another district is deleted and inserted by the import, and its history stays, found by
-- the USCC. No trigger writes it (triggers are not for big tables), and no data version:
-- no kept answer (api/respcache.go) reads it.
--
-- Enterprises loaded before this migration get their current level as a first row, at
-- their updated_at, by the actor 'migration' (their earlier levels were never recorded).

-- +goose Up
CREATE TABLE enterprise_risk_levels (
    district_code text NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    uscc text NOT NULL,
    from_level text CHECK (from_level IN ('重大', '较大', '一般', '低')),
    risk_level text NOT NULL CHECK (risk_level IN ('重大', '较大', '一般', '低')),
    actor text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_code, id)
);
COMMENT ON TABLE enterprise_risk_levels IS '风险等级变更: each risk level an enterprise was given, by import (first level: from_level NULL)';
COMMENT ON COLUMN enterprise_risk_levels.uscc IS 'the enterprise''s 统一社会信用代码; no foreign key, the history outlives a move to another district';
CREATE INDEX enterprise_risk_levels_uscc_idx ON enterprise_risk_levels (uscc, at);

INSERT INTO enterprise_risk_levels (district_code, uscc, from_level, risk_level, actor, at)
SELECT district_code, uscc, NULL, risk_level, 'migration', updated_at FROM enterprises;

-- +goose Down
DROP TABLE enterprise_risk_levels;
