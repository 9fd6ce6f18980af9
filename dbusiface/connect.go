package dbusiface

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// Bus selectors for Connect and Serve.
const (
	BusSystem  = "system"  // the system bus; DBUS_SYSTEM_BUS_ADDRESS honoured
	BusSession = "session" // the session bus (development)
	BusNone    = "none"    // no D-Bus at all
)

// connectTimeout bounds connecting, authenticating and Hello.
var connectTimeout = 10 * time.Second // a var for tests

// ErrNoBus is returned by Connect for BusNone.
var ErrNoBus = errors.New("D-Bus disabled")

// Connect opens a private connection to bus: "system" (default when
// empty; the address comes from DBUS_SYSTEM_BUS_ADDRESS, else
// /run/dbus/system_bus_socket), "session", "none" (ErrNoBus), or a D-Bus
// address such as "unix:path=/run/x". The connection is closed when ctx
// ends. Connecting, authenticating and Hello are bounded by a timeout.
func Connect(ctx context.Context, bus string) (*dbus.Conn, error) {
	var dial func(opts ...dbus.ConnOption) (*dbus.Conn, error)
	switch bus {
	case "", BusSystem:
		dial = dbus.ConnectSystemBus
	case BusSession:
		dial = dbus.ConnectSessionBus
	case BusNone:
		return nil, ErrNoBus
	default:
		if !strings.Contains(bus, ":") {
			return nil, fmt.Errorf("invalid D-Bus bus %q: want system, session, none or an address", bus)
		}
		addr := bus
		dial = func(opts ...dbus.ConnOption) (*dbus.Conn, error) { return dbus.Connect(addr, opts...) }
	}
	type result struct {
		conn *dbus.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := dial(dbus.WithContext(ctx))
		ch <- result{c, err}
	}()
	t := time.NewTimer(connectTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("cannot connect to the %s D-Bus bus: %w", busLabel(bus), r.err)
		}
		return r.conn, nil
	case <-t.C:
	case <-ctx.Done():
	}
	go func() { // close the late connection, if any
		if r := <-ch; r.conn != nil {
			r.conn.Close()
		}
	}()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("cannot connect to the %s D-Bus bus: no answer within %s", busLabel(bus), connectTimeout)
}

func busLabel(bus string) string {
	switch bus {
	case "", BusSystem:
		if a := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"); a != "" {
			return "system (" + a + ")"
		}
		return "system"
	case BusSession:
		return "session"
	}
	return bus
}

// Serve keeps the Server on bus until ctx ends: it connects, Starts, and
// when the connection is lost (bus restarted, kicked off) it logs it and
// connects again, with a growing delay (1s up to 1min). When no bus is
// reachable it logs one clear line and keeps trying quietly; the caller
// (the daemon) carries on serving HTTP meanwhile. With bus "none" it
// returns at once. Serve returns when ctx is done; it never panics on a
// lost connection.
func (s *Server) Serve(ctx context.Context, bus string) {
	if bus == BusNone {
		s.log.Info("D-Bus disabled: serving HTTP only")
		return
	}
	delay := s.retryMin
	lastErr := ""
	for ctx.Err() == nil {
		err := s.serveOnce(ctx, bus)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if msg := err.Error(); msg != lastErr {
				s.log.Warn("D-Bus interface not available, carrying on without it (will retry)", "err", err)
				lastErr = msg
			} else {
				s.log.Debug("D-Bus still not available", "err", err)
			}
		} else {
			s.log.Warn("lost the D-Bus connection; reconnecting", "bus", busLabel(bus))
			lastErr = ""
			delay = s.retryMin
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, s.retryMax)
	}
}

// serveOnce connects and serves until the connection is lost (nil) or
// cannot be set up (error).
func (s *Server) serveOnce(ctx context.Context, bus string) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn, err := Connect(cctx, bus)
	if err != nil {
		return err
	}
	defer conn.Close()
	sctx, scancel := context.WithTimeout(ctx, connectTimeout)
	err = s.Start(sctx, conn)
	scancel()
	if err != nil {
		return err
	}
	defer s.Stop(conn)
	<-conn.Context().Done() // closed by the bus, or ctx ended
	return nil
}
