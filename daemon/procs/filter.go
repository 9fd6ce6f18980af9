package procs

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Valid values of ListOptions.Sort and ListOptions.Order.
var (
	SortKeys   = []string{"cpu", "mem", "pid", "name"}
	OrderNames = []string{"asc", "desc"}
)

// normalize fills defaults and validates the options.
func (o ListOptions) normalize() (ListOptions, error) {
	o.Sort = strings.ToLower(strings.TrimSpace(o.Sort))
	o.Order = strings.ToLower(strings.TrimSpace(o.Order))
	if o.Sort == "" {
		o.Sort = "cpu"
	}
	if o.Order == "" {
		o.Order = "desc"
	}
	if !slices.Contains(SortKeys, o.Sort) {
		return o, errf(KindInvalidArgument, "invalid sort %q: use one of %s", o.Sort, strings.Join(SortKeys, ", "))
	}
	if !slices.Contains(OrderNames, o.Order) {
		return o, errf(KindInvalidArgument, "invalid order %q: use asc or desc", o.Order)
	}
	if len(o.Query) > 1024 {
		return o, errf(KindInvalidArgument, "query too long (max 1024 bytes)")
	}
	return o, nil
}

// query is a parsed search, the one syntax of the API's ?q= and of the UI
// (httpui/static/logic.mjs parseQuery): words match a substring of the
// name, user or an argument; a bare number matches a PID containing it, a
// local port equal to it, or like a word; "port:N" or ":N" a local port, "pid:N" a PID,
// "user:NAME" a user name, "unit:NAME" a systemd unit (see unitMatches).
// Every term must match.
type query struct {
	words, nums []string
	port, pid   int // -1: not asked
	user        string
	hasUser     bool
	unit        string
	hasUnit     bool
}

// parseQuery reads a query (already lower-cased and trimmed).
func parseQuery(q string) query {
	out := query{port: -1, pid: -1}
	for _, t := range strings.Fields(q) {
		switch {
		case strings.HasPrefix(t, "port:") && isDigits(t[5:]):
			out.port, _ = strconv.Atoi(t[5:])
		case strings.HasPrefix(t, ":") && isDigits(t[1:]):
			out.port, _ = strconv.Atoi(t[1:])
		case strings.HasPrefix(t, "pid:") && isDigits(t[4:]):
			out.pid, _ = strconv.Atoi(t[4:])
		case strings.HasPrefix(t, "user:") && len(t) > 5:
			out.user, out.hasUser = t[5:], true
		case strings.HasPrefix(t, "unit:") && len(t) > 5:
			out.unit, out.hasUnit = t[5:], true
		case isDigits(t):
			out.nums = append(out.nums, t)
		default:
			out.words = append(out.words, t)
		}
	}
	return out
}

func (q query) empty() bool {
	return len(q.words) == 0 && len(q.nums) == 0 && q.port < 0 && q.pid < 0 && !q.hasUser && !q.hasUnit
}

// matches says whether p matches every term of q.
func matches(p *Process, q query) bool {
	if q.hasUser && strings.ToLower(p.Username) != q.user {
		return false
	}
	if q.pid >= 0 && p.PID != q.pid {
		return false
	}
	if q.hasUnit && !unitMatches(p.Unit, q.unit) {
		return false
	}
	if q.port >= 0 && !hasPort(p, q.port) {
		return false
	}
	for _, n := range q.nums {
		// A number is part of a PID's decimal form, a port, or a word.
		if !strings.Contains(strconv.Itoa(p.PID), n) && !hasPortDigits(p, n) && !matchesWord(p, n) {
			return false
		}
	}
	for _, w := range q.words {
		if !matchesWord(p, w) {
			return false
		}
	}
	return true
}

func matchesWord(p *Process, w string) bool {
	if containsFold(p.Name, w) || containsFold(p.Username, w) {
		return true
	}
	for _, a := range p.Cmdline {
		if containsFold(a, w) {
			return true
		}
	}
	return false
}

// unitMatches says whether unit answers "unit:q" (q lower-case): q is part
// of the unit's name, as in the Services view's filter ("unit:nginx"
// matches nginx.service, "unit:getty@" every getty instance); a process in
// no unit never matches. httpui/static/logic.mjs unitMatches is the same.
func unitMatches(unit, q string) bool {
	return unit != "" && containsFold(unit, q)
}

func hasPort(p *Process, port int) bool {
	for i := range p.Ports {
		if p.Ports[i].LocalPort == port {
			return true
		}
	}
	return false
}

func hasPortDigits(p *Process, n string) bool {
	port, err := strconv.Atoi(n)
	return err == nil && hasPort(p, port)
}

// containsFold is strings.Contains on lower-cased s; q is already lower.
func containsFold(s, q string) bool {
	if len(s) < len(q) {
		return false
	}
	return strings.Contains(strings.ToLower(s), q)
}

// isDigits says whether s is non-empty and all ASCII digits.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// filterSort returns the processes matching o, ordered as o says. It copies
// the slice; the Process values share their (immutable) slices.
func filterSort(all []Process, o ListOptions) []Process {
	q := parseQuery(strings.ToLower(strings.TrimSpace(o.Query)))
	// Sort positions, not Process values: a swap moves 4 bytes, not 200,
	// and the comparison takes pointers into all (no copies escape).
	idx := make([]int32, 0, len(all))
	everyone := q.empty()
	for i := range all {
		if everyone || matches(&all[i], q) {
			idx = append(idx, int32(i))
		}
	}
	var less func(a, b int32) int
	switch o.Sort {
	case "mem":
		less = func(a, b int32) int { return cmp.Compare(all[a].MemoryRSS, all[b].MemoryRSS) }
	case "pid":
		less = func(a, b int32) int { return cmp.Compare(all[a].PID, all[b].PID) }
	case "name":
		lower := make([]string, len(all)) // lower-cased once, not per comparison
		for _, i := range idx {
			lower[i] = strings.ToLower(all[i].Name)
		}
		less = func(a, b int32) int { return strings.Compare(lower[a], lower[b]) }
	default:
		less = func(a, b int32) int { return cmp.Compare(all[a].CPUPercent, all[b].CPUPercent) }
	}
	desc := o.Order == "desc"
	slices.SortStableFunc(idx, func(a, b int32) int {
		c := less(a, b)
		if c == 0 {
			// Ties: PID ascending, whatever the order, so pages are stable.
			return cmp.Compare(all[a].PID, all[b].PID)
		}
		if desc {
			return -c
		}
		return c
	})
	out := make([]Process, len(idx))
	for k, i := range idx {
		out[k] = all[i]
	}
	return out
}
