package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"safegrid/grid"
	"safegrid/grid/notify"
	"safegrid/grid/testdb"
)

// receiver is a real local webhook receiver: it checks each POST's signature, keeps every
// copy it got, and dedupes on the Idempotency-Key as a receiver should.
type receiver struct {
	*httptest.Server
	secret string
	mu     sync.Mutex
	copies []string          // Idempotency-Key of every request, in arrival order
	bodies map[string][]byte // first body per key
	hold   chan struct{}     // when set, a request waits for it to close (a slow receiver)
	status func(n int) int   // the answer to the n-th request (1-based); 200 when nil
	got    chan string       // each arrival's key, when set
	bad    []string          // requests whose signature did not match
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{secret: secret, bodies: map[string][]byte{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		key := req.Header.Get(notify.HeaderIdempotency)
		r.mu.Lock()
		if req.Header.Get(notify.HeaderSignature) != notify.Sign(r.secret, body) {
			r.bad = append(r.bad, key)
		}
		r.copies = append(r.copies, key)
		n := len(r.copies)
		if _, seen := r.bodies[key]; !seen {
			r.bodies[key] = body
		}
		hold, status, got := r.hold, r.status, r.got
		r.mu.Unlock()
		if got != nil {
			got <- key
		}
		if hold != nil {
			<-hold
		}
		code := 200
		if status != nil {
			code = status(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) snapshot() (copies []string, unique int, bad []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.copies), len(r.bodies), slices.Clone(r.bad)
}

func fastOptions() notify.Options {
	return notify.Options{AllowPrivate: true, Timeout: 5 * time.Second, Lease: 6 * time.Second,
		BackoffBase: 10 * time.Millisecond, BackoffMax: 40 * time.Millisecond, MaxFailures: 3, Workers: 4, Batch: 5}
}

func newService(t *testing.T, st *grid.Store) *notify.Service {
	s := notify.New(st)
	s.Options = fastOptions()
	return s
}

// addHook saves a webhook for street testdb.WestStreet pointing at url.
func addHook(t *testing.T, s *notify.Service, url, secret string) *notify.Webhook {
	t.Helper()
	kind, code, name := grid.RecipientStreet, testdb.WestStreet, "west"
	w, got, err := s.CreateWebhook(context.Background(), "admin", notify.WebhookInput{Name: &name, URL: &url, Secret: &secret, ScopeKind: &kind, ScopeCode: &code})
	if err != nil {
		t.Fatal(err)
	}
	if got != secret {
		t.Fatalf("secret %q, want %q", got, secret)
	}
	return w
}

// queue puts n messages for the west street in the outbox.
func queue(t *testing.T, st *grid.Store, prefix string, n int) {
	t.Helper()
	for i := range n {
		m := grid.Message{Key: fmt.Sprintf("%s/%d", prefix, i), Kind: "test", Title: fmt.Sprintf("消息 %d", i), Street: testdb.WestStreet}
		if k, err := st.Notify(context.Background(), nil, m, grid.Recipient{Kind: grid.RecipientStreet, Code: testdb.WestStreet}); err != nil || k != 1 {
			t.Fatalf("notify: %d %v", k, err)
		}
	}
}

func drain(t *testing.T, s *notify.Service) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.FanOut(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Deliver(ctx); err != nil {
		t.Fatal(err)
	}
}

const secret = "0123456789abcdef-secret"

// TestWebhookSignedAndInApp: a message to a street reaches each of the street's users in
// the app once, and its webhook once, signed, with the documented body; queuing the same
// message again and running again sends nothing more.
func TestWebhookSignedAndInApp(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	ctx := context.Background()
	s := newService(t, st)
	rcv := newReceiver(t, secret)
	addHook(t, s, rcv.URL+"/hook", secret)
	var users []int64
	for _, name := range []string{"sta1", "sta2"} {
		id, err := st.AddUser(ctx, "test", grid.User{Username: name, Role: grid.RoleStreet, StreetCode: testdb.WestStreet}, "password-"+name)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, id)
	}
	other, err := st.AddUser(ctx, "test", grid.User{Username: "stb", Role: grid.RoleStreet, StreetCode: testdb.EastStreet}, "password-stb")
	if err != nil {
		t.Fatal(err)
	}
	m := grid.Message{Key: "hazard/1/due_3d", Kind: "due_3d", Title: "隐患到期", Body: "b", Street: testdb.WestStreet, District: "310104", Data: map[string]any{"x": 1}}
	to := grid.Recipient{Kind: grid.RecipientStreet, Code: testdb.WestStreet}
	if n, err := st.Notify(ctx, nil, m, to); err != nil || n != 1 {
		t.Fatalf("notify: %d %v", n, err)
	}
	drain(t, s)
	if n, err := st.Notify(ctx, nil, m, to); err != nil || n != 0 {
		t.Fatalf("the same message again: %d %v, want 0 new", n, err)
	}
	drain(t, s)
	copies, unique, bad := rcv.snapshot()
	if len(copies) != 1 || unique != 1 || len(bad) != 0 {
		t.Fatalf("receiver got %v (%d unique, bad signatures %v), want one signed copy", copies, unique, bad)
	}
	var p notify.Payload
	if err := json.Unmarshal(rcv.bodies[copies[0]], &p); err != nil {
		t.Fatal(err)
	}
	if p.Delivery != copies[0] || p.Key != m.Key || p.Kind != "due_3d" || p.Title != m.Title || p.Recipient != (notify.PayloadTo{Kind: "street", Code: testdb.WestStreet}) ||
		string(p.Data) != `{"x":1}` || !strings.HasSuffix(p.CreatedAt, "Z") {
		t.Errorf("payload %+v", p)
	}
	for _, u := range users {
		list, total, unread, err := s.Inbox(ctx, u, false, 10, 0)
		if err != nil || total != 1 || unread != 1 || len(list) != 1 || list[0].Key != m.Key || list[0].ReadAt != nil {
			t.Errorf("user %d inbox %+v total %d unread %d %v", u, list, total, unread, err)
		}
	}
	if _, total, _, _ := s.Inbox(ctx, other, false, 10, 0); total != 0 {
		t.Errorf("the other street's user got %d notifications", total)
	}
}

// TestWebhookRetriesThenDisabled: failures are retried with back-off and logged; after
// MaxFailures consecutive failures the webhook is disabled (audited) and its deliveries
// wait, not lost; once re-enabled they are delivered.
func TestWebhookRetriesThenDisabled(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	ctx := context.Background()
	s := newService(t, st)
	rcv := newReceiver(t, secret)
	rcv.status = func(int) int { return 503 }
	w := addHook(t, s, rcv.URL, secret)
	queue(t, st, "m", 1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		drain(t, s)
		got, err := s.Webhook(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.DisabledAt != nil {
			if got.ConsecutiveFailures != 3 || !strings.Contains(got.DisabledReason, "HTTP 503") || got.Pending != 1 {
				t.Fatalf("disabled webhook %+v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook was never disabled")
		}
		time.Sleep(15 * time.Millisecond)
	}
	copies, _, _ := rcv.snapshot()
	if len(copies) != 3 || copies[0] != copies[2] {
		t.Fatalf("attempts %v: want 3 copies with one idempotency key", copies)
	}
	// Disabled: nothing more is sent, however often the scheduler runs.
	time.Sleep(60 * time.Millisecond)
	drain(t, s)
	if c, _, _ := rcv.snapshot(); len(c) != 3 {
		t.Fatalf("a disabled webhook got %d requests", len(c))
	}
	log, total, err := s.Attempts(ctx, w.ID, 10, 0)
	if err != nil || total != 3 || log[0].Attempt != 3 || *log[0].StatusCode != 503 || log[0].Delivered {
		t.Fatalf("delivery log %+v %d %v", log, total, err)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'webhook_disabled' AND object_id = $1`, fmt.Sprint(w.ID)); n != 1 {
		t.Errorf("webhook_disabled audited %d times", n)
	}
	rcv.mu.Lock()
	rcv.status = nil
	rcv.mu.Unlock()
	if _, err := s.EnableWebhook(ctx, "admin", w.ID); err != nil {
		t.Fatal(err)
	}
	drain(t, s)
	got, _ := s.Webhook(ctx, w.ID)
	copies, unique, _ := rcv.snapshot()
	if len(copies) != 4 || unique != 1 || got.Pending != 0 || got.ConsecutiveFailures != 0 || got.DisabledAt != nil {
		t.Fatalf("after enabling: copies %v, webhook %+v", copies, got)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE action IN ('webhook_add', 'webhook_enable') AND object_kind = 'webhook'`); n != 2 {
		t.Errorf("webhook writes audited: %d records, want 2", n)
	}
}

// TestRestartMidDelivery: the scheduler is stopped while the receiver is slow with the
// first deliveries; a new scheduler (a restarted service) delivers everything. Each
// message is recorded delivered exactly once (one 2xx attempt, nothing pending); the
// receiver sees the interrupted ones a second time, with the same Idempotency-Key, so after
// deduping on it each message arrived exactly once; nothing is sent after that.
func TestRestartMidDelivery(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	rcv := newReceiver(t, secret)
	rcv.hold = make(chan struct{})
	rcv.got = make(chan string, 100)
	addHook(t, newService(t, st), rcv.URL, secret)
	queue(t, st, "r", 8)

	ctx, stop := context.WithCancel(context.Background())
	first := &notify.Scheduler{Service: newService(t, st), Interval: 20 * time.Millisecond, Rules: notify.DefaultRules()}
	done := make(chan struct{})
	go func() { first.Run(ctx); close(done) }()
	<-rcv.got // a request is in flight and held
	stop()
	<-done
	// A request the sender gave up on may still be read by the receiver just after: let
	// those arrive before counting what was in flight.
	time.Sleep(200 * time.Millisecond)
	close(rcv.hold)
	rcv.mu.Lock()
	rcv.hold, rcv.got = nil, nil
	rcv.mu.Unlock()
	interrupted, _, _ := rcv.snapshot()
	if len(interrupted) == 0 {
		t.Fatal("nothing was in flight at the stop")
	}

	// The restarted service: its own store (pool) on the same database.
	st2, err := grid.Open(context.Background(), testdb.URL(t, st))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	second := &notify.Scheduler{Service: newService(t, st2), Rules: notify.DefaultRules()}
	for range 3 {
		if err := second.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	copies, unique, bad := rcv.snapshot()
	if unique != 8 || len(bad) != 0 {
		t.Fatalf("receiver: %d unique of %d copies (bad %v), want 8", unique, len(copies), bad)
	}
	for _, k := range interrupted {
		if n := countOf(copies, k); n != 2 {
			t.Errorf("interrupted key %s arrived %d times, want 2 (once cut off, once delivered)", k, n)
		}
	}
	if extra := len(copies) - 8; extra != len(interrupted) {
		t.Errorf("%d copies beyond one per message, want %d (only the interrupted ones)", extra, len(interrupted))
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NULL`); n != 0 {
		t.Errorf("%d deliveries left", n)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM webhook_attempts WHERE status_code BETWEEN 200 AND 299 GROUP BY delivery_id HAVING count(*) > 1 UNION ALL SELECT 0 LIMIT 1`); n != 0 {
		t.Errorf("a delivery recorded %d successful attempts", n)
	}
	// Restarted again: nothing is sent twice.
	if err := second.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again, _, _ := rcv.snapshot(); len(again) != len(copies) {
		t.Errorf("a further run sent %d more", len(again)-len(copies))
	}
}

// TestCrashAfterSend: the sender dies after the receiver answered but before it recorded
// the delivery (its pool is gone). The delivery's lease runs out and another instance
// sends it again with the same Idempotency-Key: the receiver dedupes it.
func TestCrashAfterSend(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	rcv := newReceiver(t, secret)
	rcv.hold = make(chan struct{})
	rcv.got = make(chan string, 10)
	addHook(t, newService(t, st), rcv.URL, secret)
	queue(t, st, "c", 1)
	crashing, err := grid.Open(context.Background(), testdb.URL(t, st))
	if err != nil {
		t.Fatal(err)
	}
	a := newService(t, crashing)
	a.Options.Lease, a.Options.Timeout = 1500*time.Millisecond, time.Second
	if _, err := a.FanOut(context.Background()); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, _, err := a.Deliver(context.Background()); errc <- err }()
	key := <-rcv.got
	crashing.Close() // the process is gone: nothing it does reaches the database
	close(rcv.hold)
	if err := <-errc; err == nil {
		t.Fatal("the crashed sender recorded its delivery")
	}
	rcv.mu.Lock()
	rcv.hold, rcv.got = nil, nil
	rcv.mu.Unlock()
	b := newService(t, st)
	if _, _, err := b.Deliver(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := rcv.snapshot(); len(c) != 1 {
		t.Fatalf("resent while the crashed sender's lease held: %v", c)
	}
	time.Sleep(1600 * time.Millisecond)
	if _, _, err := b.Deliver(context.Background()); err != nil {
		t.Fatal(err)
	}
	copies, unique, _ := rcv.snapshot()
	if len(copies) != 2 || copies[1] != key || unique != 1 {
		t.Fatalf("copies %v (unique %d): want the same key twice", copies, unique)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NOT NULL AND attempts = 2`); n != 1 {
		t.Errorf("delivered after 2 attempts: %d rows", n)
	}
}

// TestTwoInstances: two schedulers on one database, each with its own pool, run together
// over 40 messages: every message is delivered once, and no copy is sent twice.
func TestTwoInstances(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	rcv := newReceiver(t, secret)
	addHook(t, newService(t, st), rcv.URL, secret)
	queue(t, st, "two", 40)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	for range 2 {
		other, err := grid.Open(ctx, testdb.URL(t, st))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		sc := &notify.Scheduler{Service: newService(t, other), Interval: 5 * time.Millisecond, Rules: notify.DefaultRules()}
		wg.Add(1)
		go func() { defer wg.Done(); sc.Run(ctx) }()
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, unique, _ := rcv.snapshot(); unique == 40 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a double send would have arrived by now
	stop()
	wg.Wait()
	copies, unique, _ := rcv.snapshot()
	if unique != 40 || len(copies) != 40 {
		t.Fatalf("%d copies of %d messages, want 40 of 40", len(copies), unique)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM webhook_attempts`); n != 40 {
		t.Errorf("%d attempts, want 40", n)
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}
