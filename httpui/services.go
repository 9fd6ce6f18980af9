package httpui

// The services view (daemon/units): the unit list and detail, unit
// actions, journals, and the live unit and journal events.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/roy/roy-procwatch/daemon/procs"
	"github.com/roy/roy-procwatch/daemon/units"
)

// Units is the part of the services core the HTTP API uses. Without it
// (nil in Options) the services routes answer 503 no_systemd.
type Units interface {
	List(ctx context.Context, o units.ListOptions) ([]units.Unit, error)
	Get(ctx context.Context, name string) (units.Detail, error)
	Act(ctx context.Context, c procs.Caller, name, action string) (units.ActionResult, error)
	Journal(ctx context.Context, q units.JournalQuery) ([]units.Entry, error)
	Follow(ctx context.Context, q units.JournalQuery, fn func(units.Entry) error) error
	Subscribe(ctx context.Context, fn func(units.Change)) (func(), error)
	Available() bool
}

var _ Units = (*units.Service)(nil)

func (h *Handler) unitsOrError(w http.ResponseWriter) Units {
	if h.opts.Units == nil || !h.opts.Units.Available() {
		h.writeError(w, units.ErrNoSystemd)
		return nil
	}
	return h.opts.Units
}

func (h *Handler) listServices(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := strings.ToLower(q.Get("format"))
	if format != "" && format != "json" && format != "csv" {
		h.writeError(w, httpErr(http.StatusBadRequest, codeInvalidArgument, "invalid format %q: use json or csv", format))
		return
	}
	u := h.unitsOrError(w)
	if u == nil {
		return
	}
	var types []string
	for _, t := range strings.Split(q.Get("type"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			types = append(types, t)
		}
	}
	items, err := u.List(r.Context(), units.ListOptions{Types: types, State: q.Get("state"), Query: q.Get("q"), Pattern: q.Get("pattern")})
	if err != nil {
		h.writeError(w, err)
		return
	}
	if format == "csv" {
		writeServicesCSV(w, items)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(items), "items": items})
}

func optUint(p *uint64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatUint(*p, 10)
}

func writeServicesCSV(w http.ResponseWriter, items []units.Unit) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="services.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"name", "description", "load", "active", "sub", "unit_file_state", "main_pid", "since", "result", "restarts", "memory_current", "cpu_usage_nsec", "tasks", "pids", "ports"})
	for _, u := range items {
		pids := make([]string, 0, len(u.PIDs))
		for _, p := range u.PIDs {
			pids = append(pids, strconv.Itoa(p))
		}
		ports := make([]string, 0, len(u.Ports))
		for _, pt := range u.Ports {
			s := pt.Type + " " + pt.Local
			if pt.Remote != nil {
				s += "->" + *pt.Remote
			}
			ports = append(ports, s+" "+pt.Status)
		}
		_ = cw.Write([]string{csvSafe(u.Name), csvSafe(u.Description), u.Load, u.Active, u.Sub, u.UnitFileState,
			strconv.Itoa(u.MainPID), u.Since, u.Result, strconv.FormatUint(uint64(u.Restarts), 10),
			optUint(u.MemoryCurrent), optUint(u.CPUUsageNSec), optUint(u.Tasks), strings.Join(pids, " "), strings.Join(ports, "; ")})
	}
	cw.Flush()
}

