package api

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Absolute links (OGC API links, TileJSON tile templates) are written on the configured
// public URL. A request's Host, X-Forwarded-Host and X-Forwarded-Proto change them only
// when the request comes from a trusted proxy (Config.TrustedProxies): anyone else could
// otherwise point a client, or a kept answer served to others, at a host of their choice.

// publicBase is Config.PublicURL taken apart once.
type publicBase struct {
	scheme, host, prefix string // prefix: the path under which the service is served, no trailing /
}

func (b publicBase) String() string { return b.scheme + "://" + b.host + b.prefix }

// Validate reports what in the configuration cannot work: a public URL that is not an
// absolute http(s) URL, a trusted proxy that is neither an address nor a CIDR range, a
// ProxyHeader with no proxy to believe it from.
func (c Config) Validate() error {
	var errs []error
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("public URL %q: %w", c.PublicURL, err))
		case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
			errs = append(errs, fmt.Errorf("public URL %q: want http(s)://host[:port][/path]", c.PublicURL))
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			errs = append(errs, fmt.Errorf("public URL %q: no user, query or fragment", c.PublicURL))
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(p); err != nil {
			errs = append(errs, fmt.Errorf("trusted proxy %q: neither an IP address nor a CIDR range", p))
		}
	}
	if c.ProxyHeader != "" && len(c.TrustedProxies) == 0 {
		errs = append(errs, errors.New("a proxy header is read only from trusted proxies: give their addresses (--trusted-proxies)"))
	}
	return errors.Join(errs...)
}

// publicBase is PublicURL, or http://<Listen> when it is empty or unusable (Validate
// says so before New).
func (c Config) publicBase() publicBase {
	if u, err := url.Parse(c.PublicURL); err == nil && c.PublicURL != "" && u.Host != "" {
		return publicBase{scheme: u.Scheme, host: u.Host, prefix: strings.TrimRight(u.EscapedPath(), "/")}
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return publicBase{scheme: "http", host: c.Listen}
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return publicBase{scheme: "http", host: net.JoinHostPort(host, port)}
}

// linkBase is the base of the absolute links in the answer to c: the public URL, with
// the scheme and host a trusted proxy forwarded in place of its own.
func (s *Server) linkBase(c *fiber.Ctx) string {
	b := s.public
	if !c.IsProxyTrusted() {
		return b.String()
	}
	if h := firstValue(c.Get(fiber.HeaderXForwardedHost)); h != "" && validHost(h) {
		b.host = h
	}
	if p := strings.ToLower(firstValue(c.Get(fiber.HeaderXForwardedProto))); p == "http" || p == "https" {
		b.scheme = p
	}
	return b.String()
}

func firstValue(h string) string {
	if i := strings.IndexByte(h, ','); i >= 0 {
		h = h[:i]
	}
	return strings.TrimSpace(h)
}

// validHost keeps even a trusted proxy's host to host[:port], so a link cannot be given
// a path, a user or a second scheme.
func validHost(h string) bool {
	u, err := url.Parse("http://" + h)
	return err == nil && u.Host == h && u.User == nil && u.Path == "" && u.RawQuery == "" && u.Fragment == ""
}
