package dbusiface

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/roy/roy-procwatch/daemon/host"
	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/internal/testproc"
)

// nobody is the unprivileged uid the client runs as.
const nobody = 65534

// TestMain lets the test binary double as an unprivileged D-Bus client:
// the tests re-run it under setpriv with PW_TEST_CLIENT=1.
func TestMain(m *testing.M) {
	testproc.RunHelperIfAsked() // a detached relaunch re-executes this binary
	if os.Getenv("PW_TEST_CLIENT") == "1" {
		os.Exit(clientMain(os.Args[1:]))
	}
	testproc.RunHelperIfAsked() // target processes (testproc.Helper)
	os.Exit(m.Run())
}

// clientResult is what the client prints as one JSON line.
type clientResult struct {
	UID     int    `json:"uid"`
	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
	Body    []any  `json:"body,omitempty"`
	Millis  int64  `json:"ms"`
}

// clientMain: <op> [args]; the bus address is in PW_ADDR.
func clientMain(args []string) int {
	res := clientResult{UID: os.Getuid()}
	out := func() int {
		_ = json.NewEncoder(os.Stdout).Encode(res)
		return 0
	}
	conn, err := dbus.Connect(os.Getenv("PW_ADDR"))
	if err != nil {
		res.Error, res.Message = "connect", err.Error()
		return out()
	}
	defer conn.Close()
	obj := conn.Object(BusName, ObjectPath)
	num := func(i int) uint64 { n, _ := strconv.ParseUint(args[i], 10, 32); return n }
	start := time.Now()
	var call *dbus.Call
	switch args[0] {
	case "own":
		r, err := conn.RequestName(BusName, dbus.NameFlagDoNotQueue)
		if err != nil {
			setErr(&res, err)
		} else {
			res.Body = []any{uint32(r)}
		}
		return out()
	case "watch": // wait for one of our signals
		if err := conn.AddMatchSignal(dbus.WithMatchSender(BusName), dbus.WithMatchInterface(Interface)); err != nil {
			setErr(&res, err)
			return out()
		}
		ch := make(chan *dbus.Signal, 4)
		conn.Signal(ch)
		fmt.Println("ready")
		select {
		case s := <-ch:
			res.Message = s.Name
			for _, x := range s.Body {
				res.Body = append(res.Body, plain(x))
			}
		case <-time.After(10 * time.Second):
			res.Error = "timeout"
		}
		return out()
	case "flood", "flood-conns":
		// flood N: N concurrent Signal calls on one connection;
		// flood-conns N M: N connections × M concurrent calls each. Prints
		// the error names; with PW_FLOOD_HELD=K, it prints "answered" as
		// soon as all calls but K are answered (the test then releases
		// the K it holds at polkit).
		nc, m, pidArg := 1, 0, 2
		if args[0] == "flood" {
			m, _ = strconv.Atoi(args[1])
		} else {
			nc, _ = strconv.Atoi(args[1])
			m, _ = strconv.Atoi(args[2])
			pidArg = 3
		}
		held, _ := strconv.Atoi(os.Getenv("PW_FLOOD_HELD"))
		done := make(chan *dbus.Call, nc*m)
		for i := 0; i < nc; i++ {
			c := conn
			if i > 0 {
				if c, err = dbus.Connect(os.Getenv("PW_ADDR")); err != nil {
					res.Error, res.Message = "connect", err.Error()
					return out()
				}
				defer c.Close()
			}
			o := c.Object(BusName, ObjectPath)
			for j := 0; j < m; j++ {
				o.Go(Interface+".Signal", 0, done, uint32(num(pidArg)), "TERM")
			}
		}
		counts := map[string]int{}
		for i := 0; i < nc*m; i++ {
			counts[errorName(<-done)]++
			if held > 0 && i+1 == nc*m-held {
				fmt.Println("answered")
			}
		}
		res.Body = []any{counts}
		return out()
	case "list":
		call = obj.Call(Interface+".ListProcesses", 0, args[1], "pid", "asc")
	case "get":
		call = obj.Call(Interface+".GetProcess", 0, uint32(num(1)))
	case "system":
		call = obj.Call(Interface+".GetSystem", 0)
	case "signal":
		call = obj.Call(Interface+".Signal", 0, uint32(num(1)), args[2])
	case "signal-interactive":
		// godbus masks this flag in Object.Call: build the message.
		body := []any{uint32(num(1)), args[2]}
		msg := &dbus.Message{Type: dbus.TypeMethodCall, Flags: dbus.FlagAllowInteractiveAuthorization,
			Headers: map[dbus.HeaderField]dbus.Variant{
				dbus.FieldDestination: dbus.MakeVariant(BusName),
				dbus.FieldPath:        dbus.MakeVariant(ObjectPath),
				dbus.FieldInterface:   dbus.MakeVariant(Interface),
				dbus.FieldMember:      dbus.MakeVariant("Signal"),
				dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf(body...)),
			}, Body: body}
		call = <-conn.Send(msg, make(chan *dbus.Call, 1)).Done
	case "renice":
		n, _ := strconv.Atoi(args[2])
		call = obj.Call(Interface+".Renice", 0, uint32(num(1)), int32(n))
	case "restart":
		call = obj.Call(Interface+".Restart", 0, uint32(num(1)))
	case "signal-pidfd", "renice-pidfd", "restart-pidfd", "signal-pipe":
		// Name the process by a pidfd the client opens itself.
		var fd int
		if args[0] == "signal-pipe" {
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				res.Error, res.Message = "pipe", err.Error()
				return out()
			}
			fd = p[0]
		} else if fd, err = unix.PidfdOpen(int(num(1)), 0); err != nil {
			res.Error, res.Message = "pidfd_open", err.Error()
			return out()
		}
		switch args[0] {
		case "signal-pidfd", "signal-pipe":
			call = obj.Call(Interface+".SignalPIDFD", 0, dbus.UnixFD(fd), args[2])
		case "renice-pidfd":
			n, _ := strconv.Atoi(args[2])
			call = obj.Call(Interface+".RenicePIDFD", 0, dbus.UnixFD(fd), int32(n))
		default:
			call = obj.Call(Interface+".RestartPIDFD", 0, dbus.UnixFD(fd))
		}
	case "raw": // interface member
		call = obj.Call(args[1]+"."+args[2], 0)
	default:
		res.Error = "bad op " + args[0]
		return out()
	}
	res.Millis = time.Since(start).Milliseconds()
	if call.Err != nil {
		setErr(&res, call.Err)
	} else {
		for _, x := range call.Body {
			res.Body = append(res.Body, plain(x))
		}
	}
	return out()
}

