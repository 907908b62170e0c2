package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// forged are the headers an attacker sends to move the service's absolute links.
var forged = []string{"X-Forwarded-Host", "evil.example.net", "X-Forwarded-Proto", "https", "Host", "evil-host.example.net"}

// linksOf reads the OGC landing page's links and the areas TileJSON's tile template.
func linksOf(t *testing.T, ts *testServer, auth string, header ...string) []string {
	t.Helper()
	h := append([]string{"Authorization", auth}, header...)
	var hrefs []string
	resp, body := ts.do(t, "GET", "/ogc", "", h...)
	var landing ogcLanding
	if resp.StatusCode != 200 || json.Unmarshal(body, &landing) != nil {
		t.Fatalf("GET /ogc: %d %s", resp.StatusCode, body)
	}
	for _, l := range landing.Links {
		hrefs = append(hrefs, l.Href)
	}
	resp, body = ts.do(t, "GET", "/tiles/areas.json", "", h...)
	var tj tileJSON
	if resp.StatusCode != 200 || json.Unmarshal(body, &tj) != nil {
		t.Fatalf("GET /tiles/areas.json: %d %s", resp.StatusCode, body)
	}
	return append(hrefs, tj.Tiles...)
}

func allUnder(t *testing.T, what string, hrefs []string, base string) {
	t.Helper()
	if len(hrefs) < 3 {
		t.Fatalf("%s: only %v", what, hrefs)
	}
	for _, h := range hrefs {
		if !strings.HasPrefix(h, base+"/") {
			t.Errorf("%s: link %s is not under %s", what, h, base)
		}
	}
}

// An untrusted peer's Host and X-Forwarded-* never move the links off the public URL,
// also not in an answer kept for the next caller; a trusted proxy's are believed.
func TestLinksOnThePublicURL(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.PublicURL = "https://grid.example.org/safegrid/"
		c.TrustedProxies, c.ProxyHeader = nil, ""
	})
	ts.addUser(t, "adm", "admin", "")
	auth := ts.login(t, "adm")
	allUnder(t, "forged headers", linksOf(t, ts, auth, forged...), "https://grid.example.org/safegrid")
	allUnder(t, "plain request", linksOf(t, ts, auth), "https://grid.example.org/safegrid")

	trusted := newTestServer(t, func(c *Config) {
		c.PublicURL = "http://127.0.0.1:8080"
		c.TrustedProxies = []string{"0.0.0.0/32"} // app.Test's peer
	})
	trusted.addUser(t, "adm", "admin", "")
	auth = trusted.login(t, "adm")
	allUnder(t, "trusted proxy", linksOf(t, trusted, auth, "X-Forwarded-Host", "grid.example.org", "X-Forwarded-Proto", "https"), "https://grid.example.org")
	allUnder(t, "trusted proxy without forwarded headers", linksOf(t, trusted, auth, "Host", "other.example.net"), "http://127.0.0.1:8080")
	// Even a trusted proxy gives a host, not a path or a user.
	allUnder(t, "trusted proxy, bad host", linksOf(t, trusted, auth, "X-Forwarded-Host", "a@evil.example.net/x"), "http://127.0.0.1:8080")
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{PublicURL: "https://grid.example.org/sub", TrustedProxies: []string{"10.0.0.0/8", "::1"}, ProxyHeader: "X-Forwarded-For"}, true},
		{Config{PublicURL: "grid.example.org"}, false},
		{Config{PublicURL: "ftp://grid.example.org"}, false},
		{Config{PublicURL: "https://grid.example.org/?a=1"}, false},
		{Config{TrustedProxies: []string{"10.0.0/8"}}, false},
		{Config{ProxyHeader: "X-Forwarded-For"}, false}, // believed from no one: say so
	} {
		if err := c.cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: Validate() = %v", c.cfg, err)
		}
	}
	for listen, want := range map[string]string{"127.0.0.1:8080": "http://127.0.0.1:8080", ":9000": "http://127.0.0.1:9000",
		"0.0.0.0:80": "http://127.0.0.1:80", "[::]:8080": "http://127.0.0.1:8080", "10.1.2.3:8080": "http://10.1.2.3:8080"} {
		if got := (Config{Listen: listen}).publicBase().String(); got != want {
			t.Errorf("listen %s: public URL %s, want %s", listen, got, want)
		}
	}
}
