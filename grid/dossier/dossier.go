// Package dossier is the enterprise dossier 一企一档: one document per enterprise holding its
// attributes and licences 证照 (licences.go), its place on the map (cell, grid unit, officer), its inspections, every hazard
// tied to it or lying at it with each hazard's steps, the changes of its risk level, the
// nearest fire stations with their response time by the coverage model's travel model, and
// the pipelines and gas occupancy sites near it; as JSON and as an Excel workbook
// (docs/DOSSIER.md).
package dossier

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// The travel model of fire-station coverage (docs/DESIGN.md "Analysis definitions",
// grid/coverage's CoverageParams defaults): straight-line UTM 51N metres × detour ÷ speed,
// and a station reaches a point within ReachMinutes. The dossier's test checks its figures
// against coverage's for the same station.
const (
	ReachMinutes = 5.0
	SpeedKmh     = 30.0
	Detour       = 1.4
)

// ReachM is the straight-line reach in metres: ReachMinutes/60 × speed × 1000 ÷ detour
// (1,785.7 m).
func ReachM() float64 { return ReachMinutes / 60 * SpeedKmh * 1000 / Detour }

// Minutes is the response time over distM straight-line metres, rounded to 0.01 minutes as
// coverage's cells write it.
func Minutes(distM float64) float64 {
	return math.Round(distM*Detour/(SpeedKmh*1000/60)*100) / 100
}

// The distance within which pipelines and gas occupancy sites are listed, in metres.
const (
	DefaultRadiusM = 500.0
	MaxRadiusM     = 2000.0
)

// AtEnterpriseM is how near an enterprise a hazard tied to no feature must lie to be listed
// as lying at it.
const AtEnterpriseM = 50.0

// NearestStations is how many fire stations (of status existing, the ones coverage counts)
// the dossier lists.
const NearestStations = 3

// Service reads dossiers.
type Service struct {
	st *grid.Store
	db *pgxpool.Pool
}

// New returns a Service over st.
func New(st *grid.Store) *Service { return &Service{st: st, db: st.DB(pg.Key{})} }

// Key names the enterprise: its row id, or else its USCC.
type Key struct {
	ID   int64
	USCC string
}

// Dossier is one enterprise's file 一企一档.
type Dossier struct {
	Enterprise   EnterpriseRecord   `json:"enterprise"`
	Location     EnterpriseLocation `json:"location"`
	Inspections  []InspectionRecord `json:"inspections" doc:"newest first"`
	Hazards      []DossierHazard    `json:"hazards" doc:"open and closed, newest first: tied to the enterprise (feature_kind enterprises, feature_code its USCC) or tied to nothing and lying within at_enterprise_m of it"`
	RiskLevels   []RiskLevel        `json:"risk_levels" doc:"each level it was given, oldest first: the first with from null"`
	Licences     []Licence          `json:"licences" doc:"证照: its licences by type, then valid_until, then number"`
	Today        string             `json:"today" doc:"YYYY-MM-DD (Shanghai): the date licences' status is computed against"`
	Travel       TravelModel        `json:"travel"`
	FireStations []StationReach     `json:"fire_stations" doc:"the nearest existing stations, nearest first"`
	RadiusM      float64            `json:"radius_m" doc:"the distance pipelines and gas occupancy sites are listed within"`
	Pipelines    []NearPipeline     `json:"pipelines" doc:"nearest first"`
	GasSites     []NearGasSite      `json:"gas_occupancy_sites" doc:"nearest first"`
	GeneratedAt  grid.Time          `json:"generated_at"`
	district     string
	geomM        [2]float64
	hazardIDs    []int64
	hazardByID   map[int64]int
}

// EnterpriseRecord is the enterprise's row and the names of its areas.
type EnterpriseRecord struct {
	ID            int64     `json:"id"`
	USCC          string    `json:"uscc" doc:"统一社会信用代码"`
	Name          string    `json:"name"`
	Industry      string    `json:"industry"`
	RiskLevel     string    `json:"risk_level"`
	MajorHazard   bool      `json:"major_hazard" doc:"重大危险源"`
	Employees     *int      `json:"employees"`
	Address       *string   `json:"address"`
	DistrictCode  string    `json:"district_code"`
	DistrictName  *string   `json:"district_name"`
	StreetCode    *string   `json:"street_code"`
	StreetName    *string   `json:"street_name"`
	CommunityCode *string   `json:"community_code"`
	CommunityName *string   `json:"community_name"`
	UpdatedAt     grid.Time `json:"updated_at"`
}

