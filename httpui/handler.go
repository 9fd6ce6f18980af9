// Package httpui serves roy-procwatch's token-protected HTTP API (the seed's
// routes and JSON shapes, unchanged) and its embedded browser UI. It only
// translates: every rule lives in the core (daemon/procs).
package httpui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

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
	ListenAddrs  []string // the listeners' addresses, for the Host allow-list
	AllowedHosts []string // extra Host values (reverse proxies)
	Version      string
	Logger       *slog.Logger
	// MaxBody caps request bodies (default 64 KiB).
	MaxBody int64
	// ActionTimeout bounds one action (default 60s; a restart waits for
	// systemd or for the process to stop).
	ActionTimeout time.Duration
	// Units is the services view; nil answers 503 no_systemd there.
	Units Units
}

// Handler is the HTTP API and UI.
type Handler struct {
	core    Core
	opts    Options
	log     *slog.Logger
	token   tokenStore
	hosts   hostAllow
	authLim *limiter
	tickets *tickets
	streams *streams
	mux     *http.ServeMux
}

// New returns the handler.
func New(core Core, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 64 << 10
	}
	if opts.ActionTimeout <= 0 {
		opts.ActionTimeout = 60 * time.Second
	}
	h := &Handler{
		core:    core,
		opts:    opts,
		log:     opts.Logger.With("component", "http"),
		hosts:   newHostAllow(opts.ListenAddrs, opts.AllowedHosts),
		authLim: newLimiter(5, 20),
		tickets: newTickets(),
		streams: newStreams(),
		mux:     http.NewServeMux(),
	}
	h.token.Set(opts.Token)
	h.routes()
	return h
}

// SetToken replaces the token (SIGHUP reload).
func (h *Handler) SetToken(token string) { h.token.Set(token) }

// caller is who acts through HTTP: a valid token is the HTTP side's
// authority and acts as root would.
func httpCaller(r *http.Request) procs.Caller {
	return procs.Caller{Privileged: true, Name: "http:" + r.RemoteAddr}
}

func (h *Handler) routes() {
	m := h.mux
	m.HandleFunc("GET /api/health", h.health)
	m.Handle("GET /api/processes", h.auth(h.listProcesses))
	m.Handle("GET /api/process/{pid}", h.auth(h.getProcess))
	m.Handle("POST /api/process/{pid}/signal", h.auth(h.signal))
	m.Handle("POST /api/process/{pid}/renice", h.auth(h.renice))
	m.Handle("POST /api/process/{pid}/restart", h.auth(h.restart))
	m.Handle("GET /api/signals", h.auth(h.signals))
	m.Handle("POST /api/events/ticket", h.auth(h.eventTicket))
	m.Handle("GET /api/events", h.eventsAuth(h.events))
	h.serviceRoutes()
	// Wrong methods on known API paths: JSON 405 (no CORS preflight).
	for _, p := range []string{"/api/health", "/api/processes", "/api/process/{pid}", "/api/signals", "/api/events"} {
		m.HandleFunc(p, methodNotAllowed("GET, HEAD"))
	}
	for _, p := range []string{"/api/process/{pid}/signal", "/api/process/{pid}/renice", "/api/process/{pid}/restart", "/api/events/ticket"} {
		m.HandleFunc(p, methodNotAllowed("POST"))
	}
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "no such API endpoint: "+r.URL.Path)
	})
	static := staticHandler()
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed("GET, HEAD")(w, r)
			return
		}
		static.ServeHTTP(w, r)
	})
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeJSONError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed here (allowed: %s)", r.Method, allow))
	}
}

// ServeHTTP applies, in order: security headers, the Host allow-list,
// cross-origin checks on unsafe methods, the body cap; then routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer h.recoverPanic(w, r)
	securityHeaders(w.Header())
	if strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Cache-Control", "no-store")
	}
	if r.Host == "" {
		writeJSONError(w, http.StatusBadRequest, "missing Host header")
		return
	}
	if !h.hosts.ok(r.Host) {
		writeJSONError(w, http.StatusMisdirectedRequest, "host not allowed: add it to ROY_PROCWATCH_ALLOWED_HOSTS if you proxy this daemon")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if o := r.Header.Get("Origin"); o != "" && !h.hosts.originOK(o) {
			writeJSONError(w, http.StatusForbidden, "cross-origin request refused")
			return
		}
		switch r.Header.Get("Sec-Fetch-Site") {
		case "", "same-origin", "none":
		default:
			writeJSONError(w, http.StatusForbidden, "cross-site request refused")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxBody)
	}
	h.mux.ServeHTTP(w, r)
}

// recoverPanic turns a handler panic into a 500 JSON answer (SECURITY.md
// §6 D18) instead of net/http's dropped connection, and logs the panic with
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
	writeJSONError(w, http.StatusInternalServerError, "internal error")
}

