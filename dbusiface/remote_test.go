package dbusiface

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// busAddrEscape escapes a value for a D-Bus address (only [-0-9A-Za-z_/.\*]
// stay as they are).
func busAddrEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("-_/.\\*", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

// TestRemoteCallerThroughStdioBridge: `busctl -H user@host` runs
// systemd-stdio-bridge on the remote host over ssh and talks D-Bus through
// its stdin/stdout. This runs the same bridge without the ssh hop: the
// daemon must see the bridge's user (the ssh login) as the caller, and
// nothing may need the caller to be local (no PID, no fd passing).
func TestRemoteCallerThroughStdioBridge(t *testing.T) {
	bridge, err := exec.LookPath("systemd-stdio-bridge")
	if err != nil {
		t.Skip("systemd-stdio-bridge not installed (systemd)")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv not installed (util-linux)")
	}
	b := startBus(t)
	addr := "unixexec:path=" + busAddrEscape(bridge) + ",argv1=" + busAddrEscape("--bus-path="+b.addr)
	busctl := func(asNobody bool, args ...string) (string, error) {
		full := append([]string{"--address=" + addr, "--no-pager"}, args...)
		cmd := exec.Command("busctl", full...)
		if asNobody {
			cmd = exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "busctl"}, full...)...)
		}
		cmd.Dir = "/"
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	mine, other := spawn(t, nobody), spawn(t, -1)

	// As root@host: list and act, like a local root.
	out, err := busctl(false, "call", BusName, string(ObjectPath), Interface, "ListProcesses", "sss", strconv.Itoa(other.PID), "pid", "asc")
	if err != nil || !strings.HasPrefix(out, "aa{sv} ") || !strings.Contains(out, `"sleep"`) {
		t.Fatalf("ListProcesses through the bridge: %v %s", err, out)
	}
	if out, err := busctl(false, "call", BusName, string(ObjectPath), Interface, "Renice", "ui", strconv.Itoa(other.PID), "4"); err != nil {
		t.Fatalf("Renice as root through the bridge: %v %s", err, out)
	}
	if n := niceOf(t, other.PID); n != 4 {
		t.Errorf("nice %d, want 4", n)
	}

	// As an unprivileged login: its own process yes, root's no.
	if out, err := busctl(true, "call", BusName, string(ObjectPath), Interface, "Renice", "ui", strconv.Itoa(mine.PID), "6"); err != nil {
		t.Errorf("Renice own process as nobody through the bridge: %v %s", err, out)
	}
	if n := niceOf(t, mine.PID); n != 6 {
		t.Errorf("nice of nobody's process %d, want 6", n)
	}
	out, err = busctl(true, "call", BusName, string(ObjectPath), Interface, "Renice", "ui", strconv.Itoa(other.PID), "9")
	if err == nil || !strings.Contains(out, "not authorized") {
		t.Errorf("Renice root's process as nobody through the bridge: %v %s", err, out)
	}
	if n := niceOf(t, other.PID); n != 4 {
		t.Errorf("nice of root's process changed to %d", n)
	}

	// The documentation's `busctl -H root@host …` lines, with the bridge
	// in place of ssh and a throwaway process for PID 1234.
	lines := docBusctlH(t)
	if len(lines) < 2 {
		t.Fatalf("found %d busctl -H examples in the docs, want at least 2", len(lines))
	}
	for _, line := range lines {
		victim := spawn(t, -1)
		f := strings.Fields(strings.ReplaceAll(line, " 1234 ", " "+strconv.Itoa(victim.PID)+" "))
		args := f[3:] // after "busctl -H root@web1"
		out, err := busctl(false, args...)
		if err != nil {
			t.Errorf("%s: %v %s", line, err, out)
			continue
		}
		switch args[len(args)-4] {
		case "ListProcesses":
			if !strings.HasPrefix(out, "aa{sv} ") {
				t.Errorf("%s: %s", line, out)
			}
		case "Signal":
			if !victim.Exited(5 * time.Second) {
				t.Errorf("%s: the process did not get SIG%s", line, args[len(args)-1])
			}
		}
	}
}

// docBusctlH returns the `busctl -H` lines of README.md and docs/.
func docBusctlH(t *testing.T) []string {
	var out []string
	for _, f := range []string{"../README.md", "../docs/metrics.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "busctl -H ") {
				out = append(out, l)
			}
		}
	}
	return out
}
