package dbusiface

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/internal/testproc"
)

func TestConnectArgs(t *testing.T) {
	if _, err := Connect(context.Background(), BusNone); !errors.Is(err, ErrNoBus) {
		t.Errorf("none: %v", err)
	}
	if _, err := Connect(context.Background(), "bogus"); err == nil {
		t.Error("bogus bus accepted")
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "nothing"))
	start := time.Now()
	_, err := Connect(context.Background(), BusSystem)
	if err == nil || !strings.Contains(err.Error(), "system (unix:path=") {
		t.Errorf("no bus: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("no bus: took %s", time.Since(start))
	}
}

// TestConnectHangingBus: a socket that accepts and never answers must not
// hang the daemon.
func TestConnectHangingBus(t *testing.T) {
	old := connectTimeout
	connectTimeout = 500 * time.Millisecond
	defer func() { connectTimeout = old }()
	sock := filepath.Join(t.TempDir(), "hang")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	if _, err := Connect(context.Background(), "unix:path="+sock); err == nil || !strings.Contains(err.Error(), "no answer") {
		t.Errorf("hanging bus: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
}

// TestServe: no bus at start (one log line, HTTP would go on), then the
// bus appears (name taken), is lost (logged, no crash) and comes back
// (name taken again); a second daemon cannot take the name.
func TestServe(t *testing.T) {
	requireBus(t)
	dir := publicDir(t)
	addr := "unix:path=" + filepath.Join(dir, "system_bus_socket")
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", addr)
	svc, err := procs.New(procs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var logs testproc.SyncBuffer
	srv := New(svc, slog.New(slog.NewTextHandler(&logs, nil)), "v")
	srv.retryMin, srv.retryMax = 200*time.Millisecond, 400*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, BusSystem); close(done) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	}()

	waitLog := func(substr string, n int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for strings.Count(logs.String(), substr) < n {
			if time.Now().After(deadline) {
				t.Fatalf("log %q (x%d) not seen; logs:\n%s", substr, n, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitLog("D-Bus interface not available", 1)
	time.Sleep(1000 * time.Millisecond) // a few more retries
	if n := strings.Count(logs.String(), "D-Bus interface not available"); n != 1 {
		t.Errorf("no-bus logged %d times, want once:\n%s", n, logs.String())
	}

	_, kill := runBusDaemon(t, dir)
	waitLog("D-Bus name taken", 1)
	ping := func() error {
		c, err := dbus.Connect(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		return c.Object(BusName, ObjectPath).Call("org.freedesktop.DBus.Peer.Ping", 0).Err
	}
	if err := ping(); err != nil {
		t.Fatal(err)
	}

	// A second server cannot take the name (DoNotQueue).
	c2, err := Connect(context.Background(), BusSystem)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := New(svc, nil, "v2").Start(context.Background(), c2); err == nil || !strings.Contains(err.Error(), "another process owns it") {
		t.Errorf("second Start: %v", err)
	}

	kill()
	waitLog("lost the D-Bus connection", 1)
	runBusDaemon(t, dir)
	waitLog("D-Bus name taken", 2)
	if err := ping(); err != nil {
		t.Fatalf("after reconnect: %v", err)
	}
}
