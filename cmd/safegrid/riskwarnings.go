package main

import (
	"context"
	"log/slog"
	"time"

	"safegrid/grid"
	"safegrid/grid/risk"
)

// raiseRiskWarnings runs the early warnings' hazard rules (a major hazard installation's
// overdue 重大 hazard, a burst of hazards in a cell or street; docs/RISK.md) every interval
// beside the notification scheduler, so such a warning is queued within a run instead of
// at the next snapshot; the scheduler's next run sends it. The snapshot rules run inside
// each recompute.
func raiseRiskWarnings(ctx context.Context, st *grid.Store, every time.Duration, log *slog.Logger) {
	svc := risk.New(st)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := svc.RaiseHazardWarnings(ctx, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("risk warnings failed", "error", err.Error())
		case n > 0:
			log.Info("risk warnings", "raised", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
