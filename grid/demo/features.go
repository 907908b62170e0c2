package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/paulmach/orb"
)

// ---- gas occupancy sites

type occSite struct {
	code, pipeline string
	p              orb.Point
	district       int
}

var occupants = newChoice(
	"违章建筑", 30, "临时棚屋", 14, "绿化乔木", 12, "沿街商铺搭建", 10, "围墙", 7, "简易房", 7,
	"堆放杂物", 6, "停车棚", 5, "广告牌基础", 3, "变电箱", 2, "菜场摊位", 2, "化粪池", 2)

var occupancyCols = []column{
	{"code", cText}, {"pipeline_code", cText}, {"occupant", cText}, {"status", cText}, {"deadline", cText},
}

func (g *gen) occupancySites() (File, error) {
	r := g.rng(streamOccupancy)
	var idx []int
	var ws []float64
	for i, p := range g.pipes {
		if p.medium == "gas" && (p.pressure == "中压" || p.pressure == "低压") {
			idx = append(idx, i)
			mid, _ := pointAlong(p.ls, p.lengthM/2)
			ws = append(ws, p.lengthM*density(mid))
		}
	}
	if len(idx) == 0 {
		return File{}, fmt.Errorf("demo: no gas distribution pipelines for the occupancy sites")
	}
	pw := newWeighted(ws)
	fw, err := newFeatureWriter(g.opts.OutDir, "gas_occupancy_sites", "geojson", occupancyCols)
	if err != nil {
		return File{}, err
	}
	defer fw.f.Close()
	status := newChoice("待整治", 30, "整治中", 30, "已整治", 40)
	vals := make([]string, len(occupancyCols))
	g.occSites = g.occSites[:0]
	for n := 1; n <= OccupancySites; {
		p := g.pipes[idx[pw.pick(r)]]
		pt, _ := pointAlong(p.ls, r.Float64()*p.lengthM)
		pt = roundPt(pt)
		d := g.w.districtOf(pt)
		if d < 0 {
			continue
		}
		st := status.pick(r)
		var days int
		switch st {
		case "已整治":
			days = -between(r, 10, 400)
		case "整治中":
			days = between(r, -60, 240)
		default:
			days = between(r, -90, 365)
		}
		code := fmt.Sprintf("ZY-%04d", n)
		vals[0], vals[1], vals[2], vals[3] = code, p.code, occupants.pick(r), st
		vals[4] = dateStr(ReferenceDate.AddDate(0, 0, days))
		if err := fw.point(pt, vals); err != nil {
			return File{}, err
		}
		g.occSites = append(g.occSites, occSite{code: code, pipeline: p.code, p: pt, district: d})
		n++
	}
	if err := fw.close(); err != nil {
		return File{}, err
	}
	return File{Kind: "gas_occupancy_sites", Path: fw.name, Format: "geojson", Rows: fw.rows}, nil
}

// ---- fire stations

type station struct {
	code, name, typ, status string
	p                       orb.Point
	vehicles, staff         int
	district                int
	real                    bool
}

// Fire stations: the real ones from OSM, then synthetic ones near suburban town centres
// and between them in the city, to about TotalStations.
const (
	TotalStations   = 170
	PlannedStations = 10
)

// OSM features that are not stations.
var notStations = map[string]bool{"Disney": true, "上海市消防协会": true, "消防楼（废弃）": true}

