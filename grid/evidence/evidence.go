// Package evidence is photo evidence 照片取证 (docs/PHOTOS.md): uploading a photo (its type
// sniffed from the bytes, its EXIF time and GPS read as evidence, its metadata removed, a
// thumbnail made), storing the files content-addressed behind Storage, serving them within
// the caller's scope, and sweeping what no row names. Attaching an upload to a step
// happens in that step's transaction, through the core's Store.AttachPhotos.
package evidence

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// MaxStaged is how many staged uploads (not yet attached) one person may hold: an upload
// that is never attached waits a day for the sweep, so this bounds the disk one account
// can fill meanwhile.
const MaxStaged = 100

// Service uploads, serves and sweeps photos over a store and a Storage.
type Service struct {
	st    *grid.Store
	db    *pgxpool.Pool
	files Storage
}

// New returns the service over st, keeping files in files.
func New(st *grid.Store, files Storage) *Service {
	return &Service{st: st, db: st.DB(pg.Key{}), files: files}
}

// Files is the service's storage.
func (s *Service) Files() Storage { return s.files }

const uploadInsertSQL = `INSERT INTO photo_uploads AS u (owner_id, uploader, sha256, thumb_sha256, content_type, bytes,
	width, height, taken_at, gps)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $10::float8 IS NOT NULL THEN ST_SetSRID(ST_MakePoint($10, $11), 4326) END)
RETURNING ` + grid.UploadColumns

// Upload checks and stores a photo as a staged upload of p's: the files first, written
// durably, then the row, so a row never names a file that is not there (a crash between
// them leaves a file the sweep removes). The answer is the photo with its EXIF evidence;
// send its id with a step to attach it.
func (s *Service) Upload(ctx context.Context, p *grid.Principal, data []byte) (*grid.Photo, error) {
	if p == nil || p.UserID <= 0 {
		return nil, fmt.Errorf("%w: uploading photos needs a signed-in user", grid.ErrForbidden)
	}
	var staged int
	if err := s.db.QueryRow(ctx, `SELECT count(*)::int FROM photo_uploads WHERE owner_id = $1`, p.UserID).Scan(&staged); err != nil {
		return nil, err
	}
	if staged >= MaxStaged {
		return nil, &grid.LimitError{Field: "photo", Limit: fmt.Sprintf("%d staged uploads per person", MaxStaged),
			Reason: "send the photos you uploaded with a step first, or wait a day for the unused ones to be swept"}
	}
	pr, err := Process(data)
	if err != nil {
		return nil, err
	}
	key, err := s.files.Put(ctx, pr.Served)
	if err != nil {
		return nil, fmt.Errorf("store photo: %w", err)
	}
	thumbKey, err := s.files.Put(ctx, pr.Thumb)
	if err != nil {
		return nil, fmt.Errorf("store thumbnail: %w", err)
	}
	var lon, lat *float64
	if pr.GPS != nil {
		lon, lat = &pr.GPS.Lon, &pr.GPS.Lat
	}
	var out grid.Photo
	err = s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, uploadInsertSQL, p.UserID, p.Actor(), key, thumbKey, pr.ContentType, len(pr.Served),
			pr.Width, pr.Height, pr.TakenAt, lon, lat)
		if err != nil {
			return err
		}
		if out, err = pgx.CollectExactlyOneRow(rows, grid.ScanPhoto); err != nil {
			return err
		}
		details := map[string]any{"sha256": key, "content_type": pr.ContentType, "bytes": len(pr.Served)}
		if pr.TakenAt != nil {
			details["taken_at"] = grid.FormatTime(*pr.TakenAt)
		}
		if pr.GPS != nil {
			details["gps"] = pr.GPS
		}
		return s.st.Record(ctx, tx, grid.AuditEntry{Actor: p.Actor(), Action: "photo_upload", Kind: grid.AuditPhoto,
			Object: strconv.FormatInt(out.ID, 10), Details: details})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// photoNotFound is the answer for a photo that does not exist and for one outside the
