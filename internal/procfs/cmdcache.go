package procfs

// The cmdline cache. A process's command line rarely changes after its
// execve, yet reading /proc/PID/cmdline (the kernel copies it out of the
// process's memory) is one of the larger costs of a build, after stat. As
// htop does by default ("update process names on every refresh" is off), a
// build reuses the command line read for the same image, and reads it again
// when anything shows it may have changed:
//   - another process or image: PID, start time, comm and the stack's start
//     (an execve changes comm and the randomized stack, as for the exe path
//     in fdcache.go);
//   - argv moved: arg_start and arg_end (stat fields 48 and 49), which
//     systemd's and libbsd's setproctitle move with PR_SET_MM_ARG_START;
//   - a new name: most programs that retitle themselves also set comm
//     (prctl PR_SET_NAME: perl's $0, systemd, Chromium...).
//
// What stays stale, for at most fdFullRescan (every build after that reads
// every command line again, as it reads every fd directory): a process that
// rewrites its argv in place without changing comm (PostgreSQL's and
// nginx's "worker process" titles are set right after their fork, so they
// are read fresh as new processes; a later retitle shows within that
// bound). The fields are read only with ptrace access (the daemon runs as
// root); a process whose stat hides them (startstack 0) is always read.

// cmdMemo is a process's command line and what identifies the image and
// argv area it was read from.
type cmdMemo struct {
	startTicks, startStack uint64 // startStack 0 = not reusable
	argStart, argEnd       uint64
	comm                   string
	cmdline                []string // shared by the snapshots, never modified
}

// newCmdMemo records cmdline as read for the image st describes.
func newCmdMemo(st statFields, cmdline []string) cmdMemo {
	if st.startStack == 0 || st.argEnd == 0 {
		return cmdMemo{}
	}
	return cmdMemo{st.startTicks, st.startStack, st.argStart, st.argEnd, st.comm, cmdline}
}

// same says whether m was read for the image and argv area st describes.
func (m cmdMemo) same(st statFields) bool {
	return m.startStack != 0 && m.startStack == st.startStack && m.startTicks == st.startTicks &&
		m.argStart == st.argStart && m.argEnd == st.argEnd && m.comm == st.comm
}
