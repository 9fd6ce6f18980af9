package procs

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Refusals a transport makes before a call reaches an action (a missing or
// wrong token, a D-Bus caller the bus cannot name, a call over the limits)
// can come in floods, and each costs the refuser nothing but the audit
// line: so they are audited as summary lines, one per (transport, kind,
// reason, remote) and window, with the count. Never with a token.

// DefaultRefusalWindow is how long refusals are counted before their
// summary lines are written (Options.RefusalWindow).
const DefaultRefusalWindow = 10 * time.Second

// maxRefusalKeys bounds the distinct (transport, kind, reason, remote)
// counted in one window; beyond it the remote is counted as "(others)"
// (the reasons are a short fixed list in the transports' code).
const maxRefusalKeys = 64

// refusalKey is what one summary line counts.
type refusalKey struct {
	transport string
	action    string // "authenticate", "act" or "call"
	what      string // the reason, as the transport says it
	remote    string
}

// refusals counts refusals for one window at a time. The window opens at
// the first refusal after a quiet spell and its lines are written when it
// ends, or at Close.
type refusals struct {
	mu     sync.Mutex
	window time.Duration
	counts map[refusalKey]int
	timer  *time.Timer
	closed bool
	write  func(k refusalKey, count int, window time.Duration)
}

func (r *refusals) add(k refusalKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if r.counts == nil {
		r.counts = map[refusalKey]int{}
	}
	if _, ok := r.counts[k]; !ok && len(r.counts) >= maxRefusalKeys-1 {
		k.remote = "(others)"
	}
	r.counts[k]++
	if r.timer == nil {
		r.timer = time.AfterFunc(r.window, r.flush)
	}
}

// flush writes the window's lines (holding the lock, so that Close cannot
// close the file under it) and starts a new window at the next refusal.
func (r *refusals) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.writeAll()
}

func (r *refusals) writeAll() {
	keys := make([]refusalKey, 0, len(r.counts))
	for k := range r.counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b refusalKey) int {
		return strings.Compare(a.transport+"\x00"+a.action+"\x00"+a.what+"\x00"+a.remote,
			b.transport+"\x00"+b.action+"\x00"+b.what+"\x00"+b.remote)
	})
	for _, k := range keys {
		r.write(k, r.counts[k], r.window)
	}
	clear(r.counts)
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
}

// close writes what was counted and ignores later refusals.
func (r *refusals) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.writeAll()
		r.closed = true
	}
}

// AuthFailed counts one failed authentication a transport refused (a
// missing or wrong token, an invalid ticket, a caller the bus cannot
// name): what is the reason, remote who tried, as the transport knows it
// (an address, a bus name). It is audited as one summary line per window
// (AuditAuthFailures). Never pass a token, right or wrong.
func (s *Service) AuthFailed(transport, what, remote string) {
	s.refusals.add(refusalKey{transport: transport, action: "authenticate", what: what, remote: remote})
}

// CallRefused counts one call a transport refused before it reached the
// core for its own limits (too many calls in progress): audited as
// summary lines like AuthFailed.
func (s *Service) CallRefused(transport, what, remote string) {
	s.refusals.add(refusalKey{transport: transport, action: "call", what: what, remote: remote})
}

// ActionRefused counts one action a transport refused for the credential
// it came with (the read-only token asking for an action): audited as
// summary lines like AuthFailed.
func (s *Service) ActionRefused(transport, what, remote string) {
	s.refusals.add(refusalKey{transport: transport, action: "act", what: what, remote: remote})
}

// AuditAuthFailures writes one summary line for count failed
// authentications a transport saw from remote over window. No token,
// right or wrong, is ever passed here.
func (s *Service) AuditAuthFailures(transport, what, remote string, count int, window time.Duration) {
	s.auditRefusals(refusalKey{transport: transport, action: "authenticate", what: what, remote: remote}, count, window)
}

func (s *Service) auditRefusals(k refusalKey, count int, window time.Duration) {
	if count <= 0 {
		return
	}
	msg, result, summary := "authentication refused", KindAccessDenied.String(), "failed authentications"
	switch k.action {
	case "act":
		msg, summary = "actions refused", "refused actions"
	case "call":
		msg, result, summary = "calls refused", "LimitsExceeded", "calls refused"
	}
	s.record(slog.LevelWarn, msg, "caller", k.transport, "action", k.action, "arg", k.what,
		"remote", k.remote, "count", count, "window", window.String(), "result", result,
		"summary", fmt.Sprintf("%d %s (%s) from %s in the last %s", count, summary, k.what, k.remote, window))
}
