package notify

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
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
	// CatchUpDays: a reminder raised more than this many days after its day (a backlog:
	// hazards imported long overdue, or a scheduler that was down for days) is recorded
	// like any other but sent in one digest per recipient and kind, not as a message of
	// its own.
	CatchUpDays int
}

// DefaultRules: reminders 3 and 1 days before, escalation after 7 days overdue; for 重大
// (挂牌督办) hazards 5, 3 and 1 days before and escalation after 3 days.
func DefaultRules() Rules {
	return Rules{BeforeDays: []int{3, 1}, EscalateDays: 7, MajorBeforeDays: []int{5, 3, 1}, MajorEscalateDays: 3, CatchUpDays: 2}
}

// Validate refuses days out of range (0 to 60 before, 1 to 365 overdue, 0 to 60 to catch up).
func (r Rules) Validate() error {
	if r.CatchUpDays < 0 || r.CatchUpDays > 60 {
		return fmt.Errorf("catch-up days must be from 0 to 60, not %d", r.CatchUpDays)
	}
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

// Late is how many days after its own day the reminder kind is raised for a hazard
// daysLeft days before its deadline: due_<n>d's day is n days before the deadline,
// overdue's the day after it, escalated's EscalateDays (MajorEscalateDays) after it.
func (r Rules) Late(major bool, kind string, daysLeft int) int {
	escalate := r.EscalateDays
	if major {
		escalate = r.MajorEscalateDays
	}
	switch kind {
	case KindOverdue:
		return -daysLeft - 1
	case KindEscalated:
		return -daysLeft - escalate
	}
	var n int
	if _, err := fmt.Sscanf(kind, "due_%dd", &n); err != nil {
		return 0
	}
	return n - daysLeft
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
	var backlog []dueReminder
	for _, h := range list {
		major := h.level == "重大" || h.supervised
		for _, kind := range rules.Due(major, h.daysLeft) {
			if rules.Late(major, kind, h.daysLeft) > rules.CatchUpDays {
				backlog = append(backlog, dueReminder{h, kind})
				continue
			}
			ok, err := s.raise(ctx, h, kind)
			if err != nil {
				return raised, err
			}
			if ok {
				raised = append(raised, Raised{HazardID: h.id, Code: h.code, Kind: kind})
			}
		}
	}
	if len(backlog) > 0 {
		caught, err := s.raiseBacklog(ctx, backlog, today)
		if err != nil {
			return raised, err
		}
		raised = append(raised, caught...)
	}
	return raised, nil
}

// dueReminder is one reminder of one hazard.
type dueReminder struct {
	h    hazardDue
	kind string
}

// recipients are whom a hazard's reminder of kind goes to: an escalation to the district
// and the street office, the others to the officer of the hazard's cell and the street.
func recipients(h hazardDue, kind string) []grid.Recipient {
	var to []grid.Recipient
	if kind == KindEscalated {
		to = append(to, grid.Recipient{Kind: grid.RecipientDistrict, Code: h.district})
	} else if h.officer != nil {
		to = append(to, grid.UserRecipient(*h.officer))
	}
	return append(to, grid.Recipient{Kind: grid.RecipientStreet, Code: h.street})
}

// backlogInsertSQL records a backlog's reminders at once; RETURNING names those this run
// raised (another instance may have raised some of them first).
const backlogInsertSQL = `INSERT INTO hazard_reminders (district_code, hazard_id, kind)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])
ON CONFLICT DO NOTHING RETURNING district_code, hazard_id, kind`

// maxDigestCodes is how many hazard codes a digest names in its data (its count is exact).
const maxDigestCodes = 200

// raiseBacklog records the backlog's reminders and queues one digest per recipient and
// kind in one transaction, with one audit record per kind naming every hazard: a first run
// over thousands of long-overdue hazards tells each office once how many there are, instead
// of filling its inbox with a message per hazard.
func (s *Service) raiseBacklog(ctx context.Context, backlog []dueReminder, today string) ([]Raised, error) {
	type key struct {
		district string
		id       int64
		kind     string
	}
	byKey := make(map[key]dueReminder, len(backlog))
	districts, ids, kinds := make([]string, 0, len(backlog)), make([]int64, 0, len(backlog)), make([]string, 0, len(backlog))
	for _, d := range backlog {
		byKey[key{d.h.district, d.h.id, d.kind}] = d
		districts, ids, kinds = append(districts, d.h.district), append(ids, d.h.id), append(kinds, d.kind)
	}
	var raised []Raised
	err := s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		raised = raised[:0]
		rows, err := tx.Query(ctx, backlogInsertSQL, districts, ids, kinds)
		if err != nil {
			return err
		}
		var got []dueReminder
		var k key
		if _, err := pgx.ForEachRow(rows, []any{&k.district, &k.id, &k.kind}, func() error {
			got = append(got, byKey[k])
			return nil
		}); err != nil {
			return err
		}
		slices.SortFunc(got, func(a, b dueReminder) int { return a.h.deadline.Compare(b.h.deadline) })
		type group struct {
			to   grid.Recipient
			kind string
		}
		groups := map[group][]hazardDue{}
		var order []group
		codes := map[string][]string{}
		for _, d := range got {
			raised = append(raised, Raised{HazardID: d.h.id, Code: d.h.code, Kind: d.kind})
			codes[d.kind] = append(codes[d.kind], d.h.code)
			for _, to := range recipients(d.h, d.kind) {
				g := group{to, d.kind}
				if _, ok := groups[g]; !ok {
					order = append(order, g)
				}
				groups[g] = append(groups[g], d.h)
			}
		}
		for _, g := range order {
			if _, err := s.st.Notify(ctx, tx, digestMessage(g.kind, groups[g], today), g.to); err != nil {
				return err
			}
		}
		for _, kind := range slices.Sorted(maps.Keys(codes)) {
			if err := s.st.Record(ctx, tx, grid.AuditEntry{Actor: SystemActor, Action: "hazard_reminder", Kind: grid.AuditHazard,
				Object: "backlog", Details: map[string]any{"kind": kind, "digest": true, "count": len(codes[kind]), "hazards": codes[kind]}}); err != nil {
				return err
			}
		}
		return nil
	})
	return raised, err
}

