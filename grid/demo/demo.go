// Package demo writes SafeGrid's demo city: a deterministic, synthetic but realistic
// Shanghai data set as import files. The administrative areas come from package data
// (real districts, synthetic streets and communities); enterprises stand where OSM maps
// industry and fall off with distance from People's Square; a hazardous-chemical cluster
// sits in the chemical industry park and the Jinshan petrochemical area on the Hangzhou
// Bay shore; pipelines, occupancy sites, fire stations, fishing ports, underground spaces
// and hazards follow; grid units tile every street with resolution-9 H3 cells.
//
// The same (Scale, Seed) writes byte-identical files: every random draw comes from a PCG
// source seeded from Seed (one stream per file), maps are walked in sorted order, and
// times are relative to a fixed reference date, not the clock.
package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/uber/h3-go/v4"

	"safegrid/grid"
)

// Options choose the size, the randomness and the output of a demo data set.
type Options struct {
	// Scale multiplies the enterprises (20,000 at 1) and hazards (40,000 at 1). The
	// other kinds are the city's and do not grow. 0 means 1.
	Scale float64
	// Seed picks the random draws; the same Scale and Seed write the same bytes.
	Seed int64
	// OutDir is the folder the files are written to (created if missing).
	OutDir string
	// Format of the enterprises and hazards files: "geojson" (default) or "csv" (points
	// as lon, lat columns). The other files are always GeoJSON or CSV as listed.
	Format string
}

// ReferenceDate is "today" for the demo's hazards, deadlines and remediation dates, fixed
// so that the output does not depend on the clock.
var ReferenceDate = time.Date(2026, 11, 1, 0, 0, 0, 0, grid.ShanghaiZone())

// Manifest lists the files of a data set in load order.
type Manifest struct {
	Scale     float64 `json:"scale"`
	Seed      int64   `json:"seed"`
	Reference string  `json:"reference_date"`
	Files     []File  `json:"files"`
}

// File is one written file: the kind it loads as (an import kind of grid.KindNames(), or
// users, grid_units, grid_cells, inspections), its name inside OutDir and its data rows.
type File struct {
	Kind   string `json:"kind"`
	Path   string `json:"path"`
	Format string `json:"format"`
	Rows   int    `json:"rows"`
}

// Default sizes at scale 1.
const (
	BaseEnterprises = 20_000
	BaseHazards     = 40_000
	OccupancySites  = 255
	FishingVessels  = 409
)

