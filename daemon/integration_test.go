package main

// Integration tests: the real roy-procwatchd binary, built once by TestMain,
// run standalone and socket-activated (by systemd-socket-activate and by
// passing the fd ourselves), driven over HTTP against real child processes.
// Every port is a free one; nothing binds 127.0.0.1:8088. Every process a
// test starts is killed at cleanup.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/internal/testproc"
)

var daemonBin string // built by TestMain

func TestMain(m *testing.M) {
	testproc.RunHelperIfAsked()
	// Orphans of the daemon (a relaunched child outliving it) come back to
	// us rather than to PID 1, so cleanup can reap them.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	dir, err := os.MkdirTemp("", "roy-procwatchd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	daemonBin = filepath.Join(dir, "roy-procwatchd")
	var race []string
	if raceEnabled {
		race = append(race, "-race") // find data races in the daemon too
	}
	if err := testproc.BuildDaemon(daemonBin, race...); err != nil {
		fmt.Fprintln(os.Stderr, "building the daemon:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// --- the daemon under test ---

type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *testproc.SyncBuffer
	stderr *testproc.SyncBuffer
	addr   string // host:port it serves
	token  string
	exited chan struct{}
	err    error // from Wait, once exited
}

// baseEnv isolates the daemon from the machine's settings and from ours.
func baseEnv(t *testing.T, extra ...string) []string {
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"ROY_PROCWATCH_BUS=none",
		"ROY_PROCWATCH_HOST=127.0.0.1",
		// Never the default 8088 (callers may override with a later entry).
		"ROY_PROCWATCH_PORT=" + strconv.Itoa(testproc.FreePort(t)),
		"ROY_PROCWATCH_IDLE_EXIT=0",
		"ROY_PROCWATCH_REQUIRE_SOCKET=false",
		"ROY_PROCWATCH_TOKEN_FILE=" + filepath.Join(t.TempDir(), "no-token-file"),
		"ROY_PROCWATCH_READ_TOKEN_FILE=" + filepath.Join(t.TempDir(), "no-read-token-file"),
		"ROY_PROCWATCH_SNAPSHOT_TTL=1ms",
		"ROY_PROCWATCH_RESTART_TIMEOUT=5s",
		"ROY_PROCWATCH_LOG_LEVEL=info",
		// Set, even empty, so our own environment cannot change them.
		"ROY_PROCWATCH_ALLOWED_HOSTS=",
		"ROY_PROCWATCH_SIGNALS=TERM,KILL,INT,HUP,STOP,CONT,QUIT,USR1,USR2",
		"GORACE=halt_on_error=1",
	}
	return append(env, extra...)
}

// start runs cmd as a daemon under test; it is killed at cleanup, and its
// output is logged when the test fails.
func start(t *testing.T, cmd *exec.Cmd, addr, token string) *daemon {
	t.Helper()
	d := &daemon{t: t, cmd: cmd, stdout: &testproc.SyncBuffer{}, stderr: &testproc.SyncBuffer{}, addr: addr, token: token, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = d.stdout, d.stderr
	if cmd.Dir == "" {
		cmd.Dir = t.TempDir() // no stray .env
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			_ = cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			t.Logf("daemon stdout:\n%s\ndaemon stderr:\n%s", d.stdout, d.stderr)
		}
		if strings.Contains(d.stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("data race in the daemon:\n%s", d.stderr)
		}
	})
	return d
}

func startStandalone(t *testing.T, extraEnv ...string) *daemon {
	t.Helper()
	port := testproc.FreePort(t)
	token := "itest-" + strconv.Itoa(port) + "-0123456789abcdef0123456789abcdef"
	env := baseEnv(t, append([]string{"ROY_PROCWATCH_PORT=" + strconv.Itoa(port), "ROY_PROCWATCH_TOKEN=" + token}, extraEnv...)...)
	cmd := exec.Command(daemonBin)
	cmd.Env = env
	d := start(t, cmd, "127.0.0.1:"+strconv.Itoa(port), token)
	d.waitReady()
	return d
}

