// Package httpui serves roy-procwatch's token-protected HTTP API (the original
// routes and JSON shapes, unchanged: docs/http-api.md) and its embedded browser UI. It only
// translates: every rule lives in the core (daemon/procs).
package httpui

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// Core is the part of the core the HTTP API uses.
type Core interface {
	List(ctx context.Context, c procs.Caller, o procs.ListOptions) ([]procs.Process, error)
	Get(ctx context.Context, c procs.Caller, t procs.Target) (procs.Detail, error)
	Signal(ctx context.Context, c procs.Caller, t procs.Target, name string) (string, error)
	Renice(ctx context.Context, c procs.Caller, t procs.Target, nice int) error
	Restart(ctx context.Context, c procs.Caller, t procs.Target) (procs.RestartResult, error)
	Signals() []string
}

var _ Core = (*procs.Service)(nil)

// Options configure the handler.
type Options struct {
	Token        string   // the X-Auth-Token value
	ReadToken    string   // the read-only token ("" = none), see readonly.go
	ListenAddrs  []string // the listeners' addresses, for the Host allow-list
	AllowedHosts []string // extra Host values (reverse proxies)
	Version      string
	Logger       *slog.Logger
	// MaxBody caps request bodies (default 64 KiB).
	MaxBody int64
	// Metrics, when set, is served on GET /metrics (either token, also as
	// a Bearer authorization).
	Metrics http.Handler
	// Observer, when set, sees every request and failed authentication.
	Observer Observer
	// OnAuthenticated, when set, is called for each request that presented
	// a valid token or event ticket, before it is handled (the daemon
	// keeps the token holder's connections when it must drop some).
	OnAuthenticated func(*http.Request)
	// Units is the services view; nil answers 503 no_systemd there.
	Units Units
}

// Handler is the HTTP API and UI.
type Handler struct {
	core      Core
	opts      Options
	log       *slog.Logger
	token     tokenStore
	readToken tokenStore
	// event tickets minted with the read-only token
	readTickets *tickets
	hosts       hostAllow
	authLim     *limiter
	tickets     *tickets
	streams     *streams
	mux         *http.ServeMux
}

// New returns the handler.
func New(core Core, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 64 << 10
	}
	h := &Handler{
		core:        core,
		opts:        opts,
		log:         opts.Logger.With("component", "http"),
		hosts:       newHostAllow(opts.ListenAddrs, opts.AllowedHosts),
		authLim:     newLimiter(5, 20),
		tickets:     newTickets(),
		readTickets: newTickets(),
		streams:     newStreams(),
		mux:         http.NewServeMux(),
	}
	h.token.Set(opts.Token)
	if opts.ReadToken != "" {
		h.readToken.Set(opts.ReadToken)
	}
	h.routes()
	return h
}

// SetToken replaces the token (SIGHUP reload). What the old token opened
// ends with it: event tickets minted with it are void and event streams
// opened with it (or with such a ticket) are closed.
func (h *Handler) SetToken(token string) {
	h.token.Set(token)
	h.tickets.clear()
}

// epochKey carries, in an authenticated request's context, the channel
// closed when the token it authenticated with is replaced.
type epochKey struct{}

// withEpoch records the token epoch a request authenticated under.
func withEpoch(r *http.Request, epoch <-chan struct{}) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), epochKey{}, epoch))
}

// tokenReplaced is closed when the token r authenticated with is replaced
// (nil, never closed, for an unauthenticated request).
func tokenReplaced(r *http.Request) <-chan struct{} {
	ch, _ := r.Context().Value(epochKey{}).(<-chan struct{})
	return ch
}

// caller is who acts through HTTP: a valid token is the HTTP side's
// authority and acts as root would.
func httpCaller(r *http.Request) procs.Caller {
	return procs.Caller{Privileged: true, ReadOnly: isReadOnly(r), Name: "http:" + r.RemoteAddr}
}

// route is one API endpoint. The table is the one list of routes: the
// mux, the 405 answers and the contract test all come from it.
type route struct {
	method, pattern string
	access          access
	fn              http.HandlerFunc
}

// access says which credentials a route takes.
type access int