func (g *gen) fireStations() (File, error) {
	r := g.rng(streamStations)
	w := g.w
	var st []station
	near := func(p orb.Point, m float64) bool {
		for _, s := range st {
			if distM(s.p, p) < m {
				return true
			}
		}
		return false
	}
	names := map[string]bool{}
	addStation := func(s station) {
		s.p = roundPt(s.p)
		s.district = w.districtOf(s.p)
		// two stations of one street: 彭浦消防救援站, 彭浦第二消防救援站
		base := strings.TrimSuffix(s.name, "消防救援站")
		for k := 2; names[s.name]; k++ {
			s.name = base + "第" + chineseNumber(k) + "消防救援站"
		}
		names[s.name] = true
		st = append(st, s)
	}

	// Real stations mapped in OSM (deduplicated: some are mapped twice), in id order.
	osm := append([]osmPoint(nil), w.fire...)
	sort.Slice(osm, func(i, j int) bool { return osm[i].id < osm[j].id })
	for _, o := range osm {
		if notStations[o.name] || w.districtOf(roundPt(o.p)) < 0 || near(o.p, 150) {
			continue
		}
		addStation(station{name: stationName(w, o), p: o.p, real: true, typ: stationType(o.name), status: "existing"})
	}

	// Suburban town centres (OSM label points of the streets) without a station nearby.
	for _, code := range sortedKeys(w.streetInfo) {
		si := w.streetInfo[code]
		a := w.byCode[code]
		if !si.hasLabel || a == nil || a.central || near(si.label, 2500) {
			continue
		}
		if distM(si.label, peoplesSquare) < 9000 {
			continue // the city fill below places these
		}
		dx, dy := gauss2(r, 250)
		p := offsetM(si.label, dx, dy)
		if w.districtOf(roundPt(p)) < 0 {
			p = si.label
		}
		addStation(station{name: streetShort(si.name) + "消防救援站", p: p, status: "existing"})
	}

	// The city: greedy maximal coverage. Each new station goes to the block that brings
	// the most not yet covered land (cells within 15 km of People's Square, weighted by
	// density, double in the 7 central districts) within a 5-minute run, until the total
	// is reached.
	const reach = 1786.0 // metres: 5 minutes at 30 km/h with a detour factor of 1.4
	cells, _ := g.grid()
	type demand struct {
		p       orb.Point
		w       float64
		covered bool
	}
	var dem []demand
	for _, c := range cells {
		p := cellCentre(c)
		d := w.districtOf(p)
		if distM(p, peoplesSquare) > 15000 || d < 0 {
			continue
		}
		wt := density(p)
		if w.districts[d].central {
			wt *= 2 // the old city first
		}
		dem = append(dem, demand{p: p, w: wt, covered: near(p, reach)})
	}
	bins := map[[2]int][]int{}
	bin := func(p orb.Point) [2]int { return [2]int{int(math.Floor(p[0] / 0.02)), int(math.Floor(p[1] / 0.02))} }
	for i, d := range dem {
		k := bin(d.p)
		bins[k] = append(bins[k], i)
	}
	type cand struct {
		ci    int
		reach []int // demand indices within reach
	}
	var cands []cand
	for i, c := range w.communities {
		if distM(c.rep, peoplesSquare) > 14000 || w.districtOf(c.rep) < 0 {
			continue
		}
		cd := cand{ci: i}
		k := bin(c.rep)
		for dx := -1; dx <= 1; dx++ {
			for dy := -1; dy <= 1; dy++ {
				for _, j := range bins[[2]int{k[0] + dx, k[1] + dy}] {
					if distM(dem[j].p, c.rep) <= reach {
						cd.reach = append(cd.reach, j)
					}
				}
			}
		}
		slices.Sort(cd.reach)
		cands = append(cands, cd)
	}
	for len(st) < TotalStations {
		best, bestGain := -1, 0.0
		for i, c := range cands {
			gain := 0.0
			for _, j := range c.reach {
				if !dem[j].covered {
					gain += dem[j].w
				}
			}
			if gain > bestGain {
				best, bestGain = i, gain
			}
		}
		if best < 0 {
			break
		}
		com := w.communities[cands[best].ci]
		for _, j := range cands[best].reach {
			dem[j].covered = true
		}
		addStation(station{name: streetShort(w.streets[com.street].name) + "消防救援站", p: com.rep, status: "existing"})
	}
	if len(st) > TotalStations {
		st = st[:TotalStations]
	}

	// Types and sizes; about ten synthetic suburban stations are still planned.
	var synthSuburb []int
	for i := range st {
		if !st[i].real && !w.districts[st[i].district].central {
			synthSuburb = append(synthSuburb, i)
		}
	}
	r.Shuffle(len(synthSuburb), func(i, j int) { synthSuburb[i], synthSuburb[j] = synthSuburb[j], synthSuburb[i] })
	for k, i := range synthSuburb {
		if k < PlannedStations {
			st[i].status = "planned"
		}
	}
	types := newChoice("特勤", 7, "一级普通", 62, "二级普通", 18, "小型", 10, "战勤保障", 3)
	seq := map[int]int{}
	for i := range st {
		s := &st[i]
		if s.typ == "" {
			s.typ = types.pick(r)
		}
		s.vehicles, s.staff = stationSize(r, s.typ)
		if s.status == "planned" {
			s.vehicles, s.staff = 0, 0
		}
		seq[s.district]++
		s.code = fmt.Sprintf("XF-%s-%02d", w.districts[s.district].code, seq[s.district])
	}
	g.stations = st

	fw, err := newFeatureWriter(g.opts.OutDir, "fire_stations", "geojson", stationCols)
	if err != nil {
		return File{}, err
	}
	defer fw.f.Close()
	vals := make([]string, len(stationCols))
	for _, s := range st {
		vals[0], vals[1], vals[2], vals[3] = s.code, s.name, s.typ, s.status
		vals[4], vals[5] = itoa(s.vehicles), itoa(s.staff)
		if err := fw.point(s.p, vals); err != nil {
			return File{}, err
		}
	}
	if err := fw.close(); err != nil {
		return File{}, err
	}
	return File{Kind: "fire_stations", Path: fw.name, Format: "geojson", Rows: fw.rows}, nil
}

