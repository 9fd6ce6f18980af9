package httpui

// Server-Sent Events: GET /api/events streams the process list as deltas
// (added, removed, changed fields) at a refresh interval, from the core's
// Snapshot. EventSource cannot set headers, so besides X-Auth-Token the
// stream accepts ?ticket=, a single-use ticket valid 30 s that an
// authenticated POST /api/events/ticket hands out. The long-lived token is
// never put in a URL.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/roy/roy-procwatch/daemon/procs"
)

const (
	ticketTTL        = 30 * time.Second
	maxTickets       = 256 // outstanding tickets; the oldest is dropped beyond
	defaultInterval  = 3 * time.Second
	minInterval      = 1 * time.Second
	maxInterval      = 60 * time.Second
	maxStreams       = 32 // concurrent event streams
	eventWriteBudget = 15 * time.Second
)

// Snapshotter is the core's unfiltered inventory, which the event stream
// diffs. It is separate from Core so that fakes of Core need not have it;
// without it /api/events answers 501.
type Snapshotter interface {
	Snapshot(ctx context.Context) ([]procs.Process, time.Time, error)
}

// FreshSnapshotter is a Snapshotter that can also skip its cache.
type FreshSnapshotter interface {
	FreshSnapshot(ctx context.Context) ([]procs.Process, time.Time, error)
}

// Subscriber is a core that tells of its actions: the event stream then
// sends what an action changed at once rather than at its next tick.
type Subscriber interface {
	Subscribe(fn func(procs.Event)) (cancel func())
}

var (
	_ Snapshotter      = (*procs.Service)(nil)
	_ FreshSnapshotter = (*procs.Service)(nil)
	_ Subscriber       = (*procs.Service)(nil)
)

// tickets holds SHA-256 hashes of outstanding tickets with their expiry.
type tickets struct {
	mu  sync.Mutex
	m   map[[32]byte]time.Time
	now func() time.Time
}

func newTickets() *tickets {
	return &tickets{m: make(map[[32]byte]time.Time), now: time.Now}
}

// issue returns a fresh ticket (32 random bytes, base64url).
func (t *tickets) issue() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(tok))
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for k, exp := range t.m {
		if !now.Before(exp) {
			delete(t.m, k)
		}
	}
	for len(t.m) >= maxTickets { // drop the one closest to expiry
		var oldest [32]byte
		var when time.Time
		for k, exp := range t.m {
			if when.IsZero() || exp.Before(when) {
				oldest, when = k, exp
			}
		}
		delete(t.m, oldest)
	}
	t.m[sum] = now.Add(ticketTTL)
	return tok, nil
}

// clear voids every outstanding ticket (the token that minted them was
// replaced).
func (t *tickets) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.m)
}

// redeem consumes a ticket: true once, if it was issued and has not expired.
func (t *tickets) redeem(tok string) bool {
	if tok == "" || len(tok) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.m[sum]
	if !ok {
		return false
	}
	delete(t.m, sum)
	return t.now().Before(exp)
}

// streams counts open event streams and ends them on Shutdown.
type streams struct {
	mu   sync.Mutex
	n    int
	done chan struct{}
}

func newStreams() *streams { return &streams{done: make(chan struct{})} }

func (s *streams) acquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
	}
	if s.n >= maxStreams {
		return false
	}
	s.n++
	return true
}

func (s *streams) release() {
	s.mu.Lock()
	s.n--
	s.mu.Unlock()
}

// CloseStreams ends every event stream (http.Server.Shutdown waits for
// active connections, and a stream never goes idle by itself). Register it
// with srv.RegisterOnShutdown.
func (h *Handler) CloseStreams() {
	h.streams.mu.Lock()
	defer h.streams.mu.Unlock()
	select {
	case <-h.streams.done:
	default:
		close(h.streams.done)
	}
}

func (h *Handler) eventTicket(w http.ResponseWriter, r *http.Request) {
	pool := h.tickets
	if isReadOnly(r) {
		pool = h.readTickets
	}
	tok, err := pool.issue()
	if err != nil {
		h.log.Error("cannot make an event ticket", "err", err)
		h.writeError(w, httpErr(http.StatusInternalServerError, codeInternal, "cannot make a ticket"))
		return
	}
	select {
	case <-tokenReplaced(r):
		// The token was replaced while the ticket was made: the clear
		// may have run before the ticket was stored.
		pool.redeem(tok)
		h.writeError(w, httpErr(http.StatusUnauthorized, codeUnauthorized, "the token was replaced: authenticate again"))
		return
	default:
	}
	writeJSON(w, http.StatusOK, map[string]any{"ticket": tok, "expires_in": int(ticketTTL / time.Second)})
}

