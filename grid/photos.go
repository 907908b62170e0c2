package grid

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// Photo evidence 照片取证 (docs/PHOTOS.md): the limits every capability applies, the
// photo's fields, and the one way a staged upload becomes evidence of a step, inside that
// step's transaction. Storing, serving and sweeping the files is grid/evidence's.
const (
	// MaxPhotoBytes is the largest photo file accepted (10 MB).
	MaxPhotoBytes = 10 << 20
	// MaxPhotosPerStep is how many photos one step (a hazard's report, rectification or
	// verification, an inspection) may carry.
	MaxPhotosPerStep = 9
	// DefaultPhotoFarM is the distance from the hazard (or the inspected enterprise)
	// beyond which a photo's EXIF position flags it as far away.
	DefaultPhotoFarM = 500
)

// The hazard steps a photo documents (photos.step): the status the step moved to.
var photoSteps = []string{"reported", "rectifying", "verified"}

// PhotoSteps are the statuses whose steps may carry photos: the report 上报, the
// rectification 整改 (and a rejected verification's return to it) and the verification 验收.
func PhotoSteps() []string { return slices.Clone(photoSteps) }

// IsPhotoStep reports whether a step to status may carry photos.
func IsPhotoStep(status string) bool { return slices.Contains(photoSteps, status) }

// LimitError is a request past one of the service's fixed limits (400 from the API, naming
// the field and the limit), such as a tenth photo for a step.
type LimitError struct {
	Field  string
	Limit  string // the limit, for people: "9 photos per step"
	Reason string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: %s (limit: %s)", e.Field, e.Reason, e.Limit)
}

// LonLat is a WGS84 position.
type LonLat struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
}

// Photo is one photo 照片 as the API shows it: what it documents, its file, and the
// evidence read from its EXIF.
type Photo struct {
	ID           int64    `json:"id"`
	HazardID     *int64   `json:"hazard_id,omitempty" doc:"the hazard whose step it documents"`
	Step         *string  `json:"step,omitempty" enum:"reported,rectifying,verified" doc:"the status the step moved the hazard to: reported 上报, rectifying 整改, verified 验收"`
	InspectionID *int64   `json:"inspection_id,omitempty" doc:"the inspection it documents"`
	Attached     bool     `json:"attached" doc:"false for a staged upload not yet sent with a step"`
	Uploader     string   `json:"uploader"`
	ContentType  string   `json:"content_type" enum:"image/jpeg,image/png,image/webp"`
	Bytes        int      `json:"bytes" doc:"size of the served copy (metadata removed)"`
	Width        int      `json:"width"`
	Height       int      `json:"height"`
	TakenAt      *Time    `json:"taken_at" doc:"EXIF DateTimeOriginal (read as Asia/Shanghai when the photo gives no offset); null when absent"`
	GPS          *LonLat  `json:"gps" doc:"the EXIF GPS position (WGS84); null when absent"`
	DistanceM    *float64 `json:"distance_m" doc:"metres from the GPS position to the hazard or the inspected enterprise; null without GPS or before attaching"`
	Far          bool     `json:"far" doc:"the GPS position was farther than the service's limit (serve --photo-max-distance) when attached"`
	UploadedAt   Time     `json:"uploaded_at"`
	AttachedAt   *Time    `json:"attached_at"`
	URL          string   `json:"url" doc:"the image, metadata removed"`
	ThumbURL     string   `json:"thumb_url" doc:"a JPEG thumbnail, 320 px on its long side"`

	// HistoryID is the hazard_history row of the step (0 for an inspection's or a staged
	// photo); District the district it lies in; SHA256 and ThumbSHA256 its files.
	HistoryID   int64  `json:"-"`
	District    string `json:"-"`
	SHA256      string `json:"-"`
	ThumbSHA256 string `json:"-"`
	OwnerID     int64  `json:"-"`
}

// SetURLs fills URL and ThumbURL from the id.
func (p *Photo) SetURLs() {
	p.URL = "/api/v1/photos/" + strconv.FormatInt(p.ID, 10)
	p.ThumbURL = p.URL + "/thumb"
}

// PhotoColumns are the columns ScanPhoto reads, of the photos table aliased ph.
const PhotoColumns = `ph.id, ph.hazard_id, ph.step, ph.inspection_id, true, ph.uploader, ph.content_type, ph.bytes,
       ph.width, ph.height, ph.taken_at, ST_X(ph.gps), ST_Y(ph.gps), ph.distance_m, ph.far, ph.uploaded_at,
       ph.attached_at, coalesce(ph.history_id, 0), ph.district_code, ph.sha256, ph.thumb_sha256, 0::bigint`

