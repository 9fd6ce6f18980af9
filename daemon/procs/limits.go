package procs

// The nice range every caller may ask for (setpriority(2)); the renice
// rule and the HTTP /api/meta answer both use it.
const (
	NiceMin = -20
	NiceMax = 19
)
