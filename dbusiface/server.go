// Package dbusiface publishes the roy-procwatch core (package procs) on
// D-Bus as org.roy.ProcWatch1: a thin adapter that decodes the call, finds
// out who the caller is (uid from the bus, polkit for the rest), makes one
// core call and maps the result or the error. Every rule (PID and signal
// validation, nice range, who may act on what) lives in the core.
package dbusiface

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// The fixed names (docs/dbus-api.md).
const (
	BusName    = "org.roy.ProcWatch1"
	ObjectPath = dbus.ObjectPath("/org/roy/ProcWatch1")
	Interface  = "org.roy.ProcWatch1.Manager"
)

// Limits on calls in flight: godbus runs every call in its own goroutine
// with no bound, so the adapter bounds them itself. A connection is held
// to maxInFlightPerSender before its uid is even looked up; then one uid,
// over all its connections, to maxInFlightPerUID, and all non-root callers
// together to maxInFlight-reservedForRoot, so that no unprivileged user
// (opening as many connections as the bus lets it) can keep root out.
const (
	maxInFlight          = 128
	maxInFlightPerSender = 16
	maxInFlightPerUID    = 32
	reservedForRoot      = 32
)

// Server is the D-Bus object over a procs.Service. One Server may be
// started on one connection at a time; after the connection is lost it
// may be started again on a new one (Serve does that).
type Server struct {
	svc     *procs.Service
	log     *slog.Logger
	version string

	busTimeout               time.Duration // bus daemon queries (uid lookup)
	polkitTimeout            time.Duration // non-interactive polkit check
	polkitInteractiveTimeout time.Duration // polkit check that may ask for a password
	// callTimeout bounds a call's identification and a read (List); an
	// action's deadline is the core's (procs.ActionTimeout, longer for a
	// restart), the same whichever transport asked.
	callTimeout        time.Duration
	retryMin, retryMax time.Duration // Serve's reconnection delays

	// lookupUID replaces the bus lookup in tests.
	lookupUID func(ctx context.Context, conn *dbus.Conn, sender string) (uint32, error)

	conn        atomic.Pointer[dbus.Conn] // the connection signals go to
	hook        atomic.Pointer[func() func()]
	events      chan procs.Event
	unsubscribe func() // ends the core subscription New took

	units     servicesHolder // ListServices, GetServiceJournal
	closeOnce sync.Once
	done      chan struct{} // closed by Close
	stopped   chan struct{} // closed when emitLoop has returned

	mu       sync.Mutex
	inFlight map[string]int // per sender (unique name)
	byUID    map[uint32]int // per caller uid
	total    int            // every call past the uid check
	nonRoot  int            // the part of total made by uids other than 0
}

// New returns a Server over svc. It subscribes to the core's events at
// once, so actions taken through any transport (HTTP too) are emitted as
// D-Bus signals whenever the Server is on a bus. Close stops it.
func New(svc *procs.Service, log *slog.Logger, version string) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		svc:                      svc,
		log:                      log.With("component", "dbus"),
		version:                  version,
		busTimeout:               5 * time.Second,
		polkitTimeout:            5 * time.Second,
		polkitInteractiveTimeout: 25 * time.Second,
		callTimeout:              procs.ActionTimeout,
		retryMin:                 time.Second,
		retryMax:                 time.Minute,
		events:                   make(chan procs.Event, 256),
		done:                     make(chan struct{}),
		stopped:                  make(chan struct{}),
		inFlight:                 map[string]int{},
		byUID:                    map[uint32]int{},
	}
	s.unsubscribe = svc.Subscribe(s.enqueue)
	go s.emitLoop()
	return s
}

// SetActivityHook sets a function called when a method call starts; the
// function it returns is called when the call ends. The daemon uses it to
// count D-Bus calls as activity for its idle exit. fn must not block.
func (s *Server) SetActivityHook(fn func() (end func())) {
	s.hook.Store(&fn)
}

// enqueue is the core's event callback: it must not block, so events are
// handed to emitLoop and dropped (with a log line) if the queue is full.
func (s *Server) enqueue(ev procs.Event) {
	if s.conn.Load() == nil {
		return
	}
	select {
	case <-s.done:
	case s.events <- ev:
	default:
		s.log.Warn("D-Bus signal queue full: dropping a signal", "pid", ev.PID)
	}
}

// Close ends the Server's subscription to the core's events, stops the
// signal emitter started by New and waits for it. Stop the Server on its
// connection first (Serve does when it returns).
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.unsubscribe()
		close(s.done)
	})
	<-s.stopped
}

// emitLoop sends the queued events as D-Bus signals until Close.
func (s *Server) emitLoop() {
	defer close(s.stopped)
	for {
		var ev procs.Event
		select {
		case <-s.done:
			return
		case ev = <-s.events:
		}
		conn := s.conn.Load()
		if conn == nil {
			continue
		}
		var err error
		switch ev.Kind {
		case procs.EventSignalled:
			err = conn.Emit(ObjectPath, Interface+".ProcessSignalled", u32(ev.PID), clean(ev.Signal))
		case procs.EventReniced:
			err = conn.Emit(ObjectPath, Interface+".ProcessReniced", u32(ev.PID), i32(ev.Nice))
		case procs.EventRestarted:
			err = conn.Emit(ObjectPath, Interface+".ProcessRestarted", u32(ev.PID), u32(ev.NewPID), clean(ev.Unit))
		}
		if err != nil && !errors.Is(err, dbus.ErrClosed) {
			s.log.Warn("cannot emit D-Bus signal", "err", err)
		}
	}
}