// busLimitsExceeded counts the calls the bus daemon refused itself.
const busLimitsExceeded = "LimitsExceeded from the bus daemon"

// errorName is a call's answer: its error name, "ok" for none. A
// LimitsExceeded the bus daemon itself returned (its pending-replies
// limit), rather than the server, is named apart.
func errorName(c *dbus.Call) string {
	de, ok := c.Err.(dbus.Error)
	switch {
	case ok && de.Name == errLimitsExceeded && !strings.HasPrefix(fmt.Sprint(de.Body...), "too many calls in progress"):
		return busLimitsExceeded
	case ok:
		return de.Name
	case c.Err != nil:
		return c.Err.Error()
	}
	return "ok"
}

// plain unwraps variants so that the body can be printed as JSON.
func plain(x any) any {
	switch x := x.(type) {
	case dbus.Variant:
		return plain(x.Value())
	case map[string]dbus.Variant:
		m := map[string]any{}
		for k, v := range x {
			m[k] = plain(v.Value())
		}
		return m
	case []map[string]dbus.Variant:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = plain(e)
		}
		return l
	}
	return x
}

func setErr(res *clientResult, err error) {
	if de, ok := err.(dbus.Error); ok {
		res.Error = de.Name
		if len(de.Body) > 0 {
			res.Message, _ = de.Body[0].(string)
		}
		return
	}
	res.Error, res.Message = "go", err.Error()
}

// testBus is a private system-like bus with the server on it.
type testBus struct {
	t      *testing.T
	dir    string
	addr   string
	client string // test binary copy, executable by nobody
	svc    *procs.Service
	audit  string // the core's audit file
	srv    *Server
	conn   *dbus.Conn // the daemon's connection
	root   *dbus.Conn // a root client
}

func requireBus(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("linux only")
	}
	if testing.Short() {
		t.Skip("a private dbus-daemon as root: not in -short mode (the package build)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the D-Bus policy lets only root own org.roy.ProcWatch1 (run the tests as root, e.g. make test in the CI container)")
	}
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon not installed (apt-get install dbus-daemon; scripts/test-deps.sh does it)")
	}
}

