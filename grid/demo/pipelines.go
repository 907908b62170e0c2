package demo

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/paulmach/orb"
)

type pipeline struct {
	code, name, medium, class, pressure string
	diameter                            int
	operator                            string
	ls                                  orb.LineString // rounded to 6 decimals
	lengthM                             float64
}

// trunk is a hand-drawn transmission line along the routes Shanghai's real trunks take.
type trunk struct {
	code, name, medium, class, pressure string
	diameter                            int
	operator                            string
	via                                 []orb.Point
}

var trunks = []trunk{
	{"GAS-T-01", "西气东输一线上海支干线", "gas", "transmission", "高压", 1016, "国家管网集团西气东输分公司",
		[]orb.Point{{120.915, 31.105}, {121.02, 31.085}, {121.13, 31.062}, {121.24, 31.042}, {121.33, 31.022}, {121.41, 31.012}, {121.46, 31.03}}},
	{"GAS-T-02", "川气东送上海支线", "gas", "transmission", "高压", 711, "中国石化天然气分公司",
		[]orb.Point{{121.022, 30.884}, {121.10, 30.872}, {121.20, 30.862}, {121.30, 30.862}, {121.38, 30.885}, {121.44, 30.915}, {121.47, 30.935}}},
	{"GAS-T-03", "东海天然气登陆管线", "gas", "transmission", "高压", 457, "上海石油天然气有限公司",
		[]orb.Point{{121.935, 30.905}, {121.87, 30.965}, {121.78, 31.045}, {121.68, 31.118}, {121.60, 31.168}}},
	{"GAS-T-04", "洋山LNG外输管线", "gas", "transmission", "高压", 762, "上海天然气管网有限公司",
		[]orb.Point{{121.848, 30.862}, {121.80, 30.905}, {121.72, 30.96}, {121.63, 31.01}, {121.56, 31.05}}},
	{"GAS-T-05", "五号沟LNG外输管线", "gas", "transmission", "高压", 610, "上海天然气管网有限公司",
		[]orb.Point{{121.695, 31.295}, {121.66, 31.289}, {121.63, 31.276}, {121.59, 31.262}}},
	{"OIL-T-01", "甬沪宁原油管道上海段", "oil", "transmission", "高压", 711, "国家管网集团东部原油储运有限公司",
		[]orb.Point{{121.218, 30.797}, {121.232, 30.784}, {121.245, 30.766}, {121.265, 30.745}, {121.285, 30.721}, {121.30, 30.712}}},
	{"OIL-T-02", "上海石化—闵行成品油管道", "oil", "transmission", "高压", 323, "中国石化销售股份有限公司上海石油分公司",
		[]orb.Point{{121.31, 30.725}, {121.33, 30.78}, {121.36, 30.85}, {121.40, 30.92}, {121.43, 30.98}, {121.45, 31.02}}},
	{"OIL-T-03", "化学工业区—上海石化原料互供管道", "oil", "transmission", "高压", 273, "中国石化上海石油化工股份有限公司",
		[]orb.Point{{121.46, 30.80}, {121.41, 30.785}, {121.36, 30.755}, {121.32, 30.728}}},
	{"OIL-T-04", "高桥石化—外高桥成品油管道", "oil", "transmission", "高压", 273, "中国石化上海高桥石油化工有限公司",
		[]orb.Point{{121.557, 31.338}, {121.583, 31.349}, {121.604, 31.351}}},
	{"OIL-T-05", "高桥—浦东国际机场航煤管道", "oil", "transmission", "高压", 323, "中国航空油料有限责任公司上海分公司",
		[]orb.Point{{121.56, 31.335}, {121.64, 31.28}, {121.72, 31.22}, {121.79, 31.165}}},
}

// operatorByDistrict is the gas distribution company of each district.
var operatorByDistrict = map[string]string{
	"310101": "上海大众燃气有限公司", "310109": "上海大众燃气有限公司", "310110": "上海大众燃气有限公司",
	"310106": "上海燃气市北销售有限公司", "310107": "上海燃气市北销售有限公司", "310113": "上海燃气市北销售有限公司",
	"310104": "上海燃气市南销售有限公司", "310105": "上海燃气市南销售有限公司", "310112": "上海燃气市南销售有限公司",
	"310115": "上海燃气浦东销售有限公司", "310114": "上海燃气嘉定有限公司", "310117": "上海松江燃气有限公司",
	"310118": "上海青浦燃气有限公司", "310120": "上海奉贤燃气有限公司", "310116": "上海金山燃气有限公司",
	"310151": "上海崇明燃气有限公司",
}

// Suburban new-town centres that get their own small distribution networks.
var newTowns = []orb.Point{
	{121.250, 31.375}, // 嘉定新城
	{121.225, 31.030}, // 松江新城
	{121.115, 31.150}, // 青浦新城
	{121.460, 30.925}, // 南桥新城
	{121.925, 30.905}, // 临港新城
	{121.335, 30.740}, // 金山新城
	{121.440, 31.400}, // 宝山 淞宝
	{121.380, 31.110}, // 闵行 莘庄
	{121.705, 31.190}, // 浦东 川沙
	{121.400, 31.625}, // 崇明 城桥
}

