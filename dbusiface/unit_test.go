package dbusiface

import (
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"

	"github.com/roy/roy-procwatch/daemon/host"
	"github.com/roy/roy-procwatch/daemon/procs"
)

func TestErrorNames(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&procs.Error{Kind: procs.KindNoSuchProcess, Msg: "m"}, "org.roy.ProcWatch1.Error.NoSuchProcess"},
		{&procs.Error{Kind: procs.KindAccessDenied, Msg: "m"}, "org.roy.ProcWatch1.Error.AccessDenied"},
		{&procs.Error{Kind: procs.KindInvalidArgument, Msg: "m"}, "org.roy.ProcWatch1.Error.InvalidArgument"},
		{&procs.Error{Kind: procs.KindProcessChanged, Msg: "m"}, "org.roy.ProcWatch1.Error.ProcessChanged"},
		{&procs.Error{Kind: procs.KindNotRestartable, Msg: "m"}, "org.roy.ProcWatch1.Error.NotRestartable"},
		{&procs.Error{Kind: procs.KindFailed, Msg: "m"}, "org.roy.ProcWatch1.Error.Failed"},
		{errors.New("plain"), "org.roy.ProcWatch1.Error.Failed"},
		{fmt.Errorf("wrapped: %w", &procs.Error{Kind: procs.KindNoSuchProcess, Msg: "m"}), "org.roy.ProcWatch1.Error.NoSuchProcess"},
		{&procs.Error{Kind: procs.KindAccessDenied, Msg: "m", Err: errInteractiveRequired}, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"},
	}
	consts := []string{ErrNoSuchProcess, ErrAccessDenied, ErrInvalidArgument, ErrProcessChanged, ErrNotRestartable, ErrFailed}
	for _, c := range consts {
		if !validErrorName(c) {
			t.Errorf("constant %q is not a valid D-Bus error name", c)
		}
	}
	for _, tt := range tests {
		got := toDBusError(tt.err)
		if got.Name != tt.want {
			t.Errorf("toDBusError(%v).Name = %q, want %q", tt.err, got.Name, tt.want)
		}
		if !validErrorName(got.Name) {
			t.Errorf("%q is not a valid D-Bus error name (the reply would be dropped)", got.Name)
		}
		if len(got.Body) != 1 || !strings.HasPrefix(got.Body[0].(string), strings.SplitN(tt.err.Error(), ":", 2)[0]) {
			t.Errorf("toDBusError(%v).Body = %v, want the core message", tt.err, got.Body)
		}
	}
	if toDBusError(nil) != nil {
		t.Error("toDBusError(nil) != nil")
	}
}

