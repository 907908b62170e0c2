package risk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"safegrid/grid"
)

// errScheduledToday: the day's scheduled snapshot exists (another instance made it).
var errScheduledToday = errors.New("a scheduled snapshot of the day exists")

// DailyAt is the time of day (Asia/Shanghai) of the scheduled recompute; Off turns it off.
type DailyAt struct {
	Hour, Minute int
	Off          bool
}

// DefaultDailyAt is 02:00 Asia/Shanghai.
var DefaultDailyAt = DailyAt{Hour: 2}

// ParseDailyAt reads HH:MM (Asia/Shanghai, 00:00 to 23:59) or "off".
func ParseDailyAt(s string) (DailyAt, error) {
	if strings.EqualFold(strings.TrimSpace(s), "off") {
		return DailyAt{Off: true}, nil
	}
	hh, mm, ok := strings.Cut(strings.TrimSpace(s), ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || len(hh) != 2 || len(mm) != 2 || h < 0 || h > 23 || m < 0 || m > 59 {
		return DailyAt{}, fmt.Errorf("want HH:MM (Asia/Shanghai, 00:00 to 23:59) or off, not %q", s)
	}
	return DailyAt{Hour: h, Minute: m}, nil
}

func (d DailyAt) String() string {
	if d.Off {
		return "off"
	}
	return fmt.Sprintf("%02d:%02d", d.Hour, d.Minute)
}

// Scheduler runs the daily recompute (trigger schedule) at At: from that time on each
// Asia/Shanghai day, until the day has a scheduled snapshot. It checks every Interval
// (default a minute), so a server started after the hour catches up, and several
// instances are safe: the lock lets one compute, and the others find the day's snapshot
// and skip.
type Scheduler struct {
	Service  *Service
	At       DailyAt
	Interval time.Duration
	Log      *slog.Logger
}

// Run checks until ctx ends.
func (sc *Scheduler) Run(ctx context.Context) {
	if sc.At.Off {
		return
	}
	every := sc.Interval
	if every <= 0 {
		every = time.Minute
	}
	log := sc.Log
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		sn, ran, err := sc.Service.RunDaily(ctx, sc.At, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("risk: the scheduled recompute failed; trying again", "err", err)
		case ran:
			log.Info("risk: scheduled snapshot", "id", sn.ID, "taken_on", sn.TakenOn, "cells", sn.Cells, "ms", sn.DurationMS)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunDaily makes the day's scheduled snapshot when now is at or past at (Asia/Shanghai)
// and the day has none yet; ran says whether it did.
func (s *Service) RunDaily(ctx context.Context, at DailyAt, now time.Time) (Snapshot, bool, error) {
	if at.Off {
		return Snapshot{}, false, nil
	}
	local := now.In(grid.ShanghaiZone())
	due := time.Date(local.Year(), local.Month(), local.Day(), at.Hour, at.Minute, 0, 0, grid.ShanghaiZone())
	if local.Before(due) {
		return Snapshot{}, false, nil
	}
	var done bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM risk_snapshots WHERE trigger = 'schedule' AND taken_on = $1)`,
		local.Format(time.DateOnly)).Scan(&done); err != nil {
		return Snapshot{}, false, err
	}
	if done {
		return Snapshot{}, false, nil
	}
	sn, err := s.Recompute(ctx, Request{Trigger: TriggerSchedule, By: "schedule", AsOf: now, onlyIfNoSchedule: true})
	if errors.Is(err, errScheduledToday) || errors.Is(err, grid.ErrBusy) {
		return Snapshot{}, false, nil
	}
	if err != nil {
		return Snapshot{}, false, err
	}
	return sn, true, nil
}
