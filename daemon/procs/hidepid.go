package procs

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// procMount is what the /proc the core reads lets unprivileged users see:
// its hidepid= and gid= mount options (proc(5)). With hidepid set, ps run
// by a user shows only that user's processes; the list does the same for
// a caller that is not root, unless the caller is in the gid= group or the
// inspect authority grants it.
type procMount struct {
	hidepid int    // 0 off, 1 noaccess, 2 invisible, 4 ptraceable
	gid     uint32 // the gid= exempt group, when hasGID
	hasGID  bool
}

// readProcMount finds the options of the procfs mounted at procRoot in
// /proc/self/mountinfo (the last mount there wins, as in path lookup).
func readProcMount(procRoot string) procMount {
	var pm procMount
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return pm
	}
	defer f.Close()
	root, err := filepath.EvalSymlinks(procRoot)
	if err != nil {
		root = filepath.Clean(procRoot)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fs, ps := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fs) < 6 || len(ps) < 3 || ps[0] != "proc" || unescapeMount(fs[4]) != root {
			continue
		}
		pm = parseProcOptions(fs[5] + "," + ps[2])
	}
	return pm
}

// unescapeMount undoes the octal escapes (\040 …) of mountinfo paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseProcOptions reads hidepid= and gid= from comma-separated options.
func parseProcOptions(opts string) procMount {
	var pm procMount
	for _, o := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "hidepid":
			switch v {
			case "1", "noaccess":
				pm.hidepid = 1
			case "2", "invisible":
				pm.hidepid = 2
			case "4", "ptraceable":
				pm.hidepid = 4
			default:
				pm.hidepid = 0
			}
		case "gid":
			if g, err := strconv.ParseUint(v, 10, 32); err == nil {
				pm.gid, pm.hasGID = uint32(g), true
			}
		}
	}
	return pm
}

// seesAll says whether c may list every process under the mount's
// options: root, no hidepid, a member of gid=, or the inspect authority.
func (s *Service) seesAll(ctx context.Context, c Caller) bool {
	if c.root() || s.procMount.hidepid == 0 {
		return true
	}
	if s.procMount.hasGID && slices.Contains(s.callerGroups(c), s.procMount.gid) {
		return true
	}
	if c.Authorize != nil {
		ok, err := c.Authorize(ctx, ActionInspect, 0)
		if err != nil {
			s.log.Warn("authorization check failed", "caller", c.Name, "uid", c.UID, "action", ActionInspect, "err", err)
		}
		return err == nil && ok
	}
	return false
}
