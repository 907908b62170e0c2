package api

import (
	"container/list"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
	if err := checkCredentials(user, pass); err != nil {
		return nil, Problem(fiber.StatusUnauthorized, "", "malformed Basic credentials: "+err.Error())
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
	addr := c.IP()
	if wait := s.logins.retryAfter(user, addr); wait > 0 {
		return nil, tooManyLogins(wait)
	}
	p, err := s.store.CheckPassword(c.UserContext(), user, pass)
	if errors.Is(err, grid.ErrBadCredentials) {
		s.logins.fail(user, addr)
	}
	if err != nil {
		return nil, err
	}
	s.basic.put(user, pass, p)
	return p, nil
}

// usernameRule is the users table's CHECK on a username (migrations/00001_schema.sql).
var usernameRule = regexp.MustCompile(`^[A-Za-z0-9_.-]{2,64}$`)

// maxPasswordLen bounds a password a client sends (bytes), before bcrypt sees it.
const maxPasswordLen = 256

// checkCredentials refuses, before anything is looked up, counted, stored or logged, a
// username no account can have and a password no account can have been given (a NUL,
// bytes that are not UTF-8, longer than maxPasswordLen).
func checkCredentials(user, pass string) error {
	if !usernameRule.MatchString(user) {
		return errors.New("the username must be 2 to 64 letters, digits, '_', '.' or '-'")
	}
	if len(pass) > maxPasswordLen || !utf8.ValidString(pass) || strings.ContainsRune(pass, 0) {
		return fmt.Errorf("the password must be UTF-8 text of at most %d bytes without NUL", maxPasswordLen)
	}
	return nil
}

func tooManyLogins(wait time.Duration) error {
	p := newProblem(fiber.StatusTooManyRequests, "", "too many failed sign-ins for this user or from this address; wait and try again")
	p.retryAfter = int(math.Ceil(wait.Seconds()))
	return p
}

// limiter counts failed sign-ins in fixed windows that start at the first failure: per
// username and client address (LoginAttempts, so one user's typos lock only that user,
// from that address) and per address alone (addrFactor × LoginAttempts, so a spray of
// distinct usernames from one address is stopped too). Both tables are LRUs of at most
// limiterEntries keys, so a flood of names or addresses cannot grow memory without end;
// an evicted entry only forgets failures. It lives in the process: one service instance
// per city, and a restart forgetting the counts is harmless.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	names  *lruWindows // username + "\x00" + address
	addrs  *lruWindows // address
}

const (
	// addrFactor × LoginAttempts failures from one address in a window, whatever the
	// usernames, block that address.
	addrFactor = 10
	// limiterEntries bounds each table of the limiter.
	limiterEntries = 10000
)

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, now: time.Now, names: newLRUWindows(limiterEntries), addrs: newLRUWindows(limiterEntries)}
}

// retryAfter is how long user at addr must wait before trying again; zero when they may
// try now.
func (l *limiter) retryAfter(user, addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	wait := l.names.wait(user+"\x00"+addr, l.max, l.window, now)
	return max(wait, l.addrs.wait(addr, addrFactor*l.max, l.window, now))
}

func (l *limiter) fail(user, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.names.fail(user+"\x00"+addr, l.window, now)
	l.addrs.fail(addr, l.window, now)
}

// reset forgets user's failures from addr after a good sign-in; the address's own count
// stays, so knowing one password does not reopen a spray.
func (l *limiter) reset(user, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names.remove(user + "\x00" + addr)
}

// size is the number of keys the limiter holds, for tests.
func (l *limiter) size() (names, addrs int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.names.ll.Len(), l.addrs.ll.Len()
}

// lruWindows are failure windows by key, the least recently failed evicted first.
type lruWindows struct {
	cap int
	ll  *list.List // of *failWindow, most recent first
	m   map[string]*list.Element
}

type failWindow struct {
	key   string
	start time.Time
	n     int
}

func newLRUWindows(n int) *lruWindows {
	return &lruWindows{cap: n, ll: list.New(), m: map[string]*list.Element{}}
}

func (c *lruWindows) wait(key string, most int, window time.Duration, now time.Time) time.Duration {
	e := c.m[key]
	if e == nil {
		return 0
	}
	w := e.Value.(*failWindow)
	if w.n < most {
		return 0
	}
	return max(w.start.Add(window).Sub(now), 0)
}

func (c *lruWindows) fail(key string, window time.Duration, now time.Time) {
	if e := c.m[key]; e != nil {
		w := e.Value.(*failWindow)
		if now.Sub(w.start) >= window {
			w.start, w.n = now, 0
		}
		w.n++
		c.ll.MoveToFront(e)
		return
	}
	for c.ll.Len() >= c.cap {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*failWindow).key)
	}
	c.m[key] = c.ll.PushFront(&failWindow{key: key, start: now, n: 1})
}

func (c *lruWindows) remove(key string) {
	if e := c.m[key]; e != nil {
		c.ll.Remove(e)
		delete(c.m, key)
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