// Generate writes the demo data set into opts.OutDir and returns its manifest (also
// written there as manifest.json).
func Generate(opts Options) (*Manifest, error) {
	if opts.Scale == 0 {
		opts.Scale = 1
	}
	if opts.Scale < 0 || math.IsNaN(opts.Scale) || math.IsInf(opts.Scale, 0) {
		return nil, fmt.Errorf("demo: scale %v must be positive", opts.Scale)
	}
	switch opts.Format {
	case "":
		opts.Format = "geojson"
	case "geojson", "csv":
	default:
		return nil, fmt.Errorf("demo: format %q: want geojson or csv", opts.Format)
	}
	if opts.OutDir == "" {
		return nil, errors.New("demo: no output folder")
	}
	nEnt := int(math.Round(BaseEnterprises * opts.Scale))
	nHaz := int(math.Round(BaseHazards * opts.Scale))
	if nEnt < 1 {
		nEnt = 1
	}
	if nEnt > maxEnterprises {
		return nil, fmt.Errorf("demo: scale %v asks for %d enterprises; at most %d", opts.Scale, nEnt, maxEnterprises)
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, err
	}
	w, err := loadWorld()
	if err != nil {
		return nil, err
	}
	g := &gen{w: w, opts: opts, seed: uint64(opts.Seed)}
	m := &Manifest{Scale: opts.Scale, Seed: opts.Seed, Reference: ReferenceDate.Format("2006-01-02")}

	// Areas first: everything else is tagged with them.
	if err := os.WriteFile(filepath.Join(opts.OutDir, "areas.geojson"), w.areasFile, 0o644); err != nil {
		return nil, err
	}
	m.Files = append(m.Files, File{Kind: "areas", Path: "areas.geojson", Format: "geojson",
		Rows: len(w.districts) + len(w.streets) + len(w.communities)})

	steps := []func() (File, error){
		func() (File, error) { return g.enterprises(nEnt) },
		g.pipelines,
		g.occupancySites,
		g.fireStations,
		g.fishingPorts,
		g.undergroundSpaces,
		func() (File, error) { return g.hazards(nHaz) },
	}
	for _, step := range steps {
		f, err := step()
		if err != nil {
			return nil, err
		}
		m.Files = append(m.Files, f)
	}
	files, err := g.gridAndUsers()
	if err != nil {
		return nil, err
	}
	m.Files = append(m.Files, files...)
	// Last: the loader gives each inspection the officer of its cell.
	insp, err := g.inspections()
	if err != nil {
		return nil, err
	}
	m.Files = append(m.Files, insp)
	// licences: the enterprises' licences 证照.
	lic, err := g.licences()
	if err != nil {
		return nil, err
	}
	m.Files = append(m.Files, lic)

	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(opts.OutDir, "manifest.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return m, nil
}

// gen carries one run's state between the steps.
type gen struct {
	w    *world
	opts Options
	seed uint64

	ents     entTable
	cells    []h3.Cell // land cells, sorted
	owner    []int     // community of each cell
	pl       *placer
	pipes    []pipeline
	occSites []occSite
	stations []station
	ports    []port
	spaces   []space
}

// Stream numbers: one independent random stream per file.
const (
	streamEnterprises = iota + 1
	streamPipelines
	streamOccupancy
	streamStations
	streamPorts
	streamUnderground
	streamHazards
	streamInspections
	streamLicences
)

func (g *gen) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.seed, 0x5AFE6121D0000000+stream*0x9E3779B97F4A7C15))
}

// weighted is a cumulative weight table for drawing an index with probability
// proportional to its weight.
type weighted []float64

func newWeighted(ws []float64) weighted {
	c := make(weighted, len(ws))
	s := 0.0
	for i, w := range ws {
		s += w
		c[i] = s
	}
	return c
}

func (c weighted) pick(r *rand.Rand) int {
	x := r.Float64() * c[len(c)-1]
	i := sort.SearchFloat64s(c, x)
	if i >= len(c) {
		i = len(c) - 1
	}
	for i < len(c)-1 && c[i] <= x { // skip zero-weight entries on ties
		i++
	}
	return i
}

// choice draws one of the strings with the given weights.
type choice struct {
	vals []string
	w    weighted
}

func newChoice(pairs ...any) choice {
	var c choice
	var ws []float64
	for i := 0; i < len(pairs); i += 2 {
		c.vals = append(c.vals, pairs[i].(string))
		switch v := pairs[i+1].(type) {
		case int:
			ws = append(ws, float64(v))
		case float64:
			ws = append(ws, v)
		}
	}
	c.w = newWeighted(ws)
	return c
}

func (c choice) pick(r *rand.Rand) string { return c.vals[c.w.pick(r)] }

func pickOne[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

// between draws an integer in [lo, hi].
func between(r *rand.Rand, lo, hi int) int { return lo + r.IntN(hi-lo+1) }

// gauss2 draws a 2-D normal offset in metres with standard deviation sd.
func gauss2(r *rand.Rand, sd float64) (float64, float64) {
	return r.NormFloat64() * sd, r.NormFloat64() * sd
}

func dateStr(t time.Time) string { return t.In(grid.ShanghaiZone()).Format("2006-01-02") }

func tsStr(t time.Time) string { return t.In(grid.ShanghaiZone()).Format(time.RFC3339) }
