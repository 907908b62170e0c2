// Package notify delivers the notification channel 通知: what grid.Store.Notify queued in
// the outbox goes out as in-app notifications (a per-user list with read state) and as
// signed webhook POSTs to the webhooks an admin set up per street or district. It also
// raises the deadline reminders and escalations of hazards (催办/升级). The scheduler that
// drives both runs inside `safegrid serve`. The rules are docs/NOTIFY.md.
package notify

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// SystemActor names the scheduler in the audit log.
const SystemActor = "system:notify"

// Options tune delivery; zero fields take the defaults of DefaultOptions.
type Options struct {
	// AllowPrivate lets webhooks point at loopback, private and link-local addresses
	// (a receiver on the same machine, tests). Off, such URLs are refused when an admin
	// saves them and again when each request connects (against DNS rebinding).
	AllowPrivate bool
	Timeout      time.Duration // one HTTP attempt
	// Lease is how long one instance holds a delivery while it sends it; another instance
	// takes it over only after that (a crashed sender). Longer than Timeout.
	Lease       time.Duration
	BackoffBase time.Duration // the wait after the first failed attempt; doubled after each
	BackoffMax  time.Duration // the longest wait between attempts
	MaxFailures int           // consecutive failed attempts that disable a webhook
	Workers     int           // deliveries claimed and sent at once by one instance
	Batch       int           // outbox messages fanned out in one transaction
}

// DefaultOptions are the delivery settings of `safegrid serve`.
func DefaultOptions() Options {
	return Options{Timeout: 10 * time.Second, Lease: 2 * time.Minute, BackoffBase: 30 * time.Second,
		BackoffMax: time.Hour, MaxFailures: 5, Workers: 4, Batch: 50}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Timeout <= 0 {
		o.Timeout = d.Timeout
	}
	if o.Lease <= 0 {
		o.Lease = d.Lease
	}
	if o.Lease <= o.Timeout {
		o.Lease = o.Timeout + time.Second
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = d.BackoffBase
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = d.BackoffMax
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = d.MaxFailures
	}
	if o.Workers <= 0 {
		o.Workers = d.Workers
	}
	if o.Batch <= 0 {
		o.Batch = d.Batch
	}
	return o
}

// Service is the notification channel's delivery, inbox and webhooks over one store.
type Service struct {
	st *grid.Store
	db *pgxpool.Pool
	// Options are read when a method runs; set them before the first use.
	Options Options
}

// New makes the service over st with DefaultOptions.
func New(st *grid.Store) *Service {
	return &Service{st: st, db: st.DB(pg.Key{}), Options: DefaultOptions()}
}

func (s *Service) opts() Options { return s.Options.withDefaults() }

// backoff is the wait before attempt n+1 after n failed attempts: BackoffBase·2^(n-1),
// at most BackoffMax.
func (o Options) backoff(n int) time.Duration {
	d := o.BackoffBase
	for i := 1; i < n && d < o.BackoffMax; i++ {
		d *= 2
	}
	return min(d, o.BackoffMax)
}
