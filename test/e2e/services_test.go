//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The services view against the container's real systemd and journal:
// a service listening on a port, a service that fails at start and a timer.

const (
	listenUnit = "e2e-listen.service"
	failUnit   = "e2e-fail.service"
	tickTimer  = "e2e-tick.timer"
	listenPort = 18510 // in this test's port range; the host shares the network
	failMarker = "e2e-fail-marker: cannot start, missing /etc/e2e-fail.conf"
)

type unitItem struct {
	Name          string `json:"name"`
	Load          string `json:"load"`
	Active        string `json:"active"`
	Sub           string `json:"sub"`
	UnitFileState string `json:"unit_file_state"`
	MainPID       int    `json:"main_pid"`
	Since         string `json:"since"`
	Result        string `json:"result"`
	Restarts      int    `json:"restarts"`
	MemoryCurrent *int64 `json:"memory_current"`
	CPUUsageNSec  *int64 `json:"cpu_usage_nsec"`
	Tasks         *int64 `json:"tasks"`
	PIDs          []int  `json:"pids"`
	Ports         []struct {
		Local     string `json:"local"`
		Status    string `json:"status"`
		LocalPort int    `json:"local_port"`
		PID       int    `json:"pid"`
	} `json:"ports"`
}

type unitList struct {
	Count int        `json:"count"`
	Items []unitItem `json:"items"`
}

type actionResp struct {
	OK            bool   `json:"ok"`
	Unit          string `json:"unit"`
	JobResult     string `json:"job_result"`
	Active        string `json:"active"`
	Sub           string `json:"sub"`
	UnitFileState string `json:"unit_file_state"`
	MainPID       int    `json:"main_pid"`
	Error         string `json:"error"`
	Code          string `json:"code"`
}

func listUnits(t *testing.T, tok, query string) unitList {
	t.Helper()
	code, b, err := api("GET", "/api/services"+query, tok, "")
	if err != nil || code != 200 {
		t.Fatalf("GET /api/services%s: %d %v %.300s", query, code, err, b)
	}
	var l unitList
	if err := json.Unmarshal(b, &l); err != nil || l.Count != len(l.Items) {
		t.Fatalf("GET /api/services%s: %v %.300s", query, err, b)
	}
	return l
}

func findUnit(l unitList, name string) *unitItem {
	for i := range l.Items {
		if l.Items[i].Name == name {
			return &l.Items[i]
		}
	}
	return nil
}

func unitAction(t *testing.T, tok, unit, action string) (int, actionResp) {
	t.Helper()
	code, b, err := api("POST", "/api/service/"+url.PathEscape(unit)+"/"+action, tok, "")
	if err != nil {
		t.Fatalf("POST %s %s: %v", unit, action, err)
	}
	var r actionResp
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("POST %s %s: %d %v %.300s", unit, action, code, err, b)
	}
	return code, r
}

// installServiceUnits writes and starts the test units.
func installServiceUnits(t *testing.T) {
	ct.must(t, fmt.Sprintf(`cat > /etc/systemd/system/%[1]s <<'UNIT'
[Unit]
Description=e2e service listening on 127.0.0.1:%[2]d
[Service]
ExecStart=/usr/bin/systemd-socket-activate -l 127.0.0.1:%[2]d /bin/sleep 1
ExecReload=/bin/true
[Install]
WantedBy=multi-user.target
UNIT
cat > /etc/systemd/system/%[3]s <<'UNIT'
[Unit]
Description=e2e service that fails at start
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "%[4]s" >&2; exit 3'
UNIT
cat > /etc/systemd/system/e2e-tick.service <<'UNIT'
[Unit]
Description=e2e timer's job
[Service]
Type=oneshot
ExecStart=/bin/true
UNIT
cat > /etc/systemd/system/%[5]s <<'UNIT'
[Unit]
Description=e2e timer
[Timer]
OnActiveSec=1h
UNIT
systemctl daemon-reload
systemctl start %[1]s %[5]s
systemctl start %[3]s || true`, listenUnit, listenPort, failUnit, failMarker, tickTimer))
	waitFor(t, "the e2e listener", 5*time.Second, func() bool {
		out, _ := ct.run(5*time.Second, fmt.Sprintf("ss -Hltn 'sport = :%d'", listenPort))
		return strings.TrimSpace(out) != ""
	})
	time.Sleep(2500 * time.Millisecond) // past the daemon's 2 s snapshot TTL
}

