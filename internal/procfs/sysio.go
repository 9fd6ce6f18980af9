package procfs

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Small reads of /proc with plain system calls. The inventory opens a few
// files per process, thousands per snapshot: os.Open costs two fcntl calls
// and a failed epoll_ctl on top of openat, and a finalizer; Readdirnames a
// string per entry. These helpers cost exactly the open/read/close.

// openRead opens path read-only (close-on-exec), retrying on EINTR.
func openRead(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// readFD reads from fd into buf, retrying on EINTR.
func readFD(fd int, buf []byte) (int, error) {
	for {
		n, err := unix.Read(fd, buf)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// readAllFD reads fd to EOF (or max bytes) into buf[:0], growing it.
// oneShot says a short read is the end of the file: true of /proc files
// whose read handler returns all it has that fits (stat, cmdline), and it
// saves the final zero-length read.
func readAllFD(fd int, buf []byte, max int, oneShot bool) ([]byte, error) {
	buf = buf[:0]
	for len(buf) < max {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(max, 2*cap(buf)+512))
			copy(nb, buf)
			buf = nb
		}
		want := cap(buf) - len(buf)
		n, err := readFD(fd, buf[len(buf):cap(buf)])
		if err != nil {
			return nil, err
		}
		buf = buf[:len(buf)+n]
		if n == 0 || (oneShot && n < want) {
			break
		}
	}
	return buf, nil
}

// openZ is open(2) of a path already NUL-terminated in memory (see
// readlinkatZ), read-only and close-on-exec, retrying on EINTR.
func openZ(path []byte, flags int) (int, error) {
	if !nulAfter(path) {
		return -1, unix.EINVAL
	}
	cwd := unix.AT_FDCWD // a variable: the constant -100 does not convert to uintptr
	for {
		fd, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(cwd), uintptr(unsafe.Pointer(&path[0])),
			uintptr(unix.O_RDONLY|unix.O_CLOEXEC|flags), 0, 0, 0)
		switch e {
		case 0:
			return int(fd), nil
		case unix.EINTR:
			continue
		}
		return -1, e
	}
}

// nulAfter says whether b is non-empty and followed in memory by a NUL.
func nulAfter(b []byte) bool {
	return len(b) > 0 && cap(b) > len(b) && b[:len(b)+1][len(b)] == 0
}

// readFileInto reads at most max bytes of path into buf (grown as needed).
func readFileInto(path string, buf []byte, max int, oneShot bool) ([]byte, error) {
	fd, err := openRead(path, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return readAllFD(fd, buf, max, oneShot)
}

// readlinkatZ is readlinkat(2) for a name that is already NUL-terminated in
// memory (name[len(name)] == 0, as getdents hands them out), so that no
// string is built per fd.
func readlinkatZ(dirfd int, name []byte, buf []byte) (int, error) {
	if !nulAfter(name) || len(buf) == 0 {
		return 0, unix.EINVAL
	}
	for {
		n, _, e := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(&name[0])),
			uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
		switch e {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		return 0, e
	}
}

var errBadDirent = errors.New("malformed dirent")

// maxDirent is the largest linux_dirent64 record (a 255-byte name).
const maxDirent = 19 + 256 + 5

// eachDirent calls fn with the name of every entry of the open directory fd
// but "." and ".."; the name is followed in memory by its NUL (see
// readlinkatZ) and is only valid during the call. buf is the getdents
// buffer (a few KiB). oneShot says a getdents that left room for another
// record listed the rest of the directory (true of procfs, which fills the
// buffer until it is full or the directory ends): it saves the last,
// empty, getdents.
func eachDirent(fd int, buf []byte, oneShot bool, fn func(name []byte)) error {
	for more := true; more; {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		more = !oneShot || len(buf)-n < maxDirent
		b := buf[:n]
		for len(b) > 0 {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			if len(b) < 20 {
				return errBadDirent
			}
			reclen := int(b[16]) | int(b[17])<<8
			if reclen < 20 || reclen > len(b) {
				return errBadDirent
			}
			name := b[19:reclen]
			end := 0
			for end < len(name) && name[end] != 0 {
				end++
			}
			if end == len(name) {
				return errBadDirent // no NUL inside the record
			}
			name = name[:end]
			if !(end == 1 && name[0] == '.') && !(end == 2 && name[0] == '.' && name[1] == '.') {
				fn(name)
			}
			b = b[reclen:]
		}
	}
	return nil
}

// atoiBytes parses a decimal PID or fd number; ok is false for anything
// else (leading zeros included, so "007" is not taken for 7).
func atoiBytes(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 10 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}
