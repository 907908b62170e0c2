package demo

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/paulmach/orb"
)

// inspectionHistoryDays is how far back the demo's inspection history goes from
// ReferenceDate.
const inspectionHistoryDays = 180

// The demo's check-ins (docs/FIELDWORK.md): most phones within tens of metres of the
// enterprise with a good fix, some far away (recorded from the office or the next site),
// some with a poor fix (indoors), some with no position at all (geolocation refused).
const (
	shareUnlocated  = 0.08
	shareFar        = 0.07
	shareInaccurate = 0.05
)

// inspections writes inspections.csv: for each enterprise, inspections at its interval
// (重大/较大 monthly, others quarterly) over the half year before ReferenceDate, each one
// made with the enterprise's own diligence (so some enterprises are overdue), during
// office hours, and about one enterprise in ten never inspected. The loader
// (supervise.Service.LoadInspectionsCSV) gives each the officer of its cell and measures
// the check-in.
func (g *gen) inspections() (File, error) {
	r := g.rng(streamInspections)
	t := &g.ents
	cw, err := newCSVWriter(g.opts.OutDir, "inspections.csv",
		"uscc", "inspected_at", "result", "hazards_found", "checkin_lon", "checkin_lat", "checkin_accuracy_m")
	if err != nil {
		return File{}, err
	}
	defer cw.f.Close()
	from := ReferenceDate.AddDate(0, 0, -inspectionHistoryDays)
	for e := range len(t.lon) {
		if r.Float64() < 0.1 {
			continue // never inspected
		}
		every := 91
		if t.risk[e] <= 1 { // 重大, 较大
			every = 30
		}
		diligence := 0.55 + 0.45*r.Float64()
		uscc := t.uscc(e, g.w.districts[t.district[e]].code)
		ep := t.point(e)
		// The latest visit falls within one interval before the reference date, the
		// earlier ones an interval apart, give or take a few days.
		day := ReferenceDate.AddDate(0, 0, -1-r.IntN(every))
		var rows [][]string
		for !day.Before(from) {
			if r.Float64() < diligence {
				at := day.Add(time.Duration(9*60+r.IntN(8*60)) * time.Minute)
				rows = append(rows, g.inspectionRow(r, uscc, ep, int(t.district[e]), at))
			}
			day = day.AddDate(0, 0, -every+r.IntN(7)-3)
		}
		// Oldest first, as an officer's record grows.
		for i := len(rows) - 1; i >= 0; i-- {
			if err := cw.row(rows[i]...); err != nil {
				return File{}, err
			}
		}
	}
	if err := cw.close(); err != nil {
		return File{}, err
	}
	return File{Kind: "inspections", Path: cw.name, Format: "csv", Rows: cw.rows}, nil
}

// inspectionRow draws one inspection of the enterprise at ep: its result and its check-in.
func (g *gen) inspectionRow(r *rand.Rand, uscc string, ep orb.Point, district int, at time.Time) []string {
	result, hazards := "passed", 0
	switch u := r.Float64(); {
	case u < 0.15:
		result, hazards = "hazards_found", 1+r.IntN(3)
	case u < 0.17:
		result = "closed_down"
	case u < 0.20:
		result = "not_found"
	}
	row := []string{uscc, at.UTC().Format(time.RFC3339), result, strconv.Itoa(hazards), "", "", ""}
	var dist, acc float64
	switch u := r.Float64(); {
	case u < shareUnlocated:
		return row
	case u < shareUnlocated+shareFar:
		dist = 250 + 1500*r.Float64()*r.Float64()
		acc = 5 + 30*r.Float64()
	case u < shareUnlocated+shareFar+shareInaccurate:
		dist = math.Abs(r.NormFloat64()) * 40
		acc = 120 + 600*r.Float64()
	default:
		// a good fix: tens of metres at most, the accuracy a phone outdoors reports
		dist = math.Abs(r.NormFloat64()) * 15
		acc = math.Min(4+r.ExpFloat64()*10, 80)
	}
	for range 5 {
		a := r.Float64() * 2 * math.Pi
		p := roundPt(offsetM(ep, dist*math.Cos(a), dist*math.Sin(a)))
		if g.w.inDistrict(p, district) {
			row[4], row[5] = strconv.FormatFloat(p[0], 'f', 6, 64), strconv.FormatFloat(p[1], 'f', 6, 64)
			row[6] = strconv.FormatFloat(math.Round(acc*10)/10, 'f', -1, 64)
			return row
		}
	}
	return row // on the shore with nowhere to stand: unlocated
}
