package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/roy/roy-procwatch/internal/testproc"
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
		res, b := testproc.RawHTTP(t, d.addr, tc.req)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || res.StatusCode != tc.status || m["code"] != tc.code || m["error"] == "" {
			t.Errorf("%d answer %q (%v), want %d with code %s", res.StatusCode, b, err, tc.status, tc.code)
		}
	}
}