// caller's scope alike.
func photoNotFound(id int64) error {
	return &grid.NotFoundError{What: "photo", Key: strconv.FormatInt(id, 10)}
}

// photoScope is the condition that keeps the attached photos (ph) p may see: those of a
// hazard (h) in p's scope, or of an inspection whose enterprise (e) is; it binds its value
// as $3.
func photoScope(p *grid.Principal) (string, []any) {
	hc, args := grid.Scope(p, grid.ScopeCols{District: "h.district_code", Street: "h.street_code", Cell: "h.h3"}, 3)
	ec, _ := grid.Scope(p, grid.ScopeCols{District: "e.district_code", Street: "e.street_code", Cell: "e.h3"}, 3)
	return fmt.Sprintf("CASE WHEN ph.hazard_id IS NOT NULL THEN %s ELSE %s END", hc, ec), args
}

// Photo returns photo id if p may see it: an attached photo of a hazard or an inspection in
// p's scope (grid.Scope), or p's own staged upload. Any other is not found, exactly like
// one that does not exist.
func (s *Service) Photo(ctx context.Context, p *grid.Principal, id int64) (*grid.Photo, error) {
	cond, args := photoScope(p)
	owner := int64(-1)
	if p != nil {
		owner = p.UserID
	}
	q := `SELECT ` + grid.PhotoColumns + ` FROM photos ph
  LEFT JOIN hazards h ON ph.hazard_id IS NOT NULL AND h.district_code = ph.district_code AND h.id = ph.hazard_id
  LEFT JOIN inspections i ON ph.inspection_id IS NOT NULL AND i.district_code = ph.district_code AND i.id = ph.inspection_id
  LEFT JOIN enterprises e ON e.district_code = i.district_code AND e.id = i.enterprise_id
 WHERE ph.id = $1 AND ` + cond + `
UNION ALL
SELECT ` + grid.UploadColumns + ` FROM photo_uploads u WHERE u.id = $1 AND u.owner_id = $2
LIMIT 1`
	rows, err := s.db.Query(ctx, q, append([]any{id, owner}, args...)...)
	if err != nil {
		return nil, err
	}
	ph, err := pgx.CollectExactlyOneRow(rows, grid.ScanPhoto)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, photoNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	return &ph, nil
}

// Open opens the file of a photo p may see: the served copy, or with thumb its thumbnail.
// The caller closes it.
func (s *Service) Open(ctx context.Context, p *grid.Principal, id int64, thumb bool) (*grid.Photo, File, error) {
	ph, err := s.Photo(ctx, p, id)
	if err != nil {
		return nil, nil, err
	}
	key := ph.SHA256
	if thumb {
		key = ph.ThumbSHA256
	}
	f, err := s.files.Open(key)
	if errors.Is(err, fs.ErrNotExist) {
		// Named by a row but gone from the disk: someone removed it by hand.
		return nil, nil, fmt.Errorf("photo %d: its file %s is missing from the photo storage: %w", id, key, err)
	}
	if err != nil {
		return nil, nil, err
	}
	return ph, f, nil
}

// HazardPhotos lists the photos of a hazard in p's scope, oldest step first (a hazard
// outside the scope is not found, like a missing one).
func (s *Service) HazardPhotos(ctx context.Context, p *grid.Principal, hazardID int64) ([]grid.Photo, error) {
	cond, args := grid.Scope(p, grid.ScopeCols{District: "h.district_code", Street: "h.street_code", Cell: "h.h3"}, 2)
	var district string
	err := s.db.QueryRow(ctx, `SELECT h.district_code FROM hazards h WHERE h.id = $1 AND `+cond,
		append([]any{hazardID}, args...)...).Scan(&district)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &grid.NotFoundError{What: "hazard", Key: strconv.FormatInt(hazardID, 10)}
	}
	if err != nil {
		return nil, err
	}
	return s.st.HazardPhotos(ctx, nil, district, hazardID)
}