// digestMessage is one recipient's digest of a backlog's reminders of one kind (hs in
// deadline order). Its key names the first hazard, so two digests never share a key.
func digestMessage(kind string, hs []hazardDue, today string) grid.Message {
	var title string
	switch kind {
	case KindOverdue:
		title = fmt.Sprintf("积压提醒：%d 项隐患已逾期（整改期限最早 %s）", len(hs), hs[0].deadline.Format(time.DateOnly))
	case KindEscalated:
		title = fmt.Sprintf("积压提醒：%d 项隐患逾期未整改，已升级至区", len(hs))
	default:
		title = fmt.Sprintf("积压提醒：%d 项隐患临近整改期限（最早 %s）", len(hs), hs[0].deadline.Format(time.DateOnly))
	}
	codes := make([]string, 0, min(len(hs), maxDigestCodes))
	for _, h := range hs[:min(len(hs), maxDigestCodes)] {
		codes = append(codes, h.code)
	}
	body := strings.Join(codes[:min(len(codes), 20)], "、")
	if len(hs) > 20 {
		body += fmt.Sprintf(" 等 %d 项", len(hs))
	}
	m := grid.Message{
		Key: fmt.Sprintf("backlog/%s/%s/%d", today, kind, hs[0].id), Kind: kind + "_digest", Title: title, Body: body,
		Data: map[string]any{"digest": true, "kind": kind, "count": len(hs), "hazard_codes": codes},
	}
	if street := hs[0].street; street != "" && !slices.ContainsFunc(hs, func(h hazardDue) bool { return h.street != street }) {
		m.Street = street
	}
	if district := hs[0].district; !slices.ContainsFunc(hs, func(h hazardDue) bool { return h.district != district }) {
		m.District = district
	}
	return m
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
		if _, err := s.st.Notify(ctx, tx, m, recipients(h, kind)...); err != nil {
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
