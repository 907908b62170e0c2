package browsertest

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// The blank check itself: one colour (a canvas never drawn on, opaque or transparent) fails;
// a drawn picture passes.
func TestCheckNotBlank(t *testing.T) {
	write := func(name string, paint func(x, y int) color.Color) string {
		img := image.NewNRGBA(image.Rect(0, 0, 300, 200))
		for y := range 200 {
			for x := range 300 {
				img.Set(x, y, paint(x, y))
			}
		}
		p := filepath.Join(t.TempDir(), name+".png")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		return p
	}
	white := write("white", func(x, y int) color.Color { return color.White })
	clear := write("clear", func(x, y int) color.Color { return color.Transparent })
	// Nearly blank: one small dot on white is still blank.
	dot := write("dot", func(x, y int) color.Color {
		if x < 5 && y < 5 {
			return color.Black
		}
		return color.White
	})
	drawn := write("drawn", func(x, y int) color.Color {
		return color.NRGBA{uint8(x), uint8(y), uint8(x ^ y), 255}
	})
	for _, p := range []string{white, clear, dot} {
		if err := checkNotBlank(p); err == nil {
			t.Errorf("%s passed as drawn", filepath.Base(p))
		}
	}
	if err := checkNotBlank(drawn); err != nil {
		t.Errorf("drawn: %v", err)
	}
}
