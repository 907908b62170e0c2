-- The licences of enterprises (证照), for the enterprise dossier 一企一档 (issue 15;
-- docs/DOSSIER.md "Licences"). One row per licence an enterprise holds: its type from the
-- fixed list of work-safety licences, its number, the issuing authority and its validity.
-- Loaded from CSV (grid/dossier.LoadLicencesCSV: `safegrid licences load`, POST
-- /api/v1/admin/licences), all or nothing, upserting by (district_code, uscc, type, number).
--
-- Citus: distributed by district_code like enterprises, so district_code leads the key and
-- the unique. No foreign key to enterprises (the loader checks each USCC against them, as
-- enterprise_risk_levels does), no trigger, and no data version: no kept answer
-- (api/respcache.go) reads it.

-- +goose Up
CREATE TABLE enterprise_licences (
    district_code text NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    uscc text NOT NULL CHECK (uscc ~ '^[0-9A-HJ-NP-RTUWXY]{18}$'),
    type text NOT NULL CHECK (type IN ('安全生产许可证', '危险化学品经营许可证', '危险化学品安全使用许可证',
        '危险化学品登记证', '非药品类易制毒化学品经营备案证明', '其他')),
    number text NOT NULL CHECK (number <> '' AND length(number) <= 64),
    authority text NOT NULL CHECK (authority <> '' AND length(authority) <= 100),
    issued_on date NOT NULL,
    valid_until date NOT NULL CHECK (valid_until >= issued_on),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_code, id),
    UNIQUE (district_code, uscc, type, number)
);
COMMENT ON TABLE enterprise_licences IS '证照: the work-safety licences an enterprise holds';
COMMENT ON COLUMN enterprise_licences.uscc IS 'the enterprise''s 统一社会信用代码; no foreign key, the loader checks it';
COMMENT ON COLUMN enterprise_licences.authority IS '发证机关';
COMMENT ON COLUMN enterprise_licences.issued_on IS '发证日期';
COMMENT ON COLUMN enterprise_licences.valid_until IS '有效期至 (the last valid day)';

-- +goose Down
DROP TABLE enterprise_licences;
