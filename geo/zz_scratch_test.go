package geo
import ("testing"; "math"; "github.com/paulmach/orb")
func TestScratch(t *testing.T){
  nan := math.NaN()
  for _, g := range []orb.Geometry{orb.Point{nan, 1}, orb.LineString{{nan,1},{121,31}}, orb.Polygon{{{121,31},{nan,31},{121.1,31.1},{121,31}}}, orb.Polygon{{{121,31},{500,31},{121.1,31.1},{121,31}}}, orb.LineString{{121,31},{300,31}} } {
    t.Log(len(Cells(g, 9)))
    t.Log(RepresentativePoint(g))
  }
}