// Start exports the object on conn (Manager, Properties with Version,
// Introspectable; godbus answers Peer) and then takes the bus name with
// DoNotQueue: exporting first means no call can reach the name before the
// object is there. Any answer but PrimaryOwner is an error, and the
// exports are withdrawn. ctx bounds the RequestName call only.
func (s *Server) Start(ctx context.Context, conn *dbus.Conn) error {
	if err := s.export(conn); err != nil {
		s.unexport(conn)
		return err
	}
	var reply dbus.RequestNameReply
	err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.RequestName", 0, BusName, uint32(dbus.NameFlagDoNotQueue)).Store(&reply)
	if err != nil {
		s.unexport(conn)
		return fmt.Errorf("cannot take the D-Bus name %s: %w", BusName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		s.unexport(conn)
		return fmt.Errorf("cannot take the D-Bus name %s: %s", BusName, requestNameReplyString(reply))
	}
	s.conn.Store(conn)
	s.log.Info("D-Bus name taken", "name", BusName, "unique_name", uniqueName(conn))
	return nil
}

// Stop releases the name and withdraws the object from conn; signals stop.
// It does not close conn.
func (s *Server) Stop(conn *dbus.Conn) {
	s.conn.CompareAndSwap(conn, nil)
	if conn.Connected() {
		_, _ = conn.ReleaseName(BusName)
	}
	s.unexport(conn)
}

func (s *Server) export(conn *dbus.Conn) error {
	m := &manager{s: s, conn: conn}
	if err := conn.Export(m, ObjectPath, Interface); err != nil {
		return fmt.Errorf("cannot export %s: %w", Interface, err)
	}
	_, err := prop.Export(conn, ObjectPath, prop.Map{
		Interface: {
			"Version": {Value: s.version, Writable: false, Emit: prop.EmitConst},
		},
	})
	if err != nil {
		return fmt.Errorf("cannot export properties: %w", err)
	}
	if err := conn.Export(introspect.Introspectable(introspectionXML()), ObjectPath, "org.freedesktop.DBus.Introspectable"); err != nil {
		return fmt.Errorf("cannot export introspection: %w", err)
	}
	if err := conn.Export(introspect.Introspectable(parentXML("ProcWatch1")), "/org/roy", "org.freedesktop.DBus.Introspectable"); err != nil {
		return err
	}
	if err := conn.Export(introspect.Introspectable(parentXML("roy")), "/org", "org.freedesktop.DBus.Introspectable"); err != nil {
		return err
	}
	return conn.Export(introspect.Introspectable(parentXML("org")), "/", "org.freedesktop.DBus.Introspectable")
}

func (s *Server) unexport(conn *dbus.Conn) {
	_ = conn.Export(nil, ObjectPath, Interface)
	_ = conn.Export(nil, ObjectPath, "org.freedesktop.DBus.Properties")
	_ = conn.Export(nil, ObjectPath, "org.freedesktop.DBus.Introspectable")
	_ = conn.Export(nil, "/org/roy", "org.freedesktop.DBus.Introspectable")
	_ = conn.Export(nil, "/org", "org.freedesktop.DBus.Introspectable")
	_ = conn.Export(nil, "/", "org.freedesktop.DBus.Introspectable")
}

func uniqueName(conn *dbus.Conn) string {
	if n := conn.Names(); len(n) > 0 {
		return n[0]
	}
	return ""
}

func requestNameReplyString(r dbus.RequestNameReply) string {
	switch r {
	case dbus.RequestNameReplyInQueue:
		return "queued behind another owner"
	case dbus.RequestNameReplyExists:
		return "another process owns it (is another roy-procwatchd running?)"
	case dbus.RequestNameReplyAlreadyOwner:
		return "this connection already owns it"
	}
	return fmt.Sprintf("unexpected RequestName reply %d", r)
}

// acquire counts a call in flight for sender (a connection's unique
// name); false means the connection is over its limit.
func (s *Server) acquire(sender string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight[sender] >= maxInFlightPerSender {
		return false
	}
	s.inFlight[sender]++
	return true
}

func (s *Server) release(sender string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight[sender]--; s.inFlight[sender] <= 0 {
		delete(s.inFlight, sender)
	}
}

// acquireUID counts a call in flight for uid once the bus has told who
// the caller is; false means uid, or the unprivileged callers together,
// are over their limit. Root is only held to the global limit, of which
// reservedForRoot calls are always left to it.
func (s *Server) acquireUID(uid uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total >= maxInFlight {
		return false
	}
	if uid != 0 {
		if s.byUID[uid] >= maxInFlightPerUID || s.nonRoot >= maxInFlight-reservedForRoot {
			return false
		}
		s.nonRoot++
	}
	s.total++
	s.byUID[uid]++
	return true
}

func (s *Server) releaseUID(uid uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if uid != 0 {
		s.nonRoot--
	}
	if s.byUID[uid]--; s.byUID[uid] <= 0 {
		delete(s.byUID, uid)
	}
}
