package demo

import (
	"github.com/paulmach/orb"
	"testing"
)

func TestTmpTrunks(t *testing.T) {
	w, _ := loadWorld()
	for _, tr := range trunks {
		for i := 0; i+1 < len(tr.via); i++ {
			a, b := tr.via[i], tr.via[i+1]
			n := int(distM(a, b)/200) + 1
			bad := 0
			var first orb.Point
			for k := 0; k <= n; k++ {
				tt := float64(k) / float64(n)
				p := orb.Point{a[0] + tt*(b[0]-a[0]), a[1] + tt*(b[1]-a[1])}
				if !w.onLand(p) {
					if bad == 0 {
						first = p
					}
					bad++
				}
			}
			if bad > 0 {
				t.Logf("%s seg %d %v-%v: %d/%d off land, first %v", tr.code, i, a, b, bad, n+1, first)
			}
		}
	}
}
