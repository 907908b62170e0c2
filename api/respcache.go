package api

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"safegrid/grid"
)

// Kept answers. Street offices reopen their hazard list, officers their cells, and a map
// asks for the same tiles again with every pan, while the data under them changes a few
// times an hour. A route with Operation.Keep has its 200 answers kept in memory, keyed by
//
//   - the caller's scope (role; the street of a street office; the user of an officer),
//     since access is checked before the answer is made and answers differ by scope;
//   - the request's scheme, host, path and query;
//   - the data versions of the tables the answer is made from (grid.Versions, bumped by a
//     trigger in the transaction of every write, read in one statement per request), so
//     a change to the data is seen by the very next request;
//   - the database's date in Shanghai (read with the versions), since overdue flags turn
//     with it.
//
// Access is still checked on every request: authentication and the role run before the
// kept answer is looked up, and a caller whose scope differs has a different key, so their
// request reaches the handler and its scope checks. Requests for the same key that arrive
// while it is being made wait for that one answer instead of running the same queries
// (singleflight). Every kept answer carries an ETag (the handler's, or a hash of the body),
// and If-None-Match naming it gives 304.

// keepAll is Operation.Keep for answers that may read any table.
func keepAll(*fiber.Ctx) []string { return nil }

// keepSupervised is Operation.Keep for answers read from areas, the grid, the supervised
// things and hazards, but not inspections or users: cell views and street lists, which
// officers' inspections then leave kept.
func keepSupervised(*fiber.Ctx) []string { return grid.SupervisedTables() }

// keptResponse is one kept answer. Its body is shared by every request that sends it and
// is never written to.
type keptResponse struct {
	body   []byte
	header [][2]string // the handler's response headers, replayed as they were
	etag   string
	keyLen int
}

func (r *keptResponse) size() int64 {
	n := int64(len(r.body)+r.keyLen) + 256
	for _, h := range r.header {
		n += int64(len(h[0]) + len(h[1]))
	}
	return n
}

// send writes r as c's answer, or a 304 when ifNoneMatch names its ETag.
func (r *keptResponse) send(c *fiber.Ctx, ifNoneMatch string) error {
	for _, h := range r.header {
		c.Set(h[0], h[1])
	}
	c.Set(fiber.HeaderETag, r.etag)
	c.Vary(fiber.HeaderAuthorization)
	if etagMatches(ifNoneMatch, r.etag) {
		c.Response().ResetBody()
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Status(fiber.StatusOK)
	c.Response().SetBodyRaw(r.body)
	return nil
}

// notReplayed are response headers that belong to one response, not to its answer, in
// lower case (fasthttp normalises names: X-Request-ID comes as X-Request-Id).
var notReplayed = map[string]bool{}

func init() {
	for _, h := range []string{fiber.HeaderDate, fiber.HeaderServer, fiber.HeaderContentLength,
		fiber.HeaderConnection, fiber.HeaderXRequestID, fiber.HeaderSetCookie,
		fiber.HeaderTransferEncoding, fiber.HeaderETag} {
		notReplayed[strings.ToLower(h)] = true
	}
}

// captured is the answer c's handler wrote, or nil when it is not one to keep (not a 200,
// or streamed).
func captured(c *fiber.Ctx) *keptResponse {
	res := c.Response()
	if res.StatusCode() != fiber.StatusOK || res.IsBodyStream() {
		return nil
	}
	r := &keptResponse{body: append([]byte(nil), res.Body()...)}
	res.Header.VisitAll(func(k, v []byte) {
		if name := string(k); !notReplayed[strings.ToLower(name)] {
			r.header = append(r.header, [2]string{name, string(v)})
		}
	})
	if etag := res.Header.Peek(fiber.HeaderETag); len(etag) > 0 {
		r.etag = string(etag)
	} else {
		sum := sha256.Sum256(r.body)
		r.etag = `"` + hex.EncodeToString(sum[:16]) + `"`
	}
	return r
}

// respCache holds kept answers up to a number of bytes, dropping the least recently used.
type respCache struct {
	mu      sync.Mutex
	lru     *simplelru.LRU[string, *keptResponse]
	bytes   int64
	max     int64
	group   singleflight.Group
	lookups *prometheus.CounterVec
	// The lookups' counters by result, resolved once: they are counted on every request.
	hit, miss, shared, bypass prometheus.Counter
}

func newRespCache(maxBytes int64) *respCache {
	rc := &respCache{
		max: maxBytes,
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "safegrid_response_cache_lookups_total",
			Help: "Requests to kept routes: hit (a kept answer was sent), shared (waited for another request's answer), miss (made and kept), bypass (not kept).",
		}, []string{"result"}),
	}
	rc.hit, rc.miss = rc.lookups.WithLabelValues("hit"), rc.lookups.WithLabelValues("miss")
	rc.shared, rc.bypass = rc.lookups.WithLabelValues("shared"), rc.lookups.WithLabelValues("bypass")
	// The LRU is bounded by bytes below; its entry bound only has to be out of the way.
	rc.lru, _ = simplelru.NewLRU(1<<30, func(_ string, r *keptResponse) { rc.bytes -= r.size() })
	return rc
}