// S1: the list shows the units with systemd's states, the listener's port,
// failed units first; filters by type, state and text; CSV; detail.
func checkServicesList(t *testing.T) {
	installServiceUnits(t)
	tok := token(t)
	l := listUnits(t, tok, "")
	t.Logf("%d services in the container", l.Count)
	seenOther := false
	for _, it := range l.Items {
		if it.Active != "failed" {
			seenOther = true
		} else if seenOther {
			t.Errorf("failed unit %s after a non-failed one", it.Name)
		}
	}
	f := findUnit(l, failUnit)
	if f == nil || f.Active != "failed" || f.Result != "exit-code" || f.Load != "loaded" {
		t.Fatalf("%s: %+v, want failed with result exit-code", failUnit, f)
	}
	if want := unitProp(t, failUnit, "ActiveState"); want != f.Active {
		t.Errorf("%s: active %q, systemctl says %q", failUnit, f.Active, want)
	}
	u := findUnit(l, listenUnit)
	if u == nil {
		t.Fatalf("%s not listed", listenUnit)
	}
	main := atoi(t, unitProp(t, listenUnit, "MainPID"))
	if u.Active != "active" || u.Sub != "running" || u.MainPID != main || u.UnitFileState != "disabled" || u.Since == "" {
		t.Errorf("%s: %+v, want active/running, main pid %d, disabled, a since", listenUnit, u, main)
	}
	// CPU time is in every cgroup v2 (cpu.stat) and in cpuacct under v1;
	// memory and tasks need their controllers, which a container may lack.
	layout := ct.must(t, "ls /sys/fs/cgroup | tr '\\n' ' '")
	_, cpuErr := ct.run(5*time.Second, "test -e /sys/fs/cgroup/cgroup.controllers -o -d /sys/fs/cgroup/cpuacct")
	if !slices.Contains(u.PIDs, main) || (cpuErr == nil && u.CPUUsageNSec == nil) || (u.Tasks != nil && *u.Tasks < 1) {
		t.Errorf("%s: pids %v tasks %v cpu %v (cgroupfs: %s)", listenUnit, u.PIDs, deref(u.Tasks), deref(u.CPUUsageNSec), layout)
	}
	t.Logf("%s: memory %v cpu %v tasks %v (cgroupfs: %s)", listenUnit, deref(u.MemoryCurrent), deref(u.CPUUsageNSec), deref(u.Tasks), layout)
	listening := false
	for _, p := range u.Ports {
		if p.LocalPort == listenPort && p.Status == "LISTEN" && p.PID == main {
			listening = true
		}
	}
	if !listening {
		t.Errorf("%s: ports %+v, want LISTEN on %d by %d", listenUnit, u.Ports, listenPort, main)
	}
	if l := listUnits(t, tok, "?state=failed"); findUnit(l, failUnit) == nil || findUnit(l, listenUnit) != nil {
		t.Errorf("state=failed: %+v", l.Items)
	} else {
		for _, it := range l.Items {
			if it.Active != "failed" {
				t.Errorf("state=failed lists %s (%s)", it.Name, it.Active)
			}
		}
	}
	// The process list says each process's unit (its cgroup), and unit:
	// finds the unit's processes: the same PIDs systemd's cgroup holds.
	pl := listProcs(t, tok, "?fresh=1&sort=pid&order=asc&q=unit:"+strings.TrimSuffix(listenUnit, ".service"))
	var got []int
	for _, p := range pl.Items {
		got = append(got, p.PID)
		if p.Unit != listenUnit {
			t.Errorf("unit:%s lists PID %d of unit %q", listenUnit, p.PID, p.Unit)
		}
	}
	if want := slices.Sorted(slices.Values(u.PIDs)); !slices.Equal(got, want) {
		t.Errorf("unit:%s: PIDs %v, the unit's cgroup %v", listenUnit, got, want)
	}
	if pl := listProcs(t, tok, "?q=pid:1"); pl.Count != 1 || pl.Items[0].Unit != "init.scope" {
		t.Errorf("PID 1's unit: %+v", pl.Items)
	}
	if l := listUnits(t, tok, "?q=E2E-LIS"); l.Count != 1 || l.Items[0].Name != listenUnit {
		t.Errorf("q=E2E-LIS: %+v", l.Items)
	}
	tl := listUnits(t, tok, "?type=timer")
	if tm := findUnit(tl, tickTimer); tm == nil || tm.Active != "active" || tm.Sub != "waiting" {
		t.Errorf("type=timer: %s is %+v, want active/waiting", tickTimer, tm)
	}
	for _, it := range tl.Items {
		if !strings.HasSuffix(it.Name, ".timer") {
			t.Errorf("type=timer lists %s", it.Name)
		}
	}
	if l := listUnits(t, tok, "?type=service,socket&q=roy-procwatch"); findUnit(l, sock) == nil || findUnit(l, svc) == nil {
		t.Errorf("type=service,socket: %+v", l.Items)
	}
	code, b, _ := api("GET", "/api/services?format=csv&q=e2e-listen", tok, "")
	if code != 200 || !strings.HasPrefix(string(b), "name,description,load,active,sub,unit_file_state,main_pid") ||
		!strings.Contains(string(b), listenUnit+",") || !strings.Contains(string(b), fmt.Sprintf(":%d LISTEN", listenPort)) {
		t.Errorf("csv: %d %.400s", code, b)
	}
	code, b, _ = api("GET", "/api/service/"+listenUnit, tok, "")
	var d struct {
		unitItem
		Processes []struct {
			PID int `json:"pid"`
		} `json:"processes"`
		Journal []struct {
			Message string `json:"message"`
		} `json:"journal"`
	}
	if code != 200 || json.Unmarshal(b, &d) != nil || d.MainPID != main || len(d.Processes) == 0 || d.Processes[0].PID != main || len(d.Journal) == 0 {
		t.Errorf("GET /api/service/%s: %d %.500s", listenUnit, code, b)
	}
	for path, want := range map[string]int{
		"/api/service/no-such-e2e.service":                 404,
		"/api/service/bad%20name.service":                  400,
		"/api/service/nginx":                               400,
		"/api/services?type=exe":                           400,
		"/api/services?state=a%3Bb":                        400,
		"/api/service/e2e-fail.service/journal?lines=1001": 400,
	} {
		code, b, _ := api("GET", path, tok, "")
		var e map[string]any
		if code != want || json.Unmarshal(b, &e) != nil || e["error"] == nil || e["code"] == nil {
			t.Errorf("GET %s: %d %s, want %d with error and code", path, code, b, want)
		}
	}
}

