package procs

import (
	"os"
	"path/filepath"
	"sync"
)

// DefaultAuditMaxSize is the size at which the audit file is rotated.
const DefaultAuditMaxSize = 10 << 20

// auditFile is the audit trail on disk: one JSON line per action, each
// fsynced before the action returns, so it survives a crash.
//
// It is rotated by size, in the daemon rather than by logrotate: the daemon
// is the only writer, so it can rotate between two lines without losing or
// splitting one, and nothing outside the sandbox has to signal it. When a
// line would take the file past max bytes, the file becomes <path>.1
// (replacing the previous one) and a new file is started: the trail takes
// at most about 2×max on disk and always keeps at least the last max bytes.
// The journal gets every line as well.
type auditFile struct {
	mu   sync.Mutex
	path string
	max  int64 // <= 0: never rotate
	f    *os.File
	size int64
}

func openAuditFile(path string, max int64) (*auditFile, error) {
	a := &auditFile{path: path, max: max}
	if err := a.open(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *auditFile) open() error {
	f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	a.f, a.size = f, st.Size()
	return nil
}

// Write appends one line (slog's JSON handler writes a record in one call)
// and syncs it. It rotates first when the line would not fit; if rotating
// fails, the line still goes to the current file: an audit line is never
// dropped for the sake of the size cap.
func (a *auditFile) Write(b []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.max > 0 && a.size > 0 && a.size+int64(len(b)) > a.max {
		a.rotate()
	}
	n, err := a.f.Write(b)
	a.size += int64(n)
	if err == nil {
		err = a.f.Sync()
	}
	return n, err
}

// rotate renames the file to <path>.1 and opens a new one. On any error
// it keeps (or reopens) the current file.
func (a *auditFile) rotate() {
	if err := os.Rename(a.path, a.path+".1"); err != nil {
		return
	}
	old := a.f
	if err := a.open(); err != nil {
		// Keep appending to the renamed file rather than lose lines.
		a.f = old
		return
	}
	old.Close()
	// Make the rename and the new file durable too.
	if d, err := os.Open(filepath.Dir(a.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

func (a *auditFile) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.f.Close()
}
