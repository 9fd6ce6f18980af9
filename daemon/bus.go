package main

import (
	"context"
	"log/slog"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// startBus publishes the core on D-Bus (see dbusiface/). It returns a
// function that releases the bus. Placeholder until the D-Bus adapter lands:
// it says so once and the daemon keeps serving HTTP.
func startBus(ctx context.Context, cfg *config, core *procs.Service, act *activity, log *slog.Logger) func() {
	if cfg.Bus != "none" {
		log.Info("D-Bus interface not available in this build; serving HTTP only")
	}
	return func() {}
}
