package httpui

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxTokenHeader is the longest X-Auth-Token we compare.
const maxTokenHeader = 256

// tokenStore holds the SHA-256 of the token; Set swaps it (SIGHUP reload)
// and closes the previous token's epoch channel, which ends what was
// opened with the old token (event streams).
type tokenStore struct {
	sum atomic.Pointer[[32]byte]

	mu    sync.Mutex
	epoch chan struct{} // closed when the token is replaced
}

func (t *tokenStore) Set(token string) {
	s := sha256.Sum256([]byte(token))
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sum.Store(&s)
	if t.epoch != nil {
		close(t.epoch)
	}
	t.epoch = make(chan struct{})
}

// current is closed when the token in use now is replaced. Take it before
// checking a credential, so that a rotation in between is not missed.
func (t *tokenStore) current() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.epoch
}

// valid compares in constant time: hashing first makes the comparison
// independent of the lengths (ConstantTimeCompare returns early on them).
func (t *tokenStore) valid(got string) bool {
	want := t.sum.Load()
	if want == nil || got == "" {
		return false
	}
	g := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(g[:], want[:]) == 1
}

// limiter is a global token bucket on failed authentications: every client
// is 127.0.0.1, so per-IP limits would mean nothing.
type limiter struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	// log suppression
	logged     int
	suppressed int
	window     time.Time
}

func newLimiter(rate, burst float64) *limiter {
	return &limiter{rate: rate, burst: burst, tokens: burst, last: time.Now()}
}

func (l *limiter) refill(now time.Time) {
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
}

// blocked says whether failures have used the whole bucket.
func (l *limiter) blocked() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill(time.Now())
	return l.tokens < 1
}

// fail takes one token for a failed attempt; it returns whether to log it
// and how many log lines were suppressed before it (at most 10 a minute).
func (l *limiter) fail() (logIt bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.refill(now)
	l.tokens = max(0, l.tokens-1)
	if now.Sub(l.window) > time.Minute {
		l.window, l.logged = now, 0
	}
	if l.logged < 10 {
		l.logged++
		s := l.suppressed
		l.suppressed = 0
		return true, s
	}
	l.suppressed++
	return false, 0
}

// hostAllow is the exact Host allow-list: the only defence against DNS
// rebinding, checked first on every route.
type hostAllow struct{ hosts []string }

// newHostAllow allows the listeners' own addresses, localhost, 127.0.0.1
// and [::1] with each listener's port, plus extra names (with or without a
// port) for reverse-proxied deployments.
func newHostAllow(listenAddrs []string, extra []string) hostAllow {
	var h []string
	add := func(s string) {
		s = strings.ToLower(strings.TrimSpace(s))
		if s != "" && !slices.Contains(h, s) {
			h = append(h, s)
		}
	}
	for _, a := range listenAddrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			continue
		}
		if host != "" && host != "0.0.0.0" && host != "::" {
			add(net.JoinHostPort(host, port))
		}
		for _, n := range []string{"localhost", "127.0.0.1", "[::1]"} {
			add(n + ":" + port)
		}
		if port == "80" {
			add("localhost")
			add("127.0.0.1")
		}
	}
	for _, e := range extra {
		add(e)
	}
	return hostAllow{hosts: h}
}

func (a hostAllow) ok(host string) bool {
	host = strings.ToLower(host)
	host = strings.TrimSuffix(host, ".") // "localhost." is localhost
	if i := strings.LastIndex(host, "."); i > 0 && strings.HasPrefix(host[i:], ".:") {
		host = host[:i] + host[i+1:]
	}
	return host != "" && slices.Contains(a.hosts, host)
}

// originOK says whether an Origin header names one of our hosts.
func (a hostAllow) originOK(origin string) bool {
	for _, scheme := range []string{"http://", "https://"} {
		if h, ok := strings.CutPrefix(strings.ToLower(origin), scheme); ok {
			return a.ok(h)
		}
	}
	return false
}

// securityHeaders go on every response.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

func retryAfter(w http.ResponseWriter, s int) {
	w.Header().Set("Retry-After", strconv.Itoa(s))
}
