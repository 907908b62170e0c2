package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
)

// principal is the signed-in caller of the request; nil only on AuthPublic routes.
func principal(c *fiber.Ctx) *grid.Principal {
	p, _ := c.Locals(principalKey).(*grid.Principal)
	return p
}

// requireRole lets the request through only when the caller has one of roles: 401 when
// nobody is signed in, 403 otherwise. Operation.Roles adds it for you; use it directly
// only on routes that are not registered through s.route.
func requireRole(roles ...string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p := principal(c)
		if p == nil {
			return Problem(fiber.StatusUnauthorized, "", "sign in first")
		}
		if !p.HasRole(roles...) {
			return Problem(fiber.StatusForbidden, "", fmt.Sprintf("this needs the role %s; you are signed in as %s", strings.Join(roles, " or "), p.Role))
		}
		return c.Next()
	}
}

// authenticate requires a signed-in caller and puts them where principal(c) finds them.
// Bearer tokens always work; with basic, so do HTTP Basic credentials (the same users and
// scope: QGIS 3.22 cannot send a bearer header). Operation.Auth mounts it; use it directly
// only outside s.route.
//
// With versions (a route whose answers are kept), a bearer token is checked in the same
// statement that reads the data versions, which it leaves for keep.
func (s *Server) authenticate(basic, versions bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, err := s.caller(c, basic, versions)
		if err != nil {
			if toProblem(c.UserContext(), err).Status == fiber.StatusUnauthorized {
				c.Set(fiber.HeaderWWWAuthenticate, challenge(c, basic))
			}
			return err
		}
		c.Locals(principalKey, p)
		return c.Next()
	}
}

func (s *Server) caller(c *fiber.Ctx, basic, versions bool) (*grid.Principal, error) {
	scheme, cred, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Bearer") && cred != "" && versions && s.kept != nil:
		p, v, err := s.store.AuthenticateVersions(c.UserContext(), cred)
		if err == nil {
			c.Locals(versionsKey, v)
		}
		return p, err
	case strings.EqualFold(scheme, "Bearer") && cred != "":
		return s.store.Authenticate(c.UserContext(), cred)
	case basic && strings.EqualFold(scheme, "Basic"):
		return s.basicAuth(c, cred)
	case scheme == "":
		return nil, Problem(fiber.StatusUnauthorized, "", "sign in: send Authorization: Bearer TOKEN (POST /api/v1/auth/login returns one)")
	default:
		return nil, Problem(fiber.StatusUnauthorized, "", "unsupported Authorization scheme "+scheme)
	}
}

// challenge is the WWW-Authenticate of a 401. Basic is offered only when the client did
// not try a bearer token, so an expired token in the web map does not pop up a browser
// password dialog.
func challenge(c *fiber.Ctx, basic bool) string {
	bearer := strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderAuthorization)), "bearer ")
	if basic && !bearer {
		return `Basic realm="SafeGrid", charset="UTF-8"`
	}
	if bearer {
		return `Bearer realm="SafeGrid", error="invalid_token"`
	}
	return `Bearer realm="SafeGrid"`
}

// basicAuth checks HTTP Basic credentials. bcrypt takes tens of milliseconds and QGIS
// sends a burst of tile requests with the same credentials, so good credentials are
// remembered for a minute; failures count towards the login rate limit. Remembered
// credentials are still checked against the user's row on every request
// (grid.Store.Recheck, one indexed read): a user disabled or removed, or whose password
// changed, is refused on the very next request, and a new role or street applies at once.
func (s *Server) basicAuth(c *fiber.Ctx, cred string) (*grid.Principal, error) {
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return nil, Problem(fiber.StatusUnauthorized, "", "malformed Basic credentials")
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil, Problem(fiber.StatusUnauthorized, "", "malformed Basic credentials")
	}
	if p := s.basic.get(user, pass); p != nil {
		now, err := s.store.Recheck(c.UserContext(), p)
		if err == nil {
			return now, nil
		}
		if !errors.Is(err, grid.ErrBadCredentials) {
			return nil, err
		}
		s.basic.drop(user, pass) // and check the password afresh: it may be the new one
	}
	key := user + "\x00" + c.IP()
	if wait := s.logins.retryAfter(key); wait > 0 {
		return nil, tooManyLogins(wait)
	}
	p, err := s.store.CheckPassword(c.UserContext(), user, pass)
	if errors.Is(err, grid.ErrBadCredentials) {
		s.logins.fail(key)
	}
	if err != nil {
		return nil, err
	}
	s.basic.put(user, pass, p)
	return p, nil
}

func tooManyLogins(wait time.Duration) error {
	p := newProblem(fiber.StatusTooManyRequests, "", "too many failed sign-ins for this user from this address; wait and try again")
	p.retryAfter = int(math.Ceil(wait.Seconds()))
	return p
}

// limiter counts failed sign-ins per key (username and client address) in a fixed window
// that starts at the first failure. It lives in the process: one service instance per
// city, and a restart forgetting the counts is harmless.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	fails  map[string]*failWindow
}

type failWindow struct {
	start time.Time
	n     int
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, now: time.Now, fails: map[string]*failWindow{}}
}

// retryAfter is how long key must wait before trying again; zero when it may try now.
func (l *limiter) retryAfter(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.fails[key]
	if w == nil || w.n < l.max {
		return 0
	}
	left := w.start.Add(l.window).Sub(l.now())
	return max(left, 0)
}

func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.fails) > 10000 {
		l.sweep(now) // keeps a spray of usernames from growing the map without end
	}
	w := l.fails[key]
	if w == nil || now.Sub(w.start) >= l.window {
		w = &failWindow{start: now}
		l.fails[key] = w
	}
	w.n++
}

func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}

func (l *limiter) sweep(now time.Time) {
	for k, w := range l.fails {
		if now.Sub(w.start) >= l.window {
			delete(l.fails, k)
		}
	}
}

// basicCache remembers good Basic credentials for ttl. Keys are an HMAC of user and
// password under a per-process random key, so the map holds no passwords.
type basicCache struct {
	mu     sync.Mutex
	secret []byte
	ttl    time.Duration
	m      map[[32]byte]basicEntry
}

type basicEntry struct {
	p       grid.Principal
	expires time.Time
}

func newBasicCache(ttl time.Duration) *basicCache {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	return &basicCache{secret: secret, ttl: ttl, m: map[[32]byte]basicEntry{}}
}

func (b *basicCache) key(user, pass string) [32]byte {
	h := hmac.New(sha256.New, b.secret)
	h.Write([]byte(user))
	h.Write([]byte{0})
	h.Write([]byte(pass))
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

func (b *basicCache) get(user, pass string) *grid.Principal {
	k := b.key(user, pass)
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[k]
	if !ok || time.Now().After(e.expires) {
		return nil
	}
	p := e.p
	return &p
}

func (b *basicCache) drop(user, pass string) {
	k := b.key(user, pass)
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, k)
}

func (b *basicCache) put(user, pass string, p *grid.Principal) {
	k := b.key(user, pass)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.m) > 1000 {
		now := time.Now()
		for k, e := range b.m {
			if now.After(e.expires) {
				delete(b.m, k)
			}
		}
	}
	b.m[k] = basicEntry{p: *p, expires: time.Now().Add(b.ttl)}
}
