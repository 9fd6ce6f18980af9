package httpui

// The HTTP layer against a fake core: how requests are decoded and
// guarded, and how the core's answers and errors become HTTP. What the
// core does with a request (rules, processes) is the core's tests'.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// coreCall is one call the fake core received.
type coreCall struct {
	method string
	caller procs.Caller
	target procs.Target
	arg    any // signal name, nice value or list options
}

// actionCore records every call and answers with err when set.
type actionCore struct {
	mu    sync.Mutex
	calls []coreCall
	err   error
}

func (f *actionCore) record(c coreCall) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	return f.err
}

func (f *actionCore) last(t *testing.T) coreCall {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("the core was not called")
	}
	return f.calls[len(f.calls)-1]
}

func (f *actionCore) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *actionCore) List(_ context.Context, c procs.Caller, o procs.ListOptions) ([]procs.Process, error) {
	if err := f.record(coreCall{method: "List", caller: c, arg: o}); err != nil {
		return nil, err
	}
	return []procs.Process{proc(7, "seven", 1.5)}, nil
}

func (f *actionCore) Get(_ context.Context, c procs.Caller, t procs.Target) (procs.Detail, error) {
	if err := f.record(coreCall{method: "Get", caller: c, target: t}); err != nil {
		return procs.Detail{}, err
	}
	return procs.Detail{Process: proc(t.PID, "seven", 0)}, nil
}

func (f *actionCore) Signal(_ context.Context, c procs.Caller, t procs.Target, name string) (string, error) {
	if err := f.record(coreCall{method: "Signal", caller: c, target: t, arg: name}); err != nil {
		return "", err
	}
	return "CANONICAL-" + name, nil // the core's name for it, echoed
}

func (f *actionCore) Renice(_ context.Context, c procs.Caller, t procs.Target, nice int) error {
	return f.record(coreCall{method: "Renice", caller: c, target: t, arg: nice})
}

func (f *actionCore) Restart(_ context.Context, c procs.Caller, t procs.Target) (procs.RestartResult, error) {
	if err := f.record(coreCall{method: "Restart", caller: c, target: t}); err != nil {
		return procs.RestartResult{}, err
	}
	return procs.RestartResult{OldPID: t.PID, NewPID: t.PID + 1, Unit: "x.service", How: "unit"}, nil
}

func (f *actionCore) Signals() []string { return []string{"TERM", "USR1"} }

func (f *actionCore) Snapshot(context.Context) ([]procs.Process, time.Time, error) {
	if err := f.record(coreCall{method: "Snapshot"}); err != nil {
		return nil, time.Time{}, err
	}
	return []procs.Process{proc(7, "seven", 0)}, time.Now(), nil
}

func fakeHandler(t *testing.T) (*Handler, *actionCore) {
	t.Helper()
	fc := &actionCore{}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("m 1\n")) })
	return New(fc, Options{Token: testToken, ListenAddrs: []string{testHost}, Logger: quiet(), Version: "9.9.9-test", Metrics: metrics}), fc
}

var snakeCase = regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)