// EnterpriseLocation is where the enterprise is: its point, its resolution-9 cell and the grid unit
// of that cell with its officer.
type EnterpriseLocation struct {
	Lon  float64      `json:"lon"`
	Lat  float64      `json:"lat"`
	Cell string       `json:"cell" doc:"resolution-9 H3 cell"`
	Unit *GridUnitRef `json:"unit" doc:"null when the cell is in no grid unit"`
}

// GridUnitRef is a grid unit 网格 and its officer.
type GridUnitRef struct {
	Code    string      `json:"code"`
	Name    string      `json:"name"`
	Officer *OfficerRef `json:"officer" doc:"null when no officer is assigned"`
}

// OfficerRef is a grid officer 网格员.
type OfficerRef struct {
	Username    string  `json:"username"`
	DisplayName *string `json:"display_name"`
}

// InspectionRecord is one inspection 检查记录 of the enterprise.
type InspectionRecord struct {
	ID           int64         `json:"id"`
	InspectedAt  grid.Time     `json:"inspected_at"`
	Result       string        `json:"result" enum:"passed,hazards_found,closed_down,not_found"`
	HazardsFound int           `json:"hazards_found"`
	Notes        *string       `json:"notes"`
	Officer      *OfficerRef   `json:"officer"`
	Checkin      CheckinRecord `json:"checkin" doc:"where the officer's phone was when the inspection was recorded"`
	Photos       []grid.Photo  `json:"photos" doc:"the inspection's photo evidence, oldest first"`
}

// CheckinRecord is an inspection's check-in 签到: the verdict on the officer's position
// (inspections.checkin, migration 00016).
type CheckinRecord struct {
	Status    string       `json:"status" enum:"located,far,inaccurate,unlocated"`
	Position  *grid.LonLat `json:"position" doc:"where the officer's phone was; null when unlocated"`
	AccuracyM *float64     `json:"accuracy_m" doc:"the browser's reported accuracy, metres; null when unlocated"`
	DistanceM *float64     `json:"distance_m" doc:"metres from the phone to the enterprise; null when unlocated"`
}

// DossierHazard is a hazard 隐患 of the enterprise with its steps.
type DossierHazard struct {
	ID          int64              `json:"id"`
	Code        string             `json:"code"`
	Level       string             `json:"level"`
	Category    string             `json:"category"`
	Description string             `json:"description"`
	Status      string             `json:"status"`
	Responsible *string            `json:"responsible"`
	Deadline    *string            `json:"deadline" doc:"YYYY-MM-DD (Shanghai)"`
	Overdue     bool               `json:"overdue"`
	ReportedAt  grid.Time          `json:"reported_at"`
	ClosedAt    *grid.Time         `json:"closed_at"`
	Link        string             `json:"link" enum:"feature,location" doc:"feature: tied to the enterprise; location: tied to nothing, lying at it"`
	DistanceM   float64            `json:"distance_m" doc:"from the enterprise, UTM 51N metres"`
	Steps       []HazardStepRecord `json:"steps" doc:"oldest first"`
}

// HazardStepRecord is one step of a hazard's history 处理记录.
type HazardStepRecord struct {
	At         grid.Time      `json:"at"`
	Actor      string         `json:"actor"`
	ActorName  *string        `json:"actor_name"`
	FromStatus *string        `json:"from_status"`
	ToStatus   string         `json:"to_status"`
	Note       *string        `json:"note"`
	Details    map[string]any `json:"details"`
	Photos     []grid.Photo   `json:"photos" doc:"the step's photo evidence (report, rectification, verification), oldest first"`
	historyID  int64
}

// RiskLevel is one level the enterprise was given (enterprise_risk_levels).
type RiskLevel struct {
	At    grid.Time `json:"at"`
	From  *string   `json:"from"`
	To    string    `json:"to"`
	Actor string    `json:"actor"`
}

// TravelModel is the coverage model's travel model the fire stations' figures use.
type TravelModel struct {
	Minutes  float64 `json:"minutes" doc:"the reach: response within this many minutes"`
	SpeedKmh float64 `json:"speed_kmh"`
	Detour   float64 `json:"detour"`
	ReachM   float64 `json:"reach_m" doc:"straight-line metres reached within minutes"`
}

