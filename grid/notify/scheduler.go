package notify

import (
	"context"
	"log/slog"
	"time"
)

// Scheduler runs the channel inside the service: every Interval it raises the reminders
// due, fans the outbox out and sends the due webhook deliveries. Any number of instances
// may run one on the same database (docs/NOTIFY.md, "Several instances").
type Scheduler struct {
	Service  *Service
	Interval time.Duration
	Rules    Rules
	Log      *slog.Logger
	Now      func() time.Time // time.Now when nil
}

// Tick is one run: reminders, fan-out, deliveries.
func (sc *Scheduler) Tick(ctx context.Context) error {
	now := time.Now
	if sc.Now != nil {
		now = sc.Now
	}
	raised, err := sc.Service.RaiseReminders(ctx, sc.Rules, now())
	if err != nil {
		return err
	}
	fanned, err := sc.Service.FanOut(ctx)
	if err != nil {
		return err
	}
	delivered, failed, err := sc.Service.Deliver(ctx)
	if sc.Log != nil && (len(raised)+fanned+delivered+failed > 0 || err != nil) {
		sc.Log.Info("notify", "reminders", len(raised), "messages", fanned, "delivered", delivered, "failed_attempts", failed, "error", errText(err))
	}
	return err
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Run ticks at once and then every Interval until ctx ends. A failed tick is logged and
// the next one tries again (the database may be restarting).
func (sc *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(max(sc.Interval, 10*time.Millisecond))
	defer t.Stop()
	for {
		if err := sc.Tick(ctx); err != nil && ctx.Err() == nil && sc.Log != nil {
			sc.Log.Warn("notify run failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
