package httpui

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/daemon/units"
)

// Every 4xx and 5xx answer of the API is {"error":"<message>","code":
// "<snake_case>"} (plus "unit" when a unit should be restarted instead),
// written by writeError and nowhere else.

// apiError is an error the HTTP layer itself decides: bad HTTP input, a
// guard, a limit. The core's own errors (*procs.Error) are mapped by kind.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func httpErr(status int, code, format string, a ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, a...)}
}

// Codes of the HTTP layer's own refusals.
const (
	codeInvalidArgument  = "invalid_argument"
	codeUnauthorized     = "unauthorized"
	codeRateLimited      = "rate_limited"
	codeHostNotAllowed   = "host_not_allowed"
	codeCrossOrigin      = "cross_origin"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeBodyTooLarge     = "body_too_large"
	codeUnsupportedType  = "unsupported_media_type"
	codeNotImplemented   = "not_implemented"
	codeTooManyStreams   = "too_many_streams"
	codeTimeout          = "timeout"
	codeInternal         = "internal_error"
)

// kindHTTP maps the core's error kinds to a status and a code.
var kindHTTP = map[procs.Kind]struct {
	status int
	code   string
}{
	procs.KindNoSuchProcess:   {http.StatusNotFound, "no_such_process"},
	procs.KindAccessDenied:    {http.StatusForbidden, "access_denied"},
	procs.KindInvalidArgument: {http.StatusBadRequest, "invalid_argument"},
	procs.KindProcessChanged:  {http.StatusConflict, "process_changed"},
	procs.KindNotRestartable:  {http.StatusConflict, "not_restartable"},
	procs.KindFailed:          {http.StatusInternalServerError, "failed"},
}

// unitKindHTTP maps the services view's error kinds (daemon/units).
var unitKindHTTP = map[units.Kind]int{
	units.KindNoSystemd:       http.StatusServiceUnavailable,
	units.KindInvalidArgument: http.StatusBadRequest,
	units.KindNoSuchUnit:      http.StatusNotFound,
	units.KindRefused:         http.StatusConflict,
	units.KindAccessDenied:    http.StatusForbidden,
}

// writeError is the one place an error becomes an HTTP answer.
func (h *Handler) writeError(w http.ResponseWriter, err error) {
	status, code, msg := http.StatusInternalServerError, codeInternal, "internal error"
	var unit string
	var ae *apiError
	var ce *procs.Error
	var ue *units.Error
	switch {
	case errors.As(err, &ae):
		status, code, msg = ae.status, ae.code, ae.msg
	case errors.As(err, &ue) && ue.Kind != units.KindFailed:
		status, code, msg = unitKindHTTP[ue.Kind], ue.Kind.Code(), ue.Msg
	case errors.As(err, &ue):
		status, code, msg = http.StatusInternalServerError, ue.Kind.Code(), ue.Msg
		h.log.Error("request failed", "err", err)
	case errors.As(err, &ce) && ce.Kind != procs.KindFailed:
		m := kindHTTP[ce.Kind]
		status, code, msg, unit = m.status, m.code, ce.Msg, ce.Unit
	case errors.Is(err, context.DeadlineExceeded):
		status, code, msg = http.StatusGatewayTimeout, codeTimeout, "the action timed out"
	case errors.As(err, &ce):
		status, code, msg = http.StatusInternalServerError, kindHTTP[procs.KindFailed].code, ce.Msg
		h.log.Error("request failed", "err", err)
	default:
		h.log.Error("request failed", "err", err)
	}
	if status == 0 || code == "" {
		// A core kind missing from the tables above: a defect here, not
		// the caller's; WriteHeader(0) would panic.
		status, code = http.StatusInternalServerError, codeInternal
		h.log.Error("request failed: unmapped error kind", "err", err)
	}
	switch status {
	case http.StatusUnauthorized, http.StatusMisdirectedRequest, http.StatusTooManyRequests, http.StatusRequestEntityTooLarge:
		// Nothing more is expected on this connection: free its slot.
		w.Header().Set("Connection", "close")
	}
	body := map[string]any{"error": msg, "code": code}
	if unit != "" {
		body["unit"] = unit
	}
	writeJSON(w, status, body)
}