// auth checks X-Auth-Token (never a query or body token). Failed attempts
// draw from a global bucket; when it is empty, failures get 429 without
// being logged. The valid token is never limited: a flood of bad tokens
// must not lock the owner out. The comparison itself is bounded work (one
// SHA-256 of at most maxTokenHeader bytes), so doing it first costs little.
func (h *Handler) auth(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("X-Auth-Token")
		if len(got) > maxTokenHeader {
			writeJSONError(w, http.StatusBadRequest, "X-Auth-Token header too long")
			return
		}
		if h.token.valid(got) {
			next(w, r)
			return
		}
		if h.authLim.blocked() {
			retryAfter(w, 1)
			writeJSONError(w, http.StatusTooManyRequests, "too many failed authentications; retry later")
			return
		}
		if logIt, sup := h.authLim.fail(); logIt {
			h.log.Warn("authentication failed", "remote", r.RemoteAddr, "path", r.URL.Path, "token_present", got != "", "suppressed_before", sup)
		}
		writeJSONError(w, http.StatusUnauthorized, "missing or invalid X-Auth-Token")
	})
}

// --- responses ---

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": msg})
}

// writeError is the one place core errors become HTTP statuses.
func (h *Handler) writeError(w http.ResponseWriter, err error) {
	var status int
	switch procs.KindOf(err) {
	case procs.KindNoSuchProcess:
		status = http.StatusNotFound
	case procs.KindAccessDenied:
		status = http.StatusForbidden
	case procs.KindInvalidArgument:
		status = http.StatusBadRequest
	case procs.KindProcessChanged, procs.KindNotRestartable:
		status = http.StatusConflict
	default:
		if errors.Is(err, context.DeadlineExceeded) {
			writeJSONError(w, http.StatusGatewayTimeout, "the action timed out")
			return
		}
		status = http.StatusInternalServerError
		h.log.Error("request failed", "err", err)
	}
	body := map[string]any{"error": err.Error(), "code": procs.KindOf(err).String()}
	var ce *procs.Error
	if errors.As(err, &ce) && ce.Unit != "" {
		body["unit"] = ce.Unit
	}
	writeJSON(w, status, body)
}

// --- request decoding ---

// pathPID decodes the {pid} path segment: decimal digits only. Whether
// the number is a valid PID (1..pid_max) is the core's rule.
func pathPID(r *http.Request) (int, error) {
	s := r.PathValue("pid")
	n, err := strconv.Atoi(s)
	if err != nil || strings.HasPrefix(s, "+") {
		if len(s) > 20 {
			s = s[:20] + "…"
		}
		return 0, &procs.Error{Kind: procs.KindInvalidArgument, Msg: fmt.Sprintf("invalid pid %q: not a number", s)}
	}
	return n, nil
}

// decodeBody reads exactly one JSON object into v, refusing unknown
// fields, trailing data and oversized bodies. An empty body is allowed
// when emptyOK.
func decodeBody(r *http.Request, v any, emptyOK bool) error {
	bad := func(msg string) error { return &procs.Error{Kind: procs.KindInvalidArgument, Msg: msg} }
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errUnsupportedType
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		return bad("cannot read the request body")
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if emptyOK {
			return nil
		}
		return bad("missing JSON body")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return bad(fmt.Sprintf("invalid JSON: field %q must be %s", te.Field, jsonTypeName(te.Type.Kind().String())))
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return bad("invalid JSON: " + strings.TrimPrefix(err.Error(), "json: "))
		}
		return bad("malformed JSON body")
	}
	if dec.More() {
		return bad("invalid JSON: more than one value in the body")
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("invalid JSON: trailing data after the object")
	}
	return nil
}

func jsonTypeName(k string) string {
	switch k {
	case "int", "int64", "int32":
		return "an integer"
	case "float64":
		return "a number"
	case "string":
		return "a string"
	}
	return "of type " + k
}

var (
	errTooLarge          = errors.New("request body too large")
	errUnsupportedType   = errors.New("unsupported content type")
	errStatusTooLarge    = http.StatusRequestEntityTooLarge
	errStatusUnsupported = http.StatusUnsupportedMediaType
)

// badRequest writes decode errors (413, 415 or the core's 400).
func (h *Handler) badRequest(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errTooLarge):
		w.Header().Set("Connection", "close")
		writeJSONError(w, errStatusTooLarge, fmt.Sprintf("request body too large (max %d bytes)", h.opts.MaxBody))
	case errors.Is(err, errUnsupportedType):
		writeJSONError(w, errStatusUnsupported, "Content-Type must be application/json")
	default:
		h.writeError(w, err)
	}
}
