package demo

import (
	"slices"
	"strings"
	"testing"
	"time"

	"safegrid/geo"
	"safegrid/grid/dossier"
)

// The licences: every row names a demo enterprise with a valid USCC and a known type, its
// dates three years apart; every hazardous-chemical enterprise holds one, some others do,
// and on ReferenceDate about one in ten has lapsed and some expire within 30 days.
func TestLicences(t *testing.T) {
	industry := map[string]string{}
	for _, f := range readFC(t, "enterprises.geojson").Features {
		industry[str(f, "uscc")] = str(f, "industry")
	}
	rows := readCSV(t, "licences.csv")
	held := map[string]int{}
	keys := map[[3]string]bool{}
	expired, expiring, others := 0, 0, 0
	for i, r := range rows {
		ind, ok := industry[r["uscc"]]
		if !ok || geo.CheckUSCC(r["uscc"]) != nil {
			t.Fatalf("row %d: no enterprise %s", i+2, r["uscc"])
		}
		if !slices.Contains(dossier.LicenceTypes, r["type"]) || r["number"] == "" || r["authority"] == "" {
			t.Fatalf("row %d: %v", i+2, r)
		}
		k := [3]string{r["uscc"], r["type"], r["number"]}
		if keys[k] {
			t.Fatalf("row %d: repeated licence %v", i+2, k)
		}
		keys[k] = true
		issued, err1 := time.ParseInLocation(time.DateOnly, r["issued_on"], ReferenceDate.Location())
		until, err2 := time.ParseInLocation(time.DateOnly, r["valid_until"], ReferenceDate.Location())
		if err1 != nil || err2 != nil || !until.Equal(issued.AddDate(3, 0, -1)) || issued.After(ReferenceDate) {
			t.Fatalf("row %d: dates %s %s", i+2, r["issued_on"], r["valid_until"])
		}
		switch s, _ := dossier.LicenceStatus(until, ReferenceDate); s {
		case dossier.LicenceExpired:
			expired++
		case dossier.LicenceExpiring:
			expiring++
		}
		held[r["uscc"]]++
		if !strings.HasPrefix(ind, "危化品") {
			others++
		}
	}
	for u, ind := range industry {
		if strings.HasPrefix(ind, "危化品") && held[u] == 0 {
			t.Fatalf("%s enterprise %s holds no licence", ind, u)
		}
	}
	n := len(rows)
	if others == 0 || others == n {
		t.Errorf("%d of %d licences are of enterprises outside the hazardous-chemical industries", others, n)
	}
	if share := float64(expired) / float64(n); share < 0.05 || share > 0.15 {
		t.Errorf("%d of %d licences expired on the reference date", expired, n)
	}
	if share := float64(expiring) / float64(n); share < 0.01 || share > 0.05 {
		t.Errorf("%d of %d licences expire within 30 days of the reference date", expiring, n)
	}
	t.Logf("%d licences: %d expired, %d expiring, %d of other industries", n, expired, expiring, others)
}
