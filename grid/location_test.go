package grid

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckFieldLocation(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name     string
		lon, lat *float64
		field    string // "" for valid
		contains string
	}{
		{"people's square", f(121.4737), f(31.2304), "", ""},
		{"missing lon", nil, f(31.2), "lon", "required"},
		{"missing lat", f(121.4), nil, "lat", "required"},
		{"swapped", f(31.2304), f(121.4737), "lat", "swapped"},
		{"latitude out of range", f(121.4), f(95), "lat", "out of range"},
		{"longitude out of range", f(190), f(31.2), "lon", "out of range"},
		// Both out of range: the reason is the longitude's, so the field is too (a walking
		// order's lon=1e308&lat=-1e308 was a 422 on lat saying "longitude ... out of range").
		{"both out of range", f(1e308), f(-1e308), "lon", "longitude"},
		{"both out of range, lat first in the list", f(-200), f(100), "lon", "longitude"},
		{"Beijing", f(116.4), f(39.9), "lon", ""},
		{"south of Shanghai", f(121.4), f(29.0), "lat", ""},
	} {
		_, err := checkFieldLocation(tc.lon, tc.lat)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Field != tc.field || !strings.Contains(inv.Reason, tc.contains) {
			t.Errorf("%s: %v, want an InvalidError on %s containing %q", tc.name, err, tc.field, tc.contains)
		}
	}
}
