package api

import (
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"
)

// Request body limits per route. fasthttp reads a body before any handler runs, so the
// limit is chosen when the headers have arrived (fasthttp's HeaderReceived), from the
// method and path the router will see: a Content-Length over it is a 413 before one byte
// of the body is read, and a chunked body is cut off at the limit. Config.BodyLimit, the
// largest (fiber's BodyLimit), is for imports only, and only for requests that carry an
// Authorization header.
const (
	// loginBodyLimit holds a username and a password with room to spare.
	loginBodyLimit = 4 << 10
	// jsonBodyLimit is every other route's: a grid unit of 50,000 cells fits.
	jsonBodyLimit = 1 << 20
)

// bodyLimits chooses a request's body limit from the registered routes' Operation.BodyLimit.
type bodyLimits struct {
	def    int
	routes []limitedRoute
}

type limitedRoute struct {
	method string
	segs   []string // the route's path, split at "/"; ":name" matches any one segment
	limit  int
}

// newBodyLimits takes the routes' limits, none above most (Config.BodyLimit, which a small
// configured value lowers for every route).
func newBodyLimits(routes []routeSpec, most int) *bodyLimits {
	b := &bodyLimits{def: min(jsonBodyLimit, most)}
	for _, r := range routes {
		if l := min(r.op.BodyLimit, most); l > 0 && l != b.def {
			b.routes = append(b.routes, limitedRoute{method: r.method, segs: splitPath(strings.ToLower(r.path)), limit: l})
		}
	}
	return b
}

// splitPath splits a path as fiber routes it: case-insensitively (the caller lowers it)
// and with a trailing slash ignored (StrictRouting is off).
func splitPath(p string) []string {
	return strings.Split(strings.TrimSuffix(p, "/"), "/")
}

// limit is the body limit of a request with these headers. The path is the one fiber
// routes on: the raw path, not unescaped, lowered.
func (b *bodyLimits) limit(h *fasthttp.RequestHeader) int {
	var u fasthttp.URI
	if err := u.Parse(nil, h.RequestURI()); err != nil {
		return b.def
	}
	segs := splitPath(strings.ToLower(string(u.PathOriginal())))
	method := string(h.Method())
	for _, r := range b.routes {
		if r.method == method && matchSegs(r.segs, segs) {
			// A limit above the ordinary one (an import's) needs credentials in the
			// headers: a caller who sends none would be refused anyway, and must not make
			// the server hold tens of megabytes first. Whether they are valid is checked
			// after the body, as for every route.
			if r.limit > b.def && len(h.Peek(fasthttp.HeaderAuthorization)) == 0 {
				return b.def
			}
			return r.limit
		}
	}
	return b.def
}

func matchSegs(route, path []string) bool {
	if len(route) != len(path) {
		return false
	}
	for i, s := range route {
		if !strings.HasPrefix(s, ":") && s != path[i] {
			return false
		}
	}
	return true
}

// byteSize writes n bytes for people: 4 KB, 1 MB, 64 MB.
func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
