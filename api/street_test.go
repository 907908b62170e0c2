package api

import (
	"bytes"
	"encoding/csv"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"safegrid/grid/supervise"
)

type hazardList struct {
	Items []supervise.HazardItem `json:"items"`
	Total int                    `json:"total"`
}

func codes(l hazardList) []string {
	var out []string
	for _, it := range l.Items {
		out = append(out, it.Code)
	}
	return out
}

func TestStreetHazards(t *testing.T) {
	f := newGridFixture(t)
	base := "/api/v1/streets/" + f.streetA + "/hazards"
	for _, tc := range []struct {
		query string
		want  []string
		total int
	}{
		{"", []string{"H5", "H4", "H3", "H2", "H1"}, 5},
		{"?sort=reported_at", []string{"H1", "H2", "H3", "H4", "H5"}, 5},
		{"?overdue=true", []string{"H5", "H1"}, 2},
		{"?overdue=false", []string{"H4", "H3", "H2"}, 3},
		{"?level=重大", []string{"H5", "H1"}, 2},
		{"?level=general&sort=reported_at", []string{"H2", "H3", "H4"}, 3},
		{"?status=closed", []string{"H2"}, 1},
		{"?status=整改", []string{"H3"}, 1},
		{"?community=" + f.commA2, []string{"H4", "H3"}, 2},
		{"?category=消防安全", []string{"H5", "H3", "H1"}, 3},
		{"?from=2026-10-11&to=2026-10-16", []string{"H4", "H3"}, 2},
		{"?to=2026-10-01", []string{"H1"}, 1},
		{"?sort=-level", []string{"H5", "H1", "H4", "H3", "H2"}, 5},
		{"?sort=status", []string{"H1", "H5", "H3", "H4", "H2"}, 5},
		{"?sort=deadline&overdue=false", []string{"H2", "H4", "H3"}, 3},
		{"?limit=2&offset=1", []string{"H4", "H3"}, 5},
		{"?offset=9", nil, 5},
		{"?overdue=true&level=重大&community=" + f.communityA1, []string{"H5", "H1"}, 2},
	} {
		var l hazardList
		resp, body := f.get(t, f.sta, base+tc.query, &l)
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", tc.query, resp.StatusCode, body)
			continue
		}
		if !slices.Equal(codes(l), tc.want) || l.Total != tc.total {
			t.Errorf("%s: %v total %d, want %v total %d", tc.query, codes(l), l.Total, tc.want, tc.total)
		}
	}

	// An item's fields.
	var l hazardList
	f.get(t, f.sta, base+"?sort=reported_at&limit=1", &l)
	h := l.Items[0]
	if h.ID != f.hazardID["H1"] || h.Level != "重大" || h.Category != "消防安全" || h.Description != "隐患1" || h.Status != "reported" ||
		!h.Overdue || h.Deadline == nil || *h.CommunityCode != f.communityA1 || *h.CommunityName != "甲一居委" ||
		h.Feature == nil || h.Feature.Kind != "enterprises" || h.Feature.Code != f.uscc["E1"] || *h.Feature.Name != "测试企业1" ||
		!h.ReportedAt.Equal(time.Date(2026, 10, 1, 1, 0, 0, 0, time.UTC)) || math.Abs(h.Location.Lon-121.45) > 0.01 || math.Abs(h.Location.Lat-31.2) > 0.01 {
		t.Errorf("H1: %+v", h)
	}

	// Admin sees street B; an unknown street is 404, a malformed code 422.
	l = hazardList{}
	f.get(t, f.admin, "/api/v1/streets/"+f.streetB+"/hazards", &l)
	if !slices.Equal(codes(l), []string{"H6"}) {
		t.Errorf("street B: %v", codes(l))
	}
	resp, body := f.get(t, f.admin, "/api/v1/streets/310101009/hazards", nil)
	problemOf(t, resp, body, 404)
	for _, tc := range []struct{ path, field string }{
		{"/api/v1/streets/abc/hazards", "code"},
		{base + "?sort=description", "sort"},
		{base + "?level=严重", "level"},
		{base + "?status=done", "status"},
		{base + "?overdue=yes", "overdue"},
		{base + "?from=1.10.2026", "from"},
		{base + "?community=31010100100", "community"},
		{base + "?format=pdf", "format"},
		{base + "?limit=0", "limit"},
	} {
		resp, body := f.get(t, f.admin, tc.path, nil)
		if p := problemOf(t, resp, body, 422); len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
			t.Errorf("%s: %+v, want field %s", tc.path, p, tc.field)
		}
	}
	// A street office asking for another street.
	resp, body = f.get(t, f.sta, "/api/v1/streets/"+f.streetB+"/hazards?format=xlsx", nil)
	problemOf(t, resp, body, 404)
}

var testStatusNames = map[string]string{"reported": "上报", "registered": "立案", "assigned": "派遣", "rectifying": "整改", "verified": "验收", "closed": "销号"}

// exportRow is what the export must hold for an item, column by column.
func exportRow(h supervise.HazardItem) []string {
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	overdue := "否"
	if h.Overdue {
		overdue = "是"
	}
	kind, code, name := "", "", ""
	if h.Feature != nil {
		kind, code, name = "生产经营单位", h.Feature.Code, s(h.Feature.Name)
	}
	return []string{strconv.FormatInt(h.ID, 10), h.Code, h.Level, h.Category, h.Description, testStatusNames[h.Status],
		s(h.Deadline), overdue, s(h.StreetCode), s(h.StreetName), s(h.CommunityCode), s(h.CommunityName), kind, code, name,
		strconv.FormatFloat(h.Location.Lon, 'f', -1, 64), strconv.FormatFloat(h.Location.Lat, 'f', -1, 64),
		h.ReportedAt.UTC().Format("2006-01-02T15:04:05.000Z")}
}

