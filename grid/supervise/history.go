package supervise

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
)

// HazardEvent is one step of a hazard's history 处理记录 as people read it: when, who
// (the username and, for a user who has one, the display name), what (the audit log's
// action for the step) and the status it went from and to, with the note and the plan.
type HazardEvent struct {
	At         time.Time
	Actor      string
	ActorName  *string // users.display_name; nil for a CLI actor or a user without one
	Action     string  // hazard_report for the first step, hazard_escalate for an escalation, else hazard_<to status>
	FromStatus *string
	ToStatus   string
	Note       *string
	Details    map[string]any // the plan of an assignment (responsible, deadline, ...)
	Photos     []grid.Photo   // the photos attached to the step (never nil)
}

// hazardEventsSQL reads a hazard's history oldest first. users is a small reference
// table; a removed user's steps keep their actor, without a name.
const hazardEventsSQL = `SELECT hh.id, hh.at, hh.actor, nullif(u.display_name, ''), hh.from_status, hh.to_status, hh.note, hh.details
  FROM hazard_history hh LEFT JOIN users u ON u.username = hh.actor
 WHERE hh.district_code = $1 AND hh.hazard_id = $2
 ORDER BY hh.at, hh.id`

// HazardHistoryOf returns the history of a hazard in the caller's scope, oldest step
// first. A hazard outside the scope is a NotFoundError exactly like a missing one, so the
// answer tells nobody that a hazard exists where they may not look.
func (s *Service) HazardHistoryOf(ctx context.Context, p *grid.Principal, id int64) ([]HazardEvent, error) {
	h, err := s.loadLifecycle(ctx, nil, p, id)
	if errors.Is(err, grid.ErrForbidden) {
		return nil, &grid.NotFoundError{What: "hazard", Key: strconv.FormatInt(id, 10)}
	}
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, hazardEventsSQL, h.DistrictCode, h.ID)
	if err != nil {
		return nil, err
	}
	var steps []int64
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (HazardEvent, error) {
		var e HazardEvent
		var step int64
		err := r.Scan(&step, &e.At, &e.Actor, &e.ActorName, &e.FromStatus, &e.ToStatus, &e.Note, &e.Details)
		steps = append(steps, step)
		e.Action = "hazard_" + e.ToStatus
		if e.FromStatus == nil {
			e.Action = "hazard_report"
		}
		if esc, _ := e.Details["escalated"].(bool); esc {
			e.Action = "hazard_escalate" // 挂牌督办: the level changed, not the status
		}
		return e, err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []HazardEvent{}
	}
	photos, err := s.st.HazardPhotos(ctx, nil, h.DistrictCode, h.ID)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Photos = photosOfStep(photos, steps[i])
	}
	return out, nil
}
