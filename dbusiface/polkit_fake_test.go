package dbusiface

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/roy/roy-procwatch/internal/testproc"
)

// fakePolkit answers CheckAuthorization on the test bus with what the test
// sets: cases dbusmock's template cannot produce (challenge, errors, an
// answer held until the caller is gone).
type fakePolkit struct {
	mu      sync.Mutex
	res     polkitResult
	err     *dbus.Error
	hold    chan struct{} // when set, answers wait for it to close
	called  chan string   // receives the action of each call
	cancels []string
	subject string // the bus name of the last caller polkit was asked about
}

func (f *fakePolkit) CheckAuthorization(subject polkitSubject, action string, details map[string]string, flags uint32, cancelID string) (polkitResult, *dbus.Error) {
	f.mu.Lock()
	res, err, hold := f.res, f.err, f.hold
	f.subject, _ = subject.Details["name"].Value().(string)
	f.mu.Unlock()
	select {
	case f.called <- action:
	default:
	}
	if hold != nil {
		<-hold
	}
	if err != nil {
		return polkitResult{}, err
	}
	if res.Details == nil {
		res.Details = map[string]string{}
	}
	return res, nil
}

func (f *fakePolkit) CancelCheckAuthorization(id string) *dbus.Error {
	f.mu.Lock()
	f.cancels = append(f.cancels, id)
	f.mu.Unlock()
	return nil
}

func (f *fakePolkit) set(res polkitResult, err *dbus.Error, hold chan struct{}) {
	f.mu.Lock()
	f.res, f.err, f.hold = res, err, hold
	f.mu.Unlock()
}