func (g *gen) pipelines() (File, error) {
	r := g.rng(streamPipelines)
	w := g.w
	var out []pipeline
	add := func(p pipeline, ls orb.LineString) {
		p.ls = ls
		p.lengthM = lineLengthM(ls)
		out = append(out, p)
	}

	// Transmission trunks: the hand-drawn routes, gently curved.
	for _, t := range trunks {
		ls := wiggle(r, t.via, 1200, 120)
		if !w.lineOnLand(ls) {
			return File{}, fmt.Errorf("demo: pipeline %s leaves Shanghai", t.code)
		}
		add(pipeline{code: t.code, name: t.name, medium: t.medium, class: t.class, pressure: t.pressure,
			diameter: t.diameter, operator: t.operator}, ls)
	}
	// The high-pressure ring along the outer ring road, in six sections, and the
	// sub-high-pressure ring inside it in four.
	rings := []struct {
		rx, ry   float64
		sections int
		prefix   string
		name     string
		pressure string
		class    string
		diameter int
	}{
		{0.158, 0.132, 6, "GAS-R", "天然气外环高压管线", "高压", "transmission", 711},
		{0.082, 0.070, 4, "GAS-S", "天然气中环次高压管线", "次高压", "distribution", 508},
	}
	for _, rg := range rings {
		per := 8
		n := rg.sections * per
		pts := make([]orb.Point, n+1)
		for k := 0; k <= n; k++ {
			a := 2 * math.Pi * float64(k) / float64(n)
			pts[k] = orb.Point{121.47 + rg.rx*math.Cos(a), 31.225 + rg.ry*math.Sin(a)}
		}
		for s := 0; s < rg.sections; s++ {
			ls := wiggle(r, pts[s*per:(s+1)*per+1], 800, 80)
			for i, run := range w.landRuns(ls) {
				code := fmt.Sprintf("%s-%02d", rg.prefix, s+1)
				if i > 0 {
					code += string(rune('a' + i))
				}
				add(pipeline{code: code, name: fmt.Sprintf("%s第%d段", rg.name, s+1), medium: "gas", class: rg.class,
					pressure: rg.pressure, diameter: rg.diameter, operator: "上海天然气管网有限公司"}, run)
			}
		}
	}

	// Medium-pressure mains: a lattice over the city inside the outer ring and small ones
	// in the new towns, cut into sections of about 3 km.
	mains := 0
	addMain := func(ls orb.LineString) {
		for _, run := range w.landRuns(ls) {
			if lineLengthM(run) < 300 {
				continue
			}
			mains++
			d := w.districts[max(w.districtOf(run[0]), 0)]
			add(pipeline{code: fmt.Sprintf("GAS-M-%04d", mains), name: roadName(r) + "中压燃气管道",
				medium: "gas", class: "distribution", pressure: "中压",
				diameter: pickOne(r, []int{200, 250, 300, 300, 400, 500}), operator: operatorByDistrict[d.code]}, run)
		}
	}
	lattice := func(c orb.Point, radius, spacing float64) {
		for dir := 0; dir < 2; dir++ {
			for off := -radius + spacing/2; off < radius; off += spacing {
				half := math.Sqrt(radius*radius - off*off)
				for s := -half; s < half-200; s += 3000 {
					e := math.Min(s+3000, half)
					var a, b orb.Point
					if dir == 0 { // north-south
						a, b = offsetM(c, off, s), offsetM(c, off, e)
					} else {
						a, b = offsetM(c, s, off), offsetM(c, e, off)
					}
					addMain(wiggle(r, []orb.Point{a, b}, 400, 35))
				}
			}
		}
	}
	lattice(orb.Point{121.47, 31.225}, 13000, 1300)
	for _, c := range newTowns {
		lattice(c, 2600, 1100)
	}

	// Low-pressure service lines branching off the mains into the blocks.
	var mainsIdx []int
	var mainsW []float64
	for i, p := range out {
		if p.pressure == "中压" {
			mainsIdx = append(mainsIdx, i)
			mainsW = append(mainsW, p.lengthM)
		}
	}
	mw := newWeighted(mainsW)
	lows := 0
	for tries := 0; lows < 1200 && tries < 5000; tries++ {
		m := out[mainsIdx[mw.pick(r)]]
		start, dir := pointAlong(m.ls, r.Float64()*m.lengthM)
		side := 1.0
		if r.IntN(2) == 0 {
			side = -1
		}
		// perpendicular to the main
		nx, ny := -dir[1]*side, dir[0]*side
		l1 := 120 + r.Float64()*380
		p1 := offsetM(start, nx*l1, ny*l1)
		pts := []orb.Point{start, p1}
		if r.IntN(2) == 0 {
			turn := 1.0
			if r.IntN(2) == 0 {
				turn = -1
			}
			l2 := 80 + r.Float64()*220
			pts = append(pts, offsetM(p1, -ny*turn*l2, nx*turn*l2))
		}
		ls := make(orb.LineString, len(pts))
		for i, p := range pts {
			ls[i] = roundPt(p)
		}
		// ls[0] is the point of the main rounded to 6 decimals: within 0.1 m of it.
		if !w.lineOnLand(ls) {
			continue
		}
		lows++
		d := w.districts[max(w.districtOf(ls[0]), 0)]
		add(pipeline{code: fmt.Sprintf("GAS-L-%04d", lows), name: roadName(r) + "低压燃气支管",
			medium: "gas", class: "distribution", pressure: "低压",
			diameter: pickOne(r, []int{100, 100, 150, 150, 200}), operator: operatorByDistrict[d.code]}, ls)
	}
	g.pipes = out

	fw, err := newFeatureWriter(g.opts.OutDir, "pipelines", "geojson", pipelineCols)
	if err != nil {
		return File{}, err
	}
	defer fw.f.Close()
	vals := make([]string, len(pipelineCols))
	for _, p := range out {
		vals[0], vals[1], vals[2], vals[3], vals[4] = p.code, p.name, p.medium, p.class, p.pressure
		vals[5], vals[6] = itoa(p.diameter), p.operator
		if err := fw.feature(p.ls, vals); err != nil {
			return File{}, err
		}
	}
	if err := fw.close(); err != nil {
		return File{}, err
	}
	return File{Kind: "pipelines", Path: fw.name, Format: "geojson", Rows: fw.rows}, nil
}

