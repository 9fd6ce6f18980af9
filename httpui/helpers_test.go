package httpui

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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

// countingCore wraps the real core and counts calls, to prove a guard
// stopped a request before any handler ran.
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

func newHandler(t *testing.T, opts Options) (*Handler, *countingCore) {
	t.Helper()
	cc := &countingCore{Core: realCore(t)}
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

// --- real child processes ---

type child struct {
	cmd  *exec.Cmd
	pid  int
	once sync.Once
	done chan struct{}
}

func (c *child) wait() {
	c.once.Do(func() { _ = c.cmd.Wait(); close(c.done) })
	<-c.done
}

func startChild(t *testing.T, cmd *exec.Cmd) *child {
	t.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = cmd.Process.Kill()
			c.wait()
		}
	})
	waitExec(t, c.pid)
	return c
}

func sleeper(t *testing.T) *child {
	t.Helper()
	return startChild(t, exec.Command("sleep", "3600"))
}

// deadPID returns the PID and create_time of a process that has just
// exited and been reaped. Requests that could harm a process name it with
// the create_time: were the PID reused meanwhile, they get 409, not a victim.
func deadPID(t *testing.T) (int, float64) {
	t.Helper()
	c := sleeper(t)
	d, err := realCore(t).Get(context.Background(), procs.Caller{Privileged: true}, procs.Target{PID: c.pid})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Process.Kill()
	c.wait()
	return c.pid, d.CreateTime
}

func stateOf(pid int) byte {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func killPID(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	_, _ = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 5000)
}

// waitExec waits until pid has finished exec: the kernel fills
// /proc/PID/cmdline only late in execve, after the close-on-exec pipe that
// makes exec.Cmd.Start return, so a fresh child can briefly show an empty
// command line (measured: 17 of 300 reads right after Start).
func waitExec(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil || len(b) > 0 {
			return // gone (the caller will see it) or exec done
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d never finished exec", pid)
		}
		time.Sleep(time.Millisecond)
	}
}
