package httpui

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/roy/roy-procwatch/daemon/host"
	"github.com/roy/roy-procwatch/daemon/procs"
)

// HostOverview is the core's host overview. It is separate from Core so
// that fakes of Core need not have it; without it the routes answer 501
// and the event stream carries no "system" events.
type HostOverview interface {
	System(ctx context.Context) (host.System, error)
	SystemHistory(ctx context.Context, since time.Time) (host.History, error)
	ProcessHistory(ctx context.Context, c procs.Caller, t procs.Target) (host.ProcessSeries, error)
}

var _ HostOverview = (*procs.Service)(nil)

func (h *Handler) hostOverview(w http.ResponseWriter) (HostOverview, bool) {
	ho, ok := h.core.(HostOverview)
	if !ok {
		h.writeError(w, httpErr(http.StatusNotImplemented, codeNotImplemented, "the host overview is not available with this core"))
	}
	return ho, ok
}

// GET /api/system
func (h *Handler) system(w http.ResponseWriter, r *http.Request) {
	ho, ok := h.hostOverview(w)
	if !ok {
		return
	}
	sys, err := ho.System(r.Context())
	if err != nil {
		h.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sys)
}

// GET /api/system/history?since=: since is Unix seconds (decimals
// allowed) or an RFC 3339 time; absent, the whole history.
func (h *Handler) systemHistory(w http.ResponseWriter, r *http.Request) {
	since, err := parseSince(r.URL.Query().Get("since"))
	if err != nil {
		h.writeError(w, err)
		return
	}
	ho, ok := h.hostOverview(w)
	if !ok {
		return
	}
	hist, err := ho.SystemHistory(r.Context(), since)
	if err != nil {
		h.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, hist)
}

func parseSince(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
			return time.Time{}, badInput("invalid since %q: Unix seconds out of range", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return time.Time{}, badInput("invalid since %q: Unix seconds or an RFC 3339 time", s)
}

// GET /api/process/{pid}/history[?create_time=]
func (h *Handler) processHistory(w http.ResponseWriter, r *http.Request) {
	tg, err := pathTarget(r)
	if err != nil {
		h.writeError(w, err)
		return
	}
	ho, ok := h.hostOverview(w)
	if !ok {
		return
	}
	series, err := ho.ProcessHistory(r.Context(), httpCaller(r), tg)
	if err != nil {
		h.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, series)
}