// StationReach is a fire station 消防站 and its response time to the enterprise.
type StationReach struct {
	Code      string  `json:"code"`
	Name      string  `json:"name"`
	Type      string  `json:"type"`
	DistanceM float64 `json:"distance_m" doc:"straight line, UTM 51N metres"`
	Minutes   float64 `json:"minutes" doc:"distance × detour ÷ speed"`
	InReach   bool    `json:"in_reach" doc:"distance within reach_m: coverage counts the enterprise as covered by it"`
}

// NearPipeline is a pipeline within radius_m.
type NearPipeline struct {
	Code       string  `json:"code"`
	Name       *string `json:"name"`
	Medium     string  `json:"medium"`
	Class      string  `json:"class"`
	Pressure   string  `json:"pressure"`
	DiameterMM *int    `json:"diameter_mm"`
	Operator   *string `json:"operator"`
	DistanceM  float64 `json:"distance_m"`
}

// NearGasSite is a gas occupancy site 燃气管道占压 within radius_m.
type NearGasSite struct {
	Code         string  `json:"code"`
	Occupant     string  `json:"occupant"`
	Status       string  `json:"status"`
	PipelineCode *string `json:"pipeline_code"`
	Deadline     *string `json:"deadline" doc:"YYYY-MM-DD"`
	DistanceM    float64 `json:"distance_m"`
}

// CheckRadius refuses a radius out of (0, MaxRadiusM].
func CheckRadius(r float64) error {
	if math.IsNaN(r) || r <= 0 || r > MaxRadiusM {
		return &grid.InvalidError{Field: "radius_m", Reason: fmt.Sprintf("must be more than 0 and at most %g", MaxRadiusM)}
	}
	return nil
}

const enterpriseSQL = `SELECT e.district_code, e.id, e.uscc, e.name, e.industry, e.risk_level, e.major_hazard, e.employees,
	e.address, d.name, e.street_code, s.name, e.community_code, c.name, e.updated_at,
	ST_X(e.geom), ST_Y(e.geom), e.h3, ST_X(e.geom_m), ST_Y(e.geom_m),
	gu.code, gu.name, u.username, nullif(u.display_name, '')
  FROM enterprises e
  LEFT JOIN areas d ON d.code = e.district_code
  LEFT JOIN areas s ON s.code = e.street_code
  LEFT JOIN areas c ON c.code = e.community_code
  LEFT JOIN grid_cells gc ON gc.h3 = e.h3
  LEFT JOIN grid_units gu ON gu.code = gc.unit_code
  LEFT JOIN users u ON u.id = gu.officer_id
 WHERE `

// Dossier returns the enterprise's dossier, read in one snapshot; an enterprise outside p's
// scope (grid.Scope) is a NotFoundError exactly like a missing one. Hazards and the nearby
// pipelines and sites are filtered by p's scope too; inspections, levels and stations belong
// to the enterprise.
func (s *Service) Dossier(ctx context.Context, p *grid.Principal, k Key, radiusM float64) (*Dossier, error) {
	if err := CheckRadius(radiusM); err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	d, err := s.enterprise(ctx, tx, p, k)
	if err != nil {
		return nil, err
	}
	d.RadiusM = radiusM
	d.Travel = TravelModel{Minutes: ReachMinutes, SpeedKmh: SpeedKmh, Detour: Detour, ReachM: ReachM()}
	for _, f := range []func(context.Context, pgx.Tx, *grid.Principal, *Dossier) error{
		s.inspections, s.hazards, s.steps, s.photos, s.riskLevels, s.licences, s.stations, s.pipelines, s.gasSites,
	} {
		if err := f(ctx, tx, p, d); err != nil {
			return nil, err
		}
	}
	if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&d.GeneratedAt); err != nil {
		return nil, err
	}
	return d, nil
}