func (h *Handler) getService(w http.ResponseWriter, r *http.Request) {
	u := h.unitsOrError(w)
	if u == nil {
		return
	}
	d, err := u.Get(r.Context(), r.PathValue("unit"))
	if err != nil {
		h.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (h *Handler) serviceAction(w http.ResponseWriter, r *http.Request) {
	var empty struct{}
	if err := h.decodeBody(r, &empty, true); err != nil {
		h.writeError(w, err)
		return
	}
	u := h.unitsOrError(w)
	if u == nil {
		return
	}
	ctx, cancel := h.actionCtx(r)
	defer cancel()
	res, err := u.Act(ctx, httpCaller(r), r.PathValue("unit"), r.PathValue("action"))
	if err != nil {
		h.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// journalQuery reads ?lines= and ?cursor=.
func journalQuery(r *http.Request) (units.JournalQuery, error) {
	q := units.JournalQuery{Cursor: r.URL.Query().Get("cursor")}
	if s := r.URL.Query().Get("lines"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > units.MaxEntries {
			return q, httpErr(http.StatusBadRequest, codeInvalidArgument, "invalid lines %q: a number between 1 and %d", s, units.MaxEntries)
		}
		q.Lines = n
	}
	return q, nil
}

// serviceJournal answers GET /api/service/<unit>/journal (the only GET
// below a unit).
func (h *Handler) serviceJournal(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("action") != "journal" {
		h.methodNotAllowed("POST")(w, r)
		return
	}
	q, err := journalQuery(r)
	if err != nil {
		h.writeError(w, err)
		return
	}
	u := h.unitsOrError(w)
	if u == nil {
		return
	}
	q.Unit = r.PathValue("unit")
	h.writeJournal(w, r, u, q)
}

func (h *Handler) processJournal(w http.ResponseWriter, r *http.Request) {
	pid, err := pathPID(r)
	if err != nil {
		h.writeError(w, err)
		return
	}
	q, err := journalQuery(r)
	if err != nil {
		h.writeError(w, err)
		return
	}
	u := h.unitsOrError(w)
	if u == nil {
		return
	}
	q.PID = pid
	h.writeJournal(w, r, u, q)
}

func (h *Handler) writeJournal(w http.ResponseWriter, r *http.Request, u Units, q units.JournalQuery) {
	entries, err := u.Journal(r.Context(), q)
	if err != nil {
		h.writeError(w, err)
		return
	}
	cursor := q.Cursor
	if len(entries) > 0 {
		cursor = entries[len(entries)-1].Cursor
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(entries), "cursor": cursor, "entries": entries})
}

// unitEvents subscribes the event stream to unit changes; nil without
// systemd (the process events go on).
func (h *Handler) unitEvents(ctx context.Context) (<-chan units.Change, func()) {
	if h.opts.Units == nil {
		return nil, func() {}
	}
	ch := make(chan units.Change, 256)
	unsub, err := h.opts.Units.Subscribe(ctx, func(c units.Change) {
		select {
		case ch <- c:
		default: // a client that cannot keep up misses changes; the list has them
		}
	})
	if err != nil {
		return nil, func() {}
	}
	return ch, unsub
}

// writeUnitEvent writes one "unit" event.
func writeUnitEvent(w http.ResponseWriter, rc *http.ResponseController, c units.Change) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	sseEvent(&buf, "unit", "", b)
	return writeEvents(w, rc, buf.Bytes(), eventWriteBudget)
}

// journalEvents follows a unit's journal: one "journal" event per entry,
// its cursor as the event id (EventSource resumes with Last-Event-ID).
func (h *Handler) journalEvents(w http.ResponseWriter, r *http.Request) {
	u := h.unitsOrError(w)
	if u == nil {
		return
	}
	q := units.JournalQuery{Unit: r.URL.Query().Get("journal"), Cursor: r.Header.Get("Last-Event-ID")}
	if c := r.URL.Query().Get("cursor"); c != "" {
		q.Cursor = c
	}
	if _, err := units.ValidateName(q.Unit); err != nil {
		h.writeError(w, err)
		return
	}
	rc, release, ok := h.openStream(w)
	if !ok {
		return
	}
	defer release()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	replaced := tokenReplaced(r) // a new token ends the streams of the old one
	go func() {
		select {
		case <-h.streams.done:
			cancel()
		case <-replaced:
			h.log.Info("journal stream closed: the token it was opened with was replaced", "remote", r.RemoteAddr)
			cancel()
		case <-ctx.Done():
		}
	}()
	_ = writeEvents(w, rc, []byte("retry: 3000\n\n"), eventWriteBudget)
	var buf bytes.Buffer
	err := u.Follow(ctx, q, func(e units.Entry) error {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		buf.Reset()
		sseEvent(&buf, "journal", e.Cursor, b)
		return writeEvents(w, rc, buf.Bytes(), eventWriteBudget)
	})
	if err != nil && ctx.Err() == nil {
		h.log.Debug("journal stream ended", "err", err)
		b, _ := json.Marshal(map[string]any{"error": err.Error(), "code": units.KindOf(err).Code()})
		buf.Reset()
		sseEvent(&buf, "error", "", b)
		_ = writeEvents(w, rc, buf.Bytes(), eventWriteBudget)
	}
}
