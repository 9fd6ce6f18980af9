package httpui

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/internal/testproc"
)

func TestHealth(t *testing.T) {
	h, _ := newHandler(t, Options{Version: "9.9.9"})
	w := do(t, h, req{path: "/api/health", noToken: true})
	wantStatus(t, w, 200)
	m := decode(t, w)
	if m["status"] != "ok" || m["version"] != "9.9.9" {
		t.Errorf("health = %v", m)
	}
	ts, _ := m["time"].(string)
	if _, err := time.ParseInLocation("2006-01-02T15:04:05.000000", ts, time.Local); err != nil {
		t.Errorf("time %q is not the original API's ISO-8601 format (docs/http-api.md): %v", ts, err)
	}
	if keys := sortedKeys(m); !slices.Equal(keys, []string{"status", "time", "version"}) {
		t.Errorf("health keys = %v", keys)
	}
	// A wrong token on the health route does not matter either.
	wantStatus(t, do(t, h, req{path: "/api/health", hdr: map[string]string{"X-Auth-Token": "nope"}}), 200)
}

func sortedKeys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

func TestAuth(t *testing.T) {
	protected := []req{
		{path: "/api/processes"},
		{path: "/api/process/1"},
		{path: "/api/signals"},
		{method: "POST", path: "/api/process/1/signal", body: `{"signal":"CONT"}`},
		{method: "POST", path: "/api/process/1/renice", body: `{"nice":0}`},
		{method: "POST", path: "/api/process/1/restart"},
	}
	bad := []struct {
		name   string
		hdr    map[string]string
		query  string
		body   string
		status int
	}{
		{name: "missing", status: 401},
		{name: "empty", hdr: map[string]string{"X-Auth-Token": ""}, status: 401},
		{name: "wrong", hdr: map[string]string{"X-Auth-Token": strings.Repeat("0", len(testToken))}, status: 401},
		{name: "one byte shorter", hdr: map[string]string{"X-Auth-Token": testToken[:len(testToken)-1]}, status: 401},
		{name: "one byte longer", hdr: map[string]string{"X-Auth-Token": testToken + "0"}, status: 401},
		{name: "other case", hdr: map[string]string{"X-Auth-Token": strings.ToUpper(testToken)}, status: 401},
		{name: "as bearer", hdr: map[string]string{"Authorization": "Bearer " + testToken}, status: 401},
		{name: "in the query", query: "?token=" + testToken, status: 401},
		{name: "in the query as X-Auth-Token", query: "?X-Auth-Token=" + testToken, status: 401},
		{name: "in a cookie", hdr: map[string]string{"Cookie": "token=" + testToken}, status: 401},
		{name: "257 bytes", hdr: map[string]string{"X-Auth-Token": strings.Repeat("a", 257)}, status: 400},
		{name: "10 KiB", hdr: map[string]string{"X-Auth-Token": strings.Repeat("a", 10<<10)}, status: 400},
	}
	for _, p := range protected {
		var unauthorizedBody string
		for _, b := range bad {
			t.Run(p.method+p.path+"/"+b.name, func(t *testing.T) {
				h, cc := newHandler(t, Options{}) // fresh limiter each time
				r := p
				r.noToken = true
				r.hdr = b.hdr
				r.path += b.query
				w := do(t, h, r)
				wantStatus(t, w, b.status)
				if cc.calls.Load() != 0 {
					t.Errorf("the core was called %d times without a valid token", cc.calls.Load())
				}
				if b.status == 401 {
					// Missing and wrong tokens get the same answer: no hint.
					if unauthorizedBody == "" {
						unauthorizedBody = w.Body.String()
					} else if w.Body.String() != unauthorizedBody {
						t.Errorf("401 body %q differs from %q", w.Body.String(), unauthorizedBody)
					}
				}
			})
		}
	}
	// The token in the body only (not the header) is not a token.
	h, cc := newHandler(t, Options{})
	w := do(t, h, req{method: "POST", path: "/api/process/4242/signal", noToken: true,
		body: `{"signal":"STOP","token":"` + testToken + `","X-Auth-Token":"` + testToken + `"}`})
	wantStatus(t, w, 401)
	if cc.calls.Load() != 0 {
		t.Error("a body token was honoured")
	}
	// The exact token works, and a 256-byte one is compared, not refused.
	wantStatus(t, do(t, h, req{path: "/api/signals"}), 200)
	h256, _ := newHandler(t, Options{Token: strings.Repeat("k", 256)})
	wantStatus(t, do(t, h256, req{path: "/api/signals", noToken: true, hdr: map[string]string{"X-Auth-Token": strings.Repeat("k", 256)}}), 200)
}

