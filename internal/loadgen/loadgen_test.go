package loadgen

import (
	"context"
	"errors"
	"testing"
	"time"
)

func ms(xs ...int) []time.Duration {
	out := make([]time.Duration, len(xs))
	for i, x := range xs {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond // 1..100 ms
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100 is 50", hundred, 50, 50 * time.Millisecond},
		{"p99 of 1..100 is 99", hundred, 99, 99 * time.Millisecond},
		{"p100 is the maximum", hundred, 100, 100 * time.Millisecond},
		{"tiny p is the minimum", hundred, 0.001, 1 * time.Millisecond},
		{"p50 of four is the second (nearest rank)", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p51 of four is the third", ms(1, 2, 3, 4), 51, 3 * time.Millisecond},
		{"p99 of ten is the tenth", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"p90 of ten is the ninth", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
	} {
		if got := Percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: Percentile(p%g) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1000}, 10},
	} {
		orig := append([]float64(nil), tc.xs...)
		if got := Median(tc.xs); got != tc.want {
			t.Errorf("Median(%v) = %g, want %g", tc.xs, got, tc.want)
		}
		for i := range orig {
			if tc.xs[i] != orig[i] {
				t.Fatalf("Median reordered its input: %v", tc.xs)
			}
		}
	}
}

func TestRateAndPercentileOfResult(t *testing.T) {
	r := Result{Requests: 500, Elapsed: 2 * time.Second, Latencies: ms(1, 2, 3, 4, 5)}
	if got := r.Rate(); got != 250 {
		t.Errorf("Rate = %g, want 250", got)
	}
	if got := r.Percentile(50); got != 3*time.Millisecond {
		t.Errorf("p50 = %v, want 3ms", got)
	}
	if got := (Result{}).Rate(); got != 0 {
		t.Errorf("empty Rate = %g, want 0", got)
	}
}

func TestRun(t *testing.T) {
	seen := make(chan int, 100000)
	fail := errors.New("odd")
	res := Run(context.Background(), Options{Workers: 4, Duration: 100 * time.Millisecond}, func(ctx context.Context, i int) error {
		seen <- i
		time.Sleep(time.Millisecond)
		if i%2 == 1 {
			return fail
		}
		return nil
	})
	close(seen)
	n := 0
	idx := map[int]bool{}
	for i := range seen {
		if idx[i] {
			t.Fatalf("request %d sent twice", i)
		}
		idx[i] = true
		n++
	}
	if res.Requests+res.Errors != n {
		t.Errorf("%d ok + %d failed, but do ran %d times", res.Requests, res.Errors, n)
	}
	if res.Requests == 0 || res.Errors == 0 || !errors.Is(res.FirstErr, fail) {
		t.Errorf("want successes and failures with the first error kept, got %+v", res)
	}
	if d := res.Requests - res.Errors; d < -4 || d > 4 {
		t.Errorf("even and odd indexes should split evenly (±workers): %d ok, %d failed", res.Requests, res.Errors)
	}
	if len(res.Latencies) != res.Requests {
		t.Errorf("%d latencies for %d requests", len(res.Latencies), res.Requests)
	}
	for i := 1; i < len(res.Latencies); i++ {
		if res.Latencies[i] < res.Latencies[i-1] {
			t.Fatal("latencies are not sorted")
		}
	}
	if res.Percentile(50) < time.Millisecond {
		t.Errorf("p50 %v is below the 1 ms each request sleeps", res.Percentile(50))
	}
	if res.Elapsed < 100*time.Millisecond {
		t.Errorf("elapsed %v, want at least the 100 ms duration", res.Elapsed)
	}
}
