package api

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"safegrid/grid"
)

// metrics are the service's Prometheus metrics, on a registry of its own (no globals, so
// tests can build many servers). Labels stay bounded: the route label is the registered
// template (/api/v1/streets/:code/hazards), never the raw path, and requests that match no
// route are only counted by status class.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	unmatched *prometheus.CounterVec
	inFlight  prometheus.Gauge
}

func newMetrics(store *grid.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "safegrid_http_requests_total",
			Help: "HTTP requests by route template, method and status class.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "safegrid_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route template and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		unmatched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "safegrid_http_unmatched_requests_total",
			Help: "HTTP requests that matched no route, by status class.",
		}, []string{"status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safegrid_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.unmatched, m.inFlight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if store != nil {
		m.reg.MustRegister(poolGauges(store)...)
	}
	return m
}

// poolGauges expose the connection pool, whose exhaustion is the usual cause of latency.
func poolGauges(store *grid.Store) []prometheus.Collector {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "safegrid_db_pool_" + name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "safegrid_db_pool_" + name, Help: help}, f)
	}
	return []prometheus.Collector{
		gauge("acquired_conns", "Connections in use.", func() float64 { return float64(store.PoolStats().Acquired) }),
		gauge("idle_conns", "Idle connections.", func() float64 { return float64(store.PoolStats().Idle) }),
		gauge("total_conns", "Open connections.", func() float64 { return float64(store.PoolStats().Total) }),
		gauge("max_conns", "Largest pool size.", func() float64 { return float64(store.PoolStats().Max) }),
		counter("empty_acquire_total", "Acquires that had to wait for a connection.", func() float64 { return float64(store.PoolStats().EmptyAcquires) }),
		counter("acquire_wait_seconds_total", "Time spent waiting for a connection.", func() float64 { return store.PoolStats().AcquireWait.Seconds() }),
	}
}

func (m *metrics) observe(method, route string, status int, d time.Duration, matched bool) {
	class := strconv.Itoa(status/100) + "xx"
	if !matched {
		m.unmatched.WithLabelValues(class).Inc()
		return
	}
	m.requests.WithLabelValues(route, method, class).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

func (m *metrics) handler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}
