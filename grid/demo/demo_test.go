package demo

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
	"safegrid/grid"
)

// The default demo (scale 1, seed 1) is generated once and read by most tests.
var (
	setOnce sync.Once
	setDir  string
	setMan  *Manifest
	setErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if setDir != "" {
		os.RemoveAll(setDir)
	}
	os.Exit(code)
}

func demoSet(t *testing.T) (string, *Manifest) {
	t.Helper()
	setOnce.Do(func() {
		setDir, setErr = os.MkdirTemp("", "safegrid-demo-test-")
		if setErr == nil {
			setMan, setErr = Generate(Options{Scale: 1, Seed: 1, OutDir: setDir})
		}
	})
	if setErr != nil {
		t.Fatal(setErr)
	}
	return setDir, setMan
}

var (
	fcCache = map[string]*geojson.FeatureCollection{}
	fcMu    sync.Mutex
)

func readFC(t *testing.T, name string) *geojson.FeatureCollection {
	t.Helper()
	dir, _ := demoSet(t)
	fcMu.Lock()
	defer fcMu.Unlock()
	if fc := fcCache[name]; fc != nil {
		return fc
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	fc, err := geojson.UnmarshalFeatureCollection(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	fcCache[name] = fc
	return fc
}

func readCSV(t *testing.T, name string) []map[string]string {
	t.Helper()
	dir, _ := demoSet(t)
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func str(f *geojson.Feature, key string) string {
	s, _ := f.Properties[key].(string)
	return s
}

func testWorld(t *testing.T) *world {
	t.Helper()
	w, err := loadWorld()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// ---- determinism

func hashDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func TestDeterministic(t *testing.T) {
	for _, format := range []string{"geojson", "csv"} {
		a, b := t.TempDir(), t.TempDir()
		opts := Options{Scale: 0.1, Seed: 42, Format: format}
		opts.OutDir = a
		if _, err := Generate(opts); err != nil {
			t.Fatal(err)
		}
		opts.OutDir = b
		if _, err := Generate(opts); err != nil {
			t.Fatal(err)
		}
		fa, fb := hashDir(t, a), hashDir(t, b)
		if len(fa) != 14 {
			t.Errorf("%s: %d files, want 14 (13 data files and manifest.json)", format, len(fa))
		}
		for name, da := range fa {
			if !bytes.Equal(da, fb[name]) {
				t.Errorf("%s: %s differs between two runs with the same scale and seed", format, name)
			}
		}
	}
	// another seed draws another city
	c := t.TempDir()
	if _, err := Generate(Options{Scale: 0.1, Seed: 43, OutDir: c}); err != nil {
		t.Fatal(err)
	}
	a := t.TempDir()
	if _, err := Generate(Options{Scale: 0.1, Seed: 42, OutDir: a}); err != nil {
		t.Fatal(err)
	}
	ea, _ := os.ReadFile(filepath.Join(a, "enterprises.geojson"))
	ec, _ := os.ReadFile(filepath.Join(c, "enterprises.geojson"))
	if bytes.Equal(ea, ec) {
		t.Error("seeds 42 and 43 wrote the same enterprises")
	}
}

func TestCSVFormat(t *testing.T) {
	dir := t.TempDir()
	m, err := Generate(Options{Scale: 0.05, Seed: 3, OutDir: dir, Format: "csv"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		if f.Kind != "enterprises" && f.Kind != "hazards" {
			continue
		}
		if f.Format != "csv" || !strings.HasSuffix(f.Path, ".csv") {
			t.Fatalf("%s written as %s (%s)", f.Kind, f.Format, f.Path)
		}
		fh, err := os.Open(filepath.Join(dir, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(fh).ReadAll()
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		head := recs[0]
		if head[len(head)-2] != "lon" || head[len(head)-1] != "lat" {
			t.Errorf("%s header %v does not end with lon,lat", f.Path, head)
		}
		if len(recs)-1 != f.Rows {
			t.Errorf("%s: %d rows, manifest says %d", f.Path, len(recs)-1, f.Rows)
		}
		k, _ := grid.KindByName(f.Kind)
		for _, h := range head[:len(head)-2] {
			if !slices.ContainsFunc(k.Fields, func(fl grid.Field) bool { return fl.Name == h }) {
				t.Errorf("%s: column %q is not a field of %s", f.Path, h, f.Kind)
			}
		}
		for _, r := range recs[1:] {
			lon, err1 := strconv.ParseFloat(r[len(r)-2], 64)
			lat, err2 := strconv.ParseFloat(r[len(r)-1], 64)
			if err1 != nil || err2 != nil || !geo.ShanghaiBound().Contains(orb.Point{lon, lat}) {
				t.Fatalf("%s: bad point %v", f.Path, r[len(r)-2:])
			}
			if len(strings.SplitN(r[len(r)-2], ".", 2)[1]) != 6 {
				t.Fatalf("%s: lon %s does not have 6 decimals", f.Path, r[len(r)-2])
			}
		}
	}
}

func TestOptions(t *testing.T) {
	if _, err := Generate(Options{Scale: 1}); err == nil {
		t.Error("no output folder: want an error")
	}
	if _, err := Generate(Options{Scale: 1, OutDir: t.TempDir(), Format: "xml"}); err == nil {
		t.Error("format xml: want an error")
	}
	if _, err := Generate(Options{Scale: -1, OutDir: t.TempDir()}); err == nil {
		t.Error("negative scale: want an error")
	}
}

// ---- the files against the import kinds

func TestManifestAndKinds(t *testing.T) {
	dir, m := demoSet(t)
	var disk Manifest
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &disk); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(disk) != fmt.Sprint(*m) {
		t.Errorf("manifest.json %v differs from the returned manifest %v", disk, *m)
	}
	var kinds []string
	for _, f := range m.Files {
		kinds = append(kinds, f.Kind)
	}
	want := []string{"areas", "enterprises", "pipelines", "gas_occupancy_sites", "fire_stations", "fishing_ports",
		"underground_spaces", "hazards", "users", "grid_units", "grid_cells", "inspections", "licences"}
	if !slices.Equal(kinds, want) {
		t.Errorf("load order %v, want %v", kinds, want)
	}
	region := shanghaiRegion(t)
	for _, f := range m.Files {
		k, ok := grid.KindByName(f.Kind)
		if !ok {
			continue // users, grid units and cells: checked below
		}
		fc := readFC(t, f.Path)
		if len(fc.Features) != f.Rows {
			t.Errorf("%s: %d features, manifest says %d", f.Path, len(fc.Features), f.Rows)
		}
		keys := map[string]bool{}
		for i, feat := range fc.Features {
			where := fmt.Sprintf("%s feature %d", f.Path, i+1)
			checkFeature(t, where, k, feat)
			key := fmt.Sprint(feat.Properties[k.Key])
			if keys[key] {
				t.Errorf("%s: duplicate %s %s", where, k.Key, key)
			}
			keys[key] = true
			if err := geo.ValidateGeometry(feat.Geometry); err != nil {
				t.Errorf("%s: %v", where, err)
			}
			if f.Kind != "areas" {
				if err := region.Check(feat.Geometry); err != nil {
					t.Errorf("%s: not in Shanghai: %v", where, err)
				}
			}
			if t.Failed() && i > 20 {
				t.FailNow()
			}
		}
	}
}

// checkFeature checks one feature's properties and geometry type against the import kind.
func checkFeature(t *testing.T, where string, k *grid.Kind, f *geojson.Feature) {
	t.Helper()
	if !slices.Contains(k.Geoms, grid.GeomType(f.Geometry.GeoJSONType())) {
		t.Errorf("%s: a %s is not allowed for %s", where, f.Geometry.GeoJSONType(), k.Name)
	}
	for name := range f.Properties {
		if !slices.ContainsFunc(k.Fields, func(fl grid.Field) bool { return fl.Name == name }) {
			t.Errorf("%s: property %q is not a field of %s", where, name, k.Name)
		}
	}
	for _, fl := range k.Fields {
		v, ok := f.Properties[fl.Name]
		if !ok || v == nil || v == "" {
			if fl.Required {
				t.Errorf("%s: required %s missing", where, fl.Name)
			}
			continue
		}
		switch fl.Type {
		case grid.Enum:
			if s, _ := v.(string); !slices.Contains(fl.Values, s) {
				t.Errorf("%s: %s %v is not one of %v", where, fl.Name, v, fl.Values)
			}
		case grid.Int, grid.Float:
			n, ok := v.(float64)
			if !ok || (fl.Type == grid.Int && n != math.Trunc(n)) || (fl.Min != nil && n < *fl.Min) {
				t.Errorf("%s: %s %v is not a valid number", where, fl.Name, v)
			}
		case grid.Bool:
			if _, ok := v.(bool); !ok {
				t.Errorf("%s: %s %v is not a boolean", where, fl.Name, v)
			}
		case grid.Date:
			if _, err := time.Parse("2006-01-02", fmt.Sprint(v)); err != nil {
				t.Errorf("%s: %s %v is not a date", where, fl.Name, v)
			}
		case grid.Timestamp:
			if _, err := time.Parse(time.RFC3339, fmt.Sprint(v)); err != nil {
				t.Errorf("%s: %s %v is not an RFC 3339 time", where, fl.Name, v)
			}
		case grid.USCC:
			if err := geo.CheckUSCC(fmt.Sprint(v)); err != nil {
				t.Errorf("%s: %v", where, err)
			}
		case grid.Text, grid.AreaCode:
			if _, ok := v.(string); !ok {
				t.Errorf("%s: %s %v is not text", where, fl.Name, v)
			}
		}
	}
}

func shanghaiRegion(t *testing.T) *geo.Region {
	w := testWorld(t)
	var mps []orb.MultiPolygon
	for _, d := range w.districts {
		mps = append(mps, d.mp)
	}
	return geo.NewRegion(mps, 0)
}

// ---- areas

func TestAreas(t *testing.T) {
	w := testWorld(t)
	if len(w.districts) != 16 {
		t.Errorf("%d districts, want 16", len(w.districts))
	}
	if n := len(w.streets); n < 200 || n > 230 {
		t.Errorf("%d streets, want 200-230", n)
	}
	if n := len(w.communities); n < 2000 || n > 5000 {
		t.Errorf("%d communities, want 2000-5000", n)
	}
	fc := readFC(t, "areas.geojson")
	for _, f := range fc.Features {
		code := str(f, "code")
		synth, _ := f.Properties["synthetic"].(bool)
		if synth != (len(code) > 6) {
			t.Errorf("area %s: synthetic=%v", code, synth)
		}
		if _, ok := f.Geometry.(orb.MultiPolygon); !ok {
			t.Errorf("area %s is a %s", code, f.Geometry.GeoJSONType())
		}
	}
	// streets are smaller in the centre
	var central, outer []float64
	for _, s := range w.streets {
		if s.central {
			central = append(central, s.areaKm2)
		} else {
			outer = append(outer, s.areaKm2)
		}
	}
	if median(central)*4 > median(outer) {
		t.Errorf("central streets (median %.1f km²) are not much smaller than outer ones (%.1f km²)", median(central), median(outer))
	}
	// a sample of communities lies in its street (up to the 1e-6 degree snapping)
	for i := 0; i < len(w.communities); i += 7 {
		c := w.communities[i]
		s := w.streets[c.street]
		if !s.contains(c.rep) {
			t.Errorf("community %s: its point %v is outside street %s", c.code, c.rep, s.code)
		}
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// ---- enterprises

func TestEnterprises(t *testing.T) {
	w := testWorld(t)
	fc := readFC(t, "enterprises.geojson")
	if len(fc.Features) != BaseEnterprises {
		t.Fatalf("%d enterprises, want %d", len(fc.Features), BaseEnterprises)
	}
	seen := map[string]bool{}
	risk := map[string]int{}
	outside := 0
	var chem, chemMajor, centralN int
	for _, f := range fc.Features {
		u := str(f, "uscc")
		if err := geo.CheckUSCC(u); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if seen[u] {
			t.Fatalf("duplicate USCC %s", u)
		}
		seen[u] = true
		d := w.byCode[u[2:8]]
		if d == nil || d.level != 1 {
			t.Fatalf("USCC %s: positions 3-8 are not a district code", u)
		}
		p := f.Point()
		if !planar.MultiPolygonContains(d.mp, p) {
			t.Fatalf("enterprise %s at %v is outside its district %s", u, p, d.name)
		}
		if !strings.HasPrefix(str(f, "name"), "上海") || !strings.Contains(str(f, "name"), "公司") {
			t.Errorf("name %q", str(f, "name"))
		}
		if d.central {
			centralN++
		}
		inChem := chemBox.Contains(p)
		hazchem := strings.HasPrefix(str(f, "industry"), "危化品")
		if inChem {
			chem++
			if hazchem && f.Properties["major_hazard"] == true {
				chemMajor++
				if !chemDistricts[d.code] {
					t.Errorf("chemical-cluster enterprise %s is in %s, not 金山/奉贤", u, d.name)
				}
			}
		} else {
			risk[str(f, "risk_level")]++
			outside++
		}
	}
	// the mix outside the cluster: about 0.2 / 5.4 / 48 / 46 %
	want := map[string]float64{"重大": 0.002, "较大": 0.054, "一般": 0.48, "低": 0.46}
	for lvl, share := range want {
		got := float64(risk[lvl]) / float64(outside)
		if math.Abs(got-share) > share*0.25+0.01 {
			t.Errorf("risk %s: %.3f of the enterprises outside the cluster, want about %.2f", lvl, got, share)
		}
	}
	// the hazardous-chemical cluster on the Hangzhou Bay shore
	if chemMajor < BaseEnterprises/100 {
		t.Errorf("only %d major-hazard chemical enterprises in the 金山/奉贤 cluster", chemMajor)
	}
	// denser in the centre: the 7 central districts (about 4% of the area) hold far more
	if share := float64(centralN) / float64(len(fc.Features)); share < 0.12 {
		t.Errorf("the central districts hold only %.1f%% of the enterprises", share*100)
	}
}

// ---- pipelines and occupancy sites

func TestPipelinesAndOccupancy(t *testing.T) {
	pipes := readFC(t, "pipelines.geojson")
	byCode := map[string]*geojson.Feature{}
	count := map[string]int{}
	for _, f := range pipes.Features {
		byCode[str(f, "code")] = f
		count[str(f, "medium")+"/"+str(f, "class")+"/"+str(f, "pressure")]++
	}
	for _, k := range []string{"gas/transmission/高压", "oil/transmission/高压", "gas/distribution/中压", "gas/distribution/低压"} {
		if count[k] == 0 {
			t.Errorf("no %s pipelines (have %v)", k, count)
		}
	}
	sites := readFC(t, "gas_occupancy_sites.geojson")
	if len(sites.Features) != OccupancySites {
		t.Fatalf("%d occupancy sites, want %d", len(sites.Features), OccupancySites)
	}
	status := map[string]int{}
	past := 0
	for _, f := range sites.Features {
		code := str(f, "code")
		p := byCode[str(f, "pipeline_code")]
		if p == nil {
			t.Fatalf("site %s: pipeline %q does not exist", code, str(f, "pipeline_code"))
		}
		if str(p, "medium") != "gas" || str(p, "class") != "distribution" {
			t.Errorf("site %s is on %s, a %s %s line", code, str(p, "code"), str(p, "medium"), str(p, "class"))
		}
		d := math.Inf(1)
		switch g := p.Geometry.(type) {
		case orb.LineString:
			d = lineDistM(f.Point(), g)
		case orb.MultiLineString:
			for _, ls := range g {
				d = math.Min(d, lineDistM(f.Point(), ls))
			}
		}
		if d > 1 {
			t.Errorf("site %s is %.2f m from its pipeline %s", code, d, str(p, "code"))
		}
		status[str(f, "status")]++
		if str(f, "deadline") < ReferenceDate.Format("2006-01-02") && str(f, "status") != "已整治" {
			past++
		}
	}
	for _, s := range []string{"待整治", "整治中", "已整治"} {
		if status[s] < 30 {
			t.Errorf("only %d sites %s", status[s], s)
		}
	}
	if past == 0 {
		t.Error("no occupancy site is past its deadline")
	}
}

// ---- fire stations

func TestFireStations(t *testing.T) {
	w := testWorld(t)
	fc := readFC(t, "fire_stations.geojson")
	n := len(fc.Features)
	if n < 150 || n > 190 {
		t.Errorf("%d fire stations, want 150-190", n)
	}
	var existing []orb.Point
	inCentralBox, planned := 0, 0
	types := map[string]int{}
	names := map[string]bool{}
	for _, f := range fc.Features {
		p := f.Point()
		if centralBox.Contains(p) {
			inCentralBox++
		}
		if str(f, "status") == "planned" {
			planned++
		} else {
			existing = append(existing, p)
		}
		types[str(f, "type")]++
		if names[str(f, "name")] {
			t.Errorf("two stations named %s", str(f, "name"))
		}
		names[str(f, "name")] = true
		switch str(f, "name") {
		case "Disney", "上海市消防协会":
			t.Errorf("%s is not a fire station", str(f, "name"))
		}
	}
	for _, real := range []string{"张江消防中队", "上海化学工业区消防支队", "九里亭消防救援站", "浦东新区泥城消防救援站"} {
		if !names[real] {
			t.Errorf("real OSM station %s is missing", real)
		}
	}
	if inCentralBox < 10 {
		t.Errorf("only %d stations in the central districts' box", inCentralBox)
	}
	if planned < 5 || planned > 15 {
		t.Errorf("%d planned stations, want about 10", planned)
	}
	for _, typ := range grid.StationTypes() {
		if types[typ] == 0 {
			t.Errorf("no %s station", typ)
		}
	}
	if types["一级普通"] < n/2 {
		t.Errorf("一级普通 %d of %d: want most", types["一级普通"], n)
	}
	// 5-minute coverage (1,786 m straight): the centre is covered, the suburbs have gaps
	cells, _ := w.gridCells()
	var cTot, cCov, oTot, oCov int
	for _, c := range cells {
		p := cellCentre(c)
		d := w.districtOf(p)
		if d < 0 {
			continue
		}
		covered := false
		for _, s := range existing {
			if distM(p, s) <= 1786 {
				covered = true
				break
			}
		}
		if w.districts[d].central {
			cTot++
			if covered {
				cCov++
			}
		} else {
			oTot++
			if covered {
				oCov++
			}
		}
	}
	cs, os := float64(cCov)/float64(cTot), float64(oCov)/float64(oTot)
	t.Logf("5-minute coverage of land cells: central %.1f%%, elsewhere %.1f%%", cs*100, os*100)
	if cs < 0.85 {
		t.Errorf("central districts only %.1f%% covered", cs*100)
	}
	if os > 0.6 {
		t.Errorf("outer districts %.1f%% covered: want clear gaps", os*100)
	}
}

// ---- fishing ports

func TestFishingPorts(t *testing.T) {
	w := testWorld(t)
	fc := readFC(t, "fishing_ports.geojson")
	total, hengsha := 0, 0
	for _, f := range fc.Features {
		v := int(f.Properties["vessels"].(float64))
		total += v
		p := f.Point()
		best := math.Inf(1)
		for _, d := range w.districts {
			best = math.Min(best, polyDistM(p, d))
		}
		if best > 300 {
			t.Errorf("port %s is %.0f m from land", str(f, "name"), best)
		}
		if str(f, "name") == "横沙渔港" {
			hengsha = v
			if str(f, "level") != "一级" {
				t.Errorf("横沙渔港 is %s, want 一级", str(f, "level"))
			}
			if d := w.districtOf(p); d < 0 || w.districts[d].code != "310151" {
				t.Errorf("横沙渔港 is not in 崇明区")
			}
		}
	}
	if total != FishingVessels {
		t.Errorf("ports hold %d vessels, want %d", total, FishingVessels)
	}
	if hengsha < total/2 {
		t.Errorf("横沙渔港 holds %d of %d vessels: want most", hengsha, total)
	}
}

// ---- underground spaces

func TestUndergroundSpaces(t *testing.T) {
	fc := readFC(t, "underground_spaces.geojson")
	uses := map[string]int{}
	small := false
	central := 0
	for _, f := range fc.Features {
		uses[str(f, "use")]++
		poly := f.Geometry.(orb.Polygon)
		r := poly[0]
		a, b := distM(r[0], r[1]), distM(r[1], r[2])
		if math.Abs(a-30) < 1 && math.Abs(b-30) < 1 {
			small = true
			if cells := geo.Cells(poly, geo.SupervisionRes); len(cells) == 0 {
				t.Error("the 30 m × 30 m space gets no H3 cell")
			}
		}
		if distM(poly.Bound().Center(), peoplesSquare) < 15000 {
			central++
		}
	}
	if !small {
		t.Error("no 30 m × 30 m space")
	}
	for _, u := range grid.UndergroundUses() {
		if uses[u] == 0 {
			t.Errorf("no %s", u)
		}
	}
	if uses["轨交站"] < 100 {
		t.Errorf("only %d metro stations", uses["轨交站"])
	}
	if central < len(fc.Features)/2 {
		t.Errorf("only %d of %d underground spaces within 15 km of the centre", central, len(fc.Features))
	}
}

// ---- hazards

func TestHazards(t *testing.T) {
	w := testWorld(t)
	ents := map[string]orb.Point{}
	for _, f := range readFC(t, "enterprises.geojson").Features {
		ents[str(f, "uscc")] = f.Point()
	}
	fc := readFC(t, "hazards.geojson")
	if len(fc.Features) != BaseHazards {
		t.Fatalf("%d hazards, want %d", len(fc.Features), BaseHazards)
	}
	ref := ReferenceDate
	today := ref.Format("2006-01-02")
	levels := map[string]int{}
	status := map[string]int{}
	openByStatus := map[string]int{}
	tied, overdue := 0, 0
	for _, f := range fc.Features {
		code := str(f, "code")
		lvl, st := str(f, "level"), str(f, "status")
		levels[lvl]++
		status[st]++
		if st != "closed" {
			openByStatus[st]++
		}
		if w.districtOf(f.Point()) < 0 {
			t.Fatalf("hazard %s at %v is not in Shanghai", code, f.Point())
		}
		if str(f, "feature_kind") != "" {
			tied++
		}
		if str(f, "feature_kind") == "enterprises" {
			ep, ok := ents[str(f, "feature_code")]
			if !ok {
				t.Fatalf("hazard %s: enterprise %s does not exist", code, str(f, "feature_code"))
			}
			if d := distM(ep, f.Point()); d > 200 {
				t.Errorf("hazard %s is %.0f m from its enterprise", code, d)
			}
		}
		rep, err := time.Parse(time.RFC3339, str(f, "reported_at"))
		if err != nil || rep.After(ref) || rep.Before(ref.AddDate(-2, 0, -1)) {
			t.Fatalf("hazard %s reported at %q", code, str(f, "reported_at"))
		}
		if (st == "closed") != (str(f, "closed_at") != "") {
			t.Errorf("hazard %s: status %s with closed_at %q", code, st, str(f, "closed_at"))
		}
		if closed := str(f, "closed_at"); closed != "" {
			c, _ := time.Parse(time.RFC3339, closed)
			if !c.After(rep) || c.After(ref) {
				t.Errorf("hazard %s closed at %s, reported %s", code, closed, str(f, "reported_at"))
			}
		}
		later := st == "assigned" || st == "rectifying" || st == "verified" || st == "closed"
		if lvl == "重大" && later {
			for _, k := range []string{"measures", "responsible", "deadline"} {
				if str(f, k) == "" {
					t.Errorf("重大 hazard %s (%s) has no %s", code, st, k)
				}
			}
			if _, ok := f.Properties["funds"].(float64); !ok {
				t.Errorf("重大 hazard %s (%s) has no funds", code, st)
			}
		}
		if dl := str(f, "deadline"); dl != "" && dl < today && st != "verified" && st != "closed" {
			overdue++
		}
	}
	if share := float64(levels["一般"]) / float64(len(fc.Features)); share < 0.92 || share > 0.985 {
		t.Errorf("一般 share %.3f, want about 0.95", share)
	}
	if share := float64(tied) / float64(len(fc.Features)); share < 0.8 {
		t.Errorf("only %.2f of the hazards are tied to a feature", share)
	}
	for _, s := range grid.HazardStatuses()[:5] {
		if openByStatus[s] < 20 {
			t.Errorf("only %d open hazards in state %s", openByStatus[s], s)
		}
	}
	if status["closed"] < len(fc.Features)/2 {
		t.Errorf("only %d closed hazards: most should be", status["closed"])
	}
	if overdue < 100 {
		t.Errorf("only %d overdue hazards", overdue)
	}
	t.Logf("levels %v, statuses %v, overdue %d", levels, status, overdue)

	// hot spots: many hazards packed within 500 m of each
	for _, h := range hotSpots {
		n := 0
		for _, f := range fc.Features {
			if distM(f.Point(), h.c) < 500 {
				n++
			}
		}
		// A hot spot draws hotSpotShare of the hazards, about 64% of them within 500 m for
		// the widest spread (350 m): at least half of its share is the bound.
		if want := int(float64(len(fc.Features)) * hotSpotShare / 2); n < want {
			t.Errorf("hot spot %s: only %d hazards within 500 m, want at least %d", h.name, n, want)
		}
	}
}

// ---- grid units, cells and users

func TestGridAndUsers(t *testing.T) {
	w := testWorld(t)
	units := readCSV(t, "grid_units.csv")
	cells := readCSV(t, "grid_cells.csv")
	users := readCSV(t, "users.csv")
	if len(units) != len(w.communities) {
		t.Fatalf("%d units, want one per community (%d)", len(units), len(w.communities))
	}
	unitStreet := map[string]string{}
	unitOfficer := map[string]string{}
	for _, u := range units {
		if w.byCode[u["code"]] == nil || w.byCode[u["code"]].level != 3 || u["street_code"] != u["code"][:9] {
			t.Fatalf("unit %v is not a community of its street", u)
		}
		unitStreet[u["code"]] = u["street_code"]
		unitOfficer[u["code"]] = u["officer"]
	}
	// every land cell exactly once, in a unit of the street its centre lies in (or, off
	// the communities, of the nearest one)
	want, _ := w.gridCells()
	seen := map[h3.Cell]bool{}
	perUnit := map[string]int{}
	for _, c := range cells {
		cell := h3.Cell(h3.IndexFromString(c["h3"]))
		if !cell.IsValid() || cell.Resolution() != geo.SupervisionRes {
			t.Fatalf("bad cell %q", c["h3"])
		}
		if seen[cell] {
			t.Fatalf("cell %s is in two units", c["h3"])
		}
		seen[cell] = true
		sc, ok := unitStreet[c["unit_code"]]
		if !ok {
			t.Fatalf("cell %s: unit %s does not exist", c["h3"], c["unit_code"])
		}
		perUnit[c["unit_code"]]++
		p := cellCentre(cell)
		street := w.byCode[sc]
		if street.contains(p) {
			continue
		}
		if ci := w.communityOf(p); ci >= 0 {
			t.Errorf("cell %s: centre in %s, but the cell is in unit %s", c["h3"], w.communities[ci].code, c["unit_code"])
			continue
		}
		// off every community: the unit's street must be (about) the nearest
		dOwn := polyDistM(p, street)
		for _, s := range w.streets {
			if s.bound.Pad(0.03).Contains(p) && polyDistM(p, s) < dOwn-1 {
				t.Errorf("cell %s: street %s is nearer than the unit's street %s", c["h3"], s.code, sc)
				break
			}
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d cells in units, %d land cells", len(seen), len(want))
	}
	for _, c := range want {
		if !seen[c] {
			t.Fatalf("land cell %s is in no unit", c)
		}
	}
	for code := range unitStreet {
		if perUnit[code] == 0 {
			t.Errorf("unit %s has no cells", code)
		}
	}
	// users: admin, planner, one district bureau user per district, one street user per
	// street, one officer per unit
	roles := map[string]int{}
	names := map[string]bool{}
	for _, u := range users {
		roles[u["role"]]++
		names[u["username"]] = true
		if (u["role"] == "street") != (u["street_code"] != "") {
			t.Errorf("user %s (%s) has street_code %q", u["username"], u["role"], u["street_code"])
		}
		if (u["role"] == "district") != (u["district_code"] != "") || u["role"] == "district" && u["username"] != "district_"+u["district_code"] {
			t.Errorf("user %s (%s) has district_code %q", u["username"], u["role"], u["district_code"])
		}
		if u["display_name"] == "" {
			t.Errorf("user %s has no display name", u["username"])
		}
	}
	if !names["admin"] || !names["planner"] || roles["district"] != len(w.districts) || roles["street"] != len(w.streets) || roles["officer"] != len(units) {
		t.Errorf("users by role %v", roles)
	}
	for _, d := range []string{"district_310116", "district_310120"} { // 金山区, 奉贤区
		if !names[d] {
			t.Errorf("no district bureau user %s", d)
		}
	}
	for code, officer := range unitOfficer {
		if officer != "officer_"+code || !names[officer] {
			t.Errorf("unit %s: officer %q", code, officer)
		}
	}
}