// waitExit waits for the daemon to exit and returns its exit code.
func (d *daemon) waitExit(timeout time.Duration) int {
	d.t.Helper()
	select {
	case <-d.exited:
	case <-time.After(timeout):
		d.t.Fatalf("daemon did not exit within %v\nstderr:\n%s", timeout, d.stderr)
	}
	if d.err == nil {
		return 0
	}
	if ee, ok := d.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	d.t.Fatalf("wait: %v", d.err)
	return -1
}

var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// call makes one API request and returns the status and decoded body.
func (d *daemon) call(method, path, body, token string) (int, map[string]any) {
	d.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+d.addr+path, rd)
	if err != nil {
		d.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v\nstderr:\n%s", method, path, err, d.stderr)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &m); err != nil {
			d.t.Fatalf("%s %s: bad JSON %q", method, path, b)
		}
	}
	return res.StatusCode, m
}

func (d *daemon) api(method, path, body string) (int, map[string]any) {
	d.t.Helper()
	return d.call(method, path, body, d.token)
}

func (d *daemon) waitReady() {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-d.exited:
			d.t.Fatalf("daemon exited early (%v)\nstdout:\n%s\nstderr:\n%s", d.err, d.stdout, d.stderr)
		default:
		}
		c, err := net.DialTimeout("tcp", d.addr, time.Second)
		if err == nil {
			c.Close()
			if code, m := d.call("GET", "/api/health", "", ""); code == 200 && m["status"] == "ok" {
				return
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("daemon not ready on %s\nstderr:\n%s", d.addr, d.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor polls cond for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testproc.PollEvery(t, 15*time.Second, 10*time.Millisecond, what, cond)
}

// passedSocket is a loopback listener as systemd passes it: the listener
// and its file, for cmd.ExtraFiles, both closed at cleanup.
func passedSocket(t *testing.T) (net.Listener, *os.File) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return ln, f
}

// --- children ---

// reapLater kills (through a pidfd) and reaps a process the daemon
// started, at cleanup.
func reapLater(t *testing.T, pid int) {
	t.Cleanup(func() {
		testproc.KillPID(pid)
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil) // ours if it was orphaned to us
	})
}

func procCmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return string(b)
}

// --- tests ---

