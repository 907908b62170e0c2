// Package loadgen is a closed-loop load generator: a fixed number of workers each send
// one request, wait for it, and send the next, for a set time. It records every latency
// so percentiles are exact, not bucketed. scripts/bench-api.sh drives it through
// `safegrid bench api`.
package loadgen

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Do performs request i (a running count across workers, so callers can cycle through a
// list of requests). An error counts the request as failed; its latency is not recorded.
type Do func(ctx context.Context, i int) error

// Options shape one run.
type Options struct {
	Workers  int           // concurrent workers (connections)
	Duration time.Duration // how long to measure
	Warmup   time.Duration // requests sent before measuring, not recorded
}

// Result is one run's outcome.
type Result struct {
	Requests  int             // requests that succeeded while measuring
	Errors    int             // requests that failed while measuring
	FirstErr  error           // the first failure, for the report
	Elapsed   time.Duration   // measuring time
	Latencies []time.Duration // of the successful requests, sorted
}

// Rate is successful requests per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Percentile is the p-th percentile (0 < p ≤ 100) latency; 0 without requests.
func (r Result) Percentile(p float64) time.Duration { return Percentile(r.Latencies, p) }

// Run runs do with o.Workers workers, first for o.Warmup unrecorded, then for o.Duration.
// It stops early, with what it has, when ctx ends.
func Run(ctx context.Context, o Options, do Do) Result {
	workers := max(o.Workers, 1)
	var next atomic.Int64
	if o.Warmup > 0 {
		loop(ctx, workers, o.Warmup, &next, do)
	}
	start := time.Now()
	per := loop(ctx, workers, o.Duration, &next, do)
	res := Result{Elapsed: time.Since(start)}
	for _, w := range per {
		res.Requests += len(w.lat)
		res.Errors += w.errs
		if res.FirstErr == nil {
			res.FirstErr = w.err
		}
		res.Latencies = append(res.Latencies, w.lat...)
	}
	slices.Sort(res.Latencies)
	return res
}

type workerResult struct {
	lat  []time.Duration
	errs int
	err  error
}

// loop runs the workers until d has passed; a request in flight at the deadline is
// finished and counted (closed-loop generators that drop it bias the tail downwards).
func loop(ctx context.Context, workers int, d time.Duration, next *atomic.Int64, do Do) []workerResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deadline := time.Now().Add(d)
	out := make([]workerResult, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := &out[w]
			r.lat = make([]time.Duration, 0, 1024)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				t0 := time.Now()
				err := do(ctx, i)
				lat := time.Since(t0)
				if err != nil {
					if errors.Is(err, context.Canceled) && ctx.Err() != nil {
						return
					}
					r.errs++
					if r.err == nil {
						r.err = err
					}
					continue
				}
				r.lat = append(r.lat, lat)
			}
		})
	}
	wg.Wait()
	return out
}

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of sorted: the smallest
// value with at least p% of the values at or below it. 0 for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// p·n first: 99·n/100 is exact where 0.99·n is not.
	rank := min(max(int(math.Ceil(p*float64(n)/100)), 1), n)
	return sorted[rank-1]
}

// Median is the median of xs (the mean of the middle two for an even count); 0 when empty.
// xs is not modified.
func Median(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
