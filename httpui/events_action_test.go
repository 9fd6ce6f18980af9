package httpui

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/internal/testproc"
)

// TestEventsSendActionsAtOnce: an event stream subscribes to the core's
// actions: a renice shows in the stream at once, not at the next tick (60
// s here, and the core's snapshot lives an hour, so only the action's
// event can bring it); the subscription ends with the stream.
func TestEventsSendActionsAtOnce(t *testing.T) {
	core, err := procs.New(procs.Options{SnapshotTTL: time.Hour, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Close() })
	srv, _ := serve(t, core, testToken)
	child := testproc.Sleeper(t)

	res := send(t, srv, "GET", "/api/events?interval=60", testToken)
	if res.StatusCode != 200 {
		t.Fatalf("stream: %d", res.StatusCode)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	if ev := readEvents(t, sc, 1); ev[0].name != "snapshot" {
		t.Fatalf("first event %q, want snapshot", ev[0].name)
	}
	if n := core.Subscribers(); n != 1 {
		t.Fatalf("%d subscriptions with one stream open, want 1", n)
	}

	start := time.Now()
	req, _ := http.NewRequest("POST", srv.URL+"/api/process/"+strconv.Itoa(child.PID)+"/renice", strings.NewReader(`{"nice":19}`))
	req.Header.Set("X-Auth-Token", testToken)
	req.Header.Set("Content-Type", "application/json")
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
		t.Fatalf("renice: %v %v", r, err)
	}
	ev := readEvents(t, sc, 1)[0]
	took := time.Since(start)
	if took > 10*time.Second {
		t.Fatalf("the renice came after %v: that is not at once", took)
	}
	if !reniced(t, ev, child.PID, 19) {
		t.Fatalf("the event after the renice (%s) does not show pid %d at nice 19: %.300s", ev.name, child.PID, ev.data)
	}
	t.Logf("the renice was in the stream %v after the request", took)

	res.Body.Close()
	testproc.Poll(t, 5*time.Second, "the stream's subscription to end", func() bool { return core.Subscribers() == 0 })
}

// reniced says whether a snapshot or delta event shows pid at nice.
func reniced(t *testing.T, ev sse, pid, nice int) bool {
	t.Helper()
	switch ev.name {
	case "snapshot":
		var s Snapshot
		if err := json.Unmarshal([]byte(ev.data), &s); err != nil {
			t.Fatal(err)
		}
		for _, p := range s.Items {
			if p.PID == pid {
				return p.Nice == nice
			}
		}
	case "delta":
		var d Delta
		if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
			t.Fatal(err)
		}
		for _, c := range d.Changed {
			if c["pid"] == float64(pid) {
				return c["nice"] == float64(nice)
			}
		}
	}
	return false
}