// TestAuthLimiter (D13): a flood of bad tokens is answered 429 after the
// burst, while the valid token keeps working.
func TestAuthLimiter(t *testing.T) {
	h, _ := newHandler(t, Options{})
	start := time.Now()
	var n401, n429, firstBlocked int
	for i := 0; i < 10000; i++ {
		w := do(t, h, req{path: "/api/processes", hdr: map[string]string{"X-Auth-Token": "bad-" + strconv.Itoa(i)}})
		switch w.Code {
		case 401:
			n401++
		case 429:
			if n429 == 0 {
				firstBlocked = i
				if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 {
					t.Errorf("429 without a valid Retry-After: %q", w.Header().Get("Retry-After"))
				}
			}
			n429++
		default:
			t.Fatalf("bad token %d: status %d", i, w.Code)
		}
		if i%1000 == 999 {
			// The valid token is never limited, in the middle of the flood.
			if w := do(t, h, req{path: "/api/signals"}); w.Code != 200 {
				t.Fatalf("valid token during a bad-token flood: status %d %s", w.Code, w.Body.String())
			}
		}
	}
	elapsed := time.Since(start).Seconds()
	// Burst of 20, refilled at 5/s.
	if firstBlocked < 20 || n401 > 20+int(5*elapsed)+1 || n429 < 10000-20-int(5*elapsed)-1 {
		t.Errorf("in %.1fs: %d answered 401, %d answered 429 (first at %d); want 401 for the burst of 20 (+5/s), 429 after",
			elapsed, n401, n429, firstBlocked)
	}
	wantStatus(t, do(t, h, req{path: "/api/processes"}), 200)
	wantStatus(t, do(t, h, req{method: "POST", path: "/api/process/4242/signal", body: `{"signal":"CONT"}`}), 200)
}

func TestHostAllowList(t *testing.T) {
	h, cc := newHandler(t, Options{AllowedHosts: []string{"procwatch.example.org"}})
	stop := `{"signal":"STOP"}`
	sig := "/api/process/4242/signal"
	refused := []struct {
		host   string
		status int
	}{
		{"evil.example:8088", 421},
		{"evil.example", 421},
		{"127.0.0.1:9999", 421},
		{"127.0.0.2:8088", 421},
		{"localhost", 421},
		{"127.0.0.1", 421},
		{"localhost:8088.evil.example", 421},
		{"procwatch.example.org.evil.example", 421},
		{"-", 400}, // empty Host (HTTP/1.0 without one)
	}
	for _, r := range refused {
		for _, rq := range []req{
			{path: "/api/processes"}, {path: "/api/health", noToken: true}, {path: "/"}, {path: "/app.mjs"},
			{path: "/no/such/page"}, {path: "/api/nothing"}, {method: "OPTIONS", path: "/api/processes"},
			{method: "POST", path: sig, body: stop},
		} {
			rq.host = r.host
			w := do(t, h, rq)
			if w.Code != r.status {
				t.Errorf("Host %q %s %s: status %d, want %d", r.host, rq.method, rq.path, w.Code, r.status)
			}
		}
	}
	// X-Forwarded-Host is not trusted.
	w := do(t, h, req{path: "/api/processes", host: "evil.example:8088", hdr: map[string]string{"X-Forwarded-Host": testHost}})
	wantStatus(t, w, 421)
	if cc.calls.Load() != 0 {
		t.Fatalf("the core ran %d times for refused hosts", cc.calls.Load())
	}

	for _, host := range []string{"127.0.0.1:8088", "localhost:8088", "LOCALHOST:8088", "LocalHost:8088", "[::1]:8088", "localhost.:8088", "procwatch.example.org", "PROCWATCH.example.org"} {
		w := do(t, h, req{path: "/api/signals", host: host})
		if w.Code != 200 {
			t.Errorf("Host %q: status %d, want 200", host, w.Code)
		}
	}
	w = do(t, h, req{method: "POST", path: sig, body: `{"signal":"CONT"}`, host: "LOCALHOST:8088"})
	wantStatus(t, w, 200)
}