func (s *Service) enterprise(ctx context.Context, tx pgx.Tx, p *grid.Principal, k Key) (*Dossier, error) {
	where, key, what := "e.id = $1", any(k.ID), strconv.FormatInt(k.ID, 10)
	if k.USCC != "" {
		where, key, what = "e.uscc = $1", k.USCC, k.USCC
	}
	cond, args := grid.Scope(p, grid.ScopeCols{District: "e.district_code", Street: "e.street_code", Cell: "e.h3"}, 2)
	d := &Dossier{}
	e := &d.Enterprise
	var cell int64
	var unitCode, unitName, officer, officerName *string
	err := tx.QueryRow(ctx, enterpriseSQL+where+" AND "+cond+" ORDER BY e.district_code LIMIT 1", append([]any{key}, args...)...).Scan(
		&d.district, &e.ID, &e.USCC, &e.Name, &e.Industry, &e.RiskLevel, &e.MajorHazard, &e.Employees,
		&e.Address, &e.DistrictName, &e.StreetCode, &e.StreetName, &e.CommunityCode, &e.CommunityName, &e.UpdatedAt,
		&d.Location.Lon, &d.Location.Lat, &cell, &d.geomM[0], &d.geomM[1],
		&unitCode, &unitName, &officer, &officerName)
	if err == pgx.ErrNoRows {
		return nil, &grid.NotFoundError{What: "enterprise", Key: what}
	}
	if err != nil {
		return nil, err
	}
	e.DistrictCode = d.district
	d.Location.Cell = h3.Cell(cell).String()
	if unitCode != nil {
		d.Location.Unit = &GridUnitRef{Code: *unitCode, Name: *unitName}
		if officer != nil {
			d.Location.Unit.Officer = &OfficerRef{Username: *officer, DisplayName: officerName}
		}
	}
	return d, nil
}

// enterprisePoint is the enterprise's UTM 51N point, bound as $1 and $2.
const enterprisePoint = `ST_SetSRID(ST_MakePoint($1, $2), 32651)`

func (s *Service) inspections(ctx context.Context, tx pgx.Tx, _ *grid.Principal, d *Dossier) error {
	rows, err := tx.Query(ctx, `SELECT i.id, i.inspected_at, i.result, i.hazards_found, i.notes, u.username, nullif(u.display_name, ''),
	i.checkin, ST_X(i.checkin_geom), ST_Y(i.checkin_geom), i.checkin_accuracy_m::float8, i.checkin_distance_m::float8
  FROM inspections i LEFT JOIN users u ON u.id = i.officer_id
 WHERE i.district_code = $1 AND i.enterprise_id = $2
 ORDER BY i.inspected_at DESC, i.id DESC`, d.district, d.Enterprise.ID)
	if err != nil {
		return err
	}
	d.Inspections, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (InspectionRecord, error) {
		var in InspectionRecord
		var user, name *string
		var lon, lat *float64
		err := r.Scan(&in.ID, &in.InspectedAt, &in.Result, &in.HazardsFound, &in.Notes, &user, &name,
			&in.Checkin.Status, &lon, &lat, &in.Checkin.AccuracyM, &in.Checkin.DistanceM)
		if user != nil {
			in.Officer = &OfficerRef{Username: *user, DisplayName: name}
		}
		if lon != nil && lat != nil {
			in.Checkin.Position = &grid.LonLat{Lon: *lon, Lat: *lat}
		}
		in.Photos = []grid.Photo{}
		return in, err
	})
	if d.Inspections == nil {
		d.Inspections = []InspectionRecord{}
	}
	return err
}

// hazardsSQL: $1, $2 the enterprise's UTM point, $3 its USCC, $4 AtEnterpriseM, $5 the scope.
const hazardsSQL = `SELECT h.id, h.code, h.level, h.category, h.description, h.status, h.responsible,
	to_char(h.deadline, 'YYYY-MM-DD'),
	(coalesce(h.deadline < (now() AT TIME ZONE 'Asia/Shanghai')::date, false) AND h.status NOT IN ('verified', 'closed')),
	h.reported_at, h.closed_at, CASE WHEN h.feature_kind IS NULL THEN 'location' ELSE 'feature' END,
	ST_Distance(h.geom_m, ` + enterprisePoint + `)
  FROM hazards h
 WHERE ((h.feature_kind = 'enterprises' AND h.feature_code = $3)
        OR (h.feature_kind IS NULL AND ST_DWithin(h.geom_m, ` + enterprisePoint + `, $4)))
   AND `