// wantError checks an error answer: the status, and a JSON body of
// exactly {"error": <message>, "code": <code>} (plus "unit" when the core
// named one).
func wantError(t *testing.T, what string, w *httptest.ResponseRecorder, status int, code string) map[string]any {
	t.Helper()
	if w.Code != status {
		t.Errorf("%s: status %d, want %d (%s)", what, w.Code, status, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want JSON", what, ct)
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Errorf("%s: body %q: %v", what, w.Body.String(), err)
		return nil
	}
	for k := range m {
		if k != "error" && k != "code" && k != "unit" {
			t.Errorf("%s: unexpected key %q in %s", what, k, w.Body.String())
		}
	}
	if msg, _ := m["error"].(string); msg == "" {
		t.Errorf("%s: no error message in %s", what, w.Body.String())
	}
	got, _ := m["code"].(string)
	if !snakeCase.MatchString(got) {
		t.Errorf("%s: code %q is not snake_case", what, got)
	}
	if code != "" && got != code {
		t.Errorf("%s: code %q, want %q (%s)", what, got, code, w.Body.String())
	}
	return m
}

type badCase struct {
	name   string
	r      req
	status int
	code   string
}

// TestErrorContract walks every route of the route table with bad input
// (wrong method, Host, origin, credentials, and each route's own bad
// bodies and parameters): every answer is {error, code} with the right
// status, and the core is never reached.
func TestErrorContract(t *testing.T) {
	h, fc := fakeHandler(t)
	const pid = "4242"
	proc := "/api/process/" + pid
	big := `{"signal":"TERM","pad":"` + strings.Repeat("x", 65<<10) + `"}`
	post := func(path, body string) req { return req{method: "POST", path: path, body: body} }
	own := map[string][]badCase{
		"GET /api/health": nil,
		"GET /api/meta":   nil,
		"GET /api/processes": {
			{"format=xml", req{path: "/api/processes?format=xml"}, 400, codeInvalidArgument},
		},
		"GET /api/process/{pid}": {
			{"pid abc", req{path: "/api/process/abc"}, 400, codeInvalidArgument},
			{"pid 1.5", req{path: "/api/process/1.5"}, 400, codeInvalidArgument},
			{"pid +5", req{path: "/api/process/+5"}, 400, codeInvalidArgument},
			{"pid huge", req{path: "/api/process/99999999999999999999"}, 400, codeInvalidArgument},
			{"create_time abc", req{path: proc + "?create_time=abc"}, 400, codeInvalidArgument},
		},
		"POST /api/process/{pid}/signal": {
			{"pid abc", post("/api/process/abc/signal", `{"signal":"TERM"}`), 400, codeInvalidArgument},
			{"bad JSON", post(proc+"/signal", `{"signal":`), 400, codeInvalidArgument},
			{"not an object", post(proc+"/signal", `["TERM"]`), 400, codeInvalidArgument},
			{"null", post(proc+"/signal", `null`), 400, codeInvalidArgument},
			{"unknown field", post(proc+"/signal", `{"signal":"TERM","force":true}`), 400, codeInvalidArgument},
			{"field in another case", post(proc+"/signal", `{"SIGNAL":"TERM"}`), 400, codeInvalidArgument},
			{"two JSON values", post(proc+"/signal", `{"signal":"TERM"}{"signal":"KILL"}`), 400, codeInvalidArgument},
			{"trailing garbage", post(proc+"/signal", `{"signal":"TERM"} x`), 400, codeInvalidArgument},
			{"signal as number", post(proc+"/signal", `{"signal":15}`), 400, codeInvalidArgument},
			{"signal null", post(proc+"/signal", `{"signal":null}`), 400, codeInvalidArgument},
			{"empty body", post(proc+"/signal", ``), 400, codeInvalidArgument},
			{"empty object", post(proc+"/signal", `{}`), 400, codeInvalidArgument},
			{"body over 64 KiB", post(proc+"/signal", big), 413, codeBodyTooLarge},
			{"text/plain", req{method: "POST", path: proc + "/signal", body: `{"signal":"TERM"}`, hdr: map[string]string{"Content-Type": "text/plain"}}, 415, codeUnsupportedType},
			{"form", req{method: "POST", path: proc + "/signal", body: `signal=TERM`, hdr: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, codeUnsupportedType},
		},
		"POST /api/process/{pid}/renice": {
			{"pid abc", post("/api/process/abc/renice", `{"nice":1}`), 400, codeInvalidArgument},
			{"nice as string", post(proc+"/renice", `{"nice":"5"}`), 400, codeInvalidArgument},
			{"nice as float", post(proc+"/renice", `{"nice":1.5}`), 400, codeInvalidArgument},
			{"nice missing", post(proc+"/renice", `{"create_time":1}`), 400, codeInvalidArgument},
			{"signal instead", post(proc+"/renice", `{"signal":"TERM"}`), 400, codeInvalidArgument},
			{"create_time as string", post(proc+"/renice", `{"nice":1,"create_time":"x"}`), 400, codeInvalidArgument},
		},
		"POST /api/process/{pid}/restart": {
			{"pid abc", post("/api/process/abc/restart", ``), 400, codeInvalidArgument},
			{"unknown field", post(proc+"/restart", `{"force":true}`), 400, codeInvalidArgument},
			{"not an object", post(proc+"/restart", `[]`), 400, codeInvalidArgument},
			{"create_time as string", post(proc+"/restart", `{"create_time":"x"}`), 400, codeInvalidArgument},
		},
		"GET /api/signals": nil,
		"GET /metrics":     nil,
		"GET /api/system":  nil,
		"GET /api/system/history": {
			{"since word", req{path: "/api/system/history?since=yesterday"}, 400, codeInvalidArgument},
			{"since negative", req{path: "/api/system/history?since=-5"}, 400, codeInvalidArgument},
			{"since NaN", req{path: "/api/system/history?since=NaN"}, 400, codeInvalidArgument},
		},
		"GET /api/process/{pid}/history": {
			{"pid abc", req{path: "/api/process/abc/history"}, 400, codeInvalidArgument},
			{"create_time x", req{path: proc + "/history?create_time=x"}, 400, codeInvalidArgument},
		},
		"POST /api/events/ticket": nil,
		"GET /api/services": {
			{"format=xml", req{path: "/api/services?format=xml"}, 400, codeInvalidArgument},
		},
		"GET /api/service/{unit}": nil,
		"GET /api/service/{unit}/{action}": {
			{"lines abc", req{path: "/api/service/nginx.service/journal?lines=abc"}, 400, codeInvalidArgument},
			{"lines 0", req{path: "/api/service/nginx.service/journal?lines=0"}, 400, codeInvalidArgument},
			{"lines 1001", req{path: "/api/service/nginx.service/journal?lines=1001"}, 400, codeInvalidArgument},
			{"GET of an action", req{path: "/api/service/nginx.service/restart"}, 405, codeMethodNotAllowed},
		},
		"POST /api/service/{unit}/{action}": {
			{"unknown field", post("/api/service/nginx.service/restart", `{"force":true}`), 400, codeInvalidArgument},
			{"not an object", post("/api/service/nginx.service/restart", `[]`), 400, codeInvalidArgument},
			{"body over 64 KiB", post("/api/service/nginx.service/restart", big), 413, codeBodyTooLarge},
		},
		"GET /api/process/{pid}/journal": {
			{"pid abc", req{path: "/api/process/abc/journal"}, 400, codeInvalidArgument},
			{"lines abc", req{path: proc + "/journal?lines=abc"}, 400, codeInvalidArgument},
		},
		"GET /api/events": {
			{"interval 0.1", req{path: "/api/events?interval=0.1"}, 400, codeInvalidArgument},
			{"interval abc", req{path: "/api/events?interval=abc"}, 400, codeInvalidArgument},
			{"interval NaN", req{path: "/api/events?interval=NaN"}, 400, codeInvalidArgument},
			{"bad ticket", req{path: "/api/events?ticket=bogus", noToken: true}, 401, codeUnauthorized},
		},
	}
	routes := h.routeTable()
	for _, rt := range routes {
		// A fresh failure bucket per route: the 401 cases of all routes
		// together exceed its burst (its 429 is checked below).
		h.authLim = newLimiter(5, 20)
		key := rt.method + " " + rt.pattern
		cases, ok := own[key]
		if !ok {
			t.Errorf("route %s has no entry in this test: add its bad inputs", key)
		}
		// Each route gets the failure limiter's full bucket: its own
		// no-token and wrong-token cases must be 401s, not 429s.
		h.authLim = newLimiter(5, 20)
		act := "journal"
		if rt.method == "POST" {
			act = "restart"
		}
		path := strings.NewReplacer("{pid}", pid, "{unit}", "nginx.service", "{action}", act).Replace(rt.pattern)
		body := ""
		if rt.method == "POST" {
			body = "{}"
		}
		cases = append(cases,
			badCase{"wrong method", req{method: "DELETE", path: path}, 405, codeMethodNotAllowed},
			badCase{"foreign Host", req{method: rt.method, path: path, body: body, host: "evil.example:8088"}, 421, codeHostNotAllowed},
			badCase{"no Host", req{method: rt.method, path: path, body: body, host: "-"}, 400, codeInvalidArgument},
		)
		if rt.method == "POST" {
			cases = append(cases,
				badCase{"foreign Origin", req{method: "POST", path: path, body: body, hdr: map[string]string{"Origin": "http://evil.example"}}, 403, codeCrossOrigin},
				badCase{"cross-site fetch", req{method: "POST", path: path, body: body, hdr: map[string]string{"Sec-Fetch-Site": "cross-site"}}, 403, codeCrossOrigin})
		}
		if rt.access != public {
			cases = append(cases,
				badCase{"no token", req{method: rt.method, path: path, body: body, noToken: true}, 401, codeUnauthorized},
				badCase{"wrong token", req{method: rt.method, path: path, body: body, hdr: map[string]string{"X-Auth-Token": "wrong"}}, 401, codeUnauthorized},
				badCase{"token too long", req{method: rt.method, path: path, body: body, hdr: map[string]string{"X-Auth-Token": strings.Repeat("a", maxTokenHeader+1)}}, 400, codeInvalidArgument})
		}
		h.authLim = newLimiter(5, 20) // each route's two bad tokens, not the table's sum, meet the burst
		for _, c := range cases {
			if c.r.method == "" {
				c.r.method = "GET"
			}
			w := do(t, h, c.r)
			wantError(t, key+": "+c.name, w, c.status, c.code)
			if c.status == 401 && w.Header().Get("Connection") != "close" {
				t.Errorf("%s: %s: a 401 keeps the connection open", key, c.name)
			}
		}
	}
	for _, c := range []badCase{
		{"unknown API path", req{path: "/api/nope"}, 404, codeNotFound},
		{"unknown API path, no token", req{path: "/api/nope", noToken: true}, 404, codeNotFound},
		{"unknown page", req{path: "/nope.js", noToken: true}, 404, codeNotFound},
		{"wrong method on a page", req{method: "POST", path: "/", body: "{}"}, 405, codeMethodNotAllowed},
	} {
		wantError(t, c.name, do(t, h, c.r), c.status, c.code)
	}
	if n := fc.count(); n != 0 {
		t.Errorf("bad requests reached the core %d times", n)
	}
	// Once the failure limiter is empty: 429, same shape.
	var w *httptest.ResponseRecorder
	for range 100 {
		if w = do(t, h, req{path: "/api/signals", noToken: true}); w.Code == 429 {
			break
		}
	}
	wantError(t, "bad-token flood", w, 429, codeRateLimited)
}

// TestCoreErrorMapping: each kind of core error becomes its status and
// code with the core's message, on every route that calls the core; an
// untyped error is a 500 that shows nothing of it.
func TestCoreErrorMapping(t *testing.T) {
	h, fc := fakeHandler(t)
	calls := []req{
		{path: "/api/processes"},
		{path: "/api/process/42"},
		{method: "POST", path: "/api/process/42/signal", body: `{"signal":"TERM"}`},
		{method: "POST", path: "/api/process/42/renice", body: `{"nice":3}`},
		{method: "POST", path: "/api/process/42/restart"},
	}
	cases := []struct {
		err    error
		status int
		code   string
		msg    string
	}{
		{&procs.Error{Kind: procs.KindNoSuchProcess, Msg: "process 42 not found"}, 404, "no_such_process", "process 42 not found"},
		{&procs.Error{Kind: procs.KindAccessDenied, Msg: "not yours"}, 403, "access_denied", "not yours"},
		{&procs.Error{Kind: procs.KindInvalidArgument, Msg: "bad nice"}, 400, "invalid_argument", "bad nice"},
		{&procs.Error{Kind: procs.KindProcessChanged, Msg: "pid reused"}, 409, "process_changed", "pid reused"},
		{&procs.Error{Kind: procs.KindNotRestartable, Msg: "restart its unit", Unit: "x.service"}, 409, "not_restartable", "restart its unit"},
		{&procs.Error{Kind: procs.KindFailed, Msg: "systemd said no", Err: errors.New("secret cause")}, 500, "failed", "systemd said no"},
		{fmt.Errorf("waiting: %w", context.DeadlineExceeded), 504, codeTimeout, "the action timed out"},
		{errors.New("open /proc/42/environ: secret detail"), 500, codeInternal, "internal error"},
	}
	for _, c := range cases {
		fc.err = c.err
		for _, r := range calls {
			what := fmt.Sprintf("%s %s → %v", r.method, r.path, c.err)
			m := wantError(t, what, do(t, h, r), c.status, c.code)
			if m == nil {
				continue
			}
			if m["error"] != c.msg {
				t.Errorf("%s: message %q, want %q", what, m["error"], c.msg)
			}
			var ce *procs.Error
			if errors.As(c.err, &ce) && ce.Unit != "" && m["unit"] != ce.Unit {
				t.Errorf("%s: unit %v, want %q", what, m["unit"], ce.Unit)
			}
		}
	}
}

// TestRequestsReachTheCore: what the HTTP layer decodes is what the core
// gets (PID, create_time, signal name, nice, list options, an HTTP
// caller), and the core's answer is what the client sees.
func TestRequestsReachTheCore(t *testing.T) {
	h, fc := fakeHandler(t)
	check := func(what string, got coreCall, method string, target procs.Target, arg any) {
		t.Helper()
		if got.method != method || got.target != target || (arg != nil && !equalArg(got.arg, arg)) {
			t.Errorf("%s: core got %+v, want %s %+v %v", what, got, method, target, arg)
		}
		if !got.caller.Privileged || !strings.HasPrefix(got.caller.Name, "http:") {
			t.Errorf("%s: caller %+v, want the token holder", what, got.caller)
		}
	}

	m := decode(t, do(t, h, req{method: "POST", path: "/api/process/4242/signal", body: `{"signal":"term","create_time":123.45}`}))
	check("signal", fc.last(t), "Signal", procs.Target{PID: 4242, CreateTime: 123.45}, "term")
	if m["ok"] != true || m["pid"] != 4242.0 || m["signal"] != "CANONICAL-term" {
		t.Errorf("signal answer %v: want the core's name for the signal", m)
	}

	m = decode(t, do(t, h, req{method: "POST", path: "/api/process/4242/renice", body: `{"nice":-5}`}))
	check("renice", fc.last(t), "Renice", procs.Target{PID: 4242}, -5)
	if m["ok"] != true || m["pid"] != 4242.0 || m["nice"] != -5.0 {
		t.Errorf("renice answer %v", m)
	}

	m = decode(t, do(t, h, req{method: "POST", path: "/api/process/4242/restart"}))
	check("restart, no body", fc.last(t), "Restart", procs.Target{PID: 4242}, nil)
	if keys := sortedKeys(m); !slices.Equal(keys, []string{"how", "new_pid", "ok", "old_pid", "unit"}) || m["new_pid"] != 4243.0 || m["unit"] != "x.service" || m["how"] != "unit" {
		t.Errorf("restart answer %v", m)
	}
	do(t, h, req{method: "POST", path: "/api/process/4242/restart", body: `{"create_time":9.5}`})
	check("restart, create_time", fc.last(t), "Restart", procs.Target{PID: 4242, CreateTime: 9.5}, nil)

	do(t, h, req{path: "/api/process/-3?create_time=1.5"}) // the PID's range is the core's rule
	check("get", fc.last(t), "Get", procs.Target{PID: -3, CreateTime: 1.5}, nil)

	m = decode(t, do(t, h, req{path: "/api/processes?q=ng%20x&sort=MEM&order=asc"}))
	check("list", fc.last(t), "List", procs.Target{}, procs.ListOptions{Query: "ng x", Sort: "MEM", Order: "asc"})
	if m["count"] != 1.0 {
		t.Errorf("list answer %v", m)
	}
}

func equalArg(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// TestMeta: /api/meta serves the core's constants and signal set.
func TestMeta(t *testing.T) {
	h, _ := fakeHandler(t)
	w := do(t, h, req{path: "/api/meta"})
	wantStatus(t, w, 200)
	var m struct {
		Version  string         `json:"version"`
		SortKeys []string       `json:"sort_keys"`
		Orders   []string       `json:"orders"`
		Signals  []string       `json:"signals"`
		Nice     map[string]int `json:"nice"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Version != "9.9.9-test" || !slices.Equal(m.SortKeys, procs.SortKeys) || !slices.Equal(m.Orders, procs.OrderNames) ||
		!slices.Equal(m.Signals, []string{"TERM", "USR1"}) || m.Nice["min"] != procs.NiceMin || m.Nice["max"] != procs.NiceMax {
		t.Errorf("meta %s", w.Body.String())
	}
	if w := do(t, h, req{path: "/api/meta", noToken: true}); w.Code != http.StatusUnauthorized {
		t.Errorf("meta without a token: %d", w.Code)
	}
}