type journalResp struct {
	Count   int    `json:"count"`
	Cursor  string `json:"cursor"`
	Entries []struct {
		Message  string `json:"message"`
		Priority int    `json:"priority"`
		Cursor   string `json:"cursor"`
		Time     string `json:"time"`
	} `json:"entries"`
}

func getJournal(t *testing.T, tok, path string) journalResp {
	t.Helper()
	var j journalResp
	code, b, err := api("GET", path, tok, "")
	if err != nil || code != 200 || json.Unmarshal(b, &j) != nil {
		t.Fatalf("GET %s: %d %v %.300s", path, code, err, b)
	}
	return j
}

// S2: the failing unit's journal lines through the API, after a cursor,
// and a PID's.
func checkServicesJournal(t *testing.T) {
	tok := token(t)
	j := getJournal(t, tok, "/api/service/"+failUnit+"/journal?lines=50")
	var msgs []string
	for _, e := range j.Entries {
		msgs = append(msgs, e.Message)
	}
	all := strings.Join(msgs, "\n")
	if !strings.Contains(all, failMarker) {
		t.Errorf("journal of %s lacks the service's own line %q:\n%s", failUnit, failMarker, all)
	}
	if !regexp.MustCompile(`(?i)failed`).MatchString(all) {
		t.Errorf("journal of %s lacks systemd's own message about it (UNIT=):\n%s", failUnit, all)
	}
	if j.Count == 0 || j.Cursor != j.Entries[len(j.Entries)-1].Cursor || j.Entries[0].Time == "" {
		t.Fatalf("count %d cursor %q", j.Count, j.Cursor)
	}
	if j1 := getJournal(t, tok, "/api/service/"+failUnit+"/journal?lines=1"); j1.Count != 1 {
		t.Errorf("lines=1: %d entries", j1.Count)
	}
	cur := j.Cursor
	if ja := getJournal(t, tok, "/api/service/"+failUnit+"/journal?cursor="+url.QueryEscape(cur)); ja.Count != 0 {
		t.Errorf("after the last cursor: %d entries", ja.Count)
	}
	ct.run(20*time.Second, "systemctl start "+failUnit)
	waitFor(t, "the new failure in the journal after the cursor", 5*time.Second, func() bool {
		ja := getJournal(t, tok, "/api/service/"+failUnit+"/journal?cursor="+url.QueryEscape(cur))
		for _, e := range ja.Entries {
			if e.Message == failMarker {
				return true
			}
		}
		return false
	})
	main := atoi(t, unitProp(t, listenUnit, "MainPID"))
	jp := getJournal(t, tok, fmt.Sprintf("/api/process/%d/journal?lines=20", main))
	t.Logf("journal of PID %d: %d entries", main, jp.Count)
}