func TestCrossOrigin(t *testing.T) {
	h, cc := newHandler(t, Options{})
	sig := "/api/process/4242/signal"
	for _, hdr := range []map[string]string{
		{"Origin": "http://evil.example"},
		{"Origin": "http://evil.example:8088"},
		{"Origin": "null"},
		{"Origin": "http://127.0.0.1:8088.evil.example"},
		{"Origin": "http://127.0.0.1:9999"},
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "http://127.0.0.1:8088", "Sec-Fetch-Site": "cross-site"},
	} {
		for _, path := range []string{sig, "/api/process/4242/renice", "/api/process/4242/restart"} {
			body := `{"signal":"STOP"}`
			if strings.HasSuffix(path, "renice") {
				body = `{"nice":5}`
			} else if strings.HasSuffix(path, "restart") {
				body = ""
			}
			w := do(t, h, req{method: "POST", path: path, body: body, hdr: hdr})
			if w.Code != 403 {
				t.Errorf("POST %s with %v: status %d, want 403", path, hdr, w.Code)
			}
		}
	}
	if cc.calls.Load() != 0 {
		t.Fatal("a cross-origin POST reached the core")
	}
	for _, hdr := range []map[string]string{
		{"Origin": "http://127.0.0.1:8088"}, {"Origin": "http://localhost:8088"},
		{"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {},
	} {
		wantStatus(t, do(t, h, req{method: "POST", path: sig, body: `{"signal":"CONT"}`, hdr: hdr}), 200)
	}
	// Cross-site GETs of the API still need the token (no cookie auth).
	wantStatus(t, do(t, h, req{path: "/api/processes", noToken: true, hdr: map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}}), 401)
}

