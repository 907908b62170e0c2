-- The district safety bureau role (区安监局): a user who sees one district (users.district_code,
-- an area of level 'district'), as a street office sees one street. grid.Scope writes the
-- condition every capability filters on.

-- +goose Up
ALTER TABLE users ADD COLUMN district_code text REFERENCES areas (code);
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'planner', 'district', 'street', 'officer'));
ALTER TABLE users ADD CONSTRAINT users_district_check CHECK ((role = 'district') = (district_code IS NOT NULL));
COMMENT ON COLUMN users.district_code IS 'the district a district safety bureau user (role district, 区安监局) sees; NULL for other roles';

-- +goose Down
ALTER TABLE users DROP CONSTRAINT users_district_check;
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'planner', 'street', 'officer'));
ALTER TABLE users DROP COLUMN district_code;