// S3: every action changes the real state, checked with systemctl show.
func checkServicesActions(t *testing.T) {
	tok := token(t)
	step := func(unit, action, prop, want string) actionResp {
		t.Helper()
		t0 := time.Now()
		code, r := unitAction(t, tok, unit, action)
		if code != 200 || !r.OK || r.JobResult != "done" || r.Unit != unit {
			t.Fatalf("%s %s: %d %+v", action, unit, code, r)
		}
		if got := unitProp(t, unit, prop); got != want {
			t.Errorf("%s %s: systemctl show %s = %q, want %q", action, unit, prop, got, want)
		}
		t.Logf("%s %s: %+v in %v", action, unit, r, time.Since(t0).Round(time.Millisecond))
		return r
	}
	r := step(listenUnit, "stop", "ActiveState", "inactive")
	if r.Active != "inactive" || r.MainPID != 0 {
		t.Errorf("stop: %+v", r)
	}
	r = step(listenUnit, "start", "ActiveState", "active")
	if r.Active != "active" || r.Sub != "running" || r.MainPID == 0 || fmt.Sprint(r.MainPID) != unitProp(t, listenUnit, "MainPID") {
		t.Errorf("start: %+v", r)
	}
	before := r.MainPID
	inv := unitProp(t, listenUnit, "InvocationID")
	r = step(listenUnit, "restart", "ActiveState", "active")
	if r.MainPID == before || unitProp(t, listenUnit, "InvocationID") == inv {
		t.Errorf("restart: main pid %d (was %d), invocation unchanged?", r.MainPID, before)
	}
	r = step(listenUnit, "reload", "ActiveState", "active")
	if r.MainPID != atoi(t, unitProp(t, listenUnit, "MainPID")) {
		t.Errorf("reload changed the main pid: %+v", r)
	}
	r = step(listenUnit, "enable", "UnitFileState", "enabled")
	if r.UnitFileState != "enabled" || !ct.exists("/etc/systemd/system/multi-user.target.wants/"+listenUnit) {
		t.Errorf("enable: %+v", r)
	}
	r = step(listenUnit, "disable", "UnitFileState", "disabled")
	if r.UnitFileState != "disabled" || ct.exists("/etc/systemd/system/multi-user.target.wants/"+listenUnit) {
		t.Errorf("disable: %+v", r)
	}
	if unitProp(t, failUnit, "ActiveState") != "failed" {
		t.Fatalf("%s is not failed before reset-failed", failUnit)
	}
	step(failUnit, "reset-failed", "ActiveState", "inactive")
	// A start that fails is the job's result, not an HTTP error.
	code, fr := unitAction(t, tok, failUnit, "start")
	if code != 200 || fr.OK || fr.JobResult != "failed" || fr.Active != "failed" {
		t.Errorf("start of the failing unit: %d %+v, want ok false, job_result failed", code, fr)
	}
	code, fr = unitAction(t, tok, listenUnit, "explode")
	if code != 400 || fr.Code == "" {
		t.Errorf("unknown action: %d %+v", code, fr)
	}
	code, fr = unitAction(t, tok, "no-such-e2e.service", "start")
	if code != 404 || fr.Code != "no_such_unit" {
		t.Errorf("unknown unit: %d %+v", code, fr)
	}
	log := ct.must(t, "cat /var/lib/roy-procwatch/audit.log")
	for _, want := range []string{`"action":"unit-restart","unit":"` + listenUnit + `"`, `"action":"unit-disable"`, `"result":"no_such_unit"`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit file lacks %s", want)
		}
	}
}

