package httpui

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/daemon/host"
	"github.com/roy/roy-procwatch/daemon/procs"
)

// The handler is driven through ServeHTTP with this Host: nothing binds
// 127.0.0.1:8088. Tests that need a real socket use httptest.NewServer
// (a free port).
const (
	testHost  = "127.0.0.1:8088"
	testToken = "6f1d2c3b4a5968778695a4b3c2d1e0f06f1d2c3b4a5968778695a4b3c2d1e0f0"
)

var (
	coreOnce sync.Once
	coreVal  *procs.Service
	coreErr  error
)

// realCore is one real core for the package (New reads all of /proc).
func realCore(t *testing.T) *procs.Service {
	t.Helper()
	coreOnce.Do(func() {
		coreVal, coreErr = procs.New(procs.Options{
			Host:           host.New(host.Options{Logger: quiet()}),
			SnapshotTTL:    time.Nanosecond,
			RestartTimeout: 2 * time.Second,
			Logger:         quiet(),
		})
	})
	if coreErr != nil {
		t.Fatal(coreErr)
	}
	return coreVal
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// countingCore wraps a core and counts calls, to prove a guard stopped a
// request before any handler ran.
type countingCore struct {
	Core
	calls atomic.Int64
}

func (c *countingCore) List(ctx context.Context, cl procs.Caller, o procs.ListOptions) ([]procs.Process, error) {
	c.calls.Add(1)
	return c.Core.List(ctx, cl, o)
}
func (c *countingCore) Get(ctx context.Context, cl procs.Caller, tg procs.Target) (procs.Detail, error) {
	c.calls.Add(1)
	return c.Core.Get(ctx, cl, tg)
}
func (c *countingCore) Signal(ctx context.Context, cl procs.Caller, tg procs.Target, n string) (string, error) {
	c.calls.Add(1)
	return c.Core.Signal(ctx, cl, tg, n)
}
func (c *countingCore) Renice(ctx context.Context, cl procs.Caller, tg procs.Target, n int) error {
	c.calls.Add(1)
	return c.Core.Renice(ctx, cl, tg, n)
}
func (c *countingCore) Restart(ctx context.Context, cl procs.Caller, tg procs.Target) (procs.RestartResult, error) {
	c.calls.Add(1)
	return c.Core.Restart(ctx, cl, tg)
}

func (c *countingCore) System(ctx context.Context) (host.System, error) {
	c.calls.Add(1)
	return c.host().System(ctx)
}
func (c *countingCore) SystemHistory(ctx context.Context, since time.Time) (host.History, error) {
	c.calls.Add(1)
	return c.host().SystemHistory(ctx, since)
}
func (c *countingCore) ProcessHistory(ctx context.Context, cl procs.Caller, tg procs.Target) (host.ProcessSeries, error) {
	c.calls.Add(1)
	return c.host().ProcessHistory(ctx, cl, tg)
}

// host is the wrapped core's host overview; a fake core without one
// answers every call with an error.
func (c *countingCore) host() HostOverview {
	if ho, ok := c.Core.(HostOverview); ok {
		return ho
	}
	return noHost{}
}

type noHost struct{}

func (noHost) System(context.Context) (host.System, error) { return host.System{}, errNoHost }
func (noHost) SystemHistory(context.Context, time.Time) (host.History, error) {
	return host.History{}, errNoHost
}
func (noHost) ProcessHistory(context.Context, procs.Caller, procs.Target) (host.ProcessSeries, error) {
	return host.ProcessSeries{}, errNoHost
}

var errNoHost = errors.New("no host overview in this fake core")

// newHandler is the handler over a fake core (the HTTP layer alone),
// counting the calls that reach it.
func newHandler(t *testing.T, opts Options) (*Handler, *countingCore) {
	t.Helper()
	return handlerOver(t, &actionCore{}, opts)
}

// newRealHandler is the handler over the real core, for the tests of how
// real /proc data is encoded.
func newRealHandler(t *testing.T, opts Options) (*Handler, *countingCore) {
	t.Helper()
	return handlerOver(t, realCore(t), opts)
}

func handlerOver(t *testing.T, core Core, opts Options) (*Handler, *countingCore) {
	t.Helper()
	cc := &countingCore{Core: core}
	if opts.Token == "" {
		opts.Token = testToken
	}
	if opts.ListenAddrs == nil {
		opts.ListenAddrs = []string{testHost}
	}
	opts.Logger = quiet()
	return New(cc, opts), cc
}

type req struct {
	method, path, body string
	host               string            // default testHost; "-" for empty
	hdr                map[string]string // extra headers
	noToken            bool
}

// do sends one request through ServeHTTP and checks what must hold for
// every response: security headers, no CORS, no-store on the API, and a
// JSON error body on API errors.
func do(t *testing.T, h http.Handler, r req) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	if r.method == "" {
		r.method = http.MethodGet
	}
	hr := httptest.NewRequest(r.method, "http://"+testHost+r.path, body)
	switch r.host {
	case "":
		hr.Host = testHost
	case "-":
		hr.Host = ""
	default:
		hr.Host = r.host
	}
	if r.method == http.MethodPost {
		hr.Header.Set("Content-Type", "application/json")
	}
	if !r.noToken {
		hr.Header.Set("X-Auth-Token", testToken)
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, hr)
	checkEveryResponse(t, r.method+" "+r.path, w.Result())
	return w
}

func checkEveryResponse(t *testing.T, what string, res *http.Response) {
	t.Helper()
	hd := res.Header
	csp := hd.Get("Content-Security-Policy")
	if csp == "" || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") ||
		!strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		!strings.Contains(csp, "object-src 'none'") {
		t.Errorf("%s: CSP %q", what, csp)
	}
	for k, v := range map[string]string{
		"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
	} {
		if hd.Get(k) != v {
			t.Errorf("%s: %s = %q, want %q", what, k, hd.Get(k), v)
		}
	}
	for k := range hd {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("%s: CORS header %s: %q", what, k, hd.Get(k))
		}
	}
	if hd.Get("Set-Cookie") != "" {
		t.Errorf("%s: sets a cookie", what)
	}
	if strings.Contains(what, " /api/") && hd.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control = %q, want no-store", what, hd.Get("Cache-Control"))
	}
	// Errors are JSON, except the static file server's own 404.
	if res.StatusCode >= 400 && (strings.Contains(what, " /api/") || res.StatusCode != 404) {
		if ct := hd.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: error %d with Content-Type %q, want JSON", what, res.StatusCode, ct)
			return
		}
		var e map[string]any
		b, _ := io.ReadAll(res.Body)
		if err := json.Unmarshal(b, &e); err != nil {
			t.Errorf("%s: error body is not JSON: %q", what, b)
		} else if msg, ok := e["error"].(string); !ok || msg == "" {
			t.Errorf("%s: error body without an error message: %q", what, b)
		}
		if strings.Contains(string(b), testToken) {
			t.Errorf("%s: error body echoes the token", what)
		}
	}
}

func decode(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("body is not a JSON object: %q", w.Body.String())
	}
	return m
}

func wantStatus(t *testing.T, w *httptest.ResponseRecorder, code int) {
	t.Helper()
	if w.Code != code {
		t.Fatalf("status %d, want %d; body %s", w.Code, code, w.Body.String())
	}
}
