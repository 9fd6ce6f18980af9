package httpui

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// eventsServer is a real HTTP server over a fakeCore snapshot source.
func eventsServer(t *testing.T, token string) (*httptest.Server, *Handler) {
	t.Helper()
	return serve(t, &fakeCore{snaps: [][]procs.Process{{proc(1, "init", 0)}}}, token)
}

// serve is the handler over core on a real socket (a free port, allowed as
// Host), with token; its event streams end at cleanup.
func serve(t *testing.T, core Core, token string) (*httptest.Server, *Handler) {
	t.Helper()
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	h := New(core, Options{Token: token, ListenAddrs: []string{srv.Listener.Addr().String()}, Logger: quiet()})
	srv.Config.Handler = h
	t.Cleanup(h.CloseStreams)
	return srv, h
}

func send(t *testing.T, srv *httptest.Server, method, path, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func ticket(t *testing.T, srv *httptest.Server, token string) string {
	t.Helper()
	res := send(t, srv, "POST", "/api/events/ticket", token)
	var tk struct{ Ticket string }
	if err := json.NewDecoder(res.Body).Decode(&tk); err != nil || res.StatusCode != 200 {
		t.Fatalf("ticket: %d %v", res.StatusCode, err)
	}
	return tk.Ticket
}

// ended says whether the stream body ends within d.
func ended(body io.Reader, d time.Duration) bool {
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, body); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// TestTokenRotationEndsStreamsAndTickets (issue 8 item 11): after the
// token is replaced, streams opened with the old token (by header or by
// ticket) end, and a ticket minted with the old token no longer opens
// one; the new token's streams keep going.
func TestTokenRotationEndsStreamsAndTickets(t *testing.T) {
	srv, h := eventsServer(t, "old-token")
	byHeader := send(t, srv, "GET", "/api/events?interval=1", "old-token")
	byTicket := send(t, srv, "GET", "/api/events?interval=1&ticket="+ticket(t, srv, "old-token"), "")
	unused := ticket(t, srv, "old-token")
	for _, res := range []*http.Response{byHeader, byTicket} {
		if res.StatusCode != 200 {
			t.Fatalf("stream: %d", res.StatusCode)
		}
		readEvents(t, bufio.NewScanner(res.Body), 1) // it streams
	}

	h.SetToken("new-token")
	newStream := send(t, srv, "GET", "/api/events?interval=1", "new-token")
	if newStream.StatusCode != 200 {
		t.Fatalf("stream with the new token: %d", newStream.StatusCode)
	}
	if !ended(byHeader.Body, 3*time.Second) {
		t.Error("a stream opened with the old token goes on after the rotation")
	}
	if !ended(byTicket.Body, 3*time.Second) {
		t.Error("a stream opened with an old-token ticket goes on after the rotation")
	}
	if res := send(t, srv, "GET", "/api/events?ticket="+unused, ""); res.StatusCode != 401 {
		t.Errorf("a ticket minted with the old token, used after the rotation: %d, want 401", res.StatusCode)
	}
	if ended(newStream.Body, 1500*time.Millisecond) {
		t.Error("the new token's stream ended")
	}
	if res := send(t, srv, "GET", "/api/events?interval=1&ticket="+ticket(t, srv, "new-token"), ""); res.StatusCode != 200 {
		t.Errorf("a new-token ticket: %d", res.StatusCode)
	}
}

// TestBadFloodNeverRefusesValidCredentials (issue 8 item 12): after 30
// bad tokens and 30 bad tickets (the limiter is empty), a valid ticket
// and the valid token still get in.
func TestBadFloodNeverRefusesValidCredentials(t *testing.T) {
	srv, _ := eventsServer(t, "good-token")
	tk := ticket(t, srv, "good-token")
	var limited int
	for i := 0; i < 30; i++ {
		if res := send(t, srv, "GET", "/api/processes", "bad-"+strconv.Itoa(i)); res.StatusCode == 429 {
			limited++
		}
		if res := send(t, srv, "GET", "/api/events?ticket=bad-"+strconv.Itoa(i), ""); res.StatusCode == 429 {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("60 bad credentials and the limiter never answered 429: the test proves nothing")
	}
	res := send(t, srv, "GET", "/api/events?interval=1&ticket="+tk, "")
	if res.StatusCode != 200 {
		t.Fatalf("a valid ticket after a bad-credential flood: %d, want 200", res.StatusCode)
	}
	readEvents(t, bufio.NewScanner(res.Body), 1)
	if res := send(t, srv, "GET", "/api/signals", "good-token"); res.StatusCode != 200 {
		t.Errorf("the valid token after the flood: %d", res.StatusCode)
	}
}
