package testproc

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// HoldConnection is the connection-holding attack on the HTTP API (issue
// 8 item 4): it keeps a keep-alive connection to addr with no token,
// sending GET /api/health every second, and reconnects at once when
// dropped, until ctx ends. It counts the answers and the reconnections.
func HoldConnection(ctx context.Context, addr string, answered, reconnects *atomic.Int64) {
	req := "GET /api/health HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
	for ctx.Err() == nil {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		br := bufio.NewReader(c)
		for ctx.Err() == nil {
			if _, err := io.WriteString(c, req); err != nil {
				break
			}
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				break
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			answered.Add(1)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		stop()
		c.Close()
		reconnects.Add(1)
	}
}

// RawHTTP sends req, written out by hand (malformed requests too), on a
// new connection to addr and returns the answer with its body read.
func RawHTTP(t testing.TB, addr, req string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no HTTP answer to %.40q: %v", req, err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("body of the answer to %.40q: %v", req, err)
	}
	return res, b
}