// validErrorName applies the D-Bus spec's rules for error (interface) names.
func validErrorName(s string) bool {
	if len(s) > 255 || !strings.Contains(s, ".") {
		return false
	}
	for _, el := range strings.Split(s, ".") {
		if el == "" || (el[0] >= '0' && el[0] <= '9') {
			return false
		}
		for _, r := range el {
			if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}

func TestClean(t *testing.T) {
	for _, in := range []string{"ok", "bad\xffutf8", "nul\x00inside", "\xc3"} {
		out := clean(in)
		if !utf8.ValidString(out) || strings.IndexByte(out, 0) >= 0 {
			t.Errorf("clean(%q) = %q: not a valid D-Bus string", in, out)
		}
	}
}

// TestIntrospectionMatchesExport checks the hand-written introspection
// against what godbus exports from manager (names and signatures), and
// that every argument has a name.
func TestIntrospectionMatchesExport(t *testing.T) {
	exported := map[string]string{}
	for _, m := range introspect.Methods(&manager{}) {
		exported[m.Name] = argSig(m.Args)
	}
	written := map[string]string{}
	for _, m := range managerInterface.Methods {
		written[m.Name] = argSig(m.Args)
		for _, a := range m.Args {
			if a.Name == "" {
				t.Errorf("method %s: an argument has no name", m.Name)
			}
		}
	}
	if !reflect.DeepEqual(exported, written) {
		t.Errorf("introspection does not match the export:\nexported %v\nwritten  %v", exported, written)
	}
	for _, s := range managerInterface.Signals {
		for _, a := range s.Args {
			if _, err := dbus.ParseSignature(a.Type); a.Name == "" || err != nil {
				t.Errorf("signal %s: bad arg %+v", s.Name, a)
			}
		}
	}
	var node introspect.Node
	if err := xml.Unmarshal([]byte(introspectionXML()), &node); err != nil {
		t.Fatalf("introspection XML does not parse: %v", err)
	}
	var names []string
	for _, i := range node.Interfaces {
		names = append(names, i.Name)
	}
	sort.Strings(names)
	want := []string{"org.freedesktop.DBus.Introspectable", "org.freedesktop.DBus.Peer", "org.freedesktop.DBus.Properties", Interface}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("interfaces %v, want %v", names, want)
	}
}

func argSig(args []introspect.Arg) string {
	var in, out []string
	for _, a := range args {
		if a.Direction == "out" {
			out = append(out, a.Type)
		} else {
			in = append(in, a.Type)
		}
	}
	return strings.Join(in, "") + "->" + strings.Join(out, "")
}

// TestDictTypes checks that the dicts hold only explicit D-Bus types (no
// Go int, no float32) and the HTTP keys.
func TestDictTypes(t *testing.T) {
	remote := "10.0.0.1:443"
	p := procs.Process{PID: 42, PPID: 1, Name: "n\xff", Nice: -3, Threads: 2, Cmdline: []string{"a", "b\x00"}, Protected: "PID 1 (init)",
		Ports: []procs.Port{{Local: "127.0.0.1:80", Status: "LISTEN", Family: "AddressFamily.AF_INET", Type: "tcp", LocalPort: 80},
			{Local: "1.2.3.4:5", Remote: &remote, LocalPort: 5}}}
	d := processDict(&p)
	want := map[string]string{"pid": "u", "ppid": "u", "name": "s", "exe": "s", "username": "s", "uid": "u",
		"status": "s", "create_time": "d", "create_time_iso": "s", "cpu_percent": "d", "memory_rss": "t",
		"nice": "i", "num_threads": "i", "cmdline": "as", "ports": "aa{sv}", "open_files_count": "u",
		"memory_percent": "d", "cpu_time": "d", "memory_vms": "t", "protected": "s", "unit": "s"}
	for k, sig := range want {
		got, ok := d[k]
		if !ok {
			t.Errorf("key %q missing", k)
			continue
		}
		if got.Signature().String() != sig {
			t.Errorf("key %q has signature %s, want %s", k, got.Signature(), sig)
		}
	}
	if len(d) != len(want) {
		t.Errorf("dict has %d keys, want %d", len(d), len(want))
	}
	p.Protected = ""
	if _, ok := processDict(&p)["protected"]; ok {
		t.Error(`"protected" present for a process the core does not protect (HTTP leaves it out)`)
	}
	ports := d["ports"].Value().([]Dict)
	if ports[0]["remote"].Value() != "" || ports[1]["remote"].Value() != remote || ports[0]["local_port"].Value() != uint16(80) {
		t.Errorf("ports = %v", ports)
	}
	det := detailDict(&procs.Detail{Process: p})
	if _, ok := det["environ"]; ok {
		t.Error("environ present although the core returned none")
	}
	det = detailDict(&procs.Detail{Process: p, Environ: []string{"A=1"}})
	if det["environ"].Signature().String() != "as" {
		t.Error("environ missing or mistyped")
	}
	// The whole reply must encode (godbus panics on unrepresentable types).
	msg := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath: dbus.MakeVariant(ObjectPath), dbus.FieldInterface: dbus.MakeVariant(Interface),
		dbus.FieldMember: dbus.MakeVariant("X"), dbus.FieldSignature: dbus.MakeVariant(dbus.SignatureOf([]Dict{det}))},
		Body: []any{[]Dict{det}}}
	var sb strings.Builder
	if err := msg.EncodeTo(&sb, binary.LittleEndian); err != nil {
		t.Fatalf("detail dict does not encode: %v", err)
	}

	// The host figures and the detail's extras encode too.
	full := host.PressureLine{Avg10: 1}
	five := uint64(5)
	sys := host.System{Hostname: "h", CPU: host.CPU{PerCore: []host.CoreCPU{{Percent: 1}}},
		Net: []host.NetRate{{Iface: "eth0"}}, Disks: []host.DiskRate{{Device: "sda"}},
		Filesystems: []host.Filesystem{{Device: "/dev/sda1"}},
		Pressure:    map[string]host.Pressure{"cpu": {Full: &full}}}
	ex := &host.ProcessExtras{Limits: []host.Limit{{Resource: "nofile", Soft: 1024, Hard: -1, Used: &five}, {Resource: "nproc", Soft: 9, Hard: 9}}}
	det = detailDict(&procs.Detail{Process: p, Extras: ex})
	for _, body := range []any{systemDict(&sys), det} {
		msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(body))
		msg.Body = []any{body}
		sb.Reset()
		if err := msg.EncodeTo(&sb, binary.LittleEndian); err != nil {
			t.Errorf("%T does not encode: %v", body, err)
		}
	}
	if det["extras"].Signature().String() != "a{sv}" {
		t.Errorf("extras signature %s", det["extras"].Signature())
	}
}

// TestCloseStopsEmitter: the goroutine New starts and the core
// subscription it takes end with Close.
func TestCloseStopsEmitter(t *testing.T) {
	svc, err := procs.New(procs.Options{SnapshotTTL: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	before := runtime.NumGoroutine()
	s := New(svc, nil, "v")
	if n := runtime.NumGoroutine(); n <= before {
		t.Fatalf("New started no goroutine (%d → %d): the test proves nothing", before, n)
	}
	if n := svc.Subscribers(); n != 1 {
		t.Fatalf("%d subscriptions to the core after New, want 1", n)
	}
	closed := make(chan struct{})
	go func() { s.Close(); s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return: the emitter goroutine did not stop")
	}
	if n := svc.Subscribers(); n != 0 {
		t.Errorf("%d subscriptions to the core after Close, want none", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before New", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