func (rc *respCache) collectors() []prometheus.Collector {
	return []prometheus.Collector{rc.lookups,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "safegrid_response_cache_bytes", Help: "Bytes of kept answers.",
		}, func() float64 {
			rc.mu.Lock()
			defer rc.mu.Unlock()
			return float64(rc.bytes)
		}),
	}
}

func (rc *respCache) get(key string) *keptResponse {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	r, _ := rc.lru.Get(key)
	return r
}

// put keeps r unless it would take more than an eighth of the cache.
func (rc *respCache) put(key string, r *keptResponse) {
	r.keyLen = len(key) // the key is held too, and its URL is the client's to make long
	size := r.size()
	if size > rc.max/8 {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if old, ok := rc.lru.Peek(key); ok {
		rc.bytes -= old.size()
	}
	rc.lru.Add(key, r)
	rc.bytes += size
	for rc.bytes > rc.max {
		rc.lru.RemoveOldest()
	}
}

// scopeKey names what a caller may see: callers with equal keys get equal answers.
func scopeKey(p *grid.Principal) string {
	switch {
	case p == nil:
		return "public"
	case p.Role == grid.RoleAdmin || p.Role == grid.RolePlanner:
		return p.Role
	case p.Role == grid.RoleDistrict:
		return "district:" + p.DistrictCode
	case p.Role == grid.RoleStreet:
		return "street:" + p.StreetCode
	default:
		return p.Role + ":" + strconv.FormatInt(p.UserID, 10)
	}
}

// keep is the middleware of a route with Operation.Keep; tables names the tables the
// answer is read from (nil: all).
func (s *Server) keep(tables func(c *fiber.Ctx) []string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		rc := s.kept
		if rc == nil || c.Method() != fiber.MethodGet {
			return c.Next()
		}
		v, _ := c.Locals(versionsKey).(grid.Versions) // read with the bearer token
		if v.Counts == nil {
			var err error
			if v, err = s.store.DataVersions(c.UserContext()); err != nil {
				return err
			}
		}
		vk, ok := v.Key(tables(c)...)
		if !ok {
			rc.bypass.Inc()
			return c.Next()
		}
		// The link base (the public URL, or a trusted proxy's forwarded host) is in the key
		// because answers such as TileJSON carry absolute links.
		key := scopeKey(principal(c)) + "\n" + s.linkBase(c) + c.OriginalURL() + "\n" + vk + "\n" + v.Today
		inm := c.Get(fiber.HeaderIfNoneMatch)
		if r := rc.get(key); r != nil {
			rc.hit.Inc()
			return r.send(c, inm)
		}
		inm = strings.Clone(inm) // the request's header buffer is about to change
		var leader bool
		var handlerErr error
		res, _, _ := rc.group.Do(key, func() (any, error) {
			leader = true
			// The handler makes the whole answer; If-None-Match is applied to it below.
			c.Request().Header.Del(fiber.HeaderIfNoneMatch)
			if handlerErr = c.Next(); handlerErr != nil {
				return (*keptResponse)(nil), nil
			}
			r := captured(c)
			if r != nil {
				rc.put(key, r)
			}
			return r, nil
		})
		r, _ := res.(*keptResponse)
		switch {
		case leader && handlerErr != nil:
			return handlerErr
		case leader && r == nil:
			rc.bypass.Inc()
			return nil // the handler's own answer, as it wrote it
		case leader:
			rc.miss.Inc()
			return r.send(c, inm)
		case r == nil:
			// The request this one waited for did not make a keepable answer (an error, a
			// refusal, a cancelled client): make this one's own.
			rc.bypass.Inc()
			return c.Next()
		default:
			rc.shared.Inc()
			return r.send(c, inm)
		}
	}
}