// S4: refusals are 409 with the reason, and change nothing.
func checkServicesRefusals(t *testing.T) {
	tok := token(t)
	dbusPID := unitProp(t, "dbus.service", "MainPID")
	sockState := unitProp(t, sock, "ActiveState") + unitProp(t, sock, "UnitFileState")
	for _, c := range []struct{ unit, action, mention string }{
		{"dbus.service", "stop", "system bus"},
		{"dbus.service", "restart", "system bus"},
		{"dbus.socket", "stop", "system bus"},
		{sock, "stop", "roy-procwatch"},
		{sock, "disable", "roy-procwatch"},
		{svc, "stop", "roy-procwatch"},
		{"systemd-journald.service", "stop", "journal"},
		{"-.slice", "stop", "every unit"},
		{"sysinit.target", "stop", "would also stop"},
	} {
		code, r := unitAction(t, tok, c.unit, c.action)
		if code != 409 || r.Code != "unit_protected" || !strings.Contains(r.Error, c.mention) {
			t.Errorf("%s %s: %d %+v, want 409 unit_protected mentioning %q", c.action, c.unit, code, r, c.mention)
		} else {
			t.Logf("%s %s: 409 %s", c.action, c.unit, r.Error)
		}
	}
	if got := unitProp(t, "dbus.service", "MainPID"); got != dbusPID {
		t.Errorf("dbus.service MainPID %s -> %s", dbusPID, got)
	}
	if got := unitProp(t, sock, "ActiveState") + unitProp(t, sock, "UnitFileState"); got != sockState {
		t.Errorf("%s state %s -> %s", sock, sockState, got)
	}
	log := ct.must(t, "cat /var/lib/roy-procwatch/audit.log")
	if !strings.Contains(log, `"action":"unit-stop","unit":"dbus.service"`) || !strings.Contains(log, `"result":"unit_protected"`) {
		t.Errorf("the refusals are not in the audit file")
	}
}

// S5: a unit changed from outside (systemctl) shows on /api/events as an
// "event: unit" within 1 s.
func checkServicesLive(t *testing.T) {
	tok := token(t)
	req, _ := http.NewRequest("GET", baseURL+"/api/events?interval=60", nil)
	req.Header.Set("X-Auth-Token", tok)
	resp, err := (&http.Client{Timeout: 120 * time.Second}).Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/events: %v %v", err, resp)
	}
	defer resp.Body.Close()
	events := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		name := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && name == "unit":
				events <- strings.TrimPrefix(line, "data: ")
			}
		}
		close(events)
	}()
	time.Sleep(500 * time.Millisecond) // the stream is subscribed
	var lat []time.Duration
	for _, c := range []struct{ cmd, active string }{{"stop", "inactive"}, {"start", "active"}, {"stop", "inactive"}, {"start", "active"}} {
		t0 := time.Now()
		if _, err := ct.run(20*time.Second, "systemctl "+c.cmd+" "+listenUnit); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(time.Second)
	wait:
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatal("event stream closed")
				}
				var ch struct{ Name, Active, Sub string }
				_ = json.Unmarshal([]byte(ev), &ch)
				if ch.Name == listenUnit && ch.Active == c.active {
					lat = append(lat, time.Since(t0))
					break wait
				}
			case <-deadline:
				t.Fatalf("no unit event for %s %s within 1 s of systemctl %s returning", listenUnit, c.active, c.cmd)
			}
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("unit events after systemctl stop/start (from the command's start, nsenter included): %v", lat)
	logf("services: unit event after an outside systemctl: max %v from the command's start (nsenter + systemctl included)", lat[len(lat)-1].Round(time.Millisecond))
}

