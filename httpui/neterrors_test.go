package httpui

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// TestNetHTTPErrorsAreJSON: the requests net/http refuses before any
// handler runs are answered with the API's JSON error body through
// JSONErrorListener, over a real socket; the handler's own answers pass
// untouched.
func TestNetHTTPErrorsAreJSON(t *testing.T) {
	h, _ := newHandler(t, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, MaxHeaderBytes: 1 << 10, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(JSONErrorListener(ln))
	t.Cleanup(func() { srv.Close() })

	raw := func(t *testing.T, req string) (*http.Response, map[string]any) {
		t.Helper()
		res, b := testproc.RawHTTP(t, ln.Addr().String(), req)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%d answer is not JSON: %q", res.StatusCode, b)
		}
		return res, m
	}
	host := "Host: " + testHost + "\r\n"
	for _, tc := range []struct {
		name, req string
		status    int
		code, msg string
	}{
		{"malformed request line", "GARBAGE\r\n\r\n", 400, "invalid_argument", "malformed HTTP request"},
		{"no Host on HTTP/1.1", "GET /api/health HTTP/1.1\r\n\r\n", 400, "invalid_argument", "missing required Host header"},
		{"bad header name", "GET /api/health HTTP/1.1\r\n" + host + "Bad Name: x\r\n\r\n", 400, "invalid_argument", "invalid header name"},
		{"headers too large", "GET /api/health HTTP/1.1\r\n" + host + "X-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", 431, "headers_too_large", "request headers too large"},
		{"unknown transfer encoding", "POST /api/health HTTP/1.1\r\n" + host + "Transfer-Encoding: rot13\r\n\r\n", 501, "not_implemented", "unsupported transfer encoding"},
		{"HTTP/3.0", "GET /api/health HTTP/3.0\r\n" + host + "\r\n", 505, "http_version_not_supported", "unsupported HTTP version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, m := raw(t, tc.req)
			if res.StatusCode != tc.status || m["code"] != tc.code || !strings.Contains(m["error"].(string), tc.msg) {
				t.Errorf("%d %v, want %d {code %s, error ~ %q}", res.StatusCode, m, tc.status, tc.code, tc.msg)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	// The handler's answers are untouched, errors and successes alike.
	res, m := raw(t, "GET /api/signals HTTP/1.1\r\n"+host+"Connection: close\r\n\r\n")
	if res.StatusCode != 401 || m["code"] != "unauthorized" || res.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("the handler's 401: %d %v %v", res.StatusCode, m, res.Header)
	}
	res, m = raw(t, "GET /api/health HTTP/1.1\r\n"+host+"Connection: close\r\n\r\n")
	if res.StatusCode != 200 || m["status"] != "ok" {
		t.Errorf("health: %d %v", res.StatusCode, m)
	}
}

// TestJSONNetHTTPErrorExactOnly: only a write that is exactly one of
// net/http's error answers is rewritten; a handler's response, or a piece
// of a body that merely starts like one, is not.
func TestJSONNetHTTPErrorExactOnly(t *testing.T) {
	for _, b := range []string{
		"HTTP/1.1 400 Bad Request" + netHTTPErrorHeaders + "400 Bad Request",
		"HTTP/1.1 431 Request Header Fields Too Large" + netHTTPErrorHeaders + "431 Request Header Fields Too Large",
		"HTTP/1.1 400 Bad Request: invalid header value" + netHTTPErrorHeaders + "400 Bad Request: invalid header value",
		"HTTP/1.1 501 Not Implemented" + netHTTPErrorHeaders + "Unsupported transfer encoding",
	} {
		if jsonNetHTTPError([]byte(b)) == nil {
			t.Errorf("not rewritten: %q", b)
		}
	}
	for _, b := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: x\r\n\r\nok",
		"HTTP/1.1 400 Bad Request" + netHTTPErrorHeaders + "400 Bad Request and then more",
		"HTTP/1.1 400 Bad Request" + netHTTPErrorHeaders + "400 Bad Request\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK" + netHTTPErrorHeaders + "200 OK",
		"xHTTP/1.1 400 Bad Request" + netHTTPErrorHeaders + "400 Bad Request",
		"HTTP/1.1 4" + netHTTPErrorHeaders,
		"",
	} {
		if j := jsonNetHTTPError([]byte(b)); j != nil {
			t.Errorf("rewritten: %q → %q", b, j)
		}
	}
}
