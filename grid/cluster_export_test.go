package grid

import "context"

// ClusterMembers exposes the cluster of every clustered hazard (by id) to the external
// tests: partitioned (the service's way) or plain (one OVER () window).
func ClusterMembers(ctx context.Context, s *Store, f HazardFilter, p ClusterParams, plain bool) (map[int64]int32, error) {
	run := s.clusterMembership
	if plain {
		run = s.plainMembership
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