const (
	public      access = iota // no credentials
	tokenOnly                 // X-Auth-Token
	tokenTicket               // X-Auth-Token or an event ticket
	tokenBearer               // X-Auth-Token or Authorization: Bearer (GET /metrics only)
)

func (h *Handler) routeTable() []route {
	rs := []route{
		{"GET", "/api/health", public, h.health},
		{"GET", "/api/meta", tokenOnly, h.meta},
		{"GET", "/api/processes", tokenOnly, h.listProcesses},
		{"GET", "/api/process/{pid}", tokenOnly, h.getProcess},
		{"POST", "/api/process/{pid}/signal", tokenOnly, h.signal},
		{"POST", "/api/process/{pid}/renice", tokenOnly, h.renice},
		{"POST", "/api/process/{pid}/restart", tokenOnly, h.restart},
		{"GET", "/api/signals", tokenOnly, h.signals},
		{"POST", "/api/events/ticket", tokenOnly, h.eventTicket},
		{"GET", "/api/events", tokenTicket, h.events},
		{"GET", "/api/system", tokenOnly, h.system},
		{"GET", "/api/system/history", tokenOnly, h.systemHistory},
		{"GET", "/api/process/{pid}/history", tokenOnly, h.processHistory},
		// The services view (services.go).
		{"GET", "/api/services", tokenOnly, h.listServices},
		{"GET", "/api/service/{unit}", tokenOnly, h.getService},
		// GET …/journal and POST …/<action> share one path pattern: Go's
		// mux cannot hold both a literal "journal" and an {action} wildcard
		// at the same place for different methods.
		{"GET", "/api/service/{unit}/{action}", tokenOnly, h.serviceJournal},
		{"POST", "/api/service/{unit}/{action}", tokenOnly, h.serviceAction},
		{"GET", "/api/process/{pid}/journal", tokenOnly, h.processJournal},
	}
	if h.opts.Metrics != nil {
		rs = append(rs, route{"GET", "/metrics", tokenBearer, h.opts.Metrics.ServeHTTP})
	}
	return rs
}

func (h *Handler) routes() {
	m := h.mux
	var paths []string             // in table order
	allow := map[string][]string{} // path pattern → its methods
	for _, rt := range h.routeTable() {
		var hh http.Handler = rt.fn
		switch rt.access {
		case tokenOnly:
			hh = h.auth(rt.fn)
		case tokenTicket:
			hh = h.eventsAuth(rt.fn)
		case tokenBearer:
			hh = h.metricsAuth(rt.fn)
		}
		m.Handle(rt.method+" "+rt.pattern, hh)
		if allow[rt.pattern] == nil {
			paths = append(paths, rt.pattern)
		}
		allow[rt.pattern] = append(allow[rt.pattern], rt.method)
		if rt.method == "GET" {
			allow[rt.pattern] = append(allow[rt.pattern], "HEAD")
		}
	}
	// Wrong methods on known API paths: JSON 405 (no CORS preflight).
	for _, p := range paths {
		m.HandleFunc(p, h.methodNotAllowed(strings.Join(allow[p], ", ")))
	}
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, httpErr(http.StatusNotFound, codeNotFound, "no such API endpoint: %s", r.URL.Path))
	})
	static := h.staticHandler()
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.methodNotAllowed("GET, HEAD")(w, r)
			return
		}
		static.ServeHTTP(w, r)
	})
}

func (h *Handler) methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		h.writeError(w, httpErr(http.StatusMethodNotAllowed, codeMethodNotAllowed, "method %s not allowed here (allowed: %s)", r.Method, allow))
	}
}

