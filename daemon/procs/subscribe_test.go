package procs

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// TestSubscribeCancel: a cancelled subscription gets no more events, the
// others still do, and cancel twice is harmless; the count of
// subscribers goes back to zero.
func TestSubscribeCancel(t *testing.T) {
	s := newCore(t, Options{})
	var a, b atomic.Int64
	cancelA := s.Subscribe(func(Event) { a.Add(1) })
	cancelB := s.Subscribe(func(Event) { b.Add(1) })
	if n := s.Subscribers(); n != 2 {
		t.Fatalf("%d subscribers, want 2", n)
	}
	c := testproc.Sleeper(t)
	signal := func() {
		t.Helper()
		if _, err := s.Signal(context.Background(), root, Target{PID: c.PID}, "CONT"); err != nil {
			t.Fatal(err)
		}
	}
	signal()
	if a.Load() != 1 || b.Load() != 1 {
		t.Fatalf("events after one action: %d and %d, want 1 each", a.Load(), b.Load())
	}
	cancelA()
	cancelA()
	signal()
	if a.Load() != 1 || b.Load() != 2 {
		t.Errorf("after cancelling the first: %d and %d events, want 1 and 2", a.Load(), b.Load())
	}
	cancelB()
	if n := s.Subscribers(); n != 0 {
		t.Errorf("%d subscribers after both cancelled, want 0", n)
	}
	signal()
	if b.Load() != 2 {
		t.Errorf("a cancelled subscriber got an event")
	}
}
