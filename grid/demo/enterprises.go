package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/paulmach/orb"

	"safegrid/geo"
)

// The hazardous-chemical cluster: the Shanghai Chemical Industry Park (奉贤/金山 border)
// and the Jinshan petrochemical area (上海石化) on the north shore of Hangzhou Bay.
var (
	chemBox       = orb.Bound{Min: orb.Point{121.26, 30.69}, Max: orb.Point{121.52, 30.86}}
	chemDistricts = map[string]bool{"310116": true, "310120": true} // 金山, 奉贤
)

// Share of enterprises in the chemical cluster, and of the rest in or near OSM
// industrial land (the others are spread over communities by density).
const (
	clusterShare    = 0.025
	industrialShare = 0.40
)

var industries = []string{"危化品生产", "危化品经营", "危化品储存", "危化品使用", "建筑施工", "工贸", "交通运输", "其他"}
var risks = []string{"重大", "较大", "一般", "低"}

func isHazchem(ind uint8) bool { return ind <= 3 }

var (
	industryCluster    = []float64{45, 5, 25, 20, 0, 0, 5, 0}
	industryIndustrial = []float64{4, 3, 6, 12, 3, 50, 10, 12}
	industryCommunity  = []float64{0.5, 6, 2, 5, 12, 20, 8, 46.5}
	// Risk mixes (重大, 较大, 一般, 低). Outside the cluster they add up to about
	// 0.2% / 5.4% / 48% / 46%: 重大风险 units are rare away from the chemical belt, as in the
	// city's own grading, so that the four-colour map (docs/RISK.md: an area is never
	// coloured below its highest enterprise level) is red where the belt is, not everywhere.
	riskCluster = []float64{25, 40, 30, 5}
	riskHazchem = []float64{1, 12, 57, 30}
	riskOther   = []float64{0.05, 4, 46, 49.95}
	// Median employees by industry.
	employeesMedian = []float64{150, 25, 40, 80, 90, 45, 30, 12}
)

// entTable keeps what the hazards need of each enterprise, compactly: a million
// enterprises take about 14 MB.
type entTable struct {
	lon, lat []int32 // micro-degrees, exactly as written
	district []uint8
	comm     []uint16
	risk     []uint8
	ind      []uint8
	orgOff   uint64
}

func (t *entTable) point(i int) orb.Point {
	return orb.Point{float64(t.lon[i]) / 1e6, float64(t.lat[i]) / 1e6}
}

// USCCs: "91" (工商, 企业) + the district code + a 9-character organisation code + the
// GB 32100 check character. The organisation code is "MA" + 6 base-31 characters + its
// GB 11714 check character; the 6 characters are a bijection of the enterprise's index,
// so codes are unique by construction.
const (
	usccAlphabet   = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	orgSpace       = 31 * 31 * 31 * 31 * 31 * 31
	orgMultiplier  = 104_729 // prime, not 31: i -> i*m + off is a bijection mod 31^6
	maxEnterprises = orgSpace
)

func (t *entTable) uscc(i int, districtCode string) string {
	x := (uint64(i)*orgMultiplier + t.orgOff) % orgSpace
	var b [18]byte
	copy(b[:], "91")
	copy(b[2:], districtCode)
	b[8], b[9] = 'M', 'A'
	for k := 15; k >= 10; k-- {
		b[k] = usccAlphabet[x%31]
		x /= 31
	}
	b[16] = orgCheck(b[8:16])
	c, err := geo.USCCCheckChar(string(b[:17]))
	if err != nil {
		panic(fmt.Sprintf("demo: USCC %s: %v", b[:17], err))
	}
	b[17] = c
	return string(b[:])
}

