package dbusiface

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// TestBusctl drives the object with systemd's busctl, as the README shows.
func TestBusctl(t *testing.T) {
	requireBus(t)
	if _, err := exec.LookPath("busctl"); err != nil {
		t.Skip("busctl not installed (systemd)")
	}
	b := startBus(t)
	busctl := func(t *testing.T, args ...string) (string, error) {
		t.Helper()
		full := append([]string{"--address=" + b.addr, "--no-pager"}, args...)
		out, err := exec.Command("busctl", full...).CombinedOutput()
		return string(out), err
	}
	mustBusctl := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := busctl(t, args...)
		if err != nil {
			t.Fatalf("busctl %v: %v\n%s", args, err, out)
		}
		return out
	}

	t.Run("introspect", func(t *testing.T) {
		out := mustBusctl(t, "introspect", BusName, string(ObjectPath))
		for _, want := range []string{
			"org.roy.ProcWatch1.Manager", ".ListProcesses", ".GetProcess", ".GetSystem", ".Signal", ".Renice", ".Restart",
			".Version", ".ProcessSignalled", ".ProcessReniced", ".ProcessRestarted",
			"org.freedesktop.DBus.Properties", "org.freedesktop.DBus.Peer", "org.freedesktop.DBus.Introspectable",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("introspect lacks %q:\n%s", want, out)
			}
		}
		x := mustBusctl(t, "introspect", "--xml-interface", BusName, string(ObjectPath))
		if !strings.Contains(x, `<arg name="new_pid" type="u" direction="out">`) {
			t.Errorf("argument names missing from the XML:\n%s", x)
		}
		if tree := mustBusctl(t, "tree", BusName); !strings.Contains(tree, string(ObjectPath)) {
			t.Errorf("busctl tree: %s", tree)
		}
	})

	t.Run("get-property", func(t *testing.T) {
		out := mustBusctl(t, "get-property", BusName, string(ObjectPath), Interface, "Version")
		if strings.TrimSpace(out) != `s "1.2.3-test"` {
			t.Errorf("Version: %q", out)
		}
	})

	t.Run("call", func(t *testing.T) {
		c := spawn(t, nobody)
		pid := strconv.Itoa(c.PID)
		out := mustBusctl(t, "--json=short", "call", BusName, string(ObjectPath), Interface, "ListProcesses", "sss", pid, "pid", "asc")
		var list struct {
			Type string                        `json:"type"`
			Data [][]map[string]map[string]any `json:"data"`
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil || list.Type != "aa{sv}" {
			t.Fatalf("ListProcesses: %v %s", err, out)
		}
		found := false
		for _, p := range list.Data[0] {
			if p["pid"]["data"] == float64(c.PID) && p["name"]["data"] == "sleep" {
				found = true
			}
		}
		if !found {
			t.Errorf("pid %d not in %s", c.PID, out)
		}
		out = mustBusctl(t, "call", BusName, string(ObjectPath), Interface, "GetProcess", "u", pid)
		if !strings.HasPrefix(out, "a{sv} ") || !strings.Contains(out, `"cmdline" as 2 "sleep" "300"`) {
			t.Errorf("GetProcess: %s", out)
		}
		out = mustBusctl(t, "--json=short", "call", BusName, string(ObjectPath), Interface, "GetSystem")
		var sys struct {
			Type string                      `json:"type"`
			Data []map[string]map[string]any `json:"data"`
		}
		if err := json.Unmarshal([]byte(out), &sys); err != nil || sys.Type != "a{sv}" || len(sys.Data) != 1 {
			t.Fatalf("GetSystem: %v %s", err, out)
		}
		if h := sys.Data[0]["hostname"]["data"]; h == "" || h == nil {
			t.Errorf("GetSystem: no hostname in %s", out)
		}
		if cpu, ok := sys.Data[0]["cpu"]["data"].(map[string]any); !ok || cpu["per_core"] == nil {
			t.Errorf("GetSystem: no cpu.per_core in %s", out)
		}
		// docs/host.md's example, as written (on this test's bus).
		doc, err := os.ReadFile("../docs/host.md")
		if err != nil {
			t.Fatal(err)
		}
		ex := regexp.MustCompile("(?m)^busctl call org.roy.ProcWatch1 .*GetSystem$").FindString(string(doc))
		if ex == "" {
			t.Fatal("docs/host.md has no busctl GetSystem example")
		}
		out = mustBusctl(t, strings.Fields(ex)[1:]...)
		if !strings.HasPrefix(out, "a{sv} ") || !strings.Contains(out, `"per_core"`) || !strings.Contains(out, `"hostname"`) {
			t.Errorf("docs/host.md's %q: %.300s", ex, out)
		}
		mustBusctl(t, "call", BusName, string(ObjectPath), Interface, "Renice", "ui", pid, "12")
		if n := niceOf(t, c.PID); n != 12 {
			t.Errorf("nice %d, want 12", n)
		}
		mustBusctl(t, "call", BusName, string(ObjectPath), Interface, "Signal", "us", pid, "SIGTERM")
		if !c.Exited(5 * time.Second) {
			t.Error("not signalled")
		}
		c2 := spawn(t, -1)
		out = mustBusctl(t, "call", BusName, string(ObjectPath), Interface, "Restart", "u", strconv.Itoa(c2.PID))
		var newPID int
		if f := strings.Fields(out); len(f) >= 2 && f[0] == "us" {
			newPID, _ = strconv.Atoi(f[1])
		}
		if newPID <= 0 {
			t.Fatalf("Restart: %q", out)
		}
		testproc.KillPID(newPID)
	})

	t.Run("errors", func(t *testing.T) {
		c := spawn(t, -1)
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"Signal", "us", strconv.Itoa(c.PID), "BOGUS"}, `unknown signal "BOGUS"`},
			{[]string{"Renice", "ui", strconv.Itoa(c.PID), "99"}, "invalid nice 99"},
			{[]string{"GetProcess", "u", "0"}, "invalid pid 0"},
			{[]string{"Signal", "us", "4294967295", "TERM"}, "invalid pid 4294967295"},
		} {
			out, err := busctl(t, append([]string{"call", BusName, string(ObjectPath), Interface}, tt.args...)...)
			if err == nil || !strings.Contains(out, tt.want) {
				t.Errorf("busctl call %v: %v %q, want failure with %q", tt.args, err, out, tt.want)
			}
		}
		if c.Exited(0) {
			t.Error("target died")
		}
	})

	t.Run("monitor", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		mon := exec.CommandContext(ctx, "busctl", "--address="+b.addr, "--json=short", "monitor", BusName)
		stdout, err := mon.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := mon.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = mon.Wait() }()
		type message struct {
			Type    string `json:"type"`
			Member  string `json:"member"`
			Payload struct {
				Data []any `json:"data"`
			} `json:"payload"`
		}
		msgs := make(chan message, 64)
		go func() {
			defer close(msgs)
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var m message
				if json.Unmarshal(sc.Bytes(), &m) == nil {
					msgs <- m
				}
			}
		}()
		// The monitor is attached once it shows a call to us: ping until
		// it does (a signal sent before would be missed).
		attached := false
		for deadline := time.Now().Add(10 * time.Second); !attached && time.Now().Before(deadline); {
			_ = b.root.Object(BusName, ObjectPath).Call("org.freedesktop.DBus.Peer.Ping", 0).Err
			wait := time.After(100 * time.Millisecond)
			for !attached {
				select {
				case m, ok := <-msgs:
					if !ok {
						t.Fatal("busctl monitor exited")
					}
					attached = m.Member == "Ping"
					continue
				case <-wait:
				}
				break
			}
		}
		if !attached {
			t.Fatal("busctl monitor never showed a call to " + BusName)
		}
		c := spawn(t, -1)
		mustBusctl(t, "call", BusName, string(ObjectPath), Interface, "Signal", "us", strconv.Itoa(c.PID), "KILL")
		for m := range msgs {
			if m.Type == "signal" && m.Member == "ProcessSignalled" {
				if len(m.Payload.Data) == 2 && m.Payload.Data[0] == float64(c.PID) && m.Payload.Data[1] == "KILL" {
					return
				}
			}
		}
		t.Fatal("busctl monitor did not show ProcessSignalled")
	})
}
