package supervise

import (
	"errors"
	"testing"
	"time"

	"safegrid/grid"
)

func TestCheckHazardReport(t *testing.T) {
	ok := HazardReport{Level: "major", Category: " 消防安全 ", Description: "通道堵塞", FeatureKind: "enterprises", FeatureCode: "X", Deadline: "2026-12-31"}
	vals, err := checkHazardReport(ok)
	if err != nil {
		t.Fatal(err)
	}
	if vals["level"] != "重大" || vals["category"] != "消防安全" || vals["feature_kind"] != "enterprises" {
		t.Errorf("values %v", vals)
	}
	for _, tc := range []struct {
		edit  func(*HazardReport)
		field string
	}{
		{func(r *HazardReport) { r.Level = "" }, "level"},
		{func(r *HazardReport) { r.Level = "严重" }, "level"},
		{func(r *HazardReport) { r.Category = " " }, "category"},
		{func(r *HazardReport) { r.Description = "" }, "description"},
		{func(r *HazardReport) { r.FeatureKind = "shops" }, "feature_kind"},
		{func(r *HazardReport) { r.FeatureKind = "" }, "feature_kind"},
		{func(r *HazardReport) { r.FeatureCode = "" }, "feature_code"},
		{func(r *HazardReport) { r.Deadline = "2026-13-01" }, "deadline"},
	} {
		r := ok
		tc.edit(&r)
		_, err := checkHazardReport(r)
		var inv *grid.InvalidError
		if !errors.As(err, &inv) || inv.Field != tc.field {
			t.Errorf("%+v: %v, want an InvalidError on %s", r, err, tc.field)
		}
	}
}

func TestHazardOrderBy(t *testing.T) {
	for sort, want := range map[string]string{
		// NULLS LAST only on the nullable deadline, so the (street_code, reported_at DESC,
		// id DESC) index serves both directions of reported_at.
		"":            " ORDER BY h.reported_at DESC, h.id DESC",
		"deadline":    " ORDER BY h.deadline ASC NULLS LAST, h.id ASC",
		"-deadline":   " ORDER BY h.deadline DESC NULLS LAST, h.id DESC",
		"-level":      " ORDER BY (h.level = '重大') DESC, h.id DESC",
		"reported_at": " ORDER BY h.reported_at ASC, h.id ASC",
	} {
		got, err := hazardOrderBy(sort)
		if err != nil || got != want {
			t.Errorf("hazardOrderBy(%q) = %q, %v; want %q", sort, got, err, want)
		}
	}
	for _, bad := range []string{"description", "--deadline", "deadline;DROP TABLE hazards", "h.id"} {
		var inv *grid.InvalidError
		if _, err := hazardOrderBy(bad); !errors.As(err, &inv) || inv.Field != "sort" {
			t.Errorf("hazardOrderBy(%q): %v, want an InvalidError on sort", bad, err)
		}
	}
}

func TestParseInspectedAt(t *testing.T) {
	want := time.Date(2026, 11, 20, 2, 30, 0, 0, time.UTC)
	for _, s := range []string{"2026-11-20T10:30:00+08:00", "2026-11-20T02:30:00Z", "2026-11-20 10:30", "2026-11-20 10:30:00"} {
		if got, err := parseInspectedAt(s); err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	if _, err := parseInspectedAt("yesterday"); err == nil {
		t.Error("yesterday parsed")
	}
}

func TestParseSupervisionCell(t *testing.T) {
	if _, err := ParseSupervisionCell("cell", "8931aa42d2fffff"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "zzz", "8831aa42d3fffff"} {
		var inv *grid.InvalidError
		if _, err := ParseSupervisionCell("cell", bad); !errors.As(err, &inv) || inv.Field != "cell" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