// orgCheck is the GB 11714 check character of an 8-character organisation code body.
func orgCheck(body []byte) byte {
	weights := [8]int{3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for k, c := range body {
		v := 0
		if c >= '0' && c <= '9' {
			v = int(c - '0')
		} else {
			v = int(c-'A') + 10
		}
		sum += v * weights[k]
	}
	switch c := 11 - sum%11; c {
	case 10:
		return 'X'
	case 11:
		return '0'
	default:
		return byte('0' + c)
	}
}

// placer draws enterprise locations.
type placer struct {
	w           *world
	commW       weighted // communities by area × density
	ind         []*industrialArea
	indW        weighted
	chem        []*industrialArea
	chemW       weighted
	chemDistIdx map[int]bool
}

func newPlacer(w *world) *placer {
	p := &placer{w: w, chemDistIdx: map[int]bool{}}
	ws := make([]float64, len(w.communities))
	for i, c := range w.communities {
		ws[i] = c.areaKm2 * density(c.rep)
	}
	p.commW = newWeighted(ws)
	var iw, cw []float64
	for _, ia := range w.industrial {
		d := w.districts[ia.district]
		if chemBox.Contains(ia.rep) && chemDistricts[d.code] {
			p.chem = append(p.chem, ia)
			cw = append(cw, math.Pow(ia.areaKm2, 0.8))
			continue
		}
		p.ind = append(p.ind, ia)
		iw = append(iw, ia.areaKm2)
	}
	p.indW, p.chemW = newWeighted(iw), newWeighted(cw)
	for i, d := range w.districts {
		if chemDistricts[d.code] {
			p.chemDistIdx[i] = true
		}
	}
	return p
}

// density is the relative density of enterprises (and people) at p: it falls from
// People's Square over about 6 km to a floor in the outer suburbs.
func density(p orb.Point) float64 {
	d := distM(p, peoplesSquare) / 1000
	return 3*math.Exp(-d/6) + 0.03
}

// inPolygon draws a point (rounded to 6 decimals) inside the bound b for which contains
// holds, or ok=false after many misses.
func inPolygon(r *rand.Rand, contains func(orb.Point) bool, b orb.Bound) (orb.Point, bool) {
	for range 200 {
		p := orb.Point{b.Min[0] + r.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + r.Float64()*(b.Max[1]-b.Min[1])}
		p = roundPt(p)
		if contains(p) {
			return p, true
		}
	}
	return orb.Point{}, false
}

// inCommunity draws a point inside community ci and inside its district.
func (p *placer) inCommunity(r *rand.Rand, ci int) (orb.Point, bool) {
	c := p.w.communities[ci]
	for range 20 {
		pt, ok := inPolygon(r, c.contains, c.bound)
		if !ok {
			return orb.Point{}, false
		}
		if p.w.inDistrict(pt, c.district) {
			return pt, true
		}
	}
	return orb.Point{}, false
}

// community draws a location from the density-weighted communities.
func (p *placer) community(r *rand.Rand) (orb.Point, int) {
	for {
		ci := p.commW.pick(r)
		if pt, ok := p.inCommunity(r, ci); ok {
			return pt, ci
		}
	}
}

// nearArea draws a location in one of areas (weights ws), or within a few hundred metres
// of it, that lies in a community (and so in Shanghai); accept filters the result.
func (p *placer) nearArea(r *rand.Rand, areas []*industrialArea, ws weighted, spill float64, accept func(orb.Point, int) bool) (orb.Point, int) {
	for {
		ia := areas[ws.pick(r)]
		pt, ok := inPolygon(r, ia.contains, ia.bound)
		if !ok {
			continue
		}
		if r.Float64() < spill {
			dx, dy := gauss2(r, 180)
			pt = roundPt(offsetM(pt, dx, dy))
		}
		ci := p.w.communityOf(pt)
		if ci < 0 {
			continue
		}
		if !p.w.inDistrict(pt, p.w.communities[ci].district) {
			continue
		}
		if accept != nil && !accept(pt, ci) {
			continue
		}
		return pt, ci
	}
}

func (p *placer) industrial(r *rand.Rand) (orb.Point, int) {
	return p.nearArea(r, p.ind, p.indW, 0.3, nil)
}

func (p *placer) chemical(r *rand.Rand) (orb.Point, int) {
	return p.nearArea(r, p.chem, p.chemW, 0.15, func(pt orb.Point, ci int) bool {
		return chemBox.Contains(pt) && p.chemDistIdx[p.w.communities[ci].district]
	})
}

var enterpriseCols = []column{
	{"uscc", cText}, {"name", cText}, {"industry", cText}, {"risk_level", cText},
	{"major_hazard", cRaw}, {"employees", cRaw}, {"address", cText},
}

func (g *gen) enterprises(n int) (File, error) {
	r := g.rng(streamEnterprises)
	w := g.w
	t := &g.ents
	*t = entTable{
		lon: make([]int32, n), lat: make([]int32, n), district: make([]uint8, n),
		comm: make([]uint16, n), risk: make([]uint8, n), ind: make([]uint8, n),
		orgOff: r.Uint64N(orgSpace),
	}
	pl := g.placer()
	indCluster, indIndustrial, indCommunity := newWeighted(industryCluster), newWeighted(industryIndustrial), newWeighted(industryCommunity)
	rkCluster, rkHazchem, rkOther := newWeighted(riskCluster), newWeighted(riskHazchem), newWeighted(riskOther)

	fw, err := newFeatureWriter(g.opts.OutDir, "enterprises", g.opts.Format, enterpriseCols)
	if err != nil {
		return File{}, err
	}
	defer fw.f.Close()
	vals := make([]string, len(enterpriseCols))
	nCluster := int(math.Round(float64(n) * clusterShare))
	for i := range n {
		var pt orb.Point
		var ci int
		var ind, risk int
		cluster := false
		// The cluster's enterprises are spread through the file, one every 1/share rows.
		if nCluster > 0 && (i*nCluster)/n != ((i+1)*nCluster)/n {
			cluster = true
			pt, ci = pl.chemical(r)
			ind = indCluster.pick(r)
			risk = rkCluster.pick(r)
		} else {
			if r.Float64() < industrialShare {
				pt, ci = pl.industrial(r)
				ind = indIndustrial.pick(r)
			} else {
				pt, ci = pl.community(r)
				ind = indCommunity.pick(r)
			}
			if isHazchem(uint8(ind)) {
				risk = rkHazchem.pick(r)
			} else {
				risk = rkOther.pick(r)
			}
		}
		c := w.communities[ci]
		d := w.districts[c.district]
		major := false
		switch {
		case cluster:
			major = risk == 0 || (risk == 1 && r.Float64() < 0.7) || (risk == 2 && r.Float64() < 0.15)
		case isHazchem(uint8(ind)):
			major = (risk == 0 && r.Float64() < 0.6) || (risk == 1 && r.Float64() < 0.15)
		}
		med := employeesMedian[ind]
		if cluster {
			med *= 3
		}
		emp := int(math.Round(med * math.Exp(r.NormFloat64()*0.9)))
		emp = min(max(emp, 1), 20000)

		t.lon[i], t.lat[i] = int32(math.Round(pt[0]*1e6)), int32(math.Round(pt[1]*1e6))
		t.district[i], t.comm[i] = uint8(c.district), uint16(ci)
		t.risk[i], t.ind[i] = uint8(risk), uint8(ind)

		street := w.streets[c.street]
		vals[0] = t.uscc(i, d.code)
		vals[1] = enterpriseName(r, industries[ind], districtShort(d.name))
		vals[2] = industries[ind]
		vals[3] = risks[risk]
		vals[4] = btoa(major)
		vals[5] = itoa(emp)
		vals[6] = address(r, d.name, streetAddressPart(street.name))
		if err := fw.point(t.point(i), vals); err != nil {
			return File{}, err
		}
	}
	if err := fw.close(); err != nil {
		return File{}, err
	}
	return File{Kind: "enterprises", Path: fw.name, Format: fw.format, Rows: fw.rows}, nil
}

// streetAddressPart is how a street appears in an address: towns keep 镇, 街道 are left
// out (addresses name the road).
func streetAddressPart(name string) string {
	if strings.HasSuffix(name, "街道") {
		return ""
	}
	return name
}
