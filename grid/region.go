package grid

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/twpayne/go-geom"

	"safegrid/geo"
)

// DefaultShoreToleranceM is how far outside the district boundaries (in metres) a location still
// counts as in Shanghai: the shipped coast is simplified, and piers, ports and pipelines
// sit on it. Imports default to it; reported locations use it.
const DefaultShoreToleranceM = 500

// regionCache keeps the district raster between calls: building it reads every district
// polygon and rasterises the coast, far too slow for each reported hazard. It is keyed by
// a fingerprint of the districts (their count and latest update), so an areas import made
// by another process (the CLI while the server runs) is noticed too; imports through this
// Store drop it at once.
type regionCache struct {
	mu    sync.Mutex
	key   regionKey
	byTol map[float64]*geo.Region
}

type regionKey struct {
	n       int
	updated string // max(updated_at) as text: exact, and no NULL
}

// regionKeySQL is the districts' fingerprint: no geometry is read.
const regionKeySQL = `SELECT count(*)::int, coalesce(max(updated_at)::text, '') FROM areas WHERE level = 'district'`

// ForgetRegion drops the cached districts, for an areas import that may have moved them.
// (Region also notices a change on its own, by the districts' count and updated_at.)
func (s *Store) ForgetRegion() {
	s.regions.mu.Lock()
	s.regions.byTol = nil
	s.regions.mu.Unlock()
}

// Region returns Shanghai as the districts loaded so far describe it, with a tolerance in
// metres for things on the shore line; before any district is loaded, a box around the city.
// The region is built once per set of districts and shared: callers must not change it.
func (s *Store) Region(ctx context.Context, toleranceM float64) (*geo.Region, error) {
	var key regionKey
	if err := s.pool.QueryRow(ctx, regionKeySQL).Scan(&key.n, &key.updated); err != nil {
		return nil, err
	}
	c := &s.regions
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byTol == nil || c.key != key {
		c.key, c.byTol = key, map[float64]*geo.Region{}
	}
	if r, ok := c.byTol[toleranceM]; ok {
		return r, nil
	}
	// Built under the lock, so concurrent first callers wait for one build, not race to many.
	r, err := s.buildRegion(ctx, toleranceM)
	if err != nil {
		return nil, err
	}
	c.byTol[toleranceM] = r
	return r, nil
}

func (s *Store) buildRegion(ctx context.Context, toleranceM float64) (*geo.Region, error) {
	rows, err := s.pool.Query(ctx, `SELECT geom FROM areas WHERE level = 'district' ORDER BY code`)
	if err != nil {
		return nil, err
	}
	polys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (orb.MultiPolygon, error) {
		var t geom.T
		if err := row.Scan(&t); err != nil {
			return nil, err
		}
		g, err := geo.FromGeom(t)
		if err != nil {
			return nil, err
		}
		mp, ok := g.(orb.MultiPolygon)
		if !ok {
			return nil, fmt.Errorf("district geometry is a %s", g.GeoJSONType())
		}
		return mp, nil
	})
	if err != nil {
		return nil, err
	}
	if len(polys) == 0 {
		return geo.BoundRegion(geo.ShanghaiBound()), nil
	}
	return geo.NewRegion(polys, toleranceM), nil
}

// CheckLocation is checkFieldLocation, then the districts: a point inside Shanghai's box
// but outside every district and its shore tolerance (in the sea, or in Jiangsu or
// Zhejiang) is refused naming both coordinates, since neither alone is wrong.
func (s *Store) CheckLocation(ctx context.Context, lon, lat *float64) (orb.Point, error) {
	p, err := checkFieldLocation(lon, lat)
	if err != nil {
		return p, err
	}
	region, err := s.Region(ctx, DefaultShoreToleranceM)
	if err != nil {
		return p, err
	}
	if region.Contains(p) {
		return p, nil
	}
	reason := fmt.Sprintf("the point (%s, %s) lies outside Shanghai's districts (in the sea or a neighbouring province), more than %d m from any of them",
		strconv.FormatFloat(p[0], 'f', -1, 64), strconv.FormatFloat(p[1], 'f', -1, 64), DefaultShoreToleranceM)
	return p, &InvalidFieldsError{Errors: []InvalidError{{Field: "lon", Reason: reason}, {Field: "lat", Reason: reason}}}
}

// checkFieldLocation validates a reported location: finite, in range (a swapped pair is named),
// inside Shanghai's box (Store.CheckLocation adds the districts). It names the field to blame.
func checkFieldLocation(lon, lat *float64) (orb.Point, error) {
	if lon == nil {
		return orb.Point{}, &InvalidError{Field: "lon", Reason: "required"}
	}
	if lat == nil {
		return orb.Point{}, &InvalidError{Field: "lat", Reason: "required"}
	}
	p := orb.Point{*lon, *lat}
	if err := geo.CheckRange(p); err != nil {
		// The field the reason speaks of: the latitude of a swapped pair, else the
		// longitude when it is out of range (CheckRange names it first), else the latitude.
		field := "lon"
		if errors.Is(err, geo.ErrSwapped) || *lon >= -180 && *lon <= 180 {
			field = "lat"
		}
		return p, &InvalidError{Field: field, Reason: err.Error()}
	}
	if err := geo.BoundRegion(geo.ShanghaiBound()).Check(p); err != nil {
		field := "lon"
		if errors.Is(err, geo.ErrSwapped) || (*lon >= geo.ShanghaiBound().Min[0] && *lon <= geo.ShanghaiBound().Max[0]) {
			field = "lat"
		}
		return p, &InvalidError{Field: field, Reason: err.Error()}
	}
	return p, nil
}
