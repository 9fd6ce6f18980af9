package httpui

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/roy/roy-procwatch/daemon/procs"
)

func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	// The original API's format (docs/http-api.md): ISO-8601 local time with microseconds, no zone.
	writeJSON(w, http.StatusOK, map[string]any{
		"status":  "ok",
		"time":    time.Now().Format("2006-01-02T15:04:05.000000"),
		"version": h.opts.Version,
	})
}

func (h *Handler) listProcesses(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := strings.ToLower(q.Get("format"))
	if format != "" && format != "json" && format != "csv" {
		h.writeError(w, badInput("invalid format %q: use json or csv", format))
		return
	}
	fresh, err := parseFresh(q.Get("fresh"))
	if err != nil {
		h.writeError(w, err)
		return
	}
	items, err := h.core.List(r.Context(), httpCaller(r), procs.ListOptions{
		Query: q.Get("q"), Sort: q.Get("sort"), Order: q.Get("order"), Fresh: fresh,
	})
	if err != nil {
		h.writeError(w, err)
		return
	}
	if format == "csv" {
		writeCSV(w, items)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(items), "items": items})
}

// csvSafe defuses spreadsheet formulas in untrusted cells.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func writeCSV(w http.ResponseWriter, items []procs.Process) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="processes.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"pid", "ppid", "name", "username", "status", "cpu_percent", "memory_rss", "nice", "num_threads", "create_time_iso", "open_files_count", "ports", "exe", "cmdline"})
	for _, p := range items {
		ports := make([]string, 0, len(p.Ports))
		for _, pt := range p.Ports {
			s := pt.Type + " " + pt.Local
			if pt.Remote != nil {
				s += "->" + *pt.Remote
			}
			ports = append(ports, s+" "+pt.Status)
		}
		_ = cw.Write([]string{
			strconv.Itoa(p.PID), strconv.Itoa(p.PPID), csvSafe(p.Name), csvSafe(p.Username), p.Status,
			strconv.FormatFloat(p.CPUPercent, 'f', 2, 64), strconv.FormatUint(p.MemoryRSS, 10),
			strconv.Itoa(p.Nice), strconv.Itoa(p.Threads), p.CreateTimeISO, strconv.Itoa(p.OpenFilesCount),
			strings.Join(ports, "; "), csvSafe(p.Exe), csvSafe(strings.Join(p.Cmdline, " ")),
		})
	}
	cw.Flush()
}

func (h *Handler) getProcess(w http.ResponseWriter, r *http.Request) {
	tg, err := pathTarget(r)
	if err != nil {
		h.writeError(w, err)
		return
	}
	d, err := h.core.Get(r.Context(), httpCaller(r), tg)
	if err != nil {
		h.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// actionCtx is the context of an action: not cancelled when the client
// goes away, so an action is never left half done, and bounded by the
// core's deadline (procs.ActionTimeout), the same whichever transport
// asked. The core applies its own deadlines to process actions anyway (a
// restart's is longer); this one bounds what else the API starts.
func (h *Handler) actionCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), procs.ActionTimeout)
}

type signalBody struct {
	Signal     *string  `json:"signal"`
	CreateTime *float64 `json:"create_time"`
}

type reniceBody struct {
	Nice       *int     `json:"nice"`
	CreateTime *float64 `json:"create_time"`
}

type restartBody struct {
	CreateTime *float64 `json:"create_time"`
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

func (h *Handler) signal(w http.ResponseWriter, r *http.Request) {
	pid, err := pathPID(r)
	if err != nil {
		h.writeError(w, err)
		return
	}
	var b signalBody
	if err := h.decodeBody(r, &b, false); err != nil {
		h.writeError(w, err)
		return
	}
	if b.Signal == nil {
		h.writeError(w, badInput(`missing "signal": e.g. {"signal":"TERM"}`))
		return
	}
	ctx, cancel := h.actionCtx(r)
	defer cancel()
	name, err := h.core.Signal(ctx, httpCaller(r), procs.Target{PID: pid, CreateTime: deref(b.CreateTime)}, *b.Signal)
	if err != nil {
		h.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "pid": pid, "signal": name})
}

func (h *Handler) renice(w http.ResponseWriter, r *http.Request) {
	pid, err := pathPID(r)
	if err != nil {
		h.writeError(w, err)
		return
	}
	var b reniceBody
	if err := h.decodeBody(r, &b, false); err != nil {
		h.writeError(w, err)
		return
	}
	if b.Nice == nil {
		h.writeError(w, badInput(`missing "nice": e.g. {"nice":10}`))
		return
	}
	ctx, cancel := h.actionCtx(r)
	defer cancel()
	if err := h.core.Renice(ctx, httpCaller(r), procs.Target{PID: pid, CreateTime: deref(b.CreateTime)}, *b.Nice); err != nil {
		h.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "pid": pid, "nice": *b.Nice})
}

func (h *Handler) restart(w http.ResponseWriter, r *http.Request) {
	pid, err := pathPID(r)
	if err != nil {
		h.writeError(w, err)
		return
	}
	var b restartBody
	if err := h.decodeBody(r, &b, true); err != nil {
		h.writeError(w, err)
		return
	}
	ctx, cancel := h.actionCtx(r)
	defer cancel()
	res, err := h.core.Restart(ctx, httpCaller(r), procs.Target{PID: pid, CreateTime: deref(b.CreateTime)})
	if err != nil {
		h.writeError(w, err)
		return
	}
	out := map[string]any{"ok": true, "old_pid": res.OldPID, "new_pid": res.NewPID, "unit": res.Unit, "how": res.How}
	if res.Output != "" {
		out["output"] = res.Output
	}
	writeJSON(w, http.StatusOK, out)
}

// meta is what the UI needs to know of the core's rules: the sort keys
// and orders of the list, the allowed signals, the nice range, and the
// version. The UI takes them from here instead of repeating them.
func (h *Handler) meta(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"version":   h.opts.Version,
		"sort_keys": procs.SortKeys,
		"orders":    procs.OrderNames,
		"signals":   h.core.Signals(),
		"nice":      map[string]int{"min": procs.NiceMin, "max": procs.NiceMax},
		// With the read-only token: the UI shows "read-only" and disables
		// the actions (the server refuses them anyway).
		"read_only": isReadOnly(r),
	})
}

func (h *Handler) signals(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"signals": h.core.Signals()})
}

// parseFresh reads ?fresh=: "1" or "true" asks the core for a snapshot
// newer than its cache (the UI's Refresh); "", "0" or "false" do not.
func parseFresh(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	}
	return false, badInput("invalid fresh %q: use 1 or 0", v)
}
