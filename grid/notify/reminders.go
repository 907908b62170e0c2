package notify

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
)

// Rules are when deadline reminders 催办 and escalations 升级 are raised (docs/NOTIFY.md).
// Days are Asia/Shanghai calendar days.
type Rules struct {
	// BeforeDays: a reminder this many days before a hazard's rectification deadline.
	BeforeDays []int
	// EscalateDays: a hazard overdue this many days is escalated to its district.
	EscalateDays int
	// MajorBeforeDays and MajorEscalateDays are the same for 重大 hazards, which are all
	// 挂牌督办 (supervised): earlier reminders and a shorter escalation.
	MajorBeforeDays   []int
	MajorEscalateDays int
}

// DefaultRules: reminders 3 and 1 days before, escalation after 7 days overdue; for 重大
// (挂牌督办) hazards 5, 3 and 1 days before and escalation after 3 days.
func DefaultRules() Rules {
	return Rules{BeforeDays: []int{3, 1}, EscalateDays: 7, MajorBeforeDays: []int{5, 3, 1}, MajorEscalateDays: 3}
}

// Validate refuses days out of range (0 to 60 before, 1 to 365 overdue).
func (r Rules) Validate() error {
	for _, list := range [][]int{r.BeforeDays, r.MajorBeforeDays} {
		for _, d := range list {
			if d < 0 || d > 60 {
				return fmt.Errorf("reminder days must be from 0 to 60, not %d", d)
			}
		}
	}
	for _, d := range []int{r.EscalateDays, r.MajorEscalateDays} {
		if d < 1 || d > 365 {
			return fmt.Errorf("escalation days must be from 1 to 365, not %d", d)
		}
	}
	return nil
}

// The reminder kinds besides due_<n>d.
const (
	KindOverdue   = "overdue"
	KindEscalated = "escalated"
)

// Due is the reminder kinds that apply to a hazard daysLeft days before its deadline
// (negative: overdue by that many days). Before the deadline it is the one reminder of the
// nearest reminder day not passed: a hazard seen for the first time 2 days before gets
// due_3d (saying 2 days), not due_3d and due_1d together; a run missed on the day of a
// reminder is made up for on the next. From the day after the deadline: overdue, and
// escalated once the hazard is overdue EscalateDays days.
func (r Rules) Due(major bool, daysLeft int) []string {
	before, escalate := r.BeforeDays, r.EscalateDays
	if major {
		before, escalate = r.MajorBeforeDays, r.MajorEscalateDays
	}
	if daysLeft >= 0 {
		best := -1
		for _, n := range before {
			if n >= daysLeft && (best < 0 || n < best) {
				best = n
			}
		}
		if best < 0 {
			return nil
		}
		return []string{fmt.Sprintf("due_%dd", best)}
	}
	kinds := []string{KindOverdue}
	if -daysLeft >= escalate {
		kinds = append(kinds, KindEscalated)
	}
	return kinds
}

func (r Rules) horizon() int {
	return max(slices.Max(append([]int{0}, r.BeforeDays...)), slices.Max(append([]int{0}, r.MajorBeforeDays...)))
}

// candidatesSQL: the open hazards with a deadline at most $2 days after today ($1), not
// verified or closed (docs/DESIGN.md's overdue rule), that are not escalated yet, with
// the officer of their cell's grid unit.
const candidatesSQL = `SELECT h.district_code, h.id, h.code, h.level, h.supervised, h.category, h.description,
       h.deadline, h.deadline - $1::date, coalesce(h.street_code, ''), h.status,
       (SELECT u.officer_id FROM grid_cells gc JOIN grid_units u ON u.code = gc.unit_code WHERE gc.h3 = h.h3)
  FROM hazards h
 WHERE h.deadline IS NOT NULL AND h.deadline <= $1::date + $2::integer AND h.status NOT IN ('verified', 'closed')
   AND NOT EXISTS (SELECT 1 FROM hazard_reminders r
                    WHERE r.district_code = h.district_code AND r.hazard_id = h.id AND r.kind = 'escalated')
 ORDER BY h.deadline, h.id`

