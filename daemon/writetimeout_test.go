package main

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// TestWriteTimeoutCoversLongestAction: the HTTP answer to the longest
// action still goes out, whatever stop timeout the restart is given.
func TestWriteTimeoutCoversLongestAction(t *testing.T) {
	for _, rt := range []time.Duration{0, 5 * time.Second, 2 * time.Minute} {
		core, err := procs.New(procs.Options{RestartTimeout: rt, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if w, l := writeTimeout(core), core.LongestAction(); w <= l || l < rt {
			t.Errorf("restart timeout %v: write timeout %v, longest action %v", rt, w, l)
		}
		core.Close()
	}
}