var stationCols = []column{
	{"code", cText}, {"name", cText}, {"type", cText}, {"status", cText}, {"vehicles", cRaw}, {"staff", cRaw},
}

// stationName keeps a real station's OSM name, naming the generic or missing ones after
// their street.
func stationName(w *world, o osmPoint) string {
	switch o.name {
	case "", "消防队", "消防", "消防站":
		ci := w.communityOf(roundPt(o.p))
		if ci < 0 {
			return "消防救援站"
		}
		return streetShort(w.streets[w.communities[ci].street].name) + "消防救援站"
	case "Hongkou Fire Station":
		return "虹口消防救援站"
	case "长宁消防站为": // sic in OSM
		return "长宁消防站"
	case "浦东新区合庆镇转职消防队": // sic in OSM: 专职
		return "浦东新区合庆镇专职消防队"
	}
	return o.name
}

func stationType(name string) string {
	switch {
	case strings.Contains(name, "特勤"), strings.Contains(name, "化学工业区"), strings.Contains(name, "石化"):
		return "特勤"
	case strings.Contains(name, "专职"), strings.Contains(name, "转职"):
		return "小型"
	case strings.Contains(name, "支队"):
		return "一级普通"
	}
	return ""
}

func chineseNumber(k int) string {
	digits := []string{"零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"}
	if k <= 10 {
		return digits[k]
	}
	return itoa(k)
}

func stationSize(r *rand.Rand, typ string) (vehicles, staff int) {
	switch typ {
	case "特勤":
		return between(r, 10, 16), between(r, 55, 85)
	case "一级普通":
		return between(r, 5, 8), between(r, 30, 45)
	case "二级普通":
		return between(r, 3, 5), between(r, 18, 28)
	case "小型":
		return between(r, 2, 3), between(r, 10, 16)
	default: // 战勤保障
		return between(r, 8, 14), between(r, 40, 60)
	}
}

// ---- fishing ports

type port struct {
	code, name, level string
	vessels           int
	p                 orb.Point
}

// The ports: points on the shore, about 100 m inside the land polygon (computed once in
// PostGIS from the district boundaries: the closest point of the boundary shrunk by
// 100 m), near the OSM piers they are named after. The vessels add up to 409.
var ports = []port{
	{"YG-310151-01", "横沙渔港", "一级", 262, orb.Point{121.784650, 31.360586}}, // east end of 长兴岛, by 长兴对江渡
	{"YG-310115-01", "芦潮港渔港", "二级", 68, orb.Point{121.844235, 30.848460}}, // by OSM 芦潮港码头
	{"YG-310116-01", "金山嘴渔港", "三级", 35, orb.Point{121.371177, 30.735113}}, // by OSM 金山嘴渔村
	{"YG-310151-02", "堡镇渔港", "三级", 20, orb.Point{121.610703, 31.522872}},
	{"YG-310151-03", "奚家港渔港", "等级以下", 12, orb.Point{121.783290, 31.472006}},
	{"YG-310120-01", "柘林渔港", "等级以下", 12, orb.Point{121.508536, 30.805419}},
}