// ServeHTTP applies, in order: security headers, the Host allow-list,
// cross-origin checks on unsafe methods, the body cap; then routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	w = rec
	defer func() { h.observer().ObserveRequest(r.Pattern, rec.code) }()
	defer h.recoverPanic(w, r)
	securityHeaders(w.Header())
	if strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Cache-Control", "no-store")
	}
	if r.Host == "" {
		h.writeError(w, httpErr(http.StatusBadRequest, codeInvalidArgument, "missing Host header"))
		return
	}
	if !h.hosts.ok(r.Host) {
		h.writeError(w, httpErr(http.StatusMisdirectedRequest, codeHostNotAllowed, "host not allowed: add it to ROY_PROCWATCH_ALLOWED_HOSTS if you proxy this daemon"))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if o := r.Header.Get("Origin"); o != "" && !h.hosts.originOK(o) {
			h.writeError(w, httpErr(http.StatusForbidden, codeCrossOrigin, "cross-origin request refused"))
			return
		}
		switch r.Header.Get("Sec-Fetch-Site") {
		case "", "same-origin", "none":
		default:
			h.writeError(w, httpErr(http.StatusForbidden, codeCrossOrigin, "cross-site request refused"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxBody)
	}
	h.mux.ServeHTTP(w, r)
}

// recoverPanic turns a handler panic into a 500 JSON answer (case D18
// of docs/security.md) instead of net/http's dropped connection, and logs the panic with
// its stack; the caller sees no internals.
func (h *Handler) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	h.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr,
		"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	h.writeError(w, httpErr(http.StatusInternalServerError, codeInternal, "internal error"))
}

// auth checks X-Auth-Token (never a query or body token). The valid token
// is never limited: a flood of bad tokens must not lock the owner out. The
// comparison itself is bounded work (one SHA-256 of at most maxTokenHeader
// bytes), so doing it first costs little.
func (h *Handler) auth(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("X-Auth-Token")
		if len(got) > maxTokenHeader {
			h.auditAuthFailure(r, "token header too long")
			h.writeError(w, httpErr(http.StatusBadRequest, codeInvalidArgument, "X-Auth-Token header too long"))
			return
		}
		epoch, readEpoch := h.token.current(), h.readToken.current()
		if h.token.valid(got) {
			h.authenticated(r)
			next(w, withEpoch(r, epoch))
			return
		}
		if h.readToken.valid(got) {
			h.authenticated(r)
			h.readOnly(next, w, withEpoch(r, readEpoch))
			return
		}
		what := "wrong token"
		if got == "" {
			what = "missing token"
		}
		h.refuseAuth(w, r, what, "missing or invalid X-Auth-Token")
	})
}

// refuseAuth answers every failed authentication (token or ticket) in one
// way: audited (as a summary line per window, by the core), then 401, or
// 429 once failures have used the global bucket; logged at most 10 times
// a minute. what is the reason; the credential itself is never logged.
func (h *Handler) refuseAuth(w http.ResponseWriter, r *http.Request, what, answer string) {
	h.auditAuthFailure(r, what)
	if h.authLim.blocked() {
		retryAfter(w, 1)
		h.writeError(w, errRateLimited)
		return
	}
	h.observer().AuthFailed("invalid")
	if logIt, sup := h.authLim.fail(); logIt {
		h.log.Warn("authentication failed", "reason", what, "remote", r.RemoteAddr, "path", r.URL.Path, "suppressed_before", sup)
	}
	h.writeError(w, httpErr(http.StatusUnauthorized, codeUnauthorized, "%s", answer))
}

// AuthAuditor is the part of the core that audits what the HTTP layer
// refuses before the core: failed authentications and actions asked with
// the read-only token (procs.Service). A Core without it (a test fake)
// audits none.
type AuthAuditor interface {
	AuthFailed(transport, what, remote string)
	ActionRefused(transport, what, remote string)
}

var _ AuthAuditor = (*procs.Service)(nil)

// auditAuthFailure counts one failed authentication from r's peer address
// (without the port: one client opens many connections).
func (h *Handler) auditAuthFailure(r *http.Request, what string) {
	if a, ok := h.core.(AuthAuditor); ok {
		a.AuthFailed("http", what, peerHost(r))
	}
}

// auditActionRefused counts one action refused for its credential.
func (h *Handler) auditActionRefused(r *http.Request, what string) {
	if a, ok := h.core.(AuthAuditor); ok {
		a.ActionRefused("http", what, peerHost(r))
	}
}

// peerHost is r's peer address without the port.
func peerHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func (h *Handler) authenticated(r *http.Request) {
	if h.opts.OnAuthenticated != nil {
		h.opts.OnAuthenticated(r)
	}
}

// --- responses ---

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}