var exportHeader = []string{"序号", "隐患编号", "隐患等级", "隐患类别", "隐患描述", "状态", "整改期限", "是否逾期", "街道编码", "街道名称", "社区编码", "社区名称",
	"关联对象类型", "关联对象编码", "关联对象名称", "经度", "纬度", "上报时间 (UTC)"}

func compareExport(t *testing.T, what string, rows [][]string, items []supervise.HazardItem) {
	t.Helper()
	if len(rows) != len(items)+1 {
		t.Fatalf("%s: %d rows, want %d and a header", what, len(rows), len(items))
	}
	if !slices.Equal(rows[0], exportHeader) {
		t.Errorf("%s header %q", what, rows[0])
	}
	for i, it := range items {
		want := exportRow(it)
		got := rows[i+1]
		for len(got) < len(want) { // excelize leaves trailing empty cells out
			got = append(got, "")
		}
		for j := range want {
			if got[j] == want[j] {
				continue
			}
			if j == 15 || j == 16 { // coordinates: compare as numbers
				g, err1 := strconv.ParseFloat(got[j], 64)
				w, _ := strconv.ParseFloat(want[j], 64)
				if err1 == nil && math.Abs(g-w) < 1e-9 {
					continue
				}
			}
			t.Errorf("%s row %d column %s: %q, want %q", what, i+1, exportHeader[j], got[j], want[j])
		}
	}
}

func TestStreetHazardsExport(t *testing.T) {
	f := newGridFixture(t)
	for _, query := range []string{"?sort=reported_at", "?overdue=true", "?limit=2&offset=1"} {
		base := "/api/v1/streets/" + f.streetA + "/hazards" + query
		var l hazardList
		f.get(t, f.sta, base, &l)
		if len(l.Items) == 0 {
			t.Fatalf("%s: no items", query)
		}

		resp, body := f.get(t, f.sta, base+"&format=csv", nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
			!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") || resp.Header.Get("X-Total-Count") != strconv.Itoa(l.Total) {
			t.Fatalf("csv: %d %v", resp.StatusCode, resp.Header)
		}
		if !bytes.HasPrefix(body, []byte("\xEF\xBB\xBF")) {
			t.Errorf("csv has no BOM")
		}
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		compareExport(t, "csv "+query, rows, l.Items)

		resp, body = f.get(t, f.sta, base+"&format=xlsx", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != mimeXLSX || !strings.Contains(resp.Header.Get("Content-Disposition"), ".xlsx") {
			t.Fatalf("xlsx: %d %v", resp.StatusCode, resp.Header)
		}
		x, err := excelize.OpenReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		rows, err = x.GetRows(x.GetSheetName(0))
		x.Close()
		if err != nil {
			t.Fatal(err)
		}
		compareExport(t, "xlsx "+query, rows, l.Items)
	}
}

func TestStreetSummary(t *testing.T) {
	f := newGridFixture(t)
	var s supervise.StreetSummary
	resp, body := f.get(t, f.sta, "/api/v1/streets/"+f.streetA+"/summary", &s)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if s.Street != f.streetA || s.Name != "甲街道" || len(s.Communities) != 2 {
		t.Fatalf("summary %s", body)
	}
	rate := func(r *float64) float64 {
		if r == nil {
			return -1
		}
		return *r
	}
	type want struct {
		code                                string
		hazards, overdue, ents, assigned    int
		rate                                float64
		reported, assignedSt, closed, major int
	}
	for i, w := range []want{
		{f.communityA1, 3, 2, 3, 2, 1.0 / 3, 1, 1, 1, 2},
		{f.commA2, 2, 0, 2, 2, 0.5, 0, 0, 0, 0},
		{f.streetA, 5, 2, 5, 4, 0.4, 1, 1, 1, 2},
	} {
		c := s.Total
		if i < 2 {
			c = s.Communities[i]
		}
		if c.Code != w.code || c.Hazards != w.hazards || c.Overdue != w.overdue || c.Enterprises != w.ents || c.Assigned != w.assigned ||
			math.Abs(rate(c.RectificationRate)-w.rate) > 1e-9 || c.ByStatus["reported"] != w.reported ||
			c.ByStatus["assigned"] != w.assignedSt || c.ByStatus["closed"] != w.closed || c.ByLevel["重大"] != w.major ||
			len(c.ByStatus) != 6 || len(c.ByLevel) != 2 {
			t.Errorf("%s: %+v, want %+v", w.code, c, w)
		}
	}
	if s.Communities[1].ByStatus["rectifying"] != 1 || s.Communities[1].ByStatus["verified"] != 1 || s.Communities[1].ByLevel["一般"] != 2 {
		t.Errorf("A2 %+v", s.Communities[1])
	}
	// Street B: one community, one hazard, no assigned enterprise.
	s = supervise.StreetSummary{}
	f.get(t, f.stb, "/api/v1/streets/"+f.streetB+"/summary", &s)
	if len(s.Communities) != 1 || s.Total.Hazards != 1 || s.Total.Enterprises != 1 || s.Total.Assigned != 0 || rate(s.Total.RectificationRate) != 0 {
		t.Errorf("street B %+v", s)
	}
	resp, body = f.get(t, f.stb, "/api/v1/streets/"+f.streetA+"/summary", nil)
	problemOf(t, resp, body, 404)
}
