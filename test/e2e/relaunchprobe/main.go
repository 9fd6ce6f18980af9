//go:build e2e

// Command relaunchprobe is installed in the e2e container by the relaunch
// checks (test/e2e/relaunch_test.go). Modes:
//
//	relaunchprobe sgid        make the effective gid (from a setgid bit) the
//	                          real and saved gid too, then sleep: the setgid
//	                          program of the "restart lends a group" attack
//	relaunchprobe exec FILE   execve the NUL-separated argv in FILE (argv[0]
//	                          is looked up in PATH), keeping the environment:
//	                          starts a process with an arbitrary byte argv
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: relaunchprobe sgid | exec FILE"))
	}
	switch os.Args[1] {
	case "sgid":
		egid := syscall.Getegid()
		// Go applies setresgid to every thread of the process.
		if err := syscall.Setresgid(egid, egid, egid); err != nil {
			fail(err)
		}
		for {
			time.Sleep(time.Hour)
		}
	case "exec":
		if len(os.Args) != 3 {
			fail(fmt.Errorf("usage: relaunchprobe exec FILE"))
		}
		b, err := os.ReadFile(os.Args[2])
		if err != nil {
			fail(err)
		}
		argv := bytes.Split(bytes.TrimSuffix(b, []byte{0}), []byte{0})
		args := make([]string, len(argv))
		for i, a := range argv {
			args[i] = string(a)
		}
		path, err := exec.LookPath(args[0])
		if err != nil {
			fail(err)
		}
		fail(syscall.Exec(path, args, os.Environ()))
	default:
		fail(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "relaunchprobe:", err)
	os.Exit(3)
}