// UploadColumns are the same columns of photo_uploads aliased u.
const UploadColumns = `u.id, NULL::bigint, NULL::text, NULL::bigint, false, u.uploader, u.content_type, u.bytes,
       u.width, u.height, u.taken_at, ST_X(u.gps), ST_Y(u.gps), NULL::float8, false, u.uploaded_at,
       NULL::timestamptz, 0::bigint, '', u.sha256, u.thumb_sha256, u.owner_id`

// ScanPhoto reads a row of PhotoColumns or UploadColumns.
func ScanPhoto(row pgx.CollectableRow) (Photo, error) {
	var ph Photo
	var lon, lat *float64
	err := row.Scan(&ph.ID, &ph.HazardID, &ph.Step, &ph.InspectionID, &ph.Attached, &ph.Uploader, &ph.ContentType,
		&ph.Bytes, &ph.Width, &ph.Height, &ph.TakenAt, &lon, &lat, &ph.DistanceM, &ph.Far, &ph.UploadedAt,
		&ph.AttachedAt, &ph.HistoryID, &ph.District, &ph.SHA256, &ph.ThumbSHA256, &ph.OwnerID)
	if lon != nil && lat != nil {
		ph.GPS = &LonLat{Lon: *lon, Lat: *lat}
	}
	ph.SetURLs()
	return ph, err
}

// PhotoTarget is what a set of photos is attached to: one step of a hazard (its district,
// id, history row and the status it moved to) or one inspection.
type PhotoTarget struct {
	District     string
	HazardID     int64
	HistoryID    int64
	Step         string
	InspectionID int64
}

// attachTargetSQL is the point a photo's GPS is measured from: the hazard ($2 district, $3
// id) or the inspected enterprise ($4 inspection).
const attachTargetSQL = `SELECT h.geom FROM hazards h WHERE $3::bigint <> 0 AND h.district_code = $2 AND h.id = $3
UNION ALL
SELECT e.geom FROM inspections i JOIN enterprises e ON e.district_code = i.district_code AND e.id = i.enterprise_id
 WHERE $4::bigint <> 0 AND i.district_code = $2 AND i.id = $4`

// attachSQL moves the caller's staged uploads ($1) into photos for the target ($2 district,
// $3 hazard, $5 history row, $6 step, $4 inspection), with their distance from it and the
// far flag beyond $7 metres.
const attachSQL = `INSERT INTO photos (district_code, id, hazard_id, history_id, step, inspection_id, uploader, sha256,
	thumb_sha256, content_type, bytes, width, height, taken_at, gps, distance_m, far, uploaded_at)
SELECT $2, u.id, nullif($3::bigint, 0), nullif($5::bigint, 0), nullif($6::text, ''), nullif($4::bigint, 0), u.uploader,
	u.sha256, u.thumb_sha256, u.content_type, u.bytes, u.width, u.height, u.taken_at, u.gps, d.m, coalesce(d.m > $7, false),
	u.uploaded_at
FROM photo_uploads u
LEFT JOIN LATERAL (SELECT ST_Distance(u.gps::geography, t.geom::geography) AS m FROM (` + attachTargetSQL + `) t LIMIT 1) d ON true
WHERE u.id = ANY($1)`

