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

// matches says whether p matches the lower-cased query q: a substring of
// the PID, the name, the user or the command line, case-insensitive.
func matches(p *Process, q string) bool {
	if q == "" {
		return true
	}
	// Only a query of digits can be part of a PID's decimal form: no
	// string is made for the others.
	if (isDigits(q) && strings.Contains(strconv.Itoa(p.PID), q)) ||
		containsFold(p.Name, q) || containsFold(p.Username, q) {
		return true
	}
	for _, a := range p.Cmdline {
		if containsFold(a, q) {
			return true
		}
	}
	return false
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
	q := strings.ToLower(strings.TrimSpace(o.Query))
	// Sort positions, not Process values: a swap moves 4 bytes, not 200,
	// and the comparison takes pointers into all (no copies escape).
	idx := make([]int32, 0, len(all))
	for i := range all {
		if matches(&all[i], q) {
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