// eventsAuth accepts a valid X-Auth-Token header or a single-use ticket,
// with the same failure limiter as auth. As for the token, a valid ticket
// is never limited: it is redeemed first (bounded work: one SHA-256 and a
// map lookup), and only failures meet the limiter.
func (h *Handler) eventsAuth(next http.HandlerFunc) http.Handler {
	withHeader := h.auth(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Auth-Token") != "" || !r.URL.Query().Has("ticket") {
			withHeader.ServeHTTP(w, r)
			return
		}
		// Tickets die with the token that minted them.
		epoch, readEpoch := h.token.current(), h.readToken.current()
		ticket := r.URL.Query().Get("ticket")
		if h.tickets.redeem(ticket) {
			h.authenticated(r)
			next(w, withEpoch(r, epoch))
			return
		}
		if h.readTickets.redeem(ticket) {
			h.authenticated(r)
			next(w, withEpoch(asReadOnly(r), readEpoch))
			return
		}
		h.refuseAuth(w, r, "invalid event ticket", "invalid, used or expired event ticket: POST /api/events/ticket for a new one")
	})
}

// parseInterval reads ?interval= in seconds (decimals allowed, 1..60,
// default 3).
func parseInterval(s string) (time.Duration, error) {
	if s == "" {
		return defaultInterval, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != f {
		return 0, badInput("invalid interval %q: seconds between %g and %g", s, minInterval.Seconds(), maxInterval.Seconds())
	}
	d := time.Duration(f * float64(time.Second))
	if d < minInterval || d > maxInterval {
		return 0, badInput("invalid interval %q: seconds between %g and %g", s, minInterval.Seconds(), maxInterval.Seconds())
	}
	return d, nil
}

// procKey identifies a process across snapshots: a reused PID is a removal
// and an addition.
type procKey struct {
	pid int
	ct  float64
}

// Delta is the payload of a "delta" event. Changed holds, per process, the
// pid and only the fields that changed (JSON names of the list item).
type Delta struct {
	Seq     uint64           `json:"seq"`
	Base    uint64           `json:"base"`
	Time    string           `json:"time"`
	Count   int              `json:"count"`
	Added   []procs.Process  `json:"added"`
	Removed []int            `json:"removed"`
	Changed []map[string]any `json:"changed"`
}

// Snapshot is the payload of a "snapshot" event.
type Snapshot struct {
	Seq   uint64          `json:"seq"`
	Time  string          `json:"time"`
	Count int             `json:"count"`
	Items []procs.Process `json:"items"`
}

// diffProcess returns the changed fields of b against a (nil when equal).
func diffProcess(a, b *procs.Process) map[string]any {
	var m map[string]any
	set := func(k string, v any) {
		if m == nil {
			m = map[string]any{"pid": b.PID}
		}
		m[k] = v
	}
	if a.PPID != b.PPID {
		set("ppid", b.PPID)
	}
	if a.Name != b.Name {
		set("name", b.Name)
	}
	if a.Exe != b.Exe {
		set("exe", b.Exe)
	}
	if a.Username != b.Username {
		set("username", b.Username)
	}
	if a.UID != b.UID {
		set("uid", b.UID)
	}
	if a.Status != b.Status {
		set("status", b.Status)
	}
	if a.CreateTimeISO != b.CreateTimeISO {
		set("create_time_iso", b.CreateTimeISO)
	}
	if a.CPUPercent != b.CPUPercent {
		set("cpu_percent", b.CPUPercent)
	}
	if a.MemoryRSS != b.MemoryRSS {
		set("memory_rss", b.MemoryRSS)
	}
	if a.Nice != b.Nice {
		set("nice", b.Nice)
	}
	if a.Threads != b.Threads {
		set("num_threads", b.Threads)
	}
	if !slices.Equal(a.Cmdline, b.Cmdline) {
		set("cmdline", b.Cmdline)
	}
	if !portsEqual(a.Ports, b.Ports) {
		set("ports", b.Ports)
	}
	if a.OpenFilesCount != b.OpenFilesCount {
		set("open_files_count", b.OpenFilesCount)
	}
	if a.MemoryPercent != b.MemoryPercent {
		set("memory_percent", b.MemoryPercent)
	}
	if a.CPUTime != b.CPUTime {
		set("cpu_time", b.CPUTime)
	}
	if a.MemoryVMS != b.MemoryVMS {
		set("memory_vms", b.MemoryVMS)
	}
	if a.Protected != b.Protected {
		set("protected", b.Protected)
	}
	if a.Unit != b.Unit {
		set("unit", b.Unit)
	}
	return m
}

func portsEqual(a, b []procs.Port) bool {
	return slices.EqualFunc(a, b, func(x, y procs.Port) bool {
		if (x.Remote == nil) != (y.Remote == nil) || (x.Remote != nil && *x.Remote != *y.Remote) {
			return false
		}
		return x.Local == y.Local && x.Status == y.Status && x.Family == y.Family && x.Type == y.Type && x.LocalPort == y.LocalPort
	})
}

// computeDelta compares two snapshots (each in PID order, as the core
// returns them).
func computeDelta(prev, cur []procs.Process) (added []procs.Process, removed []int, changed []map[string]any) {
	old := make(map[procKey]*procs.Process, len(prev))
	for i := range prev {
		old[procKey{prev[i].PID, prev[i].CreateTime}] = &prev[i]
	}
	seen := make(map[procKey]bool, len(cur))
	added, removed, changed = []procs.Process{}, []int{}, []map[string]any{}
	for i := range cur {
		k := procKey{cur[i].PID, cur[i].CreateTime}
		seen[k] = true
		p, ok := old[k]
		if !ok {
			added = append(added, cur[i])
			continue
		}
		if d := diffProcess(p, &cur[i]); d != nil {
			changed = append(changed, d)
		}
	}
	for i := range prev {
		k := procKey{prev[i].PID, prev[i].CreateTime}
		if !seen[k] {
			// A PID reused by a new process appears in both lists: the
			// client removes first, then adds.
			removed = append(removed, prev[i].PID)
		}
	}
	return added, removed, changed
}

// sseEvent formats one event (without an id line when id is ""); data is
// one line of JSON.
func sseEvent(buf *bytes.Buffer, name, id string, data []byte) {
	buf.WriteString("event: " + name + "\n")
	if id != "" {
		buf.WriteString("id: " + id + "\n")
	}
	buf.WriteString("data: ")
	buf.Write(data)
	buf.WriteString("\n\n")
}

// openStream takes an event-stream slot and starts the text/event-stream
// answer. When every slot is taken it answers 503 too_many_streams and
// returns false; otherwise the caller defers release.
func (h *Handler) openStream(w http.ResponseWriter) (rc *http.ResponseController, release func(), ok bool) {
	if !h.streams.acquire() {
		retryAfter(w, 5)
		h.writeError(w, httpErr(http.StatusServiceUnavailable, codeTooManyStreams, "too many event streams open"))
		return nil, nil, false
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return http.NewResponseController(w), h.streams.release, true
}

// writeEvents writes b (whole events) to the stream within budget and
// flushes it.
func writeEvents(w http.ResponseWriter, rc *http.ResponseController, b []byte, budget time.Duration) error {
	_ = rc.SetWriteDeadline(time.Now().Add(budget))
	if _, err := w.Write(b); err != nil {
		return err
	}
	return rc.Flush()
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("journal") {
		h.journalEvents(w, r)
		return
	}
	core, ok := h.core.(Snapshotter)
	if !ok {
		h.writeError(w, httpErr(http.StatusNotImplemented, codeNotImplemented, "live events are not available with this core"))
		return
	}
	interval, err := parseInterval(r.URL.Query().Get("interval"))
	if err != nil {
		h.writeError(w, err)
		return
	}
	// ?fresh=1: the first event comes from a snapshot newer than the
	// core's cache (a Refresh while live), when the core can make one.
	fresh, err := parseFresh(r.URL.Query().Get("fresh"))
	if err != nil {
		h.writeError(w, err)
		return
	}
	rc, release, ok := h.openStream(w)
	if !ok {
		return
	}
	defer release()

	var (
		prev      []procs.Process
		prevTaken time.Time
		seq       uint64
		buf       bytes.Buffer
		lastRun   time.Time
		forceUp   = true
	)
	send := func() error {
		lastRun = time.Now()
		ctx, cancel := context.WithTimeout(r.Context(), interval+10*time.Second)
		snapshot := core.Snapshot
		if fs, ok := core.(FreshSnapshotter); ok && fresh && prev == nil {
			snapshot = fs.FreshSnapshot
		}
		cur, taken, err := snapshot(ctx)
		var sys []byte
		if err == nil {
			sys = h.systemEventData(ctx)
		}
		cancel()
		if err != nil {
			return err
		}
		buf.Reset()
		if sys != nil {
			// The host figures change at every interval: "event: system",
			// without an id (the id is the process stream's sequence).
			sseEvent(&buf, "system", "", sys)
		}
		if !forceUp && prev != nil && taken.Equal(prevTaken) {
			// The core's cached snapshot has not changed since the last
			// event (its TTL is longer than the interval): a comment keeps
			// the connection alive and costs 2 bytes of payload.
			if sys == nil {
				buf.WriteString(":\n\n")
			}
			return writeEvents(w, rc, buf.Bytes(), max(eventWriteBudget, 2*interval))
		}
		seq++
		ts := taken.Format(time.RFC3339Nano)
		full := func() error {
			b, err := json.Marshal(Snapshot{Seq: seq, Time: ts, Count: len(cur), Items: cur})
			if err != nil {
				return err
			}
			sseEvent(&buf, "snapshot", strconv.FormatUint(seq, 10), b)
			return nil
		}
		if forceUp || prev == nil {
			if err := full(); err != nil {
				return err
			}
		} else {
			a, rm, ch := computeDelta(prev, cur)
			b, err := json.Marshal(Delta{Seq: seq, Base: seq - 1, Time: ts, Count: len(cur), Added: a, Removed: rm, Changed: ch})
			if err != nil {
				return err
			}
			// When most of the list changed, the snapshot is no larger.
			if len(a)+len(ch) > len(cur)/2 {
				if err := full(); err != nil {
					return err
				}
			} else {
				sseEvent(&buf, "delta", strconv.FormatUint(seq, 10), b)
			}
		}
		if err := writeEvents(w, rc, buf.Bytes(), max(eventWriteBudget, 2*interval)); err != nil {
			return err
		}
		prev, prevTaken, forceUp = cur, taken, false
		return nil
	}

	// An action (from any transport) is sent at once, at most one event
	// a second: the core invalidated its snapshot, so the next one shows
	// the change. Subscribed before the first snapshot: no action is
	// missed in between.
	acted := make(chan struct{}, 1)
	if sub, ok := h.core.(Subscriber); ok {
		defer sub.Subscribe(func(procs.Event) {
			select {
			case acted <- struct{}{}:
			default:
			}
		})()
	}

	// retry: tells EventSource how long to wait before reconnecting.
	_ = rc.SetWriteDeadline(time.Now().Add(eventWriteBudget))
	fmt.Fprintf(w, "retry: %d\n\n", max(interval, 3*time.Second).Milliseconds())
	if err := send(); err != nil {
		h.log.Debug("event stream ended", "err", err)
		return
	}
	unitCh, unsub := h.unitEvents(r.Context())
	defer unsub()
	t := time.NewTicker(interval)
	defer t.Stop()
	var later <-chan time.Time // an action came less than minInterval after the last event
	replaced := tokenReplaced(r)
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.streams.done:
			return
		case c := <-unitCh:
			if err := writeUnitEvent(w, rc, c); err != nil {
				h.log.Debug("event stream ended", "err", err)
				return
			}
			continue
		case <-replaced:
			h.log.Info("event stream closed: the token it was opened with was replaced", "remote", r.RemoteAddr)
			return
		case <-acted:
			if wait := minInterval - time.Since(lastRun); wait > 0 {
				if later == nil {
					later = time.After(wait)
				}
				continue
			}
		case <-later:
			later = nil
		case <-t.C:
		}
		// A client that fell behind (its reads blocked our writes past
		// two intervals, so ticks were dropped) gets a full snapshot.
		if time.Since(lastRun) > 2*interval+interval/2 {
			forceUp = true
		}
		if err := send(); err != nil {
			h.log.Debug("event stream ended", "err", err)
			return
		}
	}
}

// systemEventData is the host figures as one line of JSON, or nil when the
// core has no host overview or they cannot be read (the process stream
// goes on without them).
func (h *Handler) systemEventData(ctx context.Context) []byte {
	ho, ok := h.core.(HostOverview)
	if !ok {
		return nil
	}
	sys, err := ho.System(ctx)
	if err != nil {
		h.log.Debug("no system event", "err", err)
		return nil
	}
	b, err := json.Marshal(sys)
	if err != nil {
		return nil
	}
	return b
}