func TestMethods(t *testing.T) {
	h, cc := newHandler(t, Options{})
	for _, rq := range []req{
		{method: "OPTIONS", path: "/api/processes", hdr: map[string]string{"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}},
		{method: "OPTIONS", path: "/api/process/1/signal", hdr: map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-auth-token"}},
		{method: "OPTIONS", path: "/"},
		{method: "OPTIONS", path: "/api/health"},
		{method: "POST", path: "/api/processes", body: "{}"},
		{method: "POST", path: "/api/health", body: "{}"},
		{method: "DELETE", path: "/api/process/1"},
		{method: "GET", path: "/api/process/1/signal"},
		{method: "PUT", path: "/api/process/1/renice", body: `{"nice":1}`},
		{method: "POST", path: "/", body: "{}"},
	} {
		w := do(t, h, rq)
		// A preflight from a foreign origin may be refused as cross-origin
		// (403) before the method is looked at; either way it fails.
		crossOrigin := rq.hdr["Origin"] != ""
		if w.Code != 405 && !(crossOrigin && w.Code == 403) {
			t.Errorf("%s %s: status %d, want 405", rq.method, rq.path, w.Code)
		}
		if w.Code == 405 && w.Header().Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", rq.method, rq.path)
		}
	}
	if cc.calls.Load() != 0 {
		t.Errorf("core called %d times by wrong methods", cc.calls.Load())
	}
	w := do(t, h, req{path: "/api/nothing/here"})
	wantStatus(t, w, 404)
	// HEAD works where GET does.
	wantStatus(t, do(t, h, req{method: "HEAD", path: "/api/health"}), 200)
}

// TestShapes checks the original API's JSON shapes (docs/http-api.md), key by key.
func TestShapes(t *testing.T) {
	h, _ := newRealHandler(t, Options{})
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := testproc.Sleeper(t)
	pid := strconv.Itoa(c.PID)

	w := do(t, h, req{path: "/api/processes?sort=pid&order=asc"})
	wantStatus(t, w, 200)
	if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	var list struct {
		Count int                          `json:"count"`
		Items []map[string]json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if top := sortedKeys(decode(t, w)); !slices.Equal(top, []string{"count", "items"}) {
		t.Errorf("list keys %v", top)
	}
	if list.Count != len(list.Items) || list.Count < 3 {
		t.Fatalf("count %d, %d items", list.Count, len(list.Items))
	}
	// The original API's keys, plus the documented additions uid, num_threads,
	// memory_percent, cpu_time, memory_vms, unit, and protected when it applies.
	wantItem := []string{"cmdline", "cpu_percent", "cpu_time", "create_time", "create_time_iso", "exe", "memory_percent", "memory_rss", "memory_vms", "name", "nice",
		"num_threads", "open_files_count", "pid", "ports", "ppid", "status", "uid", "unit", "username"}
	wantPort := []string{"family", "local", "local_port", "remote", "status", "type"}
	types := map[string]string{"pid": "number", "ppid": "number", "name": "string", "exe": "string", "username": "string",
		"status": "string", "create_time": "number", "create_time_iso": "string", "cpu_percent": "number",
		"memory_rss": "number", "nice": "number", "cmdline": "array", "ports": "array", "open_files_count": "number",
		"memory_percent": "number", "cpu_time": "number", "memory_vms": "number", "unit": "string"}
	var me, kid map[string]json.RawMessage
	prev := -1
	for _, it := range list.Items {
		var keys []string
		for k := range it {
			if k == "protected" {
				if jsonType(it[k]) != "string" || string(it[k]) == `""` {
					t.Fatalf("item %s: protected is %s", it["pid"], it[k])
				}
				continue
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, wantItem) {
			t.Fatalf("item keys %v, want %v", keys, wantItem)
		}
		for k, typ := range types {
			if got := jsonType(it[k]); got != typ {
				t.Fatalf("item %s: %s is %s (%s), want %s", it["pid"], k, got, it[k], typ)
			}
		}
		p, _ := strconv.Atoi(string(it["pid"]))
		if p <= prev {
			t.Errorf("sort=pid&order=asc: %d after %d", p, prev)
		}
		prev = p
		if p == os.Getpid() {
			me = it
		}
		if p == c.PID {
			kid = it
		}
	}
	if me == nil || kid == nil {
		t.Fatal("test process or child missing from the list")
	}
	if string(kid["cmdline"]) != `["sleep","3600"]` || string(kid["ports"]) != `[]` {
		t.Errorf("child cmdline %s ports %s", kid["cmdline"], kid["ports"])
	}
	var ports []map[string]json.RawMessage
	_ = json.Unmarshal(me["ports"], &ports)
	found := false
	for _, pt := range ports {
		var keys []string
		for k := range pt {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, wantPort) {
			t.Errorf("port keys %v, want %v", keys, wantPort)
		}
		if string(pt["local"]) == strconv.Quote(ln.Addr().String()) {
			found = true
			if string(pt["remote"]) != "null" || string(pt["status"]) != `"LISTEN"` || string(pt["family"]) != `"AddressFamily.AF_INET"` {
				t.Errorf("listener port %v", pt)
			}
		}
	}
	if !found {
		t.Errorf("our listener %s is not among our ports %s", ln.Addr(), me["ports"])
	}

	w = do(t, h, req{method: "POST", path: "/api/process/" + pid + "/signal", body: `{"signal":"sigcont"}`})
	wantStatus(t, w, 200)
	if w.Body.String() != `{"ok":true,"pid":`+pid+`,"signal":"CONT"}`+"\n" {
		t.Errorf("signal response %s", w.Body.String())
	}
	// Browsers send a charset parameter; it is still JSON.
	w = do(t, h, req{method: "POST", path: "/api/process/" + pid + "/renice", body: `{"nice":10}`,
		hdr: map[string]string{"Content-Type": "application/json;charset=UTF-8"}})
	wantStatus(t, w, 200)
	if w.Body.String() != `{"nice":10,"ok":true,"pid":`+pid+`}`+"\n" {
		t.Errorf("renice response %s", w.Body.String())
	}
	if d := decode(t, do(t, h, req{path: "/api/process/" + pid})); d["nice"] != float64(10) || d["pid"] != float64(c.PID) {
		t.Errorf("detail after renice: nice %v pid %v", d["nice"], d["pid"])
	}
	sig := decode(t, do(t, h, req{path: "/api/signals"}))
	if fmt.Sprint(sig["signals"]) != "[TERM KILL INT HUP STOP CONT QUIT USR1 USR2]" {
		t.Errorf("signals %v", sig)
	}
}

func jsonType(r json.RawMessage) string {
	switch {
	case len(r) == 0:
		return "missing"
	case r[0] == '"':
		return "string"
	case r[0] == '[':
		return "array"
	case r[0] == '{':
		return "object"
	case string(r) == "null":
		return "null"
	case string(r) == "true" || string(r) == "false":
		return "bool"
	}
	return "number"
}

// TestUntrustedNames: a hostile argv and comm come back as data, escaped in
// JSON and defused in CSV.
func TestUntrustedNames(t *testing.T) {
	h, _ := newRealHandler(t, Options{})
	dir := t.TempDir()
	sleepPath, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	link := filepath.Join(dir, "=SUM(1+1)")
	if err := os.Symlink(sleepPath, link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link, "3600")
	cmd.Args = []string{"=HYPERLINK(\"http://x\") <img src=x onerror=alert(1)>", "3600"}
	c := testproc.Start(t, cmd)
	testproc.Poll(t, 10*time.Second, "exec", func() bool {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(c.PID) + "/comm")
		return strings.HasPrefix(string(b), "=SUM")
	})
	w := do(t, h, req{path: "/api/processes?q=" + strconv.Itoa(c.PID)})
	wantStatus(t, w, 200)
	if strings.Contains(w.Body.String(), "<img") {
		t.Errorf("raw HTML in the JSON: %s", w.Body.String())
	}
	var list struct {
		Items []struct {
			PID     int      `json:"pid"`
			Name    string   `json:"name"`
			Cmdline []string `json:"cmdline"`
		} `json:"items"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &list)
	var got []string
	for _, it := range list.Items {
		if it.PID == c.PID {
			got = it.Cmdline
			if it.Name != "=SUM(1+1)" {
				t.Errorf("name %q", it.Name)
			}
		}
	}
	if !slices.Equal(got, cmd.Args) {
		t.Errorf("cmdline %q, want %q", got, cmd.Args)
	}

	w = do(t, h, req{path: "/api/processes?format=csv&sort=pid&order=asc"})
	wantStatus(t, w, 200)
	if ct := w.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("csv Content-Type %q", ct)
	}
	rows, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 3 || rows[0][0] != "pid" || rows[0][2] != "name" || rows[0][len(rows[0])-1] != "cmdline" {
		t.Fatalf("csv header %v (%d rows)", rows[0], len(rows))
	}
	var row []string
	for _, r := range rows[1:] {
		if r[0] == strconv.Itoa(c.PID) {
			row = r
		}
	}
	if row == nil {
		t.Fatal("child not in the CSV")
	}
	if row[2] != "'=SUM(1+1)" || row[len(row)-1] != "'"+strings.Join(cmd.Args, " ") {
		t.Errorf("formula cells not defused: name %q cmdline %q", row[2], row[len(row)-1])
	}
}

func TestStaticHasNoToken(t *testing.T) {
	h, _ := newHandler(t, Options{})
	files, err := fs.Glob(staticFiles, "static/*")
	if err != nil || len(files) < 5 {
		t.Fatalf("embedded files: %v %v", files, err)
	}
	for _, f := range files {
		p := strings.TrimPrefix(f, "static")
		if p == "/index.html" { // FileServer redirects it to /
			if w := do(t, h, req{path: p}); w.Code != 301 {
				t.Errorf("%s: %d", p, w.Code)
			}
			p = "/"
		}
		w := do(t, h, req{path: p})
		wantStatus(t, w, 200)
		body := w.Body.String()
		if strings.Contains(body, testToken) || strings.Contains(body, testToken[:16]) {
			t.Errorf("%s contains the token", p)
		}
		if w.Body.Len() < 100 {
			t.Errorf("%s is suspiciously small: %d bytes", p, w.Body.Len())
		}
		if !strings.HasSuffix(p, ".mjs") {
			continue
		}
		// A module script needs a JavaScript MIME type, or the browser refuses it.
		if ct := w.Header().Get("Content-Type"); !strings.Contains(ct, "javascript") {
			t.Errorf("%s served as %q", p, ct)
		}
		if strings.Contains(body, "innerHTML") || strings.Contains(body, "insertAdjacentHTML") || strings.Contains(body, "document.write") {
			t.Errorf("%s builds HTML from strings (process names are untrusted)", p)
		}
		// Every module it imports is embedded.
		for _, m := range regexp.MustCompile(`from "\./([\w.-]+)"|import "\./([\w.-]+)"`).FindAllStringSubmatch(body, -1) {
			name := m[1] + m[2]
			if _, err := fs.Stat(staticFiles, "static/"+name); err != nil {
				t.Errorf("%s imports %s, which is not embedded", p, name)
			}
		}
	}
	idx := do(t, h, req{path: "/"})
	if !strings.HasPrefix(idx.Header().Get("Content-Type"), "text/html") || !strings.Contains(idx.Body.String(), `<script type="module" src="app.mjs">`) {
		t.Errorf("index: %s %q", idx.Header().Get("Content-Type"), idx.Body.String()[:80])
	}
	// No inline script: the CSP forbids it, so the UI must not need it.
	if strings.Contains(idx.Body.String(), "<script>") || strings.Contains(idx.Body.String(), " onclick=") {
		t.Error("index.html has inline script")
	}
	wantStatus(t, do(t, h, req{path: "/no-such-file.js"}), 404)
}

// TestRealServer covers what needs a real connection: HTTP/1.0 without a
// Host, and the 413 closing the connection.
func TestRealServer(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	h, cc := newHandler(t, Options{ListenAddrs: []string{srv.Listener.Addr().String()}})
	srv.Config.Handler = h
	srv.Start()
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	raw := func(request string) (int, http.Header, string) {
		t.Helper()
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, request); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(b)
	}
	code, _, body := raw("GET /api/processes HTTP/1.0\r\nX-Auth-Token: " + testToken + "\r\n\r\n")
	if code != 400 || !strings.Contains(body, "Host") {
		t.Errorf("HTTP/1.0 without Host: %d %s", code, body)
	}
	code, _, _ = raw("GET /api/processes HTTP/1.1\r\nHost: evil.example:" + strings.Split(addr, ":")[1] + "\r\nX-Auth-Token: " + testToken + "\r\n\r\n")
	if code != 421 {
		t.Errorf("rebound Host: %d", code)
	}
	if cc.calls.Load() != 0 {
		t.Error("core called for refused requests")
	}
	code, _, _ = raw("GET /api/processes?q=zzz-none HTTP/1.1\r\nHost: localhost:" + strings.Split(addr, ":")[1] + "\r\nX-Auth-Token: " + testToken + "\r\nConnection: close\r\n\r\n")
	if code != 200 {
		t.Errorf("localhost Host: %d", code)
	}

	big := `{"signal":"CONT","x":"` + strings.Repeat("y", 70<<10) + `"}`
	req, _ := http.NewRequest("POST", srv.URL+"/api/process/1/signal", strings.NewReader(big))
	req.Header.Set("X-Auth-Token", testToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 413 || !res.Close {
		t.Errorf("70 KiB body: status %d, close %v; want 413 and the connection closed", res.StatusCode, res.Close)
	}
}

// panicCore panics in List, as a bug in the core would.
type panicCore struct{ Core }

func (panicCore) List(context.Context, procs.Caller, procs.ListOptions) ([]procs.Process, error) {
	panic("boom: core bug")
}

// TestHandlerPanic (D18): a panicking handler answers 500 JSON without
// internals, and the server keeps serving.
func TestHandlerPanic(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	h := New(panicCore{&actionCore{}}, Options{Token: testToken, ListenAddrs: []string{srv.Listener.Addr().String()}, Logger: quiet()})
	srv.Config.Handler = h
	srv.Start()
	defer srv.Close()
	get := func(path string) (*http.Response, string, error) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("X-Auth-Token", testToken)
		res, err := srv.Client().Do(req)
		if err != nil {
			return nil, "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b), nil
	}
	res, body, err := get("/api/processes")
	if err != nil {
		t.Fatalf("panicking handler: %v (connection dropped instead of a 500)", err)
	}
	if res.StatusCode != 500 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("panicking handler: %d %q %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if strings.Contains(body, "boom") || strings.Contains(body, "goroutine") {
		t.Errorf("500 body leaks the panic: %s", body)
	}
	res.Body = io.NopCloser(strings.NewReader(body))
	checkEveryResponse(t, "GET /api/processes", res)
	if res, _, err := get("/api/signals"); err != nil || res.StatusCode != 200 {
		t.Errorf("after a panic: %v %v", res, err)
	}
}
