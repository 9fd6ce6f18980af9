//go:build e2e

// Command sandboxprobe is run by the e2e test (check E3) as ExecStart= of a
// copy of roy-procwatch.service: it tries what a compromised daemon might
// try and prints one "name: ERRNO" line per attempt ("ok" if it worked).
package main

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

func try(name string, fn func() error) {
	err := fn()
	var en unix.Errno
	switch {
	case err == nil:
		fmt.Printf("%s: ok\n", name)
	case errors.As(err, &en):
		fmt.Printf("%s: %s\n", name, unix.ErrnoName(en))
	default:
		fmt.Printf("%s: %v\n", name, err)
	}
}

func main() {
	try("write_etc", func() error {
		return os.WriteFile("/etc/roy-e2e-probe", []byte("x"), 0o644)
	})
	try("socket_af_inet", func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	})
	try("setuid", func() error {
		// Raw syscall: Go's Setuid would go through every thread.
		_, _, e := unix.RawSyscall(unix.SYS_SETUID, 1000, 0, 0)
		if e != 0 {
			return e
		}
		return nil
	})
	try("proc1_mem_rw", func() error {
		f, err := os.OpenFile("/proc/1/mem", os.O_RDWR, 0)
		if err == nil {
			f.Close()
		}
		return err
	})
	try("process_vm_readv", func() error {
		var buf [8]byte
		local := []unix.Iovec{{Base: &buf[0]}}
		local[0].SetLen(len(buf))
		remote := []unix.RemoteIovec{{Base: uintptr(unsafe.Pointer(&buf[0])), Len: len(buf)}}
		_, err := unix.ProcessVMReadv(1, local, remote, 0)
		return err
	})
}
