package dbusiface

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// startPolkitMock runs python3-dbusmock's polkitd template on the test
// bus and returns its call log path. It skips when dbusmock is absent.
func startPolkitMock(t *testing.T, b *testBus) (dbus.BusObject, string) {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import dbusmock").Run(); err != nil {
		t.Skip("python3-dbusmock not installed (apt-get install python3-dbusmock): skipping the polkit cases")
	}
	logPath := filepath.Join(b.dir, "polkit-mock.log")
	cmd := exec.Command(py, "-m", "dbusmock", "--system", "--template", "polkitd", "-l", logPath)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+b.addr)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if !testing.Verbose() {
		cmd.Stdout, cmd.Stderr = nil, nil
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		var has bool
		_ = b.root.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, polkitName).Store(&has)
		if has {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("polkit mock did not appear on the bus")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return b.root.Object(polkitName, polkitPath), logPath
}

func mockLog(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// TestPolkit covers the cases A3, A4, A6, A10, A15, A16 of docs/security.md against the
// polkitd mock of python3-dbusmock (real polkitd is exercised by the
// packaging e2e in a booted container).
func TestPolkit(t *testing.T) {
	requireBus(t)
	requireSetpriv(t)
	b := startBus(t)
	mock, logPath := startPolkitMock(t, b)
	mockCall := func(method string, args ...any) {
		t.Helper()
		if err := mock.Call("org.freedesktop.DBus.Mock."+method, 0, args...).Err; err != nil {
			t.Fatalf("mock %s: %v", method, err)
		}
	}
	checks := func() int { return strings.Count(mockLog(t, logPath), "CheckAuthorization") }

	t.Run("OwnProcessNeedsNoPolkit", func(t *testing.T) { // A3
		c := spawn(t, nobody)
		before := checks()
		if r := b.asNobody("signal", strconv.Itoa(c.PID), "TERM"); r.Error != "" {
			t.Fatalf("%+v", r)
		}
		if !c.Exited(5 * time.Second) {
			t.Fatal("not signalled")
		}
		if n := checks() - before; n != 0 {
			t.Errorf("%d polkit checks for the caller's own process, want 0", n)
		}
	})

	t.Run("PolkitDenies", func(t *testing.T) { // A4
		mockCall("SetAllowed", []string{})
		c := spawn(t, -1)
		before := checks()
		r := b.asNobody("signal", strconv.Itoa(c.PID), "TERM")
		if r.Error != ErrAccessDenied {
			t.Fatalf("%+v, want AccessDenied", r)
		}
		if c.Exited(300 * time.Millisecond) {
			t.Fatal("target killed")
		}
		log := mockLog(t, logPath)
		if checks()-before != 1 || !strings.Contains(log, "org.roy.procwatch.signal") || !strings.Contains(log, "system-bus-name") {
			t.Errorf("polkit not asked as expected; log:\n%s", log)
		}
	})

	t.Run("PolkitAllows", func(t *testing.T) { // A6
		mockCall("SetAllowed", []string{"org.roy.procwatch.signal"})
		defer mockCall("SetAllowed", []string{})
		c := spawn(t, -1)
		if r := b.asNobody("signal", strconv.Itoa(c.PID), "TERM"); r.Error != "" {
			t.Fatalf("%+v", r)
		}
		if !c.Exited(5 * time.Second) {
			t.Fatal("not signalled although polkit allowed it")
		}
		// The grant is per action: renice stays refused.
		c2 := spawn(t, -1)
		if r := b.asNobody("renice", strconv.Itoa(c2.PID), "5"); r.Error != ErrAccessDenied {
			t.Fatalf("renice with only the signal action: %+v", r)
		}
	})

	t.Run("InteractiveFlagPassedOn", func(t *testing.T) {
		c := spawn(t, -1)
		before := mockLog(t, logPath)
		if r := b.asNobody("signal-interactive", strconv.Itoa(c.PID), "TERM"); r.Error != ErrAccessDenied {
			t.Fatalf("%+v", r)
		}
		added := strings.TrimPrefix(mockLog(t, logPath), before)
		if !strings.Contains(added, `"org.roy.procwatch.signal" {"pid": "`+strconv.Itoa(c.PID)+`"} 1 `) {
			t.Errorf("polkit not asked with AllowUserInteraction and the pid detail; log:\n%s", added)
		}
	})

	t.Run("ReniceLowerWithPolkit", func(t *testing.T) { // A15
		c := spawn(t, nobody)
		if err := b.rootCall("Renice", uint32(c.PID), int32(10)).Err; err != nil {
			t.Fatal(err)
		}
		if r := b.asNobody("renice", strconv.Itoa(c.PID), "5"); r.Error != ErrAccessDenied {
			t.Fatalf("without polkit grant: %+v", r)
		}
		mockCall("SetAllowed", []string{"org.roy.procwatch.renice"})
		defer mockCall("SetAllowed", []string{})
		if r := b.asNobody("renice", strconv.Itoa(c.PID), "5"); r.Error != "" {
			t.Fatalf("with the renice grant: %+v", r)
		}
		if n := niceOf(t, c.PID); n != 5 {
			t.Errorf("nice = %d, want 5", n)
		}
	})

	t.Run("InspectWithPolkit", func(t *testing.T) { // A16
		c := spawn(t, -1)
		r := b.asNobody("get", strconv.Itoa(c.PID))
		if _, ok := r.Body[0].(map[string]any)["environ"]; ok || r.Error != "" {
			t.Fatalf("environ without grant: %+v", r)
		}
		mockCall("SetAllowed", []string{"org.roy.procwatch.inspect"})
		defer mockCall("SetAllowed", []string{})
		r = b.asNobody("get", strconv.Itoa(c.PID))
		d := r.Body[0].(map[string]any)
		if _, ok := d["environ"]; !ok || d["cwd"] != "/" {
			t.Fatalf("no environ/cwd with the inspect grant: %+v", r)
		}
	})

	t.Run("PolkitHangs", func(t *testing.T) { // A10
		mockCall("SetAllowed", []string{"org.roy.procwatch.signal"})
		mockCall("SimulateHang", true)
		defer func() {
			mockCall("SimulateHang", false)
			mockCall("ReleaseHangingCalls")
			mockCall("SetAllowed", []string{})
		}()
		c := spawn(t, -1)
		runtime.GC()
		goroutines := runtime.NumGoroutine()
		start := time.Now()
		r := b.asNobody("signal", strconv.Itoa(c.PID), "TERM")
		took := time.Since(start)
		if r.Error != ErrAccessDenied || !strings.Contains(r.Message, "failed") {
			t.Fatalf("%+v, want AccessDenied (check failed)", r)
		}
		if took > b.srv.polkitTimeout+3*time.Second {
			t.Errorf("denial took %s with a polkit timeout of %s", took, b.srv.polkitTimeout)
		}
		if c.Exited(300 * time.Millisecond) {
			t.Fatal("target killed")
		}
		// Even released later, the hung answer must not act.
		mockCall("ReleaseHangingCalls")
		if c.Exited(500 * time.Millisecond) {
			t.Fatal("target killed after the late polkit answer")
		}
		// The call's goroutines end when they get the CPU: a leak is one
		// still there after a generous deadline.
		n := runtime.NumGoroutine()
		for deadline := time.Now().Add(10 * time.Second); n > goroutines+2 && time.Now().Before(deadline); n = runtime.NumGoroutine() {
			time.Sleep(20 * time.Millisecond)
		}
		if n > goroutines+2 {
			t.Errorf("goroutines: %d before, %d after: leak?", goroutines, n)
		}
	})
}
