package demo

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

func TestTmpPNG(t *testing.T) {
	dir := os.Getenv("DEMO_OUT")
	if dir == "" {
		t.Skip()
	}
	w, _ := loadWorld()
	const x0, y0, x1, y1 = 120.85, 30.65, 122.25, 31.90
	sc := 900.0
	W, H := int((x1-x0)*sc*0.857), int((y1-y0)*sc)
	if z := os.Getenv("ZOOM"); z == "1" {
		// centre
	}
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	xy := func(p orb.Point) (int, int) { return int((p[0] - x0) * sc * 0.857), int((y1 - p[1]) * sc) }
	dot := func(p orb.Point, c color.RGBA, r int) {
		x, y := xy(p)
		for dx := -r; dx <= r; dx++ {
			for dy := -r; dy <= r; dy++ {
				img.Set(x+dx, y+dy, c)
			}
		}
	}
	line := func(a, b orb.Point, c color.RGBA) {
		n := int(distM(a, b)/80) + 1
		for k := 0; k <= n; k++ {
			tt := float64(k) / float64(n)
			x, y := xy(orb.Point{a[0] + tt*(b[0]-a[0]), a[1] + tt*(b[1]-a[1])})
			img.Set(x, y, c)
		}
	}
	for _, c := range w.communities {
		for _, p := range c.mp { for _, r := range p { for i := 0; i+1 < len(r); i++ { line(r[i], r[i+1], color.RGBA{225, 225, 225, 255}) } } }
	}
	for _, c := range w.streets {
		for _, p := range c.mp { for _, r := range p { for i := 0; i+1 < len(r); i++ { line(r[i], r[i+1], color.RGBA{170, 170, 170, 255}) } } }
	}
	for _, c := range w.districts {
		for _, p := range c.mp { for _, r := range p { for i := 0; i+1 < len(r); i++ { line(r[i], r[i+1], color.RGBA{60, 60, 60, 255}) } } }
	}
	read := func(n string) *geojson.FeatureCollection {
		b, _ := os.ReadFile(dir + "/" + n)
		fc := geojson.NewFeatureCollection()
		json.Unmarshal(b, fc)
		return fc
	}
	for _, f := range read("hazards.geojson").Features {
		dot(f.Point(), color.RGBA{250, 180, 180, 255}, 0)
	}
	for _, f := range read("enterprises.geojson").Features {
		c := color.RGBA{80, 120, 230, 255}
		if f.Properties["risk_level"] == "重大" { c = color.RGBA{220, 0, 0, 255} }
		dot(f.Point(), c, 0)
	}
	for _, f := range read("pipelines.geojson").Features {
		c := color.RGBA{0, 160, 0, 255}
		if f.Properties["medium"] == "oil" { c = color.RGBA{120, 60, 0, 255} } else if f.Properties["class"] == "transmission" { c = color.RGBA{255, 140, 0, 255} }
		ls := f.Geometry.(orb.LineString)
		for i := 0; i+1 < len(ls); i++ { line(ls[i], ls[i+1], c) }
	}
	for _, f := range read("fire_stations.geojson").Features {
		p := f.Point()
		for a := 0; a < 360; a += 2 {
			// 1.79 km circle
			q := offsetM(p, 1786*cosd(float64(a)), 1786*sind(float64(a)))
			x, y := xy(q); img.Set(x, y, color.RGBA{0, 0, 0, 255})
		}
		c := color.RGBA{0, 0, 0, 255}
		if f.Properties["status"] == "planned" { c = color.RGBA{200, 0, 200, 255} }
		dot(p, c, 2)
	}
	for _, f := range read("fishing_ports.geojson").Features { dot(f.Point(), color.RGBA{0, 200, 200, 255}, 4) }
	for _, f := range read("underground_spaces.geojson").Features { dot(f.Geometry.Bound().Center(), color.RGBA{150, 0, 150, 255}, 0) }
	o, _ := os.Create(dir + "/map.png")
	png.Encode(o, img)
	o.Close()
}

func cosd(a float64) float64 { return math.Cos(a * math.Pi / 180) }
func sind(a float64) float64 { return math.Sin(a * math.Pi / 180) }