func (s *Service) hazards(ctx context.Context, tx pgx.Tx, p *grid.Principal, d *Dossier) error {
	cond, args := grid.Scope(p, grid.ScopeCols{District: "h.district_code", Street: "h.street_code", Cell: "h.h3"}, 5)
	rows, err := tx.Query(ctx, hazardsSQL+cond+" ORDER BY h.reported_at DESC, h.id DESC",
		append([]any{d.geomM[0], d.geomM[1], d.Enterprise.USCC, AtEnterpriseM}, args...)...)
	if err != nil {
		return err
	}
	d.Hazards, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (DossierHazard, error) {
		var h DossierHazard
		err := r.Scan(&h.ID, &h.Code, &h.Level, &h.Category, &h.Description, &h.Status, &h.Responsible, &h.Deadline,
			&h.Overdue, &h.ReportedAt, &h.ClosedAt, &h.Link, &h.DistanceM)
		h.DistanceM = round1(h.DistanceM)
		h.Steps = []HazardStepRecord{}
		return h, err
	})
	if d.Hazards == nil {
		d.Hazards = []DossierHazard{}
	}
	d.hazardByID = map[int64]int{}
	for i, h := range d.Hazards {
		d.hazardIDs = append(d.hazardIDs, h.ID)
		d.hazardByID[h.ID] = i
	}
	return err
}

func (s *Service) steps(ctx context.Context, tx pgx.Tx, _ *grid.Principal, d *Dossier) error {
	if len(d.hazardIDs) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT hh.hazard_id, hh.id, hh.at, hh.actor, nullif(u.display_name, ''), hh.from_status, hh.to_status, hh.note, hh.details
  FROM hazard_history hh LEFT JOIN users u ON u.username = hh.actor
 WHERE hh.hazard_id = ANY($1)
 ORDER BY hh.hazard_id, hh.at, hh.id`, d.hazardIDs)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var st HazardStepRecord
		st.Photos = []grid.Photo{}
		if err := rows.Scan(&id, &st.historyID, &st.At, &st.Actor, &st.ActorName, &st.FromStatus, &st.ToStatus, &st.Note, &st.Details); err != nil {
			return err
		}
		if i, ok := d.hazardByID[id]; ok {
			d.Hazards[i].Steps = append(d.Hazards[i].Steps, st)
		}
	}
	return rows.Err()
}

// photos puts each photo of the dossier's hazards on its step, and each of its inspections'
// on the inspection (the photos table, migration 00015; URLs as the photos API serves them).
func (s *Service) photos(ctx context.Context, tx pgx.Tx, _ *grid.Principal, d *Dossier) error {
	inspections := make([]int64, len(d.Inspections))
	byInspection := map[int64]int{}
	for i, in := range d.Inspections {
		inspections[i] = in.ID
		byInspection[in.ID] = i
	}
	if len(inspections) == 0 && len(d.hazardIDs) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT `+grid.PhotoColumns+` FROM photos ph
 WHERE (ph.hazard_id = ANY($1) OR (ph.district_code = $3 AND ph.inspection_id = ANY($2)))
 ORDER BY ph.attached_at, ph.id`, nonNil(d.hazardIDs), inspections, d.district)
	if err != nil {
		return err
	}
	photos, err := pgx.CollectRows(rows, grid.ScanPhoto)
	if err != nil {
		return err
	}
	steps := map[int64]*HazardStepRecord{}
	for i := range d.Hazards {
		for j := range d.Hazards[i].Steps {
			steps[d.Hazards[i].Steps[j].historyID] = &d.Hazards[i].Steps[j]
		}
	}
	for _, ph := range photos {
		switch {
		case ph.InspectionID != nil:
			if i, ok := byInspection[*ph.InspectionID]; ok {
				d.Inspections[i].Photos = append(d.Inspections[i].Photos, ph)
			}
		case ph.HazardID != nil:
			if st, ok := steps[ph.HistoryID]; ok {
				st.Photos = append(st.Photos, ph)
			}
		}
	}
	return nil
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

func (s *Service) riskLevels(ctx context.Context, tx pgx.Tx, _ *grid.Principal, d *Dossier) error {
	rows, err := tx.Query(ctx, `SELECT at, from_level, risk_level, actor FROM enterprise_risk_levels WHERE uscc = $1 ORDER BY at, id`, d.Enterprise.USCC)
	if err != nil {
		return err
	}
	d.RiskLevels, err = pgx.CollectRows(rows, pgx.RowToStructByPos[RiskLevel])
	if d.RiskLevels == nil {
		d.RiskLevels = []RiskLevel{}
	}
	return err
}