func TestStandalone(t *testing.T) {
	d := startStandalone(t)
	waitFor(t, "the console line", func() bool { return strings.HasSuffix(d.stdout.String(), "\n") })
	if line := strings.TrimSpace(d.stdout.String()); line != "[Roy ProcWatch] Running on http://"+d.addr+"  (token: from ROY_PROCWATCH_TOKEN)" {
		t.Errorf("console line %q", line)
	}
	if code, _ := d.call("GET", "/api/processes", "", ""); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code, _ := d.call("GET", "/api/processes", "", d.token+"x"); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	code, m := d.api("GET", "/api/processes?q=roy-procwatchd", "")
	if code != 200 {
		t.Fatalf("list: %d %v", code, m)
	}
	// The daemon lists itself, with its own listening port.
	found := false
	for _, it := range m["items"].([]any) {
		p := it.(map[string]any)
		if int(p["pid"].(float64)) == d.cmd.Process.Pid {
			for _, pt := range p["ports"].([]any) {
				if pt.(map[string]any)["local"] == d.addr && pt.(map[string]any)["status"] == "LISTEN" {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf("the daemon (pid %d) is not listed with its port %s: %v", d.cmd.Process.Pid, d.addr, m)
	}
	// Its own PID is protected.
	if code, m := d.api("POST", "/api/process/"+strconv.Itoa(d.cmd.Process.Pid)+"/signal", `{"signal":"TERM"}`); code != 403 {
		t.Errorf("signal to the daemon itself: %d %v", code, m)
	}
	// Rebound Host refused on the real listener too.
	req, _ := http.NewRequest("GET", "http://"+d.addr+"/api/processes", nil)
	req.Host = "evil.example:" + strings.Split(d.addr, ":")[1]
	req.Header.Set("X-Auth-Token", d.token)
	if res, err := client.Do(req); err != nil || res.StatusCode != 421 {
		t.Errorf("rebound Host: %v %v", res, err)
	}
	if strings.Contains(d.stderr.String(), d.token) || strings.Contains(d.stdout.String(), d.token) {
		t.Error("a token from the environment was logged or printed")
	}
	// SIGTERM: a clean exit.
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	if code := d.waitExit(30 * time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM: %d", code)
	}
}

func TestStandaloneGeneratedToken(t *testing.T) {
	port := testproc.FreePort(t)
	cmd := exec.Command(daemonBin)
	cmd.Env = baseEnv(t, "ROY_PROCWATCH_PORT="+strconv.Itoa(port))
	d := start(t, cmd, "127.0.0.1:"+strconv.Itoa(port), "")
	var line string
	waitFor(t, "the console line", func() bool {
		line = d.stdout.String()
		return strings.HasSuffix(line, "\n")
	})
	re := regexp.MustCompile(`^\[Roy ProcWatch\] Running on http://127\.0\.0\.1:(\d+)  \(token: ([0-9a-f]{64})\)\n$`)
	sub := re.FindStringSubmatch(line)
	if sub == nil || sub[1] != strconv.Itoa(port) {
		t.Fatalf("console line %q does not match the documented one (README.md)", line)
	}
	d.token = sub[2]
	d.waitReady()
	if code, m := d.api("GET", "/api/processes?q=zzz-nothing", ""); code != 200 || m["count"] != float64(0) {
		t.Errorf("generated token: %d %v", code, m)
	}
	if strings.Contains(d.stderr.String(), d.token) {
		t.Error("the generated token is in the logs (printed once on stdout only)")
	}
	// A second daemon generates another token.
	port2 := testproc.FreePort(t)
	cmd2 := exec.Command(daemonBin)
	cmd2.Env = baseEnv(t, "ROY_PROCWATCH_PORT="+strconv.Itoa(port2))
	d2 := start(t, cmd2, "127.0.0.1:"+strconv.Itoa(port2), "")
	d2.waitReady()
	if strings.Contains(d2.stdout.String(), d.token) {
		t.Error("two daemons generated the same token")
	}
}

func TestSocketActivation(t *testing.T) {
	token := "socket-activated-token-0123456789abcdef"
	check := func(t *testing.T, d *daemon) {
		t.Helper()
		d.waitReady()
		if code, m := d.api("GET", "/api/processes?q=zzz-nothing", ""); code != 200 {
			t.Errorf("list: %d %v", code, m)
		}
		if d.stdout.String() != "" {
			t.Errorf("socket-activated daemon printed %q (the token line is standalone only)", d.stdout)
		}
		if !strings.Contains(d.stderr.String(), "socket_activated=true") {
			t.Errorf("log does not say socket_activated=true:\n%s", d.stderr)
		}
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		if code := d.waitExit(30 * time.Second); code != 0 {
			t.Errorf("exit code %d", code)
		}
	}

	t.Run("systemd-socket-activate", func(t *testing.T) {
		ssa, err := exec.LookPath("systemd-socket-activate")
		if err != nil {
			t.Skip("systemd-socket-activate not installed (Debian package systemd)")
		}
		port := testproc.FreePort(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		args := []string{"-l", addr}
		for _, kv := range baseEnv(t, "ROY_PROCWATCH_TOKEN="+token, "ROY_PROCWATCH_REQUIRE_SOCKET=true",
			// The standalone port is taken by us: a daemon that listened
			// itself instead of using the passed socket would fail.
			"ROY_PROCWATCH_PORT=1") {
			args = append(args, "-E", kv)
		}
		cmd := exec.Command(ssa, append(args, daemonBin)...)
		d := start(t, cmd, addr, token)
		check(t, d)
	})

	t.Run("ExtraFiles and LISTEN_PID", func(t *testing.T) {
		ln, f := passedSocket(t)
		cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0"`, daemonBin)
		cmd.Env = baseEnv(t, "LISTEN_FDS=1", "LISTEN_FDNAMES=roy-procwatch.socket", "ROY_PROCWATCH_TOKEN="+token,
			"ROY_PROCWATCH_REQUIRE_SOCKET=true", "ROY_PROCWATCH_PORT=1")
		cmd.ExtraFiles = []*os.File{f} // fd 3
		d := start(t, cmd, ln.Addr().String(), token)
		check(t, d)
	})
}

// TestStartupErrors (E4): a wrong socket hand-over is a clear error, never
// a silent fallback to listening itself.
func TestStartupErrors(t *testing.T) {
	_, f := passedSocket(t)
	tests := []struct {
		name  string
		shell string // run through sh -c, "$0" is the daemon
		env   []string
		files []*os.File
		want  string // in stderr
	}{
		{"LISTEN_PID of another process", `exec "$0"`, []string{"LISTEN_FDS=1", "LISTEN_PID=1"}, []*os.File{f}, "LISTEN_PID"},
		{"LISTEN_PID garbage", `exec "$0"`, []string{"LISTEN_FDS=1", "LISTEN_PID=abc"}, []*os.File{f}, "LISTEN_PID"},
		{"LISTEN_FDS without LISTEN_PID", `exec "$0"`, []string{"LISTEN_FDS=1"}, []*os.File{f}, "LISTEN_PID"},
		{"LISTEN_FDS=0", `LISTEN_PID=$$ exec "$0"`, []string{"LISTEN_FDS=0"}, nil, "socket"},
		{"require socket without LISTEN_FDS", `exec "$0"`, []string{"ROY_PROCWATCH_REQUIRE_SOCKET=true"}, nil, "ROY_PROCWATCH_REQUIRE_SOCKET"},
		{"bad port", `exec "$0"`, []string{"ROY_PROCWATCH_PORT=99999"}, nil, "ROY_PROCWATCH_PORT"},
		{"bad idle exit", `exec "$0"`, []string{"ROY_PROCWATCH_IDLE_EXIT=soon"}, nil, "ROY_PROCWATCH_IDLE_EXIT"},
		{"bad signal list", `exec "$0"`, []string{"ROY_PROCWATCH_SIGNALS=TERM,NOPE"}, nil, "NOPE"},
		{"bad metrics top", `exec "$0"`, []string{"ROY_PROCWATCH_METRICS_TOP=-1"}, nil, "ROY_PROCWATCH_METRICS_TOP"},
		{"bad listen series cap", `exec "$0"`, []string{"ROY_PROCWATCH_METRICS_MAX_LISTEN_SERIES=lots"}, nil, "ROY_PROCWATCH_METRICS_MAX_LISTEN_SERIES"},
		{"read token equal to the token", `exec "$0"`, []string{"ROY_PROCWATCH_READ_TOKEN=t0ken"}, nil, "is the admin token"},
		{"service without a token", `LISTEN_PID=$$ exec "$0"`, []string{"LISTEN_FDS=1"}, []*os.File{f}, "no token"},
		{"token file unreadable as a service", `LISTEN_PID=$$ exec "$0"`, []string{"LISTEN_FDS=1", "ROY_PROCWATCH_TOKEN_FILE=/proc/self/mem"}, []*os.File{f}, "cannot read the token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			port := testproc.FreePort(t)
			cmd := exec.Command("sh", "-c", tc.shell, daemonBin)
			cmd.Env = baseEnv(t, append([]string{"ROY_PROCWATCH_PORT=" + strconv.Itoa(port), "ROY_PROCWATCH_TOKEN=t0ken"}, tc.env...)...)
			if strings.Contains(tc.name, "as a service") || strings.Contains(tc.name, "without a token") {
				cmd.Env = baseEnv(t, tc.env...)
			}
			cmd.ExtraFiles = tc.files
			d := start(t, cmd, "127.0.0.1:"+strconv.Itoa(port), "")
			if code := d.waitExit(30 * time.Second); code == 0 {
				t.Errorf("exit code 0, want non-zero")
			}
			if !strings.Contains(d.stderr.String(), tc.want) {
				t.Errorf("stderr does not mention %q:\n%s", tc.want, d.stderr)
			}
			if c, err := net.DialTimeout("tcp", d.addr, time.Second); err == nil {
				c.Close()
				t.Errorf("something listens on the standalone address %s", d.addr)
			}
		})
	}
}

// TestIdleExit: socket-activated with ROY_PROCWATCH_IDLE_EXIT=1s, the daemon
// exits 0 once idle; a client that connects while no daemon runs is queued
// on the socket (held by "systemd", here the test) and served by the next
// instance: nothing is lost.
func TestIdleExit(t *testing.T) {
	ln, f := passedSocket(t)
	token := "idle-exit-token-0123456789abcdef"
	run := func() *daemon {
		cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0"`, daemonBin)
		cmd.Env = baseEnv(t, "LISTEN_FDS=1", "ROY_PROCWATCH_TOKEN="+token, "ROY_PROCWATCH_IDLE_EXIT=1s")
		cmd.ExtraFiles = []*os.File{f}
		return start(t, cmd, ln.Addr().String(), token)
	}
	d := run()
	d.waitReady()
	if code, _ := d.api("GET", "/api/signals", ""); code != 200 {
		t.Fatalf("request: %d", code)
	}
	if code := d.waitExit(20 * time.Second); code != 0 {
		t.Fatalf("idle exit code %d", code)
	}
	if !strings.Contains(d.stderr.String(), "reason=idle") {
		t.Errorf("log does not say it stopped for idleness:\n%s", d.stderr)
	}

	// No daemon now. A request sent now waits in the socket's backlog.
	type result struct {
		code int
		err  error
	}
	got := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/signals", nil)
		req.Header.Set("X-Auth-Token", token)
		res, err := client.Do(req)
		if err != nil {
			got <- result{err: err}
			return
		}
		res.Body.Close()
		got <- result{code: res.StatusCode}
	}()
	select {
	case r := <-got:
		t.Fatalf("request answered with no daemon running: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	d2 := run()
	select {
	case r := <-got:
		if r.err != nil || r.code != 200 {
			t.Fatalf("queued request: %+v", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the queued request was never served")
	}
	_ = d2.cmd.Process.Signal(syscall.SIGTERM)
	d2.waitExit(30 * time.Second)
}

// TestSIGTERMDuringRequest (F5): a restart in flight when SIGTERM arrives
// completes and is answered; then the daemon exits 0.
func TestSIGTERMDuringRequest(t *testing.T) {
	d := startStandalone(t, "ROY_PROCWATCH_RESTART_TIMEOUT=2s")
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", "trap '' TERM; while :; do sleep 1; done", "ignores-term")
	cmd.Dir = dir
	c := testproc.Start(t, cmd).ReapInBackground()
	waitFor(t, "the trap", func() bool { return testproc.SigIgnored(c.PID, syscall.SIGTERM) })
	type result struct {
		code int
		m    map[string]any
	}
	got := make(chan result, 1)
	go func() {
		code, m := d.api("POST", "/api/process/"+strconv.Itoa(c.PID)+"/restart", "")
		got <- result{code, m}
	}()
	// In flight: the daemon has logged the relaunch and waits for the
	// process to stop (it ignores TERM, so for the 2 s timeout).
	waitFor(t, "the relaunch to start", func() bool { return strings.Contains(d.stderr.String(), "relaunch: stopping process") })
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	var r result
	select {
	case r = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("in-flight restart never answered")
	}
	if r.code != 200 || r.m["ok"] != true {
		t.Fatalf("in-flight restart: %d %v", r.code, r.m)
	}
	newPID := int(r.m["new_pid"].(float64))
	reapLater(t, newPID)
	<-c.Done()
	if ws := c.Cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("old process ended with %v, want SIGKILL after the timeout", c.Cmd.ProcessState)
	}
	if code := d.waitExit(30 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if st := testproc.StateOf(newPID); st == 0 || st == 'Z' || st == 'X' {
		t.Errorf("the relaunched process %d did not survive the daemon's exit (state %q)", newPID, st)
	}
}

// TestSIGTERMWithAcceptedConnection: a connection the daemon accepted
// before SIGTERM, whose request arrives after, is still answered (net/http's
// Shutdown alone closes it unanswered: a request lost on every upgrade's
// try-restart).
func TestSIGTERMWithAcceptedConnection(t *testing.T) {
	ln, f := passedSocket(t)
	token := "accepted-conn-token-0123456789abcdef"
	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0"`, daemonBin)
	cmd.Env = baseEnv(t, "LISTEN_FDS=1", "ROY_PROCWATCH_TOKEN="+token)
	cmd.ExtraFiles = []*os.File{f}
	d := start(t, cmd, ln.Addr().String(), token)
	d.waitReady()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Stop the daemon once it has accepted the connection: the shared
	// listening socket's accept queue (TCP_INFO's unacked, for a listener)
	// is empty again.
	// (Through SyscallConn: f.Fd() would make the shared socket blocking,
	// and the daemon's accept could then never be interrupted.)
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the daemon to accept the connection", func() bool {
		queued := uint32(1)
		_ = rc.Control(func(fd uintptr) {
			if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				queued = info.Unacked
			}
		})
		return queued == 0
	})
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	if _, err := fmt.Fprintf(conn, "GET /api/health HTTP/1.1\r\nHost: %s\r\n\r\n", ln.Addr().String()); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("request on a connection accepted before SIGTERM: %v (want an answer)", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("status %d, want 200", res.StatusCode)
	}
	if code := d.waitExit(20 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

func TestSIGHUPReloadsToken(t *testing.T) {
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte("first-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testproc.FreePort(t)
	cmd := exec.Command(daemonBin)
	cmd.Env = baseEnv(t, "ROY_PROCWATCH_PORT="+strconv.Itoa(port), "ROY_PROCWATCH_TOKEN_FILE="+tokFile)
	d := start(t, cmd, "127.0.0.1:"+strconv.Itoa(port), "first-token-0123456789abcdef")
	d.waitReady()
	if code, _ := d.api("GET", "/api/signals", ""); code != 200 {
		t.Fatalf("first token: %d", code)
	}
	waitFor(t, "the console line", func() bool { return strings.HasSuffix(d.stdout.String(), "\n") })
	if !strings.Contains(d.stdout.String(), "(token: from "+tokFile+")") {
		t.Errorf("console line %q", d.stdout)
	}
	if err := os.WriteFile(tokFile, []byte("second-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool { return strings.Contains(d.stderr.String(), "token reloaded") })
	if code, _ := d.call("GET", "/api/signals", "", "second-token-0123456789abcdef"); code != 200 {
		t.Errorf("new token after SIGHUP: %d", code)
	}
	if code, _ := d.call("GET", "/api/signals", "", "first-token-0123456789abcdef"); code != 401 {
		t.Errorf("old token after SIGHUP: %d", code)
	}
	// A broken file on reload keeps the current token.
	if err := os.WriteFile(tokFile, []byte("  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the failed reload", func() bool { return strings.Contains(d.stderr.String(), "token reload failed") })
	if code, _ := d.call("GET", "/api/signals", "", "second-token-0123456789abcdef"); code != 200 {
		t.Errorf("token after a failed reload: %d", code)
	}
	if strings.Contains(d.stderr.String(), "second-token") || strings.Contains(d.stderr.String(), "first-token") {
		t.Error("a token is in the logs")
	}
	select {
	case <-d.exited:
		t.Errorf("SIGHUP stopped the daemon: %v", d.err)
	default:
	}
}

// listed returns the /api/processes item of pid.
func listed(t *testing.T, d *daemon, pid int) map[string]any {
	t.Helper()
	code, m := d.api("GET", "/api/processes?q="+strconv.Itoa(pid), "")
	if code != 200 {
		t.Fatalf("list: %d %v", code, m)
	}
	for _, it := range m["items"].([]any) {
		p := it.(map[string]any)
		if int(p["pid"].(float64)) == pid {
			return p
		}
	}
	return nil
}

type portJSON struct{ local, remote, status, family string }

func portsOf(p map[string]any) []portJSON {
	var out []portJSON
	for _, x := range p["ports"].([]any) {
		pt := x.(map[string]any)
		r := "null"
		if s, ok := pt["remote"].(string); ok {
			r = s
		}
		out = append(out, portJSON{pt["local"].(string), r, pt["status"].(string), pt["family"].(string)})
	}
	return out
}

func TestAPIWithRealChildren(t *testing.T) {
	d := startStandalone(t)
	t.Run("ports", func(t *testing.T) {
		srv := testproc.Helper(t, "listen4").ReapInBackground()
		v6 := testproc.Helper(t, "listen6").ReapInBackground()
		cli := testproc.Helper(t, "connect", testproc.HelperAddrEnv+"="+srv.Line).ReapInBackground()
		want := map[int][]portJSON{
			srv.PID: {{srv.Line, "null", "LISTEN", "AddressFamily.AF_INET"}, {srv.Line, cli.Line, "ESTABLISHED", "AddressFamily.AF_INET"}},
			cli.PID: {{cli.Line, srv.Line, "ESTABLISHED", "AddressFamily.AF_INET"}},
			v6.PID:  {{v6.Line, "null", "LISTEN", "AddressFamily.AF_INET6"}},
		}
		for pid, w := range want {
			var got []portJSON
			waitFor(t, fmt.Sprintf("ports of %d", pid), func() bool {
				p := listed(t, d, pid)
				if p == nil {
					return false
				}
				got = portsOf(p)
				return len(got) == len(w)
			})
			slices.SortFunc(got, func(a, b portJSON) int { return strings.Compare(a.status, b.status) })
			slices.SortFunc(w, func(a, b portJSON) int { return strings.Compare(a.status, b.status) })
			if !slices.Equal(got, w) {
				t.Errorf("pid %d ports %v, want %v", pid, got, w)
			}
		}
	})
	t.Run("signals", func(t *testing.T) {
		c := testproc.Sleeper(t).ReapInBackground()
		pid := strconv.Itoa(c.PID)
		for _, step := range []struct {
			sig   string
			state byte
		}{{"STOP", 'T'}, {"CONT", 'S'}, {"SIGSTOP", 'T'}, {"cont", 'S'}} {
			code, m := d.api("POST", "/api/process/"+pid+"/signal", `{"signal":"`+step.sig+`"}`)
			if code != 200 || m["ok"] != true || m["pid"] != float64(c.PID) {
				t.Fatalf("signal %s: %d %v", step.sig, code, m)
			}
			waitFor(t, "state "+string(step.state), func() bool { return testproc.StateOf(c.PID) == step.state })
			if p := listed(t, d, c.PID); p == nil || (step.state == 'T') != (p["status"] == "stopped") {
				t.Errorf("after %s listed as %v", step.sig, p["status"])
			}
		}
		if code, _ := d.api("POST", "/api/process/"+pid+"/signal", `{"signal":"TERM"}`); code != 200 {
			t.Fatal(code)
		}
		<-c.Done()
		if ws := c.Cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signal() != syscall.SIGTERM {
			t.Errorf("after TERM: %v", c.Cmd.ProcessState)
		}
		if code, m := d.api("POST", "/api/process/"+pid+"/signal", `{"signal":"CONT"}`); code != 404 {
			t.Errorf("signal to the exited child: %d %v", code, m)
		}
		k := testproc.Sleeper(t).ReapInBackground()
		if code, _ := d.api("POST", "/api/process/"+strconv.Itoa(k.PID)+"/signal", `{"signal":"KILL"}`); code != 200 {
			t.Fatal(code)
		}
		<-k.Done()
		if ws := k.Cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signal() != syscall.SIGKILL {
			t.Errorf("after KILL: %v", k.Cmd.ProcessState)
		}
	})
	t.Run("renice", func(t *testing.T) {
		c := testproc.Sleeper(t).ReapInBackground()
		values := []int{10, -5, 19, 0}
		if os.Geteuid() != 0 {
			values = []int{10, 19} // a daemon without CAP_SYS_NICE can only raise it
		}
		for _, n := range values {
			code, m := d.api("POST", "/api/process/"+strconv.Itoa(c.PID)+"/renice", `{"nice":`+strconv.Itoa(n)+`}`)
			if code != 200 || m["nice"] != float64(n) {
				t.Fatalf("renice %d: %d %v", n, code, m)
			}
			prio, err := unix.Getpriority(unix.PRIO_PROCESS, c.PID)
			if err != nil || 20-prio != n {
				t.Errorf("after renice %d: getpriority says nice %d (%v)", n, 20-prio, err)
			}
			if p := listed(t, d, c.PID); p == nil || p["nice"] != float64(n) {
				t.Errorf("after renice %d: listed %v", n, p)
			}
		}
		if code, _ := d.api("POST", "/api/process/"+strconv.Itoa(c.PID)+"/renice", `{"nice":99}`); code != 400 {
			t.Errorf("nice 99: %d", code)
		}
	})
	t.Run("restart", func(t *testing.T) {
		dir := t.TempDir()
		cmd := exec.Command("sleep", "3602")
		cmd.Dir = dir
		c := testproc.Start(t, cmd).ReapInBackground()
		before := listed(t, d, c.PID)
		code, m := d.api("POST", "/api/process/"+strconv.Itoa(c.PID)+"/restart",
			fmt.Sprintf(`{"create_time":%v}`, before["create_time"]))
		if code != 200 || m["ok"] != true || m["old_pid"] != float64(c.PID) {
			t.Fatalf("restart: %d %v", code, m)
		}
		newPID := int(m["new_pid"].(float64))
		reapLater(t, newPID)
		testproc.WaitExec(t, newPID)
		if newPID == c.PID || m["how"] != "detached" {
			t.Errorf("restart result %v", m)
		}
		<-c.Done()
		after := listed(t, d, newPID)
		if after == nil {
			t.Fatalf("new pid %d not listed", newPID)
		}
		if fmt.Sprint(after["cmdline"]) != fmt.Sprint(before["cmdline"]) || fmt.Sprint(after["cmdline"]) != "[sleep 3602]" {
			t.Errorf("cmdline %v, was %v (new process listed as %v; /proc says %q)", after["cmdline"], before["cmdline"], after, procCmdline(newPID))
		}
		if cwd, _ := os.Readlink("/proc/" + strconv.Itoa(newPID) + "/cwd"); cwd != dir {
			t.Errorf("cwd %q, want %q", cwd, dir)
		}
		code, dm := d.api("GET", "/api/process/"+strconv.Itoa(newPID), "")
		if code != 200 || dm["cwd"] != dir {
			t.Errorf("detail of the new process: %d cwd %v", code, dm["cwd"])
		}
		// The old {pid, create_time} no longer names anything.
		if code, _ := d.api("POST", "/api/process/"+strconv.Itoa(c.PID)+"/signal",
			fmt.Sprintf(`{"signal":"KILL","create_time":%v}`, before["create_time"])); code != 404 && code != 409 {
			t.Errorf("stale target: %d", code)
		}
	})
}

// TestHelp: --help documents every ROY_PROCWATCH_* variable the code reads.
func TestHelp(t *testing.T) {
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, v := range regexp.MustCompile(`ROY_PROCWATCH_[A-Z_]+`).FindAllString(string(src), -1) {
		vars[v] = true
	}
	if len(vars) < 10 {
		t.Fatalf("found only %d variables in config.go", len(vars))
	}
	out, err := exec.Command(daemonBin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	for v := range vars {
		if !strings.Contains(string(out), v) {
			t.Errorf("--help does not document %s", v)
		}
	}
	cmd := exec.Command(daemonBin, "--no-such-flag")
	cmd.Env = baseEnv(t)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("an unknown flag was accepted:\n%s", out)
	}
}
