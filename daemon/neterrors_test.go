package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestNetHTTPErrorsJSON: through the daemon's own listeners, the requests
// net/http refuses before the handler (a malformed request line, headers
// over the 16 KiB cap) get the API's JSON error body too.
func TestNetHTTPErrorsJSON(t *testing.T) {
	d := startStandalone(t)
	for _, tc := range []struct {
		req    string
		status int
		code   string
	}{
		{"GARBAGE\r\n\r\n", 400, "invalid_argument"},
		{"GET /api/health HTTP/1.1\r\nHost: " + d.addr + "\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", 431, "headers_too_large"},
	} {
		c, err := net.Dial("tcp", d.addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, tc.req); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%d: no answer: %v", tc.status, err)
		}
		var m map[string]any
		b, _ := io.ReadAll(res.Body)
		c.Close()
		if err := json.Unmarshal(b, &m); err != nil || res.StatusCode != tc.status || m["code"] != tc.code || m["error"] == "" {
			t.Errorf("%d answer %q (%v), want %d with code %s", res.StatusCode, b, err, tc.status, tc.code)
		}
	}
}
