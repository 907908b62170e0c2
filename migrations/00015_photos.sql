-- Photo evidence 照片取证 (issue 15, field work; docs/PHOTOS.md).
--
-- A photo is uploaded first (photo_uploads: a staged upload owned by its uploader, not yet
-- evidence of anything), then attached in the transaction of the step it documents: a
-- hazard's report (上报), rectification (整改) or verification (验收), or an inspection
-- (检查记录). Attaching moves the row into photos with the district of what it documents,
-- keeping its id, so the id a client was given names the photo for good.
--
-- The files live outside the database, content-addressed by sha256 (grid/evidence): the
-- served copy with its metadata removed (sha256) and a thumbnail (thumb_sha256). A file is
-- written and fsynced before the row that names it commits; a sweep removes files no row
-- names, and staged uploads older than a day.
--
-- The EXIF evidence is kept on the row: taken_at (DateTimeOriginal, read as Shanghai time
-- when it has no offset) and gps (the EXIF position, WGS84). When attached, distance_m is the
-- distance from gps to the hazard or the inspected enterprise and far says it was more than
-- the service's limit (serve --photo-max-distance) at the time.
--
-- Citus: photo_uploads is small and short-lived (a day at most) and stays on the
-- coordinator; photos carries district_code in its primary key, like hazard_history, and
-- has no unique index without it. No data-version triggers: photos change only with a
-- hazard step or an inspection, which move the hazards' and inspections' versions
-- themselves, and no kept answer reads inspections.

-- +goose Up
CREATE TABLE photo_uploads (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    uploader text NOT NULL CHECK (uploader <> ''),
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    thumb_sha256 text NOT NULL CHECK (thumb_sha256 ~ '^[0-9a-f]{64}$'),
    content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    bytes integer NOT NULL CHECK (bytes > 0),
    width integer NOT NULL CHECK (width > 0),
    height integer NOT NULL CHECK (height > 0),
    taken_at timestamptz,
    gps geometry(Point, 4326),
    uploaded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE photo_uploads IS 'staged photo uploads: stored, owned by their uploader, not yet attached to a step (swept after a day)';
COMMENT ON COLUMN photo_uploads.sha256 IS 'sha256 (hex) of the served copy, metadata removed: the name of its file';
COMMENT ON COLUMN photo_uploads.thumb_sha256 IS 'sha256 (hex) of the JPEG thumbnail: the name of its file';
COMMENT ON COLUMN photo_uploads.taken_at IS 'EXIF DateTimeOriginal (Asia/Shanghai when the photo gives no offset)';
COMMENT ON COLUMN photo_uploads.gps IS 'EXIF GPS position (WGS84)';
CREATE INDEX photo_uploads_owner_idx ON photo_uploads (owner_id);
CREATE INDEX photo_uploads_uploaded_idx ON photo_uploads (uploaded_at);
CREATE INDEX photo_uploads_sha256_idx ON photo_uploads (sha256);
CREATE INDEX photo_uploads_thumb_idx ON photo_uploads (thumb_sha256);

CREATE TABLE photos (
    district_code text NOT NULL,
    id bigint NOT NULL,
    hazard_id bigint,
    history_id bigint,
    step text CHECK (step IN ('reported', 'rectifying', 'verified')),
    inspection_id bigint,
    uploader text NOT NULL CHECK (uploader <> ''),
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    thumb_sha256 text NOT NULL CHECK (thumb_sha256 ~ '^[0-9a-f]{64}$'),
    content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    bytes integer NOT NULL CHECK (bytes > 0),
    width integer NOT NULL CHECK (width > 0),
    height integer NOT NULL CHECK (height > 0),
    taken_at timestamptz,
    gps geometry(Point, 4326),
    distance_m double precision CHECK (distance_m >= 0),
    far boolean NOT NULL DEFAULT false,
    uploaded_at timestamptz NOT NULL,
    attached_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_code, id),
    FOREIGN KEY (district_code, hazard_id) REFERENCES hazards (district_code, id) ON DELETE CASCADE,
    FOREIGN KEY (district_code, history_id) REFERENCES hazard_history (district_code, id) ON DELETE CASCADE,
    FOREIGN KEY (district_code, inspection_id) REFERENCES inspections (district_code, id) ON DELETE CASCADE,
    CHECK ((hazard_id IS NOT NULL AND history_id IS NOT NULL AND step IS NOT NULL AND inspection_id IS NULL)
        OR (hazard_id IS NULL AND history_id IS NULL AND step IS NULL AND inspection_id IS NOT NULL))
);
COMMENT ON TABLE photos IS '照片取证: photo evidence attached to a hazard step (report, rectification, verification) or an inspection';
COMMENT ON COLUMN photos.id IS 'the id of the upload it was, kept';
COMMENT ON COLUMN photos.history_id IS 'the hazard_history row of the step the photo documents';
COMMENT ON COLUMN photos.step IS 'the status the step moved the hazard to: reported 上报, rectifying 整改, verified 验收';
COMMENT ON COLUMN photos.sha256 IS 'sha256 (hex) of the served copy, metadata removed: the name of its file';
COMMENT ON COLUMN photos.thumb_sha256 IS 'sha256 (hex) of the JPEG thumbnail: the name of its file';
COMMENT ON COLUMN photos.taken_at IS 'EXIF DateTimeOriginal (Asia/Shanghai when the photo gives no offset)';
COMMENT ON COLUMN photos.gps IS 'EXIF GPS position (WGS84)';
COMMENT ON COLUMN photos.distance_m IS 'metres from gps to the hazard or the inspected enterprise; NULL without gps';
COMMENT ON COLUMN photos.far IS 'distance_m was more than the service''s limit when attached';
CREATE INDEX photos_id_idx ON photos (id);
CREATE INDEX photos_hazard_idx ON photos (district_code, hazard_id, history_id) WHERE hazard_id IS NOT NULL;
CREATE INDEX photos_inspection_idx ON photos (district_code, inspection_id) WHERE inspection_id IS NOT NULL;
CREATE INDEX photos_sha256_idx ON photos (sha256);
CREATE INDEX photos_thumb_idx ON photos (thumb_sha256);

-- +goose Down
DROP TABLE photos;
DROP TABLE photo_uploads;
