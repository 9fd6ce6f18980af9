// Command roy-procwatchd is the roy-procwatch daemon: it serves the HTTP API
// and UI on the socket systemd passes (or its own in standalone mode) and
// publishes the same core on the system D-Bus.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	sddaemon "github.com/coreos/go-systemd/v22/daemon"

	"github.com/roy/roy-procwatch/daemon/host"
	"github.com/roy/roy-procwatch/daemon/metrics"
	"github.com/roy/roy-procwatch/daemon/procs"
	svcunits "github.com/roy/roy-procwatch/daemon/units"
	"github.com/roy/roy-procwatch/httpui"
	"github.com/roy/roy-procwatch/internal/relaunch"
	"github.com/roy/roy-procwatch/internal/systemd"
)

// maxConns caps the HTTP connections open at once (see connPool).
const maxConns = 64

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.2.0-dev"

func main() {
	// A detached relaunch (no systemd) runs this binary as its helper.
	relaunch.RunHelperIfAsked()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// listeners takes the sockets systemd passed, once (go-systemd unsets the
// variables), or listens itself in standalone mode.
func listeners(c *config) ([]net.Listener, bool, error) {
	if os.Getenv("LISTEN_FDS") != "" {
		if os.Getenv("LISTEN_PID") != fmt.Sprint(os.Getpid()) {
			return nil, true, fmt.Errorf("LISTEN_FDS is set but LISTEN_PID (%q) is not this process (%d): refusing to guess", os.Getenv("LISTEN_PID"), os.Getpid())
		}
		ls, err := activation.Listeners()
		if err != nil {
			return nil, true, fmt.Errorf("cannot use the sockets systemd passed: %w", err)
		}
		var out []net.Listener
		for _, l := range ls {
			if l != nil {
				out = append(out, l)
			}
		}
		if len(out) == 0 {
			return nil, true, errors.New("systemd passed no usable stream socket (LISTEN_FDS)")
		}
		return out, true, nil
	}
	if c.RequireSocket {
		return nil, false, errors.New("no socket from systemd (LISTEN_FDS unset) and ROY_PROCWATCH_REQUIRE_SOCKET is on: start roy-procwatch.socket, not the binary")
	}
	addr := net.JoinHostPort(c.Host, fmt.Sprint(c.Port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, false, fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	return []net.Listener{l}, false, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	activated := os.Getenv("LISTEN_FDS") != ""
	cfg, err := loadConfig(args, stderr, activated)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "roy-procwatchd:", err)
		return 2
	}
	log := newLogger(stderr, cfg.LogLevel)
	for _, w := range cfg.warnings {
		log.Warn(w)
	}

	lns, activated, err := listeners(cfg)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	standalone := !activated
	if err := cfg.loadToken(standalone); err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := cfg.loadReadToken(standalone); err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}

	var units procs.UnitManager
	if systemd.Available() {
		sd := systemd.New()
		defer sd.Close()
		units = sd
	}
	hostSampler := host.New(host.Options{Logger: log})
	defer hostSampler.Close()
	var met *metrics.Metrics // nil-safe; set before anything is served
	core, err := procs.New(procs.Options{
		Host:           hostSampler,
		OnSnapshot:     func(d time.Duration) { met.ObserveSnapshot(d) },
		OnAction:       func(action, result string) { met.ObserveAction(action, result) },
		SnapshotTTL:    cfg.SnapshotTTL,
		Signals:        cfg.Signals,
		RestartTimeout: cfg.RestartTimeout,
		Units:          units,
		Logger:         log,
		AuditFile:      cfg.AuditFile,
		AuditMaxSize:   cfg.AuditMaxSize,
	})
	if err != nil {
		log.Error("cannot start the core", "err", err)
		return 1
	}
	defer core.Close()

	// The services view; without systemd as PID 1 it answers no_systemd.
	svcs := svcunits.New(svcunits.Options{Procs: core, Audit: core, Logger: log})
	defer svcs.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	act := newActivity()
	pool := newConnPool(maxConns)
	var addrs []string
	for _, l := range lns {
		addrs = append(addrs, l.Addr().String())
	}
	var h *httpui.Handler
	met = metrics.New(metrics.Options{
		Snapshot:        core,
		Version:         version,
		MaxListenSeries: cfg.MetricsMaxListenSeries,
		Top:             cfg.MetricsTop,
		SSEClients:      func() int { return h.StreamCount() },
	})
	met.AddHost(hostMetrics(hostSampler))
	if svcs.Available() { // systemd is PID 1: per-unit figures
		met.AddUnits(unitMetrics(svcs))
	}
	h = httpui.New(core, httpui.Options{
		Token:        cfg.token,
		ReadToken:    cfg.readToken,
		Metrics:      met.Handler(),
		Observer:     met,
		ListenAddrs:  addrs,
		AllowedHosts: cfg.AllowedHosts,
		Version:      version,
		Logger:       log,
		Units:        svcs,
		// The token holder's connections are evicted last.
		OnAuthenticated: pool.authenticated,
	})
	srv := &http.Server{
		Handler:           act.wrap(pool.wrap(h)),
		ConnContext:       connContext,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      writeTimeout(core),
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ConnState:         act.connState,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}

	srv.RegisterOnShutdown(h.CloseStreams) // event streams never go idle

	stopBus := startBus(ctx, cfg, core, svcs, act, met, log)
	defer stopBus()

	var wg sync.WaitGroup
	var limited []net.Listener
	for _, l := range lns {
		// net/http's own answers (malformed requests) as JSON too.
		l := pool.listener(httpui.JSONErrorListener(l))
		limited = append(limited, l)
		wg.Add(1)
		go func(l net.Listener) {
			defer wg.Done()
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				log.Error("serve failed", "addr", l.Addr().String(), "err", err)
				stop()
			}
		}(l)
	}

	if standalone {
		tok := "from " + cfg.tokenSource
		if cfg.generated {
			tok = cfg.token
		}
		fmt.Fprintf(stdout, "[Roy ProcWatch] Running on http://%s  (token: %s)\n", addrs[0], tok)
	}
	log.Info("roy-procwatchd started", "version", version, "listen", addrs, "socket_activated", activated,
		"token_source", cfg.tokenSource, "read_token_source", cfg.readTokenSource, "systemd", units != nil, "audit_file", cfg.AuditFile, "idle_exit", cfg.IdleExit.String())
	notify(sddaemon.SdNotifyReady, log)
	go watchdog(ctx, log)

	// SIGHUP reloads the token.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	idle := act.idleChan(ctx, cfg.IdleExit)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			log.Info("stopping", "reason", "signal")
			done = true
		case <-idle:
			log.Info("stopping", "reason", "idle", "idle_exit", cfg.IdleExit.String())
			done = true
		case <-hup:
			old := cfg.token
			if err := cfg.loadToken(standalone); err != nil {
				log.Error("token reload failed; keeping the old token", "err", err)
				cfg.token = old
			} else {
				h.SetToken(cfg.token)
				log.Info("token reloaded", "token_source", cfg.tokenSource)
			}
			oldRead, oldReadSource := cfg.readToken, cfg.readTokenSource
			if err := cfg.loadReadToken(standalone); err != nil {
				log.Error("read-only token reload failed; keeping the old one", "err", err)
				cfg.readToken, cfg.readTokenSource = oldRead, oldReadSource
			} else {
				if cfg.readToken != oldRead { // its streams and tickets end only when it changed
					h.SetReadToken(cfg.readToken)
				}
				log.Info("read-only token reloaded", "read_token_source", cfg.readTokenSource)
			}
		}
	}
	notify(sddaemon.SdNotifyStopping, log)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Lose no request. Stop accepting first: closing our copies of the
	// sockets leaves systemd's open, so queued connections wait in the
	// kernel for the next instance. Then let every connection already
	// accepted send its request: Shutdown would drop one whose request
	// arrives after it began, unanswered (net/http closes it).
	for _, l := range limited {
		_ = l.Close()
	}
	wg.Wait() // the Serve loops are done: every accepted conn is tracked
	srv.SetKeepAlivesEnabled(false)
	act.waitAccepted(6 * time.Second) // a little over ReadHeaderTimeout
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("shutdown did not finish cleanly", "err", err)
	}
	return 0
}