// AttachPhotos makes the caller's staged uploads ids evidence of target, inside tx, the
// transaction that writes the step: both commit or neither does, and a failed step leaves
// the uploads staged for another try. Each id must be an upload of p's that is not yet
// attached (else an InvalidError on "photos" saying which and why); a step carries at most
// MaxPhotosPerStep (else a LimitError). A photo whose GPS lies more than Store.PhotoFarM
// from the target is flagged far.
func (s *Store) AttachPhotos(ctx context.Context, tx pgx.Tx, p *Principal, ids []int64, t PhotoTarget) error {
	if len(ids) == 0 {
		return nil
	}
	if err := CheckPhotoIDs(ids); err != nil {
		return err
	}
	if t.District == "" || (t.HazardID == 0) == (t.InspectionID == 0) || (t.HazardID != 0 && !IsPhotoStep(t.Step)) {
		return fmt.Errorf("attach photos: bad target %+v", t)
	}
	farM := s.PhotoFarM
	if farM <= 0 {
		farM = DefaultPhotoFarM
	}
	var have int
	if err := tx.QueryRow(ctx, `SELECT count(*)::int FROM photos WHERE district_code = $1
   AND (($2::bigint <> 0 AND history_id = $2) OR ($3::bigint <> 0 AND inspection_id = $3))`,
		t.District, t.HistoryID, t.InspectionID).Scan(&have); err != nil {
		return err
	}
	if have+len(ids) > MaxPhotosPerStep {
		return tooManyPhotos(have + len(ids))
	}
	// Lock the uploads, so that two steps sending the same id one after the other find
	// it attached, not both.
	rows, err := tx.Query(ctx, `SELECT id FROM photo_uploads WHERE id = ANY($1) AND owner_id = $2 ORDER BY id FOR UPDATE`, ids, p.UserID)
	if err != nil {
		return err
	}
	mine, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	for _, id := range ids {
		if slices.Contains(mine, id) {
			continue
		}
		var attached bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM photos WHERE id = $1 AND uploader = $2)`, id, p.Actor()).Scan(&attached); err != nil {
			return err
		}
		if attached {
			return &InvalidError{Field: "photos", Reason: fmt.Sprintf("photo %d is already attached to a step; upload it again for another", id)}
		}
		return &InvalidError{Field: "photos", Reason: fmt.Sprintf("no upload %d of yours: upload the photo first (POST /api/v1/photos)", id)}
	}
	tag, err := tx.Exec(ctx, attachSQL, ids, t.District, t.HazardID, t.InspectionID, t.HistoryID, t.Step, farM)
	if err != nil {
		return err
	}
	if int(tag.RowsAffected()) != len(ids) {
		return fmt.Errorf("attach photos: %d of %d moved", tag.RowsAffected(), len(ids))
	}
	_, err = tx.Exec(ctx, `DELETE FROM photo_uploads WHERE id = ANY($1)`, ids)
	return err
}

// CheckPhotoIDs refuses a list of photo ids with a repeated or non-positive id
// (InvalidError) or more than a step carries (LimitError), before anything is written.
func CheckPhotoIDs(ids []int64) error {
	if len(ids) > MaxPhotosPerStep {
		return tooManyPhotos(len(ids))
	}
	for i, id := range ids {
		if id <= 0 {
			return &InvalidError{Field: fmt.Sprintf("photos[%d]", i), Reason: "is not a photo id"}
		}
		if slices.Contains(ids[:i], id) {
			return &InvalidError{Field: fmt.Sprintf("photos[%d]", i), Reason: fmt.Sprintf("photo %d is listed twice", id)}
		}
	}
	return nil
}

func tooManyPhotos(n int) error {
	return &LimitError{Field: "photos", Limit: fmt.Sprintf("%d photos per step", MaxPhotosPerStep),
		Reason: fmt.Sprintf("a step carries at most %d photos; this one would have %d", MaxPhotosPerStep, n)}
}

// photoQuerier is a transaction or the pool.
type photoQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// HazardPhotos returns the photos of a hazard's steps, oldest step first, read in q (nil:
// the pool). The caller has checked the hazard is in scope.
func (s *Store) HazardPhotos(ctx context.Context, q pgx.Tx, district string, hazardID int64) ([]Photo, error) {
	var db photoQuerier = s.pool
	if q != nil {
		db = q
	}
	rows, err := db.Query(ctx, `SELECT `+PhotoColumns+` FROM photos ph
 WHERE ph.district_code = $1 AND ph.hazard_id = $2 ORDER BY ph.history_id, ph.attached_at, ph.id`, district, hazardID)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, ScanPhoto)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []Photo{}
	}
	return out, nil
}

// InspectionPhotos returns the photos of an inspection, read in q (nil: the pool). The
// caller has checked the inspection is in scope.
func (s *Store) InspectionPhotos(ctx context.Context, q pgx.Tx, district string, inspectionID int64) ([]Photo, error) {
	var db photoQuerier = s.pool
	if q != nil {
		db = q
	}
	rows, err := db.Query(ctx, `SELECT `+PhotoColumns+` FROM photos ph
 WHERE ph.district_code = $1 AND ph.inspection_id = $2 ORDER BY ph.attached_at, ph.id`, district, inspectionID)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, ScanPhoto)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []Photo{}
	}
	return out, nil
}
