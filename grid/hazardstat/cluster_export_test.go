package hazardstat

import (
	"context"

	"safegrid/grid"
)

// ClusterMembers exposes the cluster of every clustered hazard (by id) to the external
// tests: partitioned (the service's way) or plain (one OVER () window).
func ClusterMembers(ctx context.Context, s *grid.Store, f HazardFilter, p ClusterParams, plain bool) (map[int64]int32, error) {
	sv := New(s)
	run := sv.clusterMembership
	if plain {
		run = sv.plainMembership
	}
	m, err := run(ctx, f, p)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]int32, len(m.id))
	for i, id := range m.id {
		out[id] = m.cluster[i]
	}
	return out, nil
}

// referenceSummarySQL describes clusters from every member ($1 district codes, $2 ids,
// $3 cluster numbers) in one statement, as a planner would in plain SQL; $4 buffers hulls
// that are points or lines. The service builds the same from its tiles' summaries.
const referenceSummarySQL = `WITH m AS (
  SELECT h.geom_m, h.level, h.category, h.street_code, m.k
  FROM unnest($1::text[], $2::bigint[], $3::int[]) AS m(dc, id, k)
  JOIN hazards h ON h.district_code = m.dc AND h.id = m.id
)
SELECT k, count(*)::int,
       ST_AsText(ST_Transform(CASE WHEN GeometryType(ST_ConvexHull(ST_Collect(geom_m))) = 'POLYGON' THEN ST_ConvexHull(ST_Collect(geom_m))
         ELSE ST_Buffer(ST_ConvexHull(ST_Collect(geom_m)), $4::float8, 8) END, 4326)),
       ST_X(ST_Transform(ST_Centroid(ST_Collect(geom_m)), 4326)), ST_Y(ST_Transform(ST_Centroid(ST_Collect(geom_m)), 4326)),
       (count(*) FILTER (WHERE level = '一般'))::int, (count(*) FILTER (WHERE level = '重大'))::int,
       mode() WITHIN GROUP (ORDER BY category COLLATE "C"),
       coalesce(array_agg(DISTINCT street_code ORDER BY street_code) FILTER (WHERE street_code IS NOT NULL), '{}')
FROM m GROUP BY k ORDER BY k`

// ReferenceCluster is one cluster as referenceSummarySQL describes it.
type ReferenceCluster struct {
	ID, Members    int
	HullWKT        string
	Centroid       [2]float64
	General, Major int
	TopCategory    string
	Streets        []string
}

// ClustersBothWays runs the service's HazardClusters and describes the same partitioned
// membership with referenceSummarySQL.
func ClustersBothWays(ctx context.Context, s *grid.Store, f HazardFilter, p ClusterParams) ([]HazardCluster, []ReferenceCluster, error) {
	sv := New(s)
	got, err := sv.HazardClusters(ctx, f, p)
	if err != nil {
		return nil, nil, err
	}
	m, err := sv.clusterMembership(ctx, f, p)
	if err != nil {
		return nil, nil, err
	}
	rows, err := sv.db.Query(ctx, referenceSummarySQL, m.dc, m.id, m.cluster, p.EpsM/2)
	if err != nil {
		return nil, nil, err
	}
	var ref []ReferenceCluster
	for rows.Next() {
		var c ReferenceCluster
		if err := rows.Scan(&c.ID, &c.Members, &c.HullWKT, &c.Centroid[0], &c.Centroid[1], &c.General, &c.Major, &c.TopCategory, &c.Streets); err != nil {
			return nil, nil, err
		}
		ref = append(ref, c)
	}
	return got, ref, rows.Err()
}