func startFakePolkit(t *testing.T, b *testBus) *fakePolkit {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	conn, err := dbus.Connect(b.addr, dbus.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakePolkit{called: make(chan string, 16)}
	if err := conn.Export(f, polkitPath, polkitInterface); err != nil {
		t.Fatal(err)
	}
	if r, err := conn.RequestName(polkitName, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("fake polkit: RequestName %v %v", r, err)
	}
	return f
}

// fnum is a JSON number, 0 when absent.
func fnum(v any) float64 {
	f, _ := v.(float64)
	return f
}

// TestPolkitFake covers the cases A5, A11 and A13 of docs/security.md.
func TestPolkitFake(t *testing.T) {
	requireBus(t)
	requireSetpriv(t)
	b := startBus(t)
	f := startFakePolkit(t, b)

	t.Run("ChallengeWithoutInteractiveFlag", func(t *testing.T) { // A5
		f.set(polkitResult{IsAuthorized: false, IsChallenge: true}, nil, nil)
		c := spawn(t, -1)
		r := b.asNobody("signal", strconv.Itoa(c.PID), "TERM")
		if r.Error != "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired" {
			t.Fatalf("%+v, want InteractiveAuthorizationRequired", r)
		}
		if c.Exited(300 * time.Millisecond) {
			t.Fatal("target killed")
		}
		// With the flag set, polkit had its chance to ask: a challenge
		// answer is then a plain denial.
		if r := b.asNobody("signal-interactive", strconv.Itoa(c.PID), "TERM"); r.Error != ErrAccessDenied {
			t.Fatalf("interactive: %+v, want AccessDenied", r)
		}
	})

	t.Run("PolkitError", func(t *testing.T) { // A13
		f.set(polkitResult{}, &dbus.Error{Name: "org.freedesktop.PolicyKit1.Error.Failed",
			Body: []any{"Action org.roy.procwatch.signal is not registered"}}, nil)
		c := spawn(t, -1)
		if r := b.asNobody("signal", strconv.Itoa(c.PID), "TERM"); r.Error != ErrAccessDenied {
			t.Fatalf("%+v, want AccessDenied", r)
		}
		if c.Exited(300 * time.Millisecond) {
			t.Fatal("target killed")
		}
	})

	t.Run("CallerVanishes", func(t *testing.T) { // A11
		hold := make(chan struct{})
		f.set(polkitResult{IsAuthorized: true}, nil, hold)
		defer f.set(polkitResult{}, nil, nil)
		c := spawn(t, -1)
		cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", b.client, "signal", strconv.Itoa(c.PID), "TERM")
		cmd.Env = []string{"PW_TEST_CLIENT=1", "PW_ADDR=" + b.addr}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-f.called:
		case <-time.After(5 * time.Second):
			t.Fatal("polkit was not asked")
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		// The bus notices the closed socket when it gets the CPU: wait
		// until it has dropped the caller's name, then polkit says yes.
		f.mu.Lock()
		name := f.subject
		f.mu.Unlock()
		if name == "" {
			t.Fatal("polkit was asked about no bus name")
		}
		testproc.PollEvery(t, 10*time.Second, 5*time.Millisecond, "the bus to drop "+name, func() bool {
			var has bool
			err := b.root.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
			return err == nil && !has
		})
		close(hold)
		if c.Exited(700 * time.Millisecond) {
			t.Fatal("acted for a caller that left the bus")
		}
	})

	t.Run("CallLimitPerSender", func(t *testing.T) { // A20
		hold := make(chan struct{})
		f.set(polkitResult{IsAuthorized: false}, nil, hold)
		defer f.set(polkitResult{}, nil, nil)
		c := spawn(t, -1)
		meanwhile := make(chan error, 1)
		holdLong(t, b)
		answered := make(chan struct{})
		go func() {
			// Once every call but the 16 held at polkit is answered
			// (refused by the daemon, or by the bus when too many wait
			// for a reply), another caller is served; then polkit
			// answers. Released any earlier, calls still on their way
			// would find room.
			defer close(hold)
			if err := waitAnswered(answered, 200, maxInFlightPerSender); err != nil {
				meanwhile <- err
				return
			}
			meanwhile <- b.rootCall("GetProcess", uint32(c.PID)).Err
		}()
		_, off := testproc.JSONLines(t, b.audit, 0)
		r := b.floodAsNobody(answered, maxInFlightPerSender, "flood", "200", strconv.Itoa(c.PID))
		counts := r.Body[0].(map[string]any)
		// The bus daemon's own limit on pending replies (128 by default)
		// refuses part of such a flood before it reaches the server.
		ours := int(counts[errLimitsExceeded].(float64))
		if ours == 0 || ours+int(fnum(counts[busLimitsExceeded])) != 200-maxInFlightPerSender || counts[ErrAccessDenied] != float64(maxInFlightPerSender) {
			t.Fatalf("flood of 200 calls: %v, want %d LimitsExceeded (ours or the bus's) and %d AccessDenied", counts, 200-maxInFlightPerSender, maxInFlightPerSender)
		}
		// Every call the server refused reached exactly one audit line:
		// the core's for those refused by polkit, a summary count for
		// those over the limit.
		summaries, refused := b.waitAudit(t, off, ours)
		if summaries["too many calls in progress on the connection"] != ours || len(summaries) != 1 ||
			refused["AccessDenied"] != maxInFlightPerSender || len(refused) != 1 {
			t.Errorf("audited: summaries %v, core lines %v; want %d refused by the limit and %d AccessDenied lines",
				summaries, refused, ours, maxInFlightPerSender)
		}
		if c.Exited(0) {
			t.Fatal("target killed")
		}
		if err := <-meanwhile; err != nil {
			t.Fatalf("another caller during the flood: %v", err)
		}
		b.srv.mu.Lock()
		total := b.srv.total
		b.srv.mu.Unlock()
		if total != 0 {
			t.Errorf("%d calls still counted in flight", total)
		}
	})

	t.Run("CallLimitPerUID", func(t *testing.T) {
		// One unprivileged uid, 8 connections × 16 slow calls (held at
		// polkit): root's ListProcesses still answers at once.
		hold := make(chan struct{})
		f.set(polkitResult{IsAuthorized: false}, nil, hold)
		defer f.set(polkitResult{}, nil, nil)
		c := spawn(t, -1)
		meanwhile := make(chan error, 1)
		var took time.Duration
		holdLong(t, b)
		answered := make(chan struct{})
		go func() {
			// As above: released before every call of the flood but the
			// held ones is answered, a late call would find room.
			defer close(hold)
			if err := waitAnswered(answered, 8*16, maxInFlightPerUID); err != nil {
				meanwhile <- err
				return
			}
			b.srv.mu.Lock()
			n := b.srv.byUID[nobody]
			b.srv.mu.Unlock()
			if n != maxInFlightPerUID {
				meanwhile <- fmt.Errorf("%d calls of uid %d in flight, want %d", n, nobody, maxInFlightPerUID)
				return
			}
			start := time.Now()
			err := b.rootCall("ListProcesses", "", "pid", "asc").Err
			took = time.Since(start)
			meanwhile <- err
		}()
		_, off := testproc.JSONLines(t, b.audit, 0)
		r := b.floodAsNobody(answered, maxInFlightPerUID, "flood-conns", "8", "16", strconv.Itoa(c.PID))
		if err := <-meanwhile; err != nil {
			t.Fatalf("root's ListProcesses during the flood: %v", err)
		}
		// Answered, not refused: how fast is the core's business (a full
		// /proc read, slow under -race), so it is logged, not asserted.
		t.Logf("root's ListProcesses answered in %v during the flood", took)
		counts := r.Body[0].(map[string]any)
		if counts[errLimitsExceeded] != float64(8*16-maxInFlightPerUID) || counts[ErrAccessDenied] != float64(maxInFlightPerUID) {
			t.Fatalf("flood of 8×16 calls: %v, want %d LimitsExceeded and %d AccessDenied", counts, 8*16-maxInFlightPerUID, maxInFlightPerUID)
		}
		summaries, refused := b.waitAudit(t, off, 8*16-maxInFlightPerUID)
		if summaries["too many calls in progress for the user"] != 8*16-maxInFlightPerUID || len(summaries) != 1 ||
			refused["AccessDenied"] != maxInFlightPerUID || len(refused) != 1 {
			t.Errorf("audited: summaries %v, core lines %v; want %d refused by the limit and %d AccessDenied lines",
				summaries, refused, 8*16-maxInFlightPerUID, maxInFlightPerUID)
		}
		if c.Exited(0) {
			t.Fatal("target killed")
		}
		b.srv.mu.Lock()
		total, nonRoot := b.srv.total, b.srv.nonRoot
		b.srv.mu.Unlock()
		if total != 0 || nonRoot != 0 {
			t.Errorf("%d calls (%d unprivileged) still counted in flight", total, nonRoot)
		}
	})

	t.Run("PolkitTimeoutCancels", func(t *testing.T) {
		hold := make(chan struct{})
		defer close(hold)
		f.set(polkitResult{IsAuthorized: true}, nil, hold)
		defer f.set(polkitResult{}, nil, nil)
		c := spawn(t, -1)
		start := time.Now()
		if r := b.asNobody("signal", strconv.Itoa(c.PID), "TERM"); r.Error != ErrAccessDenied {
			t.Fatalf("%+v, want AccessDenied", r)
		}
		if d := time.Since(start); d < b.srv.polkitTimeout || d > b.srv.polkitTimeout+3*time.Second {
			t.Errorf("denied after %s, polkit timeout %s", d, b.srv.polkitTimeout)
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			f.mu.Lock()
			n := len(f.cancels)
			f.mu.Unlock()
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("CancelCheckAuthorization not sent after the timeout")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// holdLong lets calls wait at polkit for as long as the test holds them,
// until the end of the test: a flood takes a while to arrive on a loaded
// machine, and a held call that timed out meanwhile would free its slot
// for a later one. (Written under the server's lock, which every call
// takes before it reads the timeout: the writes happen before the reads.)
func holdLong(t *testing.T, b *testBus) {
	b.srv.mu.Lock()
	old := b.srv.polkitTimeout
	b.srv.polkitTimeout = time.Minute
	b.srv.mu.Unlock()
	t.Cleanup(func() {
		b.srv.mu.Lock()
		b.srv.polkitTimeout = old
		b.srv.mu.Unlock()
	})
}

// waitAnswered waits until the flood client says that all n calls but held
// are answered; it gives up (an error) after a minute.
func waitAnswered(answered <-chan struct{}, n, held int) error {
	select {
	case <-answered:
		return nil
	case <-time.After(time.Minute):
		return fmt.Errorf("the flood of %d calls: the %d not held at polkit were not all answered within a minute", n, n-held)
	}
}