func (s *Service) stations(ctx context.Context, tx pgx.Tx, _ *grid.Principal, d *Dossier) error {
	rows, err := tx.Query(ctx, `SELECT f.code, f.name, f.type, ST_Distance(f.geom_m, `+enterprisePoint+`)
  FROM fire_stations f WHERE f.status = 'existing'
 ORDER BY f.geom_m <-> `+enterprisePoint+`, f.code LIMIT $3`, d.geomM[0], d.geomM[1], NearestStations)
	if err != nil {
		return err
	}
	d.FireStations, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (StationReach, error) {
		var st StationReach
		err := r.Scan(&st.Code, &st.Name, &st.Type, &st.DistanceM)
		st.InReach = st.DistanceM <= ReachM()
		st.Minutes = Minutes(st.DistanceM)
		st.DistanceM = round1(st.DistanceM)
		return st, err
	})
	if d.FireStations == nil {
		d.FireStations = []StationReach{}
	}
	return err
}

func (s *Service) pipelines(ctx context.Context, tx pgx.Tx, p *grid.Principal, d *Dossier) error {
	cond, args := grid.Scope(p, grid.ScopeCols{District: "t.district_code", Street: "t.street_code", Cells: "t.h3_cells"}, 4)
	rows, err := tx.Query(ctx, `SELECT t.code, t.name, t.medium, t.class, t.pressure, t.diameter_mm, t.operator,
	ST_Distance(t.geom_m, `+enterprisePoint+`) AS dist
  FROM pipelines t WHERE ST_DWithin(t.geom_m, `+enterprisePoint+`, $3) AND `+cond+`
 ORDER BY dist, t.code`, append([]any{d.geomM[0], d.geomM[1], d.RadiusM}, args...)...)
	if err != nil {
		return err
	}
	d.Pipelines, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (NearPipeline, error) {
		var n NearPipeline
		err := r.Scan(&n.Code, &n.Name, &n.Medium, &n.Class, &n.Pressure, &n.DiameterMM, &n.Operator, &n.DistanceM)
		n.DistanceM = round1(n.DistanceM)
		return n, err
	})
	if d.Pipelines == nil {
		d.Pipelines = []NearPipeline{}
	}
	return err
}

func (s *Service) gasSites(ctx context.Context, tx pgx.Tx, p *grid.Principal, d *Dossier) error {
	cond, args := grid.Scope(p, grid.ScopeCols{District: "t.district_code", Street: "t.street_code", Cells: "t.h3_cells"}, 4)
	rows, err := tx.Query(ctx, `SELECT t.code, t.occupant, t.status, t.pipeline_code, to_char(t.deadline, 'YYYY-MM-DD'),
	ST_Distance(t.geom_m, `+enterprisePoint+`) AS dist
  FROM gas_occupancy_sites t WHERE ST_DWithin(t.geom_m, `+enterprisePoint+`, $3) AND `+cond+`
 ORDER BY dist, t.code`, append([]any{d.geomM[0], d.geomM[1], d.RadiusM}, args...)...)
	if err != nil {
		return err
	}
	d.GasSites, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (NearGasSite, error) {
		var n NearGasSite
		err := r.Scan(&n.Code, &n.Occupant, &n.Status, &n.PipelineCode, &n.Deadline, &n.DistanceM)
		n.DistanceM = round1(n.DistanceM)
		return n, err
	})
	if d.GasSites == nil {
		d.GasSites = []NearGasSite{}
	}
	return err
}

// round1 rounds metres to 0.1 m.
func round1(m float64) float64 { return math.Round(m*10) / 10 }

// ParseKey reads an enterprise's key as a client writes it: a positive row id, or an
// 18-character USCC with a valid check character. ok is false for anything else.
func ParseKey(raw string) (Key, bool) {
	if geo.CheckUSCC(raw) == nil { // first: a USCC may be all digits
		return Key{USCC: raw}, true
	}
	if raw != "" && raw[0] != '+' && raw[0] != '-' {
		if id, err := strconv.ParseInt(raw, 10, 64); err == nil {
			return Key{ID: id}, id > 0
		}
	}
	return Key{}, false
}