// S6: D-Bus: busctl ListServices and GetServiceJournal (any caller may
// list; the journal is root's or polkit's).
func checkServicesBusctl(t *testing.T) {
	const call = `busctl --timeout=15 call org.roy.ProcWatch1 /org/roy/ProcWatch1 org.roy.ProcWatch1.Manager `
	const nobody = `setpriv --reuid=65534 --regid=65534 --clear-groups `
	out := ct.must(t, call+`ListServices ss "e2e-*" ""`)
	if !strings.Contains(out, `"`+listenUnit+`"`) || !strings.Contains(out, `"`+failUnit+`"`) || strings.Contains(out, tickTimer) {
		t.Errorf("ListServices e2e-*: %.600s", out)
	}
	out = ct.must(t, call+`ListServices ss "*.timer" "waiting"`)
	if !strings.Contains(out, `"`+tickTimer+`"`) {
		t.Errorf("ListServices *.timer waiting: %.600s", out)
	}
	out = ct.must(t, nobody+call+`ListServices ss "e2e-listen*" ""`)
	if !strings.HasPrefix(out, "aa{sv} 1 ") {
		t.Errorf("ListServices as nobody: %.300s", out)
	}
	out = ct.must(t, call+`GetServiceJournal su `+failUnit+` 20`)
	if !strings.Contains(out, failMarker) {
		t.Errorf("GetServiceJournal: %.600s", out)
	}
	out, err := ct.run(20*time.Second, nobody+call+`GetServiceJournal su `+failUnit+` 20`)
	if err == nil || !strings.Contains(out, "ccess denied") {
		t.Errorf("GetServiceJournal as nobody: %v %.300s", err, out)
	}
	out, err = ct.run(20*time.Second, call+`GetServiceJournal su 'bad name' 20`)
	if err == nil || !strings.Contains(out, "invalid unit name") {
		t.Errorf("GetServiceJournal bad name: %v %.300s", err, out)
	}
}

