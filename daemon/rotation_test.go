package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// TestSIGHUPEndsOldStreams (issue 8 item 11): after SIGHUP replaces the
// token, the event stream opened with the old token ends and a ticket
// minted with it no longer opens one.
func TestSIGHUPEndsOldStreams(t *testing.T) {
	const first, second = "first-token-0123456789abcdef0123", "second-token-0123456789abcdef012"
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(first+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testproc.FreePort(t)
	cmd := exec.Command(daemonBin)
	cmd.Env = baseEnv(t, "ROY_PROCWATCH_PORT="+strconv.Itoa(port), "ROY_PROCWATCH_TOKEN_FILE="+tokFile)
	d := start(t, cmd, "127.0.0.1:"+strconv.Itoa(port), first)
	d.waitReady()

	get := func(path, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+d.addr+path, nil)
		if token != "" {
			req.Header.Set("X-Auth-Token", token)
		}
		res, err := (&http.Client{}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	stream := get("/api/events?interval=1", first)
	if stream.StatusCode != 200 {
		t.Fatalf("stream: %d", stream.StatusCode)
	}
	sc := bufio.NewScanner(stream.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "event: snapshot") {
	}
	code, m := d.call("POST", "/api/events/ticket", "", first)
	ticket, _ := m["ticket"].(string)
	if code != 200 || ticket == "" {
		t.Fatalf("ticket: %d %v", code, m)
	}

	if err := os.WriteFile(tokFile, []byte(second+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool { return strings.Contains(d.stderr.String(), "token reloaded") })

	ended := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, stream.Body); close(ended) }()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Error("the stream opened with the old token still streams after SIGHUP")
	}
	res := get("/api/events?ticket="+ticket, "")
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != 401 || body["code"] != "unauthorized" {
		t.Errorf("a ticket minted with the old token after SIGHUP: %d %v, want 401 unauthorized", res.StatusCode, body)
	}
	if res := get("/api/events?interval=1", second); res.StatusCode != 200 {
		t.Errorf("a stream with the new token: %d", res.StatusCode)
	}
}
