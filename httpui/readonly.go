package httpui

// The read-only token and GET /metrics.
//
// A second token (Options.ReadToken, /etc/roy-procwatch/read-token when
// packaged) opens every read: GET and HEAD on every route, and the event
// ticket (a POST that changes nothing: it only lets an EventSource read).
// Every other method with it is refused with 403 read_only_token, whatever
// the route, so a new action route is read-only-safe without a list to
// keep up to date. GET /metrics also takes either token as
// "Authorization: Bearer <token>", what Prometheus' credentials_file sends;
// no other route reads that header.

import (
	"context"
	"net/http"
	"strings"
)

// Observer sees every answered request (by route pattern and status) and
// every failed authentication; the metrics implement it.
type Observer interface {
	ObserveRequest(route string, code int)
	AuthFailed(reason string)
}

// readOnlyKey marks, in the request context, a request made with the
// read-only token: the core then hides environments and refuses actions.
type readOnlyKey struct{}

func isReadOnly(r *http.Request) bool { return r.Context().Value(readOnlyKey{}) != nil }

// readAllowed are the non-GET routes the read-only token may use.
var readAllowed = map[string]bool{
	"POST /api/events/ticket": true,
}

// SetReadToken replaces the read-only token (SIGHUP reload); "" disables
// it. Like SetToken, it ends the streams opened with the old one and voids
// the event tickets it minted.
func (h *Handler) SetReadToken(token string) {
	h.readToken.Set(token)
	h.readTickets.clear()
}

// codeReadOnlyToken is the refusal of an action to the read-only token.
const codeReadOnlyToken = "read_only_token"

// asReadOnly marks r as made with the read-only token.
func asReadOnly(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), readOnlyKey{}, true))
}

// ReadOnly says whether a request authenticated with the read-only token
// (and not with the admin token): the UI shows "read-only" then.
func (h *Handler) ReadOnly(r *http.Request) bool {
	got := r.Header.Get("X-Auth-Token")
	return !h.token.valid(got) && h.readToken.valid(got)
}

// readOnly serves a request made with the read-only token: reads go on,
// actions get 403 naming the admin token.
func (h *Handler) readOnly(next http.HandlerFunc, w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead || readAllowed[r.Pattern] {
		next(w, asReadOnly(r))
		return
	}
	h.observer().AuthFailed("read_only")
	h.auditActionRefused(r, "read-only token")
	h.writeError(w, httpErr(http.StatusForbidden, codeReadOnlyToken,
		"the read-only token cannot act: use the admin token (/etc/roy-procwatch/token) for %s %s", r.Method, r.URL.Path))
}

// metricsAuth accepts either token as X-Auth-Token or as a Bearer
// authorization (only here), then goes through auth like every route.
func (h *Handler) metricsAuth(next http.Handler) http.Handler {
	withHeader := h.auth(next.ServeHTTP)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Auth-Token") == "" {
			scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
			if ok && strings.EqualFold(scheme, "Bearer") {
				r = r.Clone(r.Context())
				r.Header.Set("X-Auth-Token", strings.TrimSpace(tok))
			}
		}
		withHeader.ServeHTTP(w, r)
	})
}

type nopObserver struct{}

func (nopObserver) ObserveRequest(string, int) {}
func (nopObserver) AuthFailed(string)          {}

func (h *Handler) observer() Observer {
	if h.opts.Observer == nil {
		return nopObserver{}
	}
	return h.opts.Observer
}

// StreamCount is the number of open event streams (a metrics gauge).
func (h *Handler) StreamCount() int {
	h.streams.mu.Lock()
	defer h.streams.mu.Unlock()
	return h.streams.n
}

// statusRecorder remembers the status code for the request metrics.
// Unwrap keeps http.ResponseController (Flush for the event stream)
// working through it.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
