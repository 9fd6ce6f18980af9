package procs

import (
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// signalNumbers maps the canonical names (without SIG) to numbers.
var signalNumbers = map[string]unix.Signal{
	"HUP": unix.SIGHUP, "INT": unix.SIGINT, "QUIT": unix.SIGQUIT, "ILL": unix.SIGILL,
	"TRAP": unix.SIGTRAP, "ABRT": unix.SIGABRT, "BUS": unix.SIGBUS, "FPE": unix.SIGFPE,
	"KILL": unix.SIGKILL, "USR1": unix.SIGUSR1, "SEGV": unix.SIGSEGV, "USR2": unix.SIGUSR2,
	"PIPE": unix.SIGPIPE, "ALRM": unix.SIGALRM, "TERM": unix.SIGTERM, "CHLD": unix.SIGCHLD,
	"CONT": unix.SIGCONT, "STOP": unix.SIGSTOP, "TSTP": unix.SIGTSTP, "TTIN": unix.SIGTTIN,
	"TTOU": unix.SIGTTOU, "URG": unix.SIGURG, "XCPU": unix.SIGXCPU, "XFSZ": unix.SIGXFSZ,
	"VTALRM": unix.SIGVTALRM, "PROF": unix.SIGPROF, "WINCH": unix.SIGWINCH, "IO": unix.SIGIO,
	"PWR": unix.SIGPWR, "SYS": unix.SIGSYS,
}

// aliases are other accepted spellings.
var signalAliases = map[string]string{"IOT": "ABRT", "POLL": "IO", "CLD": "CHLD"}

// DefaultSignals is the allowed set when settings name none.
var DefaultSignals = []string{"TERM", "KILL", "INT", "HUP", "STOP", "CONT", "QUIT", "USR1", "USR2"}

// SignalSet is the configured whitelist of signals callers may send.
type SignalSet struct {
	names []string // canonical, in configured order
}

// NewSignalSet validates names (with or without SIG, any case) and returns
// the set; an empty list means DefaultSignals.
func NewSignalSet(names []string) (SignalSet, error) {
	if len(names) == 0 {
		names = DefaultSignals
	}
	var set SignalSet
	for _, n := range names {
		c, ok := canonicalSignal(n)
		if !ok {
			return SignalSet{}, errf(KindInvalidArgument, "unknown signal %q in the allowed list", n)
		}
		if !slices.Contains(set.names, c) {
			set.names = append(set.names, c)
		}
	}
	return set, nil
}

// Names returns the allowed signal names (without SIG).
func (s SignalSet) Names() []string { return slices.Clone(s.names) }

// canonicalSignal turns "sigterm", "TERM", " Term " or "15" into "TERM".
func canonicalSignal(name string) (string, bool) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if num, err := strconv.Atoi(n); err == nil {
		for k, v := range signalNumbers {
			if int(v) == num {
				return k, true
			}
		}
		return "", false
	}
	n = strings.TrimPrefix(n, "SIG")
	if a, ok := signalAliases[n]; ok {
		n = a
	}
	_, ok := signalNumbers[n]
	return n, ok
}

// Parse resolves a caller's signal name against the whitelist.
func (s SignalSet) Parse(name string) (string, unix.Signal, error) {
	c, ok := canonicalSignal(name)
	if !ok {
		if len(name) > 32 {
			name = name[:32] + "…"
		}
		return "", 0, errf(KindInvalidArgument, "unknown signal %q: allowed signals are %s", name, strings.Join(s.names, ", "))
	}
	if !slices.Contains(s.names, c) {
		return "", 0, errf(KindInvalidArgument, "signal %s is not allowed here: allowed signals are %s", c, strings.Join(s.names, ", "))
	}
	return c, signalNumbers[c], nil
}
