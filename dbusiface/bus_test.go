package dbusiface

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"

	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/internal/testproc"
)

// TestBus runs the daemon's D-Bus object on a private system-like bus
// (with the project's policy file) and exercises it as root and as an
// unprivileged uid. There is no polkit on this bus.
func TestBus(t *testing.T) {
	b := startBus(t)

	// signals: subscribe before any action.
	sigs := make(chan *dbus.Signal, 64)
	if err := b.root.AddMatchSignal(dbus.WithMatchInterface(Interface), dbus.WithMatchObjectPath(ObjectPath)); err != nil {
		t.Fatal(err)
	}
	b.root.Signal(sigs)
	waitSignal := func(t *testing.T, member string, want ...any) {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case s := <-sigs:
				if s.Name == Interface+"."+member && reflect.DeepEqual(s.Body, want) {
					return
				}
			case <-timeout:
				t.Fatalf("signal %s%v did not arrive", member, want)
			}
		}
	}
	stillServing := func(t *testing.T) {
		t.Helper()
		if err := b.root.Object(BusName, ObjectPath).Call("org.freedesktop.DBus.Peer.Ping", 0).Err; err != nil {
			t.Fatalf("daemon no longer answers: %v", err)
		}
	}

	t.Run("Introspect", func(t *testing.T) {
		var x string
		if err := b.root.Object(BusName, ObjectPath).Call("org.freedesktop.DBus.Introspectable.Introspect", 0).Store(&x); err != nil {
			t.Fatal(err)
		}
		var node introspect.Node
		if err := xml.Unmarshal([]byte(x), &node); err != nil {
			t.Fatal(err)
		}
		var mgr *introspect.Interface
		for i := range node.Interfaces {
			if node.Interfaces[i].Name == Interface {
				mgr = &node.Interfaces[i]
			}
		}
		if mgr == nil {
			t.Fatalf("no %s in %s", Interface, x)
		}
		exported := map[string]string{}
		for _, m := range introspect.Methods(&manager{}) {
			exported[m.Name] = argSig(m.Args)
		}
		got := map[string]string{}
		for _, m := range mgr.Methods {
			got[m.Name] = argSig(m.Args)
		}
		if !reflect.DeepEqual(got, exported) {
			t.Errorf("bus introspection %v != exported %v", got, exported)
		}
		if len(mgr.Signals) != 3 || len(mgr.Properties) != 1 || mgr.Properties[0].Name != "Version" {
			t.Errorf("signals/properties: %+v %+v", mgr.Signals, mgr.Properties)
		}
		// Every introspected method really answers (not UnknownMethod).
		for name := range got {
			if name == "GetSystem" { // takes no argument: it answers
				if err := b.root.Object(BusName, ObjectPath).Call(Interface+"."+name, 0).Err; err != nil {
					t.Errorf("%s: %v", name, err)
				}
				continue
			}
			err := b.root.Object(BusName, ObjectPath).Call(Interface+"."+name, 0).Err
			if dbusErrName(err) != "org.freedesktop.DBus.Error.InvalidArgs" {
				t.Errorf("%s with no args: %v, want InvalidArgs (method exported)", name, err)
			}
		}
		// Parents lead to the object (busctl tree).
		if err := b.root.Object(BusName, "/org/roy").Call("org.freedesktop.DBus.Introspectable.Introspect", 0).Store(&x); err != nil || !strings.Contains(x, `name="ProcWatch1"`) {
			t.Errorf("/org/roy introspection: %v %s", err, x)
		}
	})

	t.Run("Peer", func(t *testing.T) {
		stillServing(t)
		var id string
		if err := b.root.Object(BusName, ObjectPath).Call("org.freedesktop.DBus.Peer.GetMachineId", 0).Store(&id); err != nil || id == "" {
			t.Fatalf("GetMachineId: %q %v", id, err)
		}
	})

	t.Run("Version", func(t *testing.T) {
		obj := b.root.Object(BusName, ObjectPath)
		p, err := obj.GetProperty(Interface + ".Version")
		if err != nil || p.Value() != "1.2.3-test" {
			t.Fatalf("Get Version = %v, %v", p, err)
		}
		var all map[string]dbus.Variant
		if err := obj.Call("org.freedesktop.DBus.Properties.GetAll", 0, Interface).Store(&all); err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 || all["Version"].Value() != "1.2.3-test" {
			t.Fatalf("GetAll = %v", all)
		}
		err = obj.SetProperty(Interface+".Version", dbus.MakeVariant("x"))
		if err == nil {
			t.Fatal("Set Version succeeded")
		}
	})

	t.Run("ListProcesses", func(t *testing.T) {
		c := spawn(t, nobody)
		var list []map[string]dbus.Variant
		if err := b.rootCall("ListProcesses", strconv.Itoa(c.PID), "pid", "asc").Store(&list); err != nil {
			t.Fatal(err)
		}
		var p map[string]dbus.Variant
		for _, e := range list {
			if e["pid"].Value() == uint32(c.PID) {
				p = e
			}
		}
		if p == nil {
			t.Fatalf("pid %d not listed in %d entries", c.PID, len(list))
		}
		types := map[string]string{"pid": "u", "ppid": "u", "name": "s", "exe": "s", "username": "s", "uid": "u",
			"status": "s", "create_time": "d", "create_time_iso": "s", "cpu_percent": "d", "memory_rss": "t",
			"nice": "i", "num_threads": "i", "cmdline": "as", "ports": "aa{sv}", "open_files_count": "u"}
		for k, sig := range types {
			if got := p[k].Signature().String(); got != sig {
				t.Errorf("%s: signature %q, want %q", k, got, sig)
			}
		}
		if p["name"].Value() != "sleep" || !reflect.DeepEqual(p["cmdline"].Value(), []string{"sleep", "300"}) || p["uid"].Value() != uint32(nobody) {
			t.Errorf("entry = %v", p)
		}
		// unit: the detail's (read afresh from its cgroup), and the unit:
		// search finds it.
		var d map[string]dbus.Variant
		if err := b.rootCall("GetProcess", uint32(c.PID)).Store(&d); err != nil {
			t.Fatal(err)
		}
		want, _ := d["unit"].Value().(string)
		if p["unit"].Signature().String() != "s" || p["unit"].Value() != want {
			t.Errorf("unit %v, GetProcess says %q", p["unit"], want)
		} else if want != "" {
			if err := b.rootCall("ListProcesses", "unit:"+want+" pid:"+strconv.Itoa(c.PID), "", "").Store(&list); err != nil || len(list) != 1 {
				t.Errorf("unit:%s pid:%d: %d entries, %v", want, c.PID, len(list), err)
			}
		}
		if err := b.rootCall("ListProcesses", "", "bogus", "").Err; dbusErrName(err) != ErrInvalidArgument {
			t.Errorf("sort=bogus: %v, want InvalidArgument", err)
		}
		if err := b.rootCall("ListProcesses", "", "", "").Store(&list); err != nil || len(list) < 3 {
			t.Errorf("defaults: %d entries, %v", len(list), err)
		}
	})

	t.Run("GetProcess", func(t *testing.T) {
		c := spawn(t, -1)
		var d map[string]dbus.Variant
		if err := b.rootCall("GetProcess", uint32(c.PID)).Store(&d); err != nil {
			t.Fatal(err)
		}
		if d["pid"].Value() != uint32(c.PID) || d["cwd"].Value() != "/" {
			t.Errorf("detail = %v", d)
		}
		for _, k := range []string{"cgroup", "unit", "open_files", "environ", "num_threads", "uids", "gids", "memory", "parents", "children"} {
			if _, ok := d[k]; !ok {
				t.Errorf("key %s missing", k)
			}
		}
	})

	t.Run("GetProcessExtras", func(t *testing.T) {
		c := spawn(t, -1)
		var d map[string]dbus.Variant
		if err := b.rootCall("GetProcess", uint32(c.PID)).Store(&d); err != nil {
			t.Fatal(err)
		}
		ex, ok := d["extras"].Value().(map[string]dbus.Variant)
		if !ok {
			t.Fatalf("extras = %#v", d["extras"])
		}
		found := false
		for _, l := range ex["limits"].Value().([]map[string]dbus.Variant) {
			if l["resource"].Value() == "nofile" {
				found = l["soft"].Value().(int64) > 0 && l["used"].Value().(uint64) >= 3
			}
		}
		if !found {
			t.Errorf("no plausible nofile limit in %v", ex["limits"])
		}
		for _, k := range []string{"io", "ctx_switches", "cpu_times", "oom_score", "oom_score_adj"} {
			if _, ok := ex[k]; !ok {
				t.Errorf("extras.%s missing", k)
			}
		}
	})

	t.Run("GetSystem", func(t *testing.T) {
		var d map[string]dbus.Variant
		if err := b.rootCall("GetSystem").Store(&d); err != nil {
			t.Fatal(err)
		}
		cpu := d["cpu"].Value().(map[string]dbus.Variant)
		if n := len(cpu["per_core"].Value().([]map[string]dbus.Variant)); n != runtime.NumCPU() {
			t.Errorf("per_core has %d entries, want %d", n, runtime.NumCPU())
		}
		mem := d["memory"].Value().(map[string]dbus.Variant)
		if mem["total"].Value().(uint64) == 0 || d["hostname"].Value().(string) == "" {
			t.Errorf("GetSystem = %v", d)
		}
		for _, k := range []string{"os", "kernel", "uptime_s", "boot_time", "load", "swap", "tasks", "net", "disks", "filesystems", "pressure"} {
			if _, ok := d[k]; !ok {
				t.Errorf("key %s missing", k)
			}
		}
		// Read-only: any caller may ask.
		r := b.asNobody("system")
		if r.Error != "" || len(r.Body) != 1 {
			t.Fatalf("GetSystem as nobody: %+v", r)
		}
		if _, ok := r.Body[0].(map[string]any)["cpu"]; !ok {
			t.Errorf("GetSystem as nobody: %+v", r)
		}
	})

	t.Run("SignalAsRootEmitsSignal", func(t *testing.T) {
		c := spawn(t, nobody) // another user's process: root may
		if err := b.rootCall("Signal", uint32(c.PID), "sigterm").Err; err != nil {
			t.Fatal(err)
		}
		if !c.Exited(5 * time.Second) {
			t.Fatal("process still alive after TERM")
		}
		if ws := c.Wait().Sys().(syscall.WaitStatus); ws.Signal() != syscall.SIGTERM {
			t.Errorf("exit status %v, want killed by TERM", ws)
		}
		waitSignal(t, "ProcessSignalled", uint32(c.PID), "TERM")
	})

	t.Run("ReniceAsRootEmitsSignal", func(t *testing.T) {
		c := spawn(t, -1)
		if err := b.rootCall("Renice", uint32(c.PID), int32(7)).Err; err != nil {
			t.Fatal(err)
		}
		if n := niceOf(t, c.PID); n != 7 {
			t.Errorf("nice = %d, want 7", n)
		}
		waitSignal(t, "ProcessReniced", uint32(c.PID), int32(7))
	})

	t.Run("RestartEmitsSignal", func(t *testing.T) {
		c := spawn(t, -1)
		var newPID uint32
		var unit string
		if err := b.rootCall("Restart", uint32(c.PID)).Store(&newPID, &unit); err != nil {
			t.Fatal(err)
		}
		defer syscall.Kill(int(newPID), syscall.SIGKILL)
		if newPID == 0 || int(newPID) == c.PID || !c.Exited(5*time.Second) {
			t.Fatalf("new pid %d, old gone %v", newPID, c.Exited(0))
		}
		waitSignal(t, "ProcessRestarted", uint32(c.PID), newPID, unit)
	})

	t.Run("ActionsThroughTheCoreEmitSignals", func(t *testing.T) {
		// As the HTTP transport does: a privileged core call.
		c := spawn(t, -1)
		http := procs.Caller{Privileged: true, Name: "http"}
		ctx := context.Background()
		if err := b.svc.Renice(ctx, http, procs.Target{PID: c.PID}, 3); err != nil {
			t.Fatal(err)
		}
		waitSignal(t, "ProcessReniced", uint32(c.PID), int32(3))
		if _, err := b.svc.Signal(ctx, http, procs.Target{PID: c.PID}, "KILL"); err != nil {
			t.Fatal(err)
		}
		waitSignal(t, "ProcessSignalled", uint32(c.PID), "KILL")
		c2 := spawn(t, -1)
		res, err := b.svc.Restart(ctx, http, procs.Target{PID: c2.PID})
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Kill(res.NewPID, syscall.SIGKILL)
		waitSignal(t, "ProcessRestarted", uint32(c2.PID), uint32(res.NewPID), res.Unit)
	})

	t.Run("BadInput", func(t *testing.T) {
		c := spawn(t, -1)
		dead := spawn(t, -1)
		_ = dead.Cmd.Process.Kill()
		dead.Exited(5 * time.Second)
		tests := []struct {
			name   string
			method string
			args   []any
			want   string
		}{
			{"signal BOGUS", "Signal", []any{uint32(c.PID), "BOGUS"}, ErrInvalidArgument},
			{"signal 0", "Signal", []any{uint32(c.PID), "0"}, ErrInvalidArgument},
			{"signal 33", "Signal", []any{uint32(c.PID), "33"}, ErrInvalidArgument},
			{"nice 99", "Renice", []any{uint32(c.PID), int32(99)}, ErrInvalidArgument},
			{"nice -21", "Renice", []any{uint32(c.PID), int32(-21)}, ErrInvalidArgument},
			{"pid 0 signal", "Signal", []any{uint32(0), "TERM"}, ErrInvalidArgument},
			{"pid 0 get", "GetProcess", []any{uint32(0)}, ErrInvalidArgument},
			{"pid max signal", "Signal", []any{uint32(4294967295), "TERM"}, ErrInvalidArgument},
			{"pid max renice", "Renice", []any{uint32(4294967295), int32(1)}, ErrInvalidArgument},
			{"pid max restart", "Restart", []any{uint32(4294967295)}, ErrInvalidArgument},
			{"exited signal", "Signal", []any{uint32(dead.PID), "TERM"}, ErrNoSuchProcess},
			{"exited renice", "Renice", []any{uint32(dead.PID), int32(1)}, ErrNoSuchProcess},
			{"exited get", "GetProcess", []any{uint32(dead.PID)}, ErrNoSuchProcess},
			{"exited restart", "Restart", []any{uint32(dead.PID)}, ErrNoSuchProcess},
			{"pid 1", "Signal", []any{uint32(1), "TERM"}, ErrAccessDenied},
			{"the daemon itself", "Signal", []any{uint32(os.Getpid()), "KILL"}, ErrAccessDenied},
			{"restart the daemon itself", "Restart", []any{uint32(os.Getpid())}, ErrAccessDenied},
			{"kthreadd", "Signal", []any{uint32(2), "KILL"}, ErrAccessDenied},
			{"renice kthreadd", "Renice", []any{uint32(2), int32(5)}, ErrAccessDenied},
			{"wrong signature", "Signal", []any{"1", "TERM"}, "org.freedesktop.DBus.Error.InvalidArgs"},
			{"too few args", "Renice", []any{uint32(c.PID)}, "org.freedesktop.DBus.Error.InvalidArgs"},
			{"unknown method", "Frobnicate", nil, "org.freedesktop.DBus.Error.UnknownMethod"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := b.rootCall(tt.method, tt.args...).Err
				if got := dbusErrName(err); got != tt.want {
					t.Errorf("%s%v: %v, want %s", tt.method, tt.args, err, tt.want)
				}
				if de, ok := err.(dbus.Error); ok && (len(de.Body) != 1 || de.Body[0] == "") {
					t.Errorf("error without a message: %v", de)
				}
				stillServing(t)
			})
		}
		if c.Exited(0) {
			t.Error("the target died")
		}
	})

	t.Run("Unprivileged", func(t *testing.T) {
		requireSetpriv(t)
		t.Run("SignalOwnProcess", func(t *testing.T) {
			c := spawn(t, nobody)
			if r := b.asNobody("signal", strconv.Itoa(c.PID), "TERM"); r.Error != "" {
				t.Fatalf("signal own process: %+v", r)
			}
			if !c.Exited(5 * time.Second) {
				t.Fatal("own process not signalled")
			}
		})
		t.Run("SignalRootProcessDenied", func(t *testing.T) {
			c := spawn(t, -1)
			start := time.Now()
			r := b.asNobody("signal", strconv.Itoa(c.PID), "KILL")
			if r.Error != ErrAccessDenied || !strings.Contains(r.Message, "org.roy.procwatch.signal") {
				t.Fatalf("signal root's process: %+v, want AccessDenied", r)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("denial took %s (no polkit here: should be quick)", d)
			}
			if c.Exited(300 * time.Millisecond) {
				t.Fatal("root's process was killed")
			}
		})
		t.Run("SetuidLikeProcessIsNotOwned", func(t *testing.T) {
			// ruid nobody, euid root: not the caller's (A7).
			cmd := exec.Command("setpriv", "--ruid=65534", "sleep", "300")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			time.Sleep(200 * time.Millisecond) // let setpriv exec sleep
			r := b.asNobody("signal", strconv.Itoa(cmd.Process.Pid), "KILL")
			if r.Error != ErrAccessDenied {
				t.Fatalf("signal a ruid-nobody euid-root process: %+v, want AccessDenied", r)
			}
		})
		t.Run("Renice", func(t *testing.T) {
			c := spawn(t, nobody)
			if err := b.rootCall("Renice", uint32(c.PID), int32(10)).Err; err != nil {
				t.Fatal(err)
			}
			if r := b.asNobody("renice", strconv.Itoa(c.PID), "15"); r.Error != "" {
				t.Fatalf("renice own +: %+v", r)
			}
			if n := niceOf(t, c.PID); n != 15 {
				t.Fatalf("nice = %d, want 15", n)
			}
			r := b.asNobody("renice", strconv.Itoa(c.PID), "5")
			if r.Error != ErrAccessDenied {
				t.Fatalf("renice own to a lower nice: %+v, want AccessDenied", r)
			}
			if n := niceOf(t, c.PID); n != 15 {
				t.Fatalf("nice = %d after a refused renice, want 15", n)
			}
			root := spawn(t, -1)
			if r := b.asNobody("renice", strconv.Itoa(root.PID), "19"); r.Error != ErrAccessDenied {
				t.Fatalf("renice root's process: %+v, want AccessDenied", r)
			}
		})
		t.Run("RestartRootProcessDenied", func(t *testing.T) {
			c := spawn(t, -1)
			if r := b.asNobody("restart", strconv.Itoa(c.PID)); r.Error != ErrAccessDenied {
				t.Fatalf("restart root's process: %+v", r)
			}
			if c.Exited(300 * time.Millisecond) {
				t.Fatal("root's process was stopped")
			}
		})
		// Issue 8 item 1: a process of nobody's uid running with a group
		// nobody lacks (gid 42), or not dumpable, is not nobody's to
		// relaunch; the groups are the ones the bus reports.
		t.Run("RestartOwnNeedsItsGroups", func(t *testing.T) {
			cmd := exec.Command("sleep", "300")
			cmd.Dir = "/"
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: 42, Groups: []uint32{}}}
			c := testproc.Start(t, cmd).ReapInBackground()
			if r := b.asNobody("restart", strconv.Itoa(c.PID)); r.Error != ErrAccessDenied || !strings.Contains(r.Message, "group") {
				t.Fatalf("restart of own uid, gid 42: %+v, want AccessDenied about the group", r)
			}
			if c.Exited(300 * time.Millisecond) {
				t.Fatal("the process was stopped")
			}
			own := spawn(t, nobody)
			r := b.asNobody("restart", strconv.Itoa(own.PID))
			if r.Error != "" || len(r.Body) != 2 {
				t.Fatalf("restart of own process: %+v", r)
			}
			newPID := int(r.Body[0].(float64))
			t.Cleanup(func() { testproc.KillPID(newPID) })
			testproc.WaitExec(t, newPID)
		})
		t.Run("GetHidesOthersSecrets", func(t *testing.T) {
			c := spawn(t, -1)
			r := b.asNobody("get", strconv.Itoa(c.PID))
			if r.Error != "" || len(r.Body) != 1 {
				t.Fatalf("get: %+v", r)
			}
			d := r.Body[0].(map[string]any)
			for _, k := range []string{"environ", "extras"} {
				if _, ok := d[k]; ok {
					t.Errorf("%s visible to another uid: %v", k, d[k])
				}
			}
			if d["cwd"] != "" || d["exe"] != "" {
				t.Errorf("cwd/exe visible to another uid: %v %v", d["cwd"], d["exe"])
			}
			own := spawn(t, nobody)
			r = b.asNobody("get", strconv.Itoa(own.PID))
			if _, ok := r.Body[0].(map[string]any)["environ"]; r.Error != "" || !ok {
				t.Errorf("own process: environ missing: %+v", r)
			}
			if _, ok := r.Body[0].(map[string]any)["extras"]; !ok {
				t.Errorf("own process: extras missing: %+v", r)
			}
		})
		t.Run("ListHidesOthersExe", func(t *testing.T) {
			c := spawn(t, -1)
			r := b.asNobody("list", strconv.Itoa(c.PID))
			if r.Error != "" {
				t.Fatal(r)
			}
			found := false
			for _, e := range r.Body[0].([]any) {
				m := e.(map[string]any)
				if m["pid"] == float64(c.PID) {
					found = true
					if m["exe"] != "" {
						t.Errorf("exe of root's process visible: %v", m["exe"])
					}
				}
			}
			if !found {
				t.Error("root's process not listed for nobody")
			}
		})
		t.Run("ReceivesSignals", func(t *testing.T) {
			cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", b.client, "watch")
			cmd.Env = []string{"PW_TEST_CLIENT=1", "PW_ADDR=" + b.addr}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			rd := bufio.NewReader(stdout)
			if line, err := rd.ReadString('\n'); err != nil || line != "ready\n" {
				t.Fatalf("watcher: %q %v", line, err)
			}
			c := spawn(t, -1)
			if err := b.rootCall("Renice", uint32(c.PID), int32(2)).Err; err != nil {
				t.Fatal(err)
			}
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			var r clientResult
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			if r.Message != Interface+".ProcessReniced" || len(r.Body) != 2 || r.Body[0] != float64(c.PID) || r.Body[1] != float64(2) {
				t.Fatalf("unprivileged watcher got %+v", r)
			}
		})
		t.Run("PolicyRefusesOwningTheName", func(t *testing.T) {
			r := b.asNobody("own")
			if r.Error != "org.freedesktop.DBus.Error.AccessDenied" {
				t.Fatalf("nobody RequestName: %+v, want bus AccessDenied", r)
			}
			stillServing(t)
		})
		t.Run("PolicyRefusesOtherInterfaces", func(t *testing.T) {
			for _, m := range [][2]string{{"org.roy.ProcWatch1.Secret", "Do"}, {"org.freedesktop.DBus.Properties", "Set"}, {Interface, "Frobnicate"}} {
				if r := b.asNobody("raw", m[0], m[1]); r.Error != "org.freedesktop.DBus.Error.AccessDenied" {
					t.Errorf("nobody %s.%s: %+v, want bus AccessDenied", m[0], m[1], r)
				}
			}
		})
	})

	t.Run("UnknownCallerIsDenied", func(t *testing.T) {
		// GetConnectionCredentials fails for a name that is not on the bus:
		// the call is refused, never treated as uid 0 (A12).
		c := spawn(t, nobody)
		m := &manager{s: b.srv, conn: b.conn}
		err := m.Signal(":1.999999", dbus.Message{}, uint32(c.PID), "KILL")
		if err == nil || err.Name != ErrAccessDenied {
			t.Fatalf("unknown sender: %v, want AccessDenied", err)
		}
		if c.Exited(300 * time.Millisecond) {
			t.Fatal("process killed for an unknown caller")
		}
		if _, err := m.ListProcesses("", dbus.Message{}, "", "", ""); err == nil || err.Name != ErrAccessDenied {
			t.Fatalf("empty sender: %v, want AccessDenied", err)
		}
	})

	t.Run("CallLimits", func(t *testing.T) {
		for i := 0; i < maxInFlightPerSender; i++ {
			if !b.srv.acquire(":1.fake") {
				t.Fatalf("acquire %d refused", i)
			}
		}
		if b.srv.acquire(":1.fake") {
			t.Fatal("over the per-sender limit")
		}
		if !b.srv.acquire(":1.other") {
			t.Fatal("another sender refused")
		}
		b.srv.release(":1.other")
		for i := 0; i < maxInFlightPerSender; i++ {
			b.srv.release(":1.fake")
		}
		// Per uid, and the room kept for root.
		for i := 0; i < maxInFlightPerUID; i++ {
			if !b.srv.acquireUID(1000) {
				t.Fatalf("uid 1000: acquire %d refused", i)
			}
		}
		if b.srv.acquireUID(1000) {
			t.Fatal("over the per-uid limit")
		}
		for u := uint32(1001); u < 1003; u++ {
			for i := 0; i < maxInFlightPerUID; i++ {
				if !b.srv.acquireUID(u) {
					t.Fatalf("uid %d: acquire %d refused", u, i)
				}
			}
		}
		if b.srv.acquireUID(1003) { // 96 unprivileged calls: the rest is root's
			t.Fatal("unprivileged callers took root's reserve")
		}
		for i := 0; i < reservedForRoot; i++ {
			if !b.srv.acquireUID(0) {
				t.Fatalf("root: acquire %d refused", i)
			}
		}
		if b.srv.acquireUID(0) {
			t.Fatal("root over the global limit")
		}
		for u := uint32(1000); u < 1003; u++ {
			for i := 0; i < maxInFlightPerUID; i++ {
				b.srv.releaseUID(u)
			}
		}
		for i := 0; i < reservedForRoot; i++ {
			b.srv.releaseUID(0)
		}
		stillServing(t)
	})
}

func requireSetpriv(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv not installed (util-linux)")
	}
}