// notify sends an sd_notify state; outside systemd it is a silent no-op.
// It never unsets NOTIFY_SOCKET (the watchdog still needs it).
func notify(state string, log *slog.Logger) {
	if _, err := sddaemon.SdNotify(false, state); err != nil {
		log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// watchdog pings systemd at half the WatchdogSec, after a cheap check that
// /proc is still readable (the inventory's one dependency).
func watchdog(ctx context.Context, log *slog.Logger) {
	d, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("invalid watchdog settings", "err", err)
		return
	}
	if d <= 0 {
		return
	}
	t := time.NewTicker(d / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := os.Stat("/proc/self/stat"); err != nil {
				log.Error("health check failed; not pinging the watchdog", "err", err)
				continue
			}
			notify(sddaemon.SdNotifyWatchdog, log)
		}
	}
}

// activity tracks requests and connections for the idle exit.
type activity struct {
	conns    atomic.Int64
	inflight atomic.Int64
	last     atomic.Int64 // unix nanos of the last activity

	mu       sync.Mutex
	accepted map[net.Conn]bool // accepted, first request not read yet
}

func newActivity() *activity {
	a := &activity{accepted: map[net.Conn]bool{}}
	a.Touch()
	return a
}

// Touch records activity (HTTP requests, D-Bus calls).
func (a *activity) Touch() { a.last.Store(time.Now().UnixNano()) }

func (a *activity) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.inflight.Add(1)
		a.Touch()
		defer func() { a.Touch(); a.inflight.Add(-1) }()
		h.ServeHTTP(w, r)
	})
}

func (a *activity) connState(c net.Conn, s http.ConnState) {
	a.mu.Lock()
	if s == http.StateNew {
		a.accepted[c] = true
	} else {
		delete(a.accepted, c)
	}
	a.mu.Unlock()
	switch s {
	case http.StateNew:
		a.conns.Add(1)
		a.Touch()
	case http.StateClosed, http.StateHijacked:
		a.conns.Add(-1)
		a.Touch()
	}
}

// waitAccepted waits, at most d, until no accepted connection is still
// waiting for its first request.
func (a *activity) waitAccepted(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		a.mu.Lock()
		n := len(a.accepted)
		a.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// idleChan fires once nothing happened for d and nothing is in flight.
// d == 0 never fires.
// writeTimeout bounds the writing of an HTTP answer: long enough for the
// answer to the longest action the core allows (a restart waiting for
// systemd, with the configured stop timeout), so that no action's result is
// lost over HTTP that D-Bus would deliver.
func writeTimeout(core *procs.Service) time.Duration {
	return max(90*time.Second, core.LongestAction()+20*time.Second)
}

func (a *activity) idleChan(ctx context.Context, d time.Duration) <-chan struct{} {
	ch := make(chan struct{})
	if d <= 0 {
		return ch
	}
	go func() {
		t := time.NewTicker(min(d/4+time.Millisecond, time.Second))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				since := time.Since(time.Unix(0, a.last.Load()))
				if since >= d && a.inflight.Load() == 0 && a.conns.Load() == 0 {
					close(ch)
					return
				}
			}
		}
	}()
	return ch
}