// S7: GET /api/services p50 with about 300 services loaded (most of them
// bench services started for the purpose).
func checkServicesBench(t *testing.T) {
	tok := token(t)
	const n = 260
	ct.must(t, fmt.Sprintf(`for i in $(seq 1 %d); do printf '[Unit]\nDescription=bench %%s\n[Service]\nExecStart=/bin/sleep infinity\n' $i > /etc/systemd/system/e2e-bench-$i.service; done
systemctl daemon-reload && systemctl start $(seq -f 'e2e-bench-%%g.service' 1 %d)`, n, n))
	defer ct.run(120*time.Second, `systemctl stop 'e2e-bench-*.service'; rm -f /etc/systemd/system/e2e-bench-*.service; systemctl daemon-reload`)
	t0 := time.Now()
	services := listUnits(t, tok, "")
	cold := time.Since(t0)
	all := listUnits(t, tok, "?type=all")
	var d []time.Duration
	for i := 0; i < 31; i++ {
		t0 := time.Now()
		code, _, err := api("GET", "/api/services", tok, "")
		if err != nil || code != 200 {
			t.Fatalf("GET /api/services: %d %v", code, err)
		}
		d = append(d, time.Since(t0))
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	// A fresh daemon (its cache empty; systemd's own caches warm, as after
	// an idle exit): the first list, activation included.
	ct.must(t, "systemctl stop "+svc)
	t0 = time.Now()
	listUnits(t, tok, "")
	fresh := time.Since(t0)
	logf("services bench: first GET /api/services after the daemon restarted (socket activation included): %v", fresh.Round(100*time.Microsecond))
	logf("services bench: GET /api/services with %d services (%d units of every type loaded): first after daemon-reload (cold) %v, then p50 %v, p90 %v, max %v",
		services.Count, all.Count, cold.Round(100*time.Microsecond), d[len(d)/2].Round(100*time.Microsecond), d[len(d)*9/10].Round(100*time.Microsecond), d[len(d)-1].Round(100*time.Microsecond))
	if services.Count < 280 {
		t.Errorf("only %d services for the bench", services.Count)
	}
}

// S8: remove the test units.
func cleanupServiceUnits(t *testing.T) {
	ct.run(30*time.Second, fmt.Sprintf("systemctl stop %[1]s %[2]s e2e-tick.service %[3]s; systemctl reset-failed %[3]s; rm -f /etc/systemd/system/%[1]s /etc/systemd/system/%[2]s /etc/systemd/system/e2e-tick.service /etc/systemd/system/%[3]s; systemctl daemon-reload",
		listenUnit, tickTimer, failUnit))
}

// readmeServicesExamples returns the bash blocks of README.md's "### Services".
func readmeServicesExamples(t *testing.T) []string {
	t.Helper()
	return readmeBashBlocks(t, "### Services")
}

// S9: README's services examples run as written, nginx.service standing for
// the e2e listener; each prints what it promises.
func checkServicesReadme(t *testing.T) {
	blocks := readmeServicesExamples(t)
	if len(blocks) < 6 {
		t.Fatalf("only %d bash blocks in README's Services section", len(blocks))
	}
	prelude := "set -e\nTOKEN=$(cat /etc/roy-procwatch/token)\ncd /tmp\n"
	for i, blk := range blocks {
		script := strings.ReplaceAll(strings.ReplaceAll(blk, "nginx.service", listenUnit), `"nginx*"`, `"e2e-listen*"`)
		before := unitProp(t, listenUnit, "InvocationID")
		out, err := ct.run(60*time.Second, prelude+script)
		out = strings.TrimSpace(out)
		t.Logf("README services block %d:\n%s\n-> %.400s", i, script, out)
		if err != nil {
			t.Errorf("README services block %d failed: %v", i, err)
			continue
		}
		var want string
		switch {
		case strings.Contains(blk, "state=failed"):
			want = `"name":"` + failUnit + `"`
		case strings.Contains(blk, `"LISTEN"`):
			want = fmt.Sprintf("%s 127.0.0.1:%d", listenUnit, listenPort)
		case strings.Contains(blk, "q=unit:"):
			want = fmt.Sprintf("%d %s ", atoi(t, unitProp(t, listenUnit, "MainPID")), listenUnit)
		case strings.Contains(blk, "/restart"):
			want = `"job_result":"done"`
		case strings.Contains(blk, "/journal"):
			want = "e2e"
		case strings.Contains(blk, "ListServices"):
			want = `"` + listenUnit + `"`
		case strings.Contains(blk, "RestartUnit"):
			want = "/org/freedesktop/systemd1/job/"
			if unitProp(t, listenUnit, "InvocationID") == before {
				t.Errorf("README block %d: %s was not restarted", i, listenUnit)
			}
			if st := unitProp(t, listenUnit, "UnitFileState"); st != "enabled" {
				t.Errorf("README block %d: %s is %s after EnableUnitFiles", i, listenUnit, st)
			}
		}
		if want == "" || !strings.Contains(out, want) {
			t.Errorf("README services block %d: want %q in %.400s", i, want, out)
		}
	}
	ct.run(20*time.Second, "systemctl disable "+listenUnit)

	// docs/services.md's busctl block (systemd's own API) as written, the
	// same way: every call succeeds and leaves the unit running, disabled.
	b, err := os.ReadFile("../../docs/services.md")
	if err != nil {
		t.Fatal(err)
	}
	docBlocks := regexp.MustCompile("(?ms)^```bash\n(.*?)^```").FindAllStringSubmatch(string(b), -1)
	if len(docBlocks) == 0 {
		t.Fatal("no bash block in docs/services.md")
	}
	for i, m := range docBlocks {
		script := strings.ReplaceAll(m[1], "nginx.service", listenUnit)
		out, err := ct.run(60*time.Second, "set -e\n"+script)
		t.Logf("docs/services.md block %d:\n%s\n-> %.400s", i, script, out)
		if err != nil {
			t.Errorf("docs/services.md block %d failed: %v", i, err)
		}
	}
	if a, f := unitProp(t, listenUnit, "ActiveState"), unitProp(t, listenUnit, "UnitFileState"); a != "active" || f != "disabled" {
		t.Errorf("after docs/services.md's block: %s is %s, %s", listenUnit, a, f)
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
