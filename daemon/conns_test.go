package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// TestSlowHeaders (D12): a client trickling its headers is cut off by
// ReadHeaderTimeout (5 s).
func TestSlowHeaders(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the server's 5 s header timeout: not in -short mode (the package build)")
	}
	t.Parallel() // mostly waiting on the server's 5 s header timeout
	d := startStandalone(t)
	slow, err := net.Dial("tcp", d.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := io.WriteString(slow, "GET /api/health HTTP/1.1\r\nHost: "+d.addr+"\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = slow.SetReadDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(slow) // returns when the server closes it
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the slow client was never cut off: %v", err)
	}
	t.Logf("slow client cut off after %v", time.Since(start))
}

// TestConnectionCap (D14, issue 8 item 4): at most maxConns connections
// are open; when they are all held without a request, a new client is
// served at once and the longest-waiting held connection is the one
// closed.
func TestConnectionCap(t *testing.T) {
	d := startStandalone(t)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < maxConns; i++ {
		c, err := net.Dial("tcp", d.addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		held = append(held, c)
		if i == 0 {
			time.Sleep(50 * time.Millisecond) // the first is the oldest
		}
	}
	time.Sleep(connGrace + 200*time.Millisecond) // every held one past its grace
	start := time.Now()
	if code, _ := d.api("GET", "/api/signals", ""); code != 200 {
		t.Fatalf("request while %d connections are held: %d", maxConns, code)
	}
	took := time.Since(start)
	t.Logf("served in %v while %d connections were held", took, maxConns)
	if took > 2*time.Second {
		t.Errorf("served after %v", took)
	}
	closedByServer := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
	// All at once: the server's 5 s header timeout will close the rest.
	closed := make([]bool, len(held))
	var wg sync.WaitGroup
	for i, c := range held {
		wg.Add(1)
		go func() { defer wg.Done(); closed[i] = closedByServer(c) }()
	}
	wg.Wait()
	if !closed[0] {
		t.Error("the longest-held connection was not the one evicted")
	}
	for i := 1; i < len(held); i++ {
		if closed[i] {
			t.Errorf("held connection %d closed too: only one had to go", i)
		}
	}
}

// TestConnectionFlood (issue 8 item 4): clients without the token hold
// more connections than the cap, each asking /api/health over keep-alive
// every second and reconnecting at once when dropped; a valid-token request
// still answers within 2 s. On a standalone daemon and on a passed socket.
func TestConnectionFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("a timed flood of 80 connections: not in -short mode (the package build)")
	}
	for _, mode := range []string{"standalone", "passed socket"} {
		t.Run(mode, func(t *testing.T) {
			var d *daemon
			if mode == "standalone" {
				d = startStandalone(t)
			} else {
				token := "flood-token-0123456789abcdef0123456789"
				ln, f := passedSocket(t)
				cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0"`, daemonBin)
				cmd.Env = baseEnv(t, "LISTEN_FDS=1", "ROY_PROCWATCH_TOKEN="+token, "ROY_PROCWATCH_REQUIRE_SOCKET=true")
				cmd.ExtraFiles = []*os.File{f}
				d = start(t, cmd, ln.Addr().String(), token)
				d.waitReady()
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var answered, reconnects atomic.Int64
			for i := 0; i < maxConns+16; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					testproc.HoldConnection(ctx, d.addr, &answered, &reconnects)
				}()
			}
			defer func() { cancel(); wg.Wait() }()
			waitFor(t, "the attackers holding the connections", func() bool { return answered.Load() >= maxConns+16 })
			for i := 0; i < 5; i++ {
				start := time.Now()
				code, _ := d.api("GET", "/api/signals", "")
				took := time.Since(start)
				t.Logf("valid-token request %d: %d in %v (%d attacker answers, %d reconnects so far)", i, code, took, answered.Load(), reconnects.Load())
				if code != 200 || took > 2*time.Second {
					t.Errorf("valid-token request %d during the flood: %d after %v", i, code, took)
				}
				time.Sleep(300 * time.Millisecond)
			}
		})
	}
}

// TestConnPoolVictim: the connection evicted is past its grace and not
// inside a handler; unauthenticated ones go first, then the longest
// waiting.
func TestConnPoolVictim(t *testing.T) {
	p := newConnPool(8)
	now := time.Now()
	mk := func(name string, age, idle time.Duration, busy int, authed bool) *poolConn {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		c := &poolConn{Conn: a, pool: p, accepted: now.Add(-age), since: now.Add(-idle), busy: busy, authed: authed}
		p.conns[c] = struct{}{}
		p.open++
		names[c] = name
		return c
	}
	names = map[*poolConn]string{}
	mk("young", connGrace/2, connGrace/2, 0, false)
	mk("busy", time.Minute, time.Minute, 1, false)
	mk("authed-old", time.Minute, time.Minute, 0, true)
	mk("anon-recent", time.Minute, time.Second, 0, false)
	mk("anon-old", time.Minute, 10*time.Second, 0, false)
	var order []string
	for v := p.victim(now); v != nil; v = p.victim(now) {
		order = append(order, names[v])
		v.Close()
	}
	want := []string{"anon-old", "anon-recent", "authed-old"}
	if strconv.Quote(join(order)) != strconv.Quote(join(want)) {
		t.Errorf("eviction order %v, want %v (young and busy never)", order, want)
	}
	if p.open != 2 || len(p.conns) != 2 {
		t.Errorf("open %d, tracked %d after three evictions of five", p.open, len(p.conns))
	}
}

var names map[*poolConn]string

func join(s []string) string {
	out := ""
	for _, x := range s {
		out += x + ","
	}
	return out
}