var portCols = []column{{"code", cText}, {"name", cText}, {"level", cText}, {"vessels", cRaw}}

func (g *gen) fishingPorts() (File, error) {
	fw, err := newFeatureWriter(g.opts.OutDir, "fishing_ports", "geojson", portCols)
	if err != nil {
		return File{}, err
	}
	defer fw.f.Close()
	total := 0
	for _, p := range ports {
		total += p.vessels
		if g.w.districtOf(p.p) < 0 {
			return File{}, fmt.Errorf("demo: port %s is off land", p.name)
		}
		if err := fw.point(p.p, []string{p.code, p.name, p.level, itoa(p.vessels)}); err != nil {
			return File{}, err
		}
	}
	if total != FishingVessels {
		return File{}, fmt.Errorf("demo: ports hold %d vessels, want %d", total, FishingVessels)
	}
	g.ports = ports
	if err := fw.close(); err != nil {
		return File{}, err
	}
	return File{Kind: "fishing_ports", Path: fw.name, Format: "geojson", Rows: fw.rows}, nil
}

// ---- underground spaces

type space struct {
	code, name, use string
	poly            orb.Polygon
	centre          orb.Point
	district        int
}

// Districts whose metro stations become 轨交站 spaces: the 7 central ones and their
// neighbours (浦东, 闵行, 宝山).
var metroDistricts = map[string]bool{
	"310101": true, "310104": true, "310105": true, "310106": true, "310107": true,
	"310109": true, "310110": true, "310115": true, "310112": true, "310113": true,
}

const UndergroundSpaces = 1500

var undergroundCols = []column{
	{"code", cText}, {"name", cText}, {"use", cText}, {"levels", cRaw}, {"floor_area_m2", cRaw}, {"depth_m", cRaw},
}

// rect is a rectangle of w × h metres centred on c and turned by angle (radians).
func rect(c orb.Point, w, h, angle float64) orb.Polygon {
	cs, sn := math.Cos(angle), math.Sin(angle)
	corner := func(x, y float64) orb.Point {
		return roundPt(offsetM(c, x*cs-y*sn, x*sn+y*cs))
	}
	ring := orb.Ring{corner(-w/2, -h/2), corner(w/2, -h/2), corner(w/2, h/2), corner(-w/2, h/2)}
	ring = append(ring, ring[0])
	return orb.Polygon{ring}
}

