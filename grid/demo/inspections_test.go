package demo

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

// The inspection history: every row names a demo enterprise, falls in the half year
// before the reference date in office hours, and its check-ins are mostly close with a
// good fix, some far, some with a poor fix, some unlocated, as the verdicts with the
// default limits (200 m, 100 m) count them.
func TestInspections(t *testing.T) {
	ents := map[string]orb.Point{}
	for _, f := range readFC(t, "enterprises.geojson").Features {
		ents[str(f, "uscc")] = f.Geometry.(orb.Point)
	}
	rows := readCSV(t, "inspections.csv")
	if len(rows) < len(ents) || len(rows) > 6*len(ents) {
		t.Fatalf("%d inspections of %d enterprises", len(rows), len(ents))
	}
	counts := map[string]int{}
	inspected := map[string]bool{}
	var located []float64
	from := ReferenceDate.AddDate(0, 0, -inspectionHistoryDays-4)
	for i, r := range rows {
		ep, ok := ents[r["uscc"]]
		if !ok {
			t.Fatalf("row %d: no enterprise %s", i+2, r["uscc"])
		}
		inspected[r["uscc"]] = true
		at, err := time.Parse(time.RFC3339, r["inspected_at"])
		if err != nil || at.Before(from) || !at.Before(ReferenceDate) {
			t.Fatalf("row %d: time %q", i+2, r["inspected_at"])
		}
		if h := at.In(ReferenceDate.Location()).Hour(); h < 9 || h >= 17 {
			t.Errorf("row %d: inspected at %d o'clock", i+2, h)
		}
		if r["checkin_lon"] == "" {
			if r["checkin_lat"] != "" || r["checkin_accuracy_m"] != "" {
				t.Fatalf("row %d: half a position", i+2)
			}
			counts["unlocated"]++
			continue
		}
		lon, _ := strconv.ParseFloat(r["checkin_lon"], 64)
		lat, _ := strconv.ParseFloat(r["checkin_lat"], 64)
		acc, err := strconv.ParseFloat(r["checkin_accuracy_m"], 64)
		if err != nil || !(acc > 0) || acc > 10_000 {
			t.Fatalf("row %d: accuracy %q", i+2, r["checkin_accuracy_m"])
		}
		d := orbgeo.DistanceHaversine(ep, orb.Point{lon, lat})
		switch {
		case d > 200:
			counts["far"]++
		case acc > 100:
			counts["inaccurate"]++
		default:
			counts["located"]++
			located = append(located, d)
		}
	}
	n := float64(len(rows))
	share := func(k string) float64 { return float64(counts[k]) / n }
	if share("located") < 0.7 || share("far") < 0.04 || share("far") > 0.12 || share("inaccurate") < 0.03 || share("unlocated") < 0.05 {
		t.Errorf("check-ins %v of %d", counts, len(rows))
	}
	mean := 0.0
	for _, d := range located {
		mean += d / float64(len(located))
	}
	if mean < 3 || mean > 40 {
		t.Errorf("located check-ins are %.1f m from their enterprise on average, want tens of metres at most", mean)
	}
	if never := 1 - float64(len(inspected))/float64(len(ents)); never < 0.05 || never > 0.2 || math.IsNaN(never) {
		t.Errorf("%.0f%% never inspected", never*100)
	}
}
