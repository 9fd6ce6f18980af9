package dbusiface

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/daemon/units"
	"github.com/roy/roy-procwatch/httpui"
	"github.com/roy/roy-procwatch/internal/testproc"
)

// TestKeysMatchHTTP: a process has the same keys over D-Bus as over HTTP
// (docs/dbus-api.md says so), in the list and in the detail, nested keys
// included; and GetSystem has those of GET /api/system. Both transports serve the same core here; a field added to one
// and not the other fails this test.
func TestKeysMatchHTTP(t *testing.T) {
	b := startBus(t)
	const host, token = "127.0.0.1:1", "parity-token-0123456789abcdef"
	h := httpui.New(b.svc, httpui.Options{Token: token, ListenAddrs: []string{host}, Logger: testLogger(t)})
	get := func(path string) map[string]any {
		t.Helper()
		r := httptest.NewRequest("GET", "http://"+host+path, nil)
		r.Header.Set("X-Auth-Token", token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return m
	}
	// A process with a listening socket, so that the ports' keys are
	// compared too; PID 1 has "protected".
	l := testproc.Helper(t, "listen4")

	httpItems := map[int]map[string]any{}
	for _, it := range get("/api/processes")["items"].([]any) {
		m := it.(map[string]any)
		httpItems[int(m["pid"].(float64))] = m
	}
	call := b.rootCall("ListProcesses", "", "pid", "asc")
	if call.Err != nil {
		t.Fatal(call.Err)
	}
	dbusItems := map[int]map[string]any{}
	for _, it := range call.Body[0].([]map[string]dbus.Variant) {
		m := asJSON(t, it).(map[string]any)
		dbusItems[int(m["pid"].(float64))] = m
	}

	// Item by item, the top-level keys (a process that came or went
	// between the two reads is skipped)...
	httpAll, dbusAll := map[string]bool{}, map[string]bool{}
	common, bad := 0, 0
	for pid, hm := range httpItems {
		keyPaths("", hm, httpAll)
		dm, ok := dbusItems[pid]
		if !ok {
			continue
		}
		common++
		if hk, dk := topKeys(hm), topKeys(dm); hk != dk && bad < 3 {
			bad++
			t.Errorf("PID %d: HTTP keys %s, D-Bus keys %s", pid, hk, dk)
		}
	}
	for _, dm := range dbusItems {
		keyPaths("", dm, dbusAll)
	}
	for _, pid := range []int{1, l.PID} {
		if httpItems[pid] == nil || dbusItems[pid] == nil {
			t.Fatalf("PID %d missing from a list (HTTP %v, D-Bus %v)", pid, httpItems[pid] != nil, dbusItems[pid] != nil)
		}
	}
	if common < 3 {
		t.Fatalf("only %d processes in both lists", common)
	}
	// ...and over the whole list, the nested ones (ports).
	diffKeys(t, "list", httpAll, dbusAll)
	for _, k := range []string{"protected", "ports[].local_port", "memory_percent", "cpu_time", "memory_vms"} {
		if !httpAll[k] {
			t.Errorf("no list item has %q: the comparison misses it", k)
		}
	}

	// The detail, nested keys included: the listener, and PID 1.
	for _, pid := range []int{l.PID, 1} {
		hk, dk := map[string]bool{}, map[string]bool{}
		keyPaths("", get("/api/process/"+strconv.Itoa(pid)), hk)
		call := b.rootCall("GetProcess", uint32(pid))
		if call.Err != nil {
			t.Fatal(call.Err)
		}
		keyPaths("", asJSON(t, call.Body[0]), dk)
		diffKeys(t, "detail of PID "+strconv.Itoa(pid), hk, dk)
	}

	// GetSystem and GET /api/system: the same fields (docs/host.md).
	hk, dk := map[string]bool{}, map[string]bool{}
	keyPaths("", get("/api/system"), hk)
	call = b.rootCall("GetSystem")
	if call.Err != nil {
		t.Fatal(call.Err)
	}
	keyPaths("", asJSON(t, call.Body[0]), dk)
	diffKeys(t, "GetSystem", hk, dk)
}

// TestServiceKeysMatchHTTP: ListServices and GetServiceJournal items have
// the keys HTTP gives the same unit and entry (the JSON of units.Unit and
// units.Entry, which /api/services and the journal route write as they
// are). Every field is set, so that none is left out as empty.
func TestServiceKeysMatchHTTP(t *testing.T) {
	n := uint64(7)
	remote := "127.0.0.1:9"
	u := units.Unit{Name: "a.service", Type: "service", Description: "d", Load: "loaded", Active: "active", Sub: "running",
		UnitFileState: "enabled", MainPID: 42, Since: "2026-01-01T00:00:00Z", Result: "success", Restarts: 1,
		MemoryCurrent: &n, CPUUsageNSec: &n, Tasks: &n, ControlGroup: "/system.slice/a.service", PIDs: []int{42},
		Ports: []units.Port{{Port: procs.Port{Local: "127.0.0.1:80", Remote: &remote, Status: "ESTABLISHED",
			Family: "AddressFamily.AF_INET", Type: "tcp", LocalPort: 80}, PID: 42}}}
	e := units.Entry{Time: "2026-01-01T00:00:00.000001Z", Usec: 1, Priority: 3, Identifier: "a", PID: 42, Unit: "a.service",
		Message: "m", Truncated: true, Binary: true, Cursor: "c"}
	for _, c := range []struct {
		what  string
		value any
		dict  Dict
	}{{"ListServices item", u, unitDict(&u)}, {"GetServiceJournal entry", e, entryDict(&e)}} {
		raw, err := json.Marshal(c.value)
		if err != nil {
			t.Fatal(err)
		}
		var m any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		hk, dk := map[string]bool{}, map[string]bool{}
		keyPaths("", m, hk)
		keyPaths("", asJSON(t, c.dict), dk)
		diffKeys(t, c.what, hk, dk)
		for k, nonNull := range hk {
			if !nonNull {
				t.Errorf("%s: %q is null: set it in this test", c.what, k)
			}
		}
	}
}

// asJSON turns a D-Bus value into what encoding/json would decode from the
// same data (maps, lists, float64, strings).
func asJSON(t *testing.T, x any) any {
	t.Helper()
	raw, err := json.Marshal(plain(x))
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// keyPaths adds the key paths of x to out: "ports[].local" for a key of
// an object in a list. A key whose value is null everywhere it was seen
// maps to false: D-Bus has no null, so it may be left out there
// (docs/dbus-api.md says which: environ, extras).
func keyPaths(prefix string, x any, out map[string]bool) {
	switch x := x.(type) {
	case map[string]any:
		for k, v := range x {
			out[prefix+k] = out[prefix+k] || v != nil
			keyPaths(prefix+k+".", v, out)
		}
	case []any:
		p := strings.TrimSuffix(prefix, ".") + "[]."
		for _, v := range x {
			keyPaths(p, v, out)
		}
	}
}

func topKeys(m map[string]any) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

func diffKeys(t *testing.T, what string, httpKeys, dbusKeys map[string]bool) {
	t.Helper()
	var onlyHTTP, onlyDBus []string
	for k, nonNull := range httpKeys {
		if _, ok := dbusKeys[k]; !ok && nonNull {
			onlyHTTP = append(onlyHTTP, k)
		}
	}
	for k := range dbusKeys {
		if _, ok := httpKeys[k]; !ok {
			onlyDBus = append(onlyDBus, k)
		}
	}
	sort.Strings(onlyHTTP)
	sort.Strings(onlyDBus)
	if len(onlyHTTP)+len(onlyDBus) > 0 {
		t.Errorf("%s: keys only over HTTP %v, only over D-Bus %v", what, onlyHTTP, onlyDBus)
	}
}
