package risk

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestRiskJSONAsEncodingJSON: the hand-written JSON of the cells' parts and top
// contributors reads back as encoding/json's.
func TestRiskJSONAsEncodingJSON(t *testing.T) {
	top := []Contributor{
		{Kind: KindEnterprise, ID: 7, Code: "91310104MA1A000000", Name: `上海"化工"\厂` + "\t\x01", Detail: "重大 · 重大危险源", Points: 1.0 / 3, Share: 1e-7},
		{Kind: KindSpill, Detail: "邻近 1 圈网格 × 0.25", Points: 2.5e21},
		{Kind: KindHazard, ID: 1, Name: "bad \xff utf-8", Points: 0},
	}
	var got, want []map[string]any
	if err := json.Unmarshal(appendTop(nil, top), &got); err != nil {
		t.Fatalf("%s: %v", appendTop(nil, top), err)
	}
	js, _ := json.Marshal(top)
	_ = json.Unmarshal(js, &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	a := newAcc()
	a.parts = [5]float64{1, 2.5, 0, 1e-9, 3}
	var parts map[string]float64
	if err := json.Unmarshal(a.appendParts(nil, 0.75, 6.5, 1.15), &parts); err != nil {
		t.Fatal(err)
	}
	if len(parts) != 8 || parts["hazards"] != 2.5 || parts["underground"] != 3 || parts["spill"] != 0.75 || parts["fire_factor"] != 1.15 {
		t.Errorf("parts %v", parts)
	}
	parts = nil
	if err := json.Unmarshal(a.appendParts(nil, -1, 0, 0), &parts); err != nil || len(parts) != 5 {
		t.Errorf("area parts %s", a.appendParts(nil, -1, 0, 0))
	}
	if string(appendTop(nil, nil)) != "[]" {
		t.Error("an empty top")
	}
}

// TestRiskTopPruning: an area fed thousands of candidates keeps exactly the topN a full
// sort would, ties included.
func TestRiskTopPruning(t *testing.T) {
	a := newAcc()
	var all []Contributor
	for i := range 5000 {
		g := &group{floor: -1}
		for j := range 7 {
			c := Contributor{Kind: []string{KindEnterprise, KindHazard}[j%2], ID: int64(i*7 + j), Points: float64((i*7919 + j*104729) % 97)}
			g.top = append(g.top, c)
			c.Points *= 1.25
			all = append(all, c)
		}
		a.add(g, 1.25)
	}
	finishTop(a, 1, topN)
	sortTop(all)
	if len(a.top) != topN {
		t.Fatalf("%d kept", len(a.top))
	}
	for i := range topN {
		if a.top[i].ID != all[i].ID || a.top[i].Points != all[i].Points {
			t.Fatalf("%d: %+v, want %+v", i, a.top[i], all[i])
		}
	}
	var top []Contributor
	for i := range 50 { // worst first, then interleaved
		top = pushTop(top, all[(49-i*3%50+50)%50], 5)
	}
	for i := range 5 {
		if top[i].ID != all[i].ID {
			t.Fatalf("pushTop %d: %+v, want %+v", i, top[i], all[i])
		}
	}
}
