package main

import (
	"context"
	"log/slog"

	"github.com/roy/roy-procwatch/daemon/metrics"
	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/daemon/units"
	"github.com/roy/roy-procwatch/dbusiface"
)

// startBus publishes the core on D-Bus as org.roy.ProcWatch1 (see
// dbusiface/) on cfg.Bus: "system" (DBUS_SYSTEM_BUS_ADDRESS honoured),
// "session", "none" or a bus address. It does not wait for the bus: when
// none is reachable, dbusiface logs one line and retries quietly while the
// daemon serves HTTP; a lost connection is reconnected. D-Bus calls count
// as activity for the idle exit. The returned function releases the name
// and waits for the D-Bus side to stop.
func startBus(ctx context.Context, cfg *config, core *procs.Service, svcs *units.Service, act *activity, met *metrics.Metrics, log *slog.Logger) func() {
	if cfg.Bus == dbusiface.BusNone {
		log.Info("D-Bus disabled (ROY_PROCWATCH_BUS=none): serving HTTP only")
		return func() {}
	}
	srv := dbusiface.New(core, log, version)
	srv.SetUnits(svcs)
	srv.SetActivityHook(func() func() {
		act.inflight.Add(1)
		act.Touch()
		met.DBusCall()
		return func() { act.Touch(); act.inflight.Add(-1) }
	})
	bctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer srv.Close()
		srv.Serve(bctx, cfg.Bus)
	}()
	return func() {
		cancel()
		<-done
	}
}