func (g *gen) undergroundSpaces() (File, error) {
	r := g.rng(streamUnderground)
	w := g.w
	var out []space
	// every corner on land; the space belongs to the district of its centre
	inLand := func(p orb.Polygon) int {
		for _, v := range p[0] {
			if !w.onLand(v) {
				return -1
			}
		}
		if d := w.districtOf(roundPt(p.Bound().Center())); d >= 0 {
			return d
		}
		return w.districtOf(p[0][0])
	}
	add := func(name, use string, p orb.Polygon) bool {
		d := inLand(p)
		if d < 0 {
			return false
		}
		out = append(out, space{name: name, use: use, poly: p, centre: p.Bound().Center(), district: d})
		return true
	}

	// 轨交站: one box per distinct OSM station name in the metro districts.
	rail := append([]osmPoint(nil), w.rail...)
	sort.Slice(rail, func(i, j int) bool { return rail[i].id < rail[j].id })
	seen := map[string]bool{}
	var metro []orb.Point
	for _, o := range rail {
		d := w.districtOf(roundPt(o.p))
		if o.name == "" || seen[o.name] || d < 0 || !metroDistricts[w.districts[d].code] {
			continue
		}
		seen[o.name] = true
		name := strings.TrimSuffix(o.name, "站") + "站"
		if add("轨道交通"+name, "轨交站", rect(o.p, float64(between(r, 140, 260)), float64(between(r, 22, 30)), r.Float64()*math.Pi)) {
			metro = append(metro, o.p)
		}
	}

	// 综合管廊: long, thin utility tunnels.
	tunnels := []struct {
		name       string
		c          orb.Point
		len, angle float64
	}{
		{"世博园区综合管廊", orb.Point{121.4890, 31.1880}, 6200, 0.35},
		{"张江科学城综合管廊", orb.Point{121.5950, 31.2030}, 3800, 1.45},
		{"临港新片区综合管廊", orb.Point{121.9150, 30.9050}, 5400, 0.80},
	}
	for _, t := range tunnels {
		add(t.name, "综合管廊", rect(t.c, t.len, 9, t.angle))
	}

	// One 30 m × 30 m civil-defence shelter by People's Square: the smallest space, which
	// must still land in an H3 cell.
	add("人民广场民防工程", "民防工程", rect(orb.Point{121.4745, 31.2312}, 30, 30, 0))

	// The rest: car parks, shopping and shelters, mostly in the centre.
	pl := g.placer()
	uses := newChoice("地下车库", 55, "地下商业", 20, "民防工程", 25)
	civil := 0
	for len(out) < UndergroundSpaces {
		use := uses.pick(r)
		var c orb.Point
		if use == "地下商业" && len(metro) > 0 && r.IntN(2) == 0 {
			dx, dy := gauss2(r, 150)
			c = offsetM(pickOne(r, metro), dx, dy)
		} else {
			// centre-heavy: the density weighting, squared by a second draw near the core
			c, _ = pl.community(r)
			if r.IntN(3) != 0 && distM(c, peoplesSquare) > 12000 {
				continue
			}
		}
		var wd, ht float64
		var name string
		ci := w.communityOf(roundPt(c))
		if ci < 0 {
			continue
		}
		street := streetShort(w.streets[w.communities[ci].street].name)
		trade := string([]rune{pickOne(r, tradeChars), pickOne(r, tradeChars)})
		switch use {
		case "地下车库":
			wd, ht = float64(between(r, 30, 120)), float64(between(r, 30, 90))
			name = trade + pickOne(r, []string{"花园", "公寓", "大厦", "广场", "苑", "新村", "商务中心"}) + "地下车库"
		case "地下商业":
			wd, ht = float64(between(r, 60, 200)), float64(between(r, 40, 120))
			name = pickOne(r, []string{roadName(r) + "地下商业街", trade + "广场地下商场", trade + "天地地下商业"})
		default:
			wd, ht = float64(between(r, 30, 80)), float64(between(r, 30, 60))
			civil++
			name = fmt.Sprintf("%s民防工程%d号", street, civil)
		}
		add(name, use, rect(c, wd, ht, r.Float64()*math.Pi/2))
	}
	for i := range out {
		out[i].code = fmt.Sprintf("DX-%s-%04d", w.districts[out[i].district].code, i+1)
	}
	g.spaces = out

	fw, err := newFeatureWriter(g.opts.OutDir, "underground_spaces", "geojson", undergroundCols)
	if err != nil {
		return File{}, err
	}
	defer fw.f.Close()
	vals := make([]string, len(undergroundCols))
	for _, s := range out {
		var levels int
		var depth float64
		switch s.use {
		case "轨交站":
			levels, depth = between(r, 2, 3), 14+r.Float64()*12
		case "综合管廊":
			levels, depth = 1, 3+r.Float64()*4
		case "民防工程":
			levels, depth = between(r, 1, 2), 6+r.Float64()*8
		default:
			levels, depth = between(r, 1, 3), 4+r.Float64()*10
		}
		area := rectAreaM2(s.poly) * float64(levels)
		vals[0], vals[1], vals[2], vals[3] = s.code, s.name, s.use, itoa(levels)
		vals[4], vals[5] = ftoa(math.Round(area), 0), ftoa(depth, 1)
		if err := fw.feature(s.poly, vals); err != nil {
			return File{}, err
		}
	}
	if err := fw.close(); err != nil {
		return File{}, err
	}
	return File{Kind: "underground_spaces", Path: fw.name, Format: "geojson", Rows: fw.rows}, nil
}

func rectAreaM2(p orb.Polygon) float64 {
	r := p[0]
	return distM(r[0], r[1]) * distM(r[1], r[2])
}

// daysBefore is the time d days (fractional) before the reference date.
func daysBefore(d float64) time.Time {
	return ReferenceDate.Add(-time.Duration(d * 24 * float64(time.Hour)))
}
