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
	if strings.Contains(strconv.Itoa(p.PID), q) ||
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

// filterSort returns the processes matching o, ordered as o says. It copies
// the slice; the Process values share their (immutable) slices.
func filterSort(all []Process, o ListOptions) []Process {
	q := strings.ToLower(strings.TrimSpace(o.Query))
	out := make([]Process, 0, len(all))
	for i := range all {
		if matches(&all[i], q) {
			out = append(out, all[i])
		}
	}
	var less func(a, b *Process) int
	switch o.Sort {
	case "mem":
		less = func(a, b *Process) int { return cmp.Compare(a.MemoryRSS, b.MemoryRSS) }
	case "pid":
		less = func(a, b *Process) int { return cmp.Compare(a.PID, b.PID) }
	case "name":
		less = func(a, b *Process) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) }
	default:
		less = func(a, b *Process) int { return cmp.Compare(a.CPUPercent, b.CPUPercent) }
	}
	desc := o.Order == "desc"
	slices.SortStableFunc(out, func(a, b Process) int {
		c := less(&a, &b)
		if c == 0 {
			// Ties: PID ascending, whatever the order, so pages are stable.
			return cmp.Compare(a.PID, b.PID)
		}
		if desc {
			return -c
		}
		return c
	})
	return out
}
