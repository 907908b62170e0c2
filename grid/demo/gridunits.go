package demo

import (
	"slices"

	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
)

// gridCells returns every resolution-9 cell that overlaps a district (sorted, unique)
// and, for each, the community it belongs to: the one its centre lies in (the first by
// code where two overlap), else the nearest. A community left without any cell (it is
// smaller than a cell) takes a cell it overlaps (its representative point's first) from a
// neighbour in the same street that has cells to spare, so that every unit has cells.
func (w *world) gridCells() ([]h3.Cell, []int) {
	var cells []h3.Cell
	for _, d := range w.districts {
		cells = append(cells, geo.Cells(d.mp, geo.SupervisionRes)...)
	}
	slices.Sort(cells)
	cells = slices.Compact(cells)
	owner := make([]int, len(cells))
	count := make([]int, len(w.communities))
	for i, c := range cells {
		owner[i] = w.commIdx.nearest(cellCentre(c))
		count[owner[i]]++
	}
	for ci, com := range w.communities {
		if count[ci] > 0 {
			continue
		}
		// the cell of its representative point first, then any cell it overlaps
		cands := append([]h3.Cell{geo.PointCell(com.rep, geo.SupervisionRes)}, geo.Cells(com.mp, geo.SupervisionRes)...)
		for _, c := range cands {
			i, ok := slices.BinarySearch(cells, c)
			if !ok {
				continue
			}
			prev := owner[i]
			if count[prev] > 1 && w.communities[prev].street == com.street {
				owner[i] = ci
				count[prev]--
				count[ci]++
				break
			}
		}
	}
	return cells, owner
}

// grid returns the land cells and their communities, computed once per run.
func (g *gen) grid() ([]h3.Cell, []int) {
	if g.cells == nil {
		g.cells, g.owner = g.w.gridCells()
	}
	return g.cells, g.owner
}

func cellCentre(c h3.Cell) orb.Point {
	ll := h3.CellToLatLng(c)
	return orb.Point{ll.Lng, ll.Lat}
}

func (g *gen) gridAndUsers() ([]File, error) {
	w := g.w
	cells, owner := g.grid()

	// users first: grid units name their officer.
	uw, err := newCSVWriter(g.opts.OutDir, "users.csv", "username", "role", "street_code", "district_code", "display_name")
	if err != nil {
		return nil, err
	}
	defer uw.f.Close()
	uw.row("admin", "admin", "", "", "系统管理员")
	uw.row("planner", "planner", "", "", "消防救援规划员")
	for _, d := range w.districts {
		uw.row("district_"+d.code, "district", "", d.code, d.name+"安全生产监督管理局")
	}
	for _, s := range w.streets {
		uw.row("street_"+s.code, "street", s.code, "", s.name+"安全生产办公室")
	}
	for _, c := range w.communities {
		uw.row(officerName(c), "officer", "", "", c.name+"网格员")
	}
	if err := uw.close(); err != nil {
		return nil, err
	}

	gw, err := newCSVWriter(g.opts.OutDir, "grid_units.csv", "code", "name", "street_code", "officer")
	if err != nil {
		return nil, err
	}
	defer gw.f.Close()
	for _, c := range w.communities {
		gw.row(c.code, c.name+"网格", w.streets[c.street].code, officerName(c))
	}
	if err := gw.close(); err != nil {
		return nil, err
	}

	cw, err := newCSVWriter(g.opts.OutDir, "grid_cells.csv", "h3", "unit_code")
	if err != nil {
		return nil, err
	}
	defer cw.f.Close()
	for i, c := range cells {
		cw.row(c.String(), w.communities[owner[i]].code)
	}
	if err := cw.close(); err != nil {
		return nil, err
	}
	return []File{
		{Kind: "users", Path: uw.name, Format: "csv", Rows: uw.rows},
		{Kind: "grid_units", Path: gw.name, Format: "csv", Rows: gw.rows},
		{Kind: "grid_cells", Path: cw.name, Format: "csv", Rows: cw.rows},
	}, nil
}

func officerName(c *area) string { return "officer_" + c.code }