type hazardDue struct {
	district, code, level, category, description, street, status string
	id                                                           int64
	supervised                                                   bool
	deadline                                                     time.Time
	daysLeft                                                     int
	officer                                                      *int64
}

// Raised is one reminder raised.
type Raised struct {
	HazardID int64
	Code     string
	Kind     string
}

// RaiseReminders raises the reminders due on the Shanghai calendar day of now, each once
// per hazard and kind (hazard_reminders), and queues their messages in the outbox in the
// same transaction. Two instances running it at once raise each reminder once: the
// second insert of a key waits for the first and then does nothing.
func (s *Service) RaiseReminders(ctx context.Context, rules Rules, now time.Time) ([]Raised, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	today := now.In(grid.ShanghaiZone()).Format(time.DateOnly)
	rows, err := s.db.Query(ctx, candidatesSQL, today, rules.horizon())
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hazardDue, error) {
		var h hazardDue
		err := r.Scan(&h.district, &h.id, &h.code, &h.level, &h.supervised, &h.category, &h.description,
			&h.deadline, &h.daysLeft, &h.street, &h.status, &h.officer)
		return h, err
	})
	if err != nil {
		return nil, err
	}
	var raised []Raised
	for _, h := range list {
		for _, kind := range rules.Due(h.level == "重大" || h.supervised, h.daysLeft) {
			ok, err := s.raise(ctx, h, kind)
			if err != nil {
				return raised, err
			}
			if ok {
				raised = append(raised, Raised{HazardID: h.id, Code: h.code, Kind: kind})
			}
		}
	}
	return raised, nil
}

func (s *Service) raise(ctx context.Context, h hazardDue, kind string) (bool, error) {
	var ok bool
	err := s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO hazard_reminders (district_code, hazard_id, kind) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING`, h.district, h.id, kind)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		ok = true
		m := reminderMessage(h, kind)
		var to []grid.Recipient
		if kind == KindEscalated {
			to = append(to, grid.Recipient{Kind: grid.RecipientDistrict, Code: h.district})
		} else if h.officer != nil {
			to = append(to, grid.UserRecipient(*h.officer))
		}
		to = append(to, grid.Recipient{Kind: grid.RecipientStreet, Code: h.street})
		if _, err := s.st.Notify(ctx, tx, m, to...); err != nil {
			return err
		}
		return s.st.Record(ctx, tx, grid.AuditEntry{Actor: SystemActor, Action: "hazard_reminder", Kind: grid.AuditHazard,
			Object: h.code, Street: h.street, Details: map[string]any{"kind": kind, "deadline": h.deadline.Format(time.DateOnly), "days_left": h.daysLeft}})
	})
	return ok, err
}

func reminderMessage(h hazardDue, kind string) grid.Message {
	deadline := h.deadline.Format(time.DateOnly)
	level := h.level
	if h.supervised {
		level += "·挂牌督办"
	}
	var title string
	switch kind {
	case KindOverdue:
		title = fmt.Sprintf("隐患 %s（%s）已逾期：整改期限 %s", h.code, level, deadline)
	case KindEscalated:
		title = fmt.Sprintf("隐患 %s（%s）逾期 %d 天仍未整改，已升级至区", h.code, level, -h.daysLeft)
	default:
		if h.daysLeft == 0 {
			title = fmt.Sprintf("隐患 %s（%s）今天到整改期限（%s）", h.code, level, deadline)
		} else {
			title = fmt.Sprintf("隐患 %s（%s）距整改期限还有 %d 天（%s）", h.code, level, h.daysLeft, deadline)
		}
	}
	return grid.Message{
		Key: fmt.Sprintf("hazard/%d/%s", h.id, kind), Kind: kind, Title: title,
		Body:   h.category + "：" + h.description,
		Street: h.street, District: h.district,
		Data: map[string]any{"hazard_id": h.id, "hazard_code": h.code, "level": h.level, "supervised": h.supervised,
			"status": h.status, "deadline": deadline, "days_left": h.daysLeft},
	}
}
