package evidence

import (
	"bytes"
	"image"
	"image/png"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestProcessDecodesFewAtOnce: a photo within the limits can still take hundreds of
// megabytes while it decodes (a 400 KB PNG of 7000×7000 pixels at 16 bits took 444 MB and
// 2 s), so uploads arriving together decode at most MaxDecoding at a time, the others
// waiting their turn, instead of each allocating its own.
func TestProcessDecodesFewAtOnce(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 64, 48))); err != nil {
		t.Fatal(err)
	}
	var now, peak atomic.Int32
	decodeImage = func(ct string, data []byte) (image.Image, error) {
		n := now.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		now.Add(-1)
		return decode(ct, data)
	}
	t.Cleanup(func() { decodeImage = decode })
	var wg sync.WaitGroup
	for range 3 * MaxDecoding {
		wg.Go(func() {
			if _, err := Process(buf.Bytes()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > MaxDecoding || p < 1 {
		t.Fatalf("%d photos decoded at once, want at most %d", p, MaxDecoding)
	}
}
