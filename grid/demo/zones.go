package demo

import (
	"context"
	"fmt"
	"io"

	"safegrid/grid"
	"safegrid/grid/risk"
)

// The demo's joint-control zone 联动联控区: the Shanghai Chemical Industry Park on the
// Hangzhou Bay north shore with 金山区 and 奉贤区 (the plan's 上海化学工业区、金山区、奉贤区风险联动联控),
// where the demo's chemical plants concentrate.
const (
	ZoneCode = "hangzhou-bay"
	ZoneName = "杭州湾北岸化工联动联控区 (上海化学工业区、金山区、奉贤区)"
)

// ZoneAreas are the zone's districts: 金山区 and 奉贤区 (the park lies across their border).
var ZoneAreas = []string{"310116", "310120"}

// loadZones defines the demo's zone (after the areas are loaded), replacing it when the
// demo is loaded again.
func loadZones(ctx context.Context, st *grid.Store, out io.Writer) error {
	demo := &grid.Principal{Username: "demo", Role: grid.RoleAdmin}
	z, _, err := risk.New(st).PutZone(ctx, demo, ZoneCode, risk.ZoneInput{Name: ZoneName, Areas: ZoneAreas})
	if err != nil {
		return fmt.Errorf("zone %s: %w", ZoneCode, err)
	}
	fmt.Fprintf(out, "%-20s %7d (%s: %d areas)\n", "zones", 1, z.Code, len(z.Areas))
	return nil
}