// InspectionPhotos lists the photos of an inspection whose enterprise is in p's scope (any
// other inspection is not found, like a missing one).
func (s *Service) InspectionPhotos(ctx context.Context, p *grid.Principal, inspectionID int64) ([]grid.Photo, error) {
	cond, args := grid.Scope(p, grid.ScopeCols{District: "e.district_code", Street: "e.street_code", Cell: "e.h3"}, 2)
	var district string
	err := s.db.QueryRow(ctx, `SELECT i.district_code FROM inspections i
  JOIN enterprises e ON e.district_code = i.district_code AND e.id = i.enterprise_id
 WHERE i.id = $1 AND `+cond, append([]any{inspectionID}, args...)...).Scan(&district)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &grid.NotFoundError{What: "inspection", Key: strconv.FormatInt(inspectionID, 10)}
	}
	if err != nil {
		return nil, err
	}
	return s.st.InspectionPhotos(ctx, nil, district, inspectionID)
}

// SweepOptions say what a sweep removes.
type SweepOptions struct {
	// Grace: a file stored more recently than this is kept even when no row names it
	// yet, so an upload between its file and its row survives (default 1 h).
	Grace time.Duration
	// StagedFor: staged uploads older than this are removed, rows and then files
	// (default 24 h).
	StagedFor time.Duration
	Actor     string // who runs it, for the audit record (default "system")
}

// SweepResult says what a sweep removed.
type SweepResult struct {
	Uploads int `json:"uploads" doc:"staged uploads removed (older than StagedFor)"`
	Files   int `json:"files" doc:"files removed that no row named"`
	Kept    int `json:"kept" doc:"files kept (named by a row, or within the grace period)"`
}

// Sweep removes staged uploads older than StagedFor, then every stored file that no row
// names and that was stored longer ago than Grace. It is safe to run while the service
// uploads: a file is looked at once more just before it goes, and a Put of the same bytes
// renews its time.
func (s *Service) Sweep(ctx context.Context, o SweepOptions) (SweepResult, error) {
	if o.Grace <= 0 {
		o.Grace = time.Hour
	}
	if o.StagedFor <= 0 {
		o.StagedFor = 24 * time.Hour
	}
	if o.Actor == "" {
		o.Actor = "system"
	}
	var res SweepResult
	err := s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM photo_uploads WHERE uploaded_at < now() - $1::interval RETURNING id`, o.StagedFor.String())
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(ids) == 0 {
			return err
		}
		res.Uploads = len(ids)
		return s.st.Record(ctx, tx, grid.AuditEntry{Actor: o.Actor, Action: "photo_sweep", Kind: grid.AuditPhoto,
			Object: "staged", Details: map[string]any{"uploads": ids}})
	})
	if err != nil {
		return res, err
	}
	cutoff := time.Now().Add(-o.Grace)
	var old []string
	err = s.files.List(ctx, func(key string, at time.Time) error {
		if at.Before(cutoff) {
			old = append(old, key)
		} else {
			res.Kept++
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	for len(old) > 0 {
		batch := old[:min(len(old), 1000)]
		old = old[len(batch):]
		rows, err := s.db.Query(ctx, `SELECT k FROM unnest($1::text[]) AS k
 WHERE NOT EXISTS (SELECT 1 FROM photos WHERE sha256 = k) AND NOT EXISTS (SELECT 1 FROM photos WHERE thumb_sha256 = k)
   AND NOT EXISTS (SELECT 1 FROM photo_uploads WHERE sha256 = k) AND NOT EXISTS (SELECT 1 FROM photo_uploads WHERE thumb_sha256 = k)`, batch)
		if err != nil {
			return res, err
		}
		orphans, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return res, err
		}
		res.Kept += len(batch) - len(orphans)
		for _, k := range orphans {
			if at, ok := stored(s.files, k); ok && !at.Before(cutoff) {
				res.Kept++ // stored again meanwhile
				continue
			}
			if err := s.files.Remove(k); err != nil {
				return res, err
			}
			res.Files++
		}
	}
	return res, nil
}
