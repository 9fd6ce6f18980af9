//go:build e2e

package e2e

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// checkConnectionFlood (issue 8 item 4): on the packaged socket-activated
// service, clients without the token hold more connections than the
// daemon's cap (64), each asking /api/health every second over keep-alive
// and reconnecting at once when dropped; a valid-token request still
// answers within 2 s.
func checkConnectionFlood(t *testing.T) {
	tok := token(t)
	if code, b, err := api("GET", "/api/health", "", ""); err != nil || code != 200 {
		t.Fatalf("health before the flood: %d %v %.200s", code, err, b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var answered, reconnects atomic.Int64
	const holders = 80
	for range holders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			testproc.HoldConnection(ctx, addr, &answered, &reconnects)
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	waitFor(t, "the holders' first answers", 20*time.Second, func() bool { return answered.Load() >= holders })
	for i := range 5 {
		start := time.Now()
		code, b, err := api("GET", "/api/signals", tok, "")
		took := time.Since(start)
		t.Logf("valid-token request %d: %d in %v (%d holder answers, %d reconnects)", i, code, took, answered.Load(), reconnects.Load())
		if err != nil || code != 200 || took > 2*time.Second {
			t.Errorf("valid-token request %d during the flood: %d %v after %v %.200s", i, code, err, took, b)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