var pipelineCols = []column{
	{"code", cText}, {"name", cText}, {"medium", cText}, {"class", cText}, {"pressure", cText},
	{"diameter_mm", cRaw}, {"operator", cText},
}

// wiggle densifies a route to a vertex about every step metres and moves the new
// vertices sideways by up to amp metres (smoothly), so that lines look drawn along roads
// and fields rather than ruled. The ends and the given vertices stay; the result is
// rounded to 6 decimals.
func wiggle(r *rand.Rand, via []orb.Point, step, amp float64) orb.LineString {
	out := orb.LineString{roundPt(via[0])}
	phase := r.Float64() * 2 * math.Pi
	for i := 0; i+1 < len(via); i++ {
		a, b := via[i], via[i+1]
		l := distM(a, b)
		n := max(int(l/step), 1)
		ux, uy := (b[0]-a[0])*mPerDegLon(a[1])/l, (b[1]-a[1])*mPerDegLat/l
		for k := 1; k <= n; k++ {
			t := float64(k) / float64(n)
			p := orb.Point{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}
			if k < n {
				s := amp * math.Sin(phase+float64(k)*0.9) * (0.5 + 0.5*r.Float64())
				p = offsetM(p, -uy*s, ux*s)
			}
			out = append(out, roundPt(p))
		}
	}
	return dedupe(out)
}

func dedupe(ls orb.LineString) orb.LineString {
	out := ls[:0:0]
	for _, p := range ls {
		if len(out) == 0 || out[len(out)-1] != p {
			out = append(out, p)
		}
	}
	return out
}

// landRuns splits a line into the runs whose every segment is on land.
func (w *world) landRuns(ls orb.LineString) []orb.LineString {
	var runs []orb.LineString
	var cur orb.LineString
	for i := 0; i+1 < len(ls); i++ {
		seg := orb.LineString{ls[i], ls[i+1]}
		if w.lineOnLand(seg) {
			if len(cur) == 0 {
				cur = append(cur, ls[i])
			}
			cur = append(cur, ls[i+1])
			continue
		}
		if len(cur) >= 2 {
			runs = append(runs, cur)
		}
		cur = nil
	}
	if len(cur) >= 2 {
		runs = append(runs, cur)
	}
	return runs
}

func lineLengthM(ls orb.LineString) float64 {
	s := 0.0
	for i := 0; i+1 < len(ls); i++ {
		s += distM(ls[i], ls[i+1])
	}
	return s
}

// pointAlong returns the point at d metres along ls (exactly on a segment, in lon/lat)
// and the unit direction (east, north) of that segment.
func pointAlong(ls orb.LineString, d float64) (orb.Point, [2]float64) {
	for i := 0; i+1 < len(ls); i++ {
		a, b := ls[i], ls[i+1]
		l := distM(a, b)
		if d <= l || i+2 == len(ls) {
			t := 0.0
			if l > 0 {
				t = math.Min(d/l, 1)
			}
			p := orb.Point{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}
			dir := [2]float64{(b[0] - a[0]) * mPerDegLon(a[1]) / l, (b[1] - a[1]) * mPerDegLat / l}
			return p, dir
		}
		d -= l
	}
	return ls[0], [2]float64{1, 0}
}