// publicDir is a temp dir that uid nobody may traverse (the bus socket
// and the client binary live there).
func publicDir(t *testing.T) string {
	d := t.TempDir()
	for p := d; p != os.TempDir() && p != "/" && strings.HasPrefix(p, os.TempDir()); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// startBus starts a dbus-daemon with a system-bus-like config that
// includes the project's policy file, and the Server on it.
func startBus(t *testing.T) *testBus {
	requireBus(t)
	dir := publicDir(t)
	addr, _ := runBusDaemon(t, dir)
	b := &testBus{t: t, dir: dir, addr: addr}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", b.addr)

	// The client: a copy of this test binary that nobody can run.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b.client = filepath.Join(dir, "client.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.client, data, 0o755); err != nil {
		t.Fatal(err)
	}

	hs := host.New(host.Options{Logger: testLogger(t)})
	t.Cleanup(hs.Close)
	b.audit = filepath.Join(dir, "audit.log")
	b.svc, err = procs.New(procs.Options{RestartTimeout: 2 * time.Second, SnapshotTTL: time.Millisecond, Logger: testLogger(t), Host: hs,
		AuditFile: b.audit, RefusalWindow: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.svc.Close() })
	b.srv = New(b.svc, testLogger(t), "1.2.3-test")
	t.Cleanup(b.srv.Close)
	b.srv.polkitTimeout = 2 * time.Second
	b.srv.polkitInteractiveTimeout = 3 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	b.conn, err = Connect(ctx, BusSystem) // through DBUS_SYSTEM_BUS_ADDRESS
	if err != nil {
		t.Fatal(err)
	}
	if err := b.srv.Start(ctx, b.conn); err != nil {
		t.Fatal(err)
	}
	b.root, err = dbus.Connect(b.addr, dbus.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runBusDaemon starts dbus-daemon on dir/system_bus_socket with a
// system-bus-like config that includes the project's policy file. It
// returns the address and a function that kills the daemon (also done at
// cleanup). Its log goes to dir/dbus-daemon.log (and to stderr with -v).
func runBusDaemon(t *testing.T, dir string) (string, func()) {
	t.Helper()
	policy, err := filepath.Abs("../packaging/dbus/org.roy.ProcWatch1.conf")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "system_bus_socket")
	conf := fmt.Sprintf(busConfig, sock, policy)
	confPath := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+confPath, "--nofork", "--nopidfile", "--print-address=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "dbus-daemon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	// logf stays open until dbus-daemon exits: with -v its stderr goes
	// through a copying goroutine, and a closed writer would end that
	// goroutine and kill the bus with SIGPIPE on its next log line.
	cmd.Stderr = logf
	if testing.Verbose() {
		cmd.Stderr = io.MultiWriter(logf, os.Stderr)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	// Say so when the bus dies under the test: it explains the failures
	// that follow.
	exited := make(chan struct{})
	var killing atomic.Bool
	go func() {
		_ = cmd.Wait()
		if !killing.Load() {
			tail, _ := os.ReadFile(logf.Name())
			fmt.Fprintf(os.Stderr, "%s: dbus-daemon %d died during the test: %v; its log:\n%s\n", t.Name(), cmd.Process.Pid, cmd.ProcessState, tail)
		}
		logf.Close()
		close(exited)
	}()
	kill := func() { killing.Store(true); _ = cmd.Process.Kill(); <-exited }
	t.Cleanup(kill)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon did not start (see %s): %v", logf.Name(), err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return strings.TrimSpace(line), kill
}

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="UpdateActivationEnvironment"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
    <!-- the polkit mock (python3-dbusmock), run as root by the tests -->
    <allow own="org.freedesktop.PolicyKit1"/>
    <allow send_destination="org.freedesktop.PolicyKit1"/>
  </policy>
  <include>%s</include>
</busconfig>
`

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// asNobody runs the client as uid/gid 65534 with no groups.
func (b *testBus) asNobody(args ...string) clientResult {
	b.t.Helper()
	full := append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", b.client}, args...)
	cmd := exec.Command("setpriv", full...)
	cmd.Env = []string{"PW_TEST_CLIENT=1", "PW_ADDR=" + b.addr, "PATH=/usr/bin:/bin"}
	cmd.Dir = "/"
	out, err := cmd.Output()
	if err != nil {
		b.t.Fatalf("client %v: %v (%s)", args, err, out)
	}
	var res clientResult
	if err := json.Unmarshal(out, &res); err != nil {
		b.t.Fatalf("client %v: bad output %q: %v", args, out, err)
	}
	if res.UID != nobody {
		b.t.Fatalf("client ran as uid %d, not %d", res.UID, nobody)
	}
	return res
}

// floodAsNobody runs a flood client (see clientMain) as uid 65534 and
// closes answered when every call but held has been answered.
func (b *testBus) floodAsNobody(answered chan<- struct{}, held int, args ...string) clientResult {
	b.t.Helper()
	full := append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", b.client}, args...)
	cmd := exec.Command("setpriv", full...)
	cmd.Env = []string{"PW_TEST_CLIENT=1", "PW_ADDR=" + b.addr, "PATH=/usr/bin:/bin", "PW_FLOOD_HELD=" + strconv.Itoa(held)}
	cmd.Dir = "/"
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	var last string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if sc.Text() == "answered" {
			close(answered)
			continue
		}
		last = sc.Text()
	}
	if err := cmd.Wait(); err != nil {
		b.t.Fatalf("client %v: %v (%s)", args, err, last)
	}
	var res clientResult
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		b.t.Fatalf("client %v: bad output %q: %v", args, last, err)
	}
	if res.UID != nobody {
		b.t.Fatalf("client ran as uid %d, not %d", res.UID, nobody)
	}
	return res
}

// rootCall calls a Manager method as root.
func (b *testBus) rootCall(method string, args ...any) *dbus.Call {
	return b.root.Object(BusName, ObjectPath).Call(Interface+"."+method, 0, args...)
}

// spawn starts `sleep 300`, as uid when uid >= 0 (root otherwise), reaped
// as soon as it exits.
func spawn(t *testing.T, uid int) *testproc.Child {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	cmd.Dir = "/"
	if uid >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}}}
	}
	return testproc.Start(t, cmd).ReapInBackground()
}

// niceOf reads field 19 of /proc/PID/stat.
func niceOf(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// dbusErrName returns the D-Bus error name of err ("" for nil).
func dbusErrName(err error) string {
	if err == nil {
		return ""
	}
	if de, ok := err.(dbus.Error); ok {
		return de.Name
	}
	return "not a D-Bus error: " + err.Error()
}
