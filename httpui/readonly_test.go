package httpui

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/daemon/procs"
)

const testReadToken = "read-only-test-token"

// TestReadOnlyRoutes walks the route table with the read-only token: every
// GET answers as with the admin token, the event ticket is issued, every
// other method is 403 read_only_token without reaching the core.
func TestReadOnlyRoutes(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("m 1\n")) })
	h, cc := newHandler(t, Options{ReadToken: testReadToken, Metrics: metrics})
	ro := map[string]string{"X-Auth-Token": testReadToken}
	seen := 0
	for _, rt := range h.routeTable() {
		path := strings.ReplaceAll(rt.pattern, "{pid}", "4242")
		if rt.pattern == "/api/events" {
			continue // a stream: below
		}
		before := cc.calls.Load()
		w := do(t, h, req{method: rt.method, path: path, body: map[bool]string{true: `{"signal":"TERM","nice":1}`}[rt.method == "POST"], hdr: ro, noToken: true})
		switch {
		case rt.method == "GET" || rt.pattern == "/api/events/ticket":
			// As with the admin token (this fake core has no host figures:
			// those routes fail alike).
			admin := do(t, h, req{method: rt.method, path: path})
			if w.Code != admin.Code || w.Code == 401 || w.Code == 403 {
				t.Errorf("%s %s with the read-only token: %d %s; admin token: %d", rt.method, path, w.Code, w.Body, admin.Code)
			}
		default:
			seen++
			wantError(t, rt.method+" "+path, w, http.StatusForbidden, codeReadOnlyToken)
			if !strings.Contains(w.Body.String(), "/etc/roy-procwatch/token") {
				t.Errorf("%s: the refusal does not name the admin token: %s", path, w.Body)
			}
			if cc.calls.Load() != before {
				t.Errorf("%s %s with the read-only token reached the core", rt.method, path)
			}
		}
	}
	if seen < 3 {
		t.Errorf("only %d action routes refused: the route table lost its actions?", seen)
	}
	// Any other method anywhere is refused too (actions added later).
	w := do(t, h, req{method: "DELETE", path: "/api/processes", hdr: ro, noToken: true})
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE with the read-only token: %d", w.Code)
	}
	// /api/meta tells the UI.
	if m := decode(t, do(t, h, req{path: "/api/meta", hdr: ro, noToken: true})); m["read_only"] != true {
		t.Errorf("meta with the read-only token: read_only=%v", m["read_only"])
	}
	if m := decode(t, do(t, h, req{path: "/api/meta"})); m["read_only"] != false {
		t.Errorf("meta with the admin token: read_only=%v", m["read_only"])
	}
	// Bearer: /metrics only.
	for _, c := range []struct {
		path, auth string
		want       int
	}{
		{"/metrics", "Bearer " + testReadToken, 200},
		{"/metrics", "Bearer " + testToken, 200},
		{"/metrics", "Bearer nope", 401},
		{"/metrics", "Basic " + testReadToken, 401},
		{"/api/processes", "Bearer " + testReadToken, 401},
		{"/api/meta", "Bearer " + testToken, 401},
	} {
		w := do(t, h, req{path: c.path, hdr: map[string]string{"Authorization": c.auth}, noToken: true})
		if w.Code != c.want {
			t.Errorf("GET %s with Authorization %q: %d, want %d", c.path, c.auth, w.Code, c.want)
		}
	}
}

// The read-only token's rotation ends its streams and voids its tickets,
// not the admin token's; and a read-only ticket opens a read-only stream.
func TestReadTokenRotation(t *testing.T) {
	fc := &fakeCore{snaps: [][]procs.Process{{proc(1, "init", 0)}}}
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	h := New(fc, Options{Token: "admin", ReadToken: "reader", ListenAddrs: []string{srv.Listener.Addr().String()}, Logger: quiet()})
	srv.Config.Handler = h
	t.Cleanup(h.CloseStreams)

	admin := send(t, srv, "GET", "/api/events?interval=1", "admin")
	roHeader := send(t, srv, "GET", "/api/events?interval=1", "reader")
	roTicket := send(t, srv, "GET", "/api/events?interval=1&ticket="+ticket(t, srv, "reader"), "")
	unused := ticket(t, srv, "reader")
	adminTicket := ticket(t, srv, "admin")
	for _, res := range []*http.Response{admin, roHeader, roTicket} {
		if res.StatusCode != 200 {
			t.Fatalf("stream: %d", res.StatusCode)
		}
		readEvents(t, bufio.NewScanner(res.Body), 1)
	}
	h.SetReadToken("reader-2")
	if !ended(roHeader.Body, 3*time.Second) || !ended(roTicket.Body, 3*time.Second) {
		t.Error("a read-only stream goes on after the read-only token was replaced")
	}
	if res := send(t, srv, "GET", "/api/events?ticket="+unused, ""); res.StatusCode != 401 {
		t.Errorf("an old read-only ticket after the rotation: %d", res.StatusCode)
	}
	if ended(admin.Body, 1500*time.Millisecond) {
		t.Error("the admin stream ended with the read-only rotation")
	}
	if res := send(t, srv, "GET", "/api/events?interval=1&ticket="+adminTicket, ""); res.StatusCode != 200 {
		t.Errorf("an admin ticket after the read-only rotation: %d", res.StatusCode)
	}
	if res := send(t, srv, "GET", "/api/processes", "reader"); res.StatusCode != 401 {
		t.Errorf("the old read-only token: %d", res.StatusCode)
	}
	if res := send(t, srv, "GET", "/api/processes", "reader-2"); res.StatusCode != 200 {
		t.Errorf("the new read-only token: %d", res.StatusCode)
	}
}
