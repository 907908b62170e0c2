package notify

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	o := DefaultOptions()
	for n, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 7: 32 * time.Minute, 8: time.Hour, 50: time.Hour} {
		if got := o.backoff(n); got != want {
			t.Errorf("after %d failures: %v, want %v", n, got, want)
		}
	}
	if o := (Options{Timeout: time.Minute, Lease: time.Second}).withDefaults(); o.Lease <= o.Timeout {
		t.Errorf("a lease of %v for requests of %v", o.Lease, o.Timeout)
	}
}
