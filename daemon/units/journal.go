package units

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-systemd/v22/sdjournal"
)

// journalWait is how long one sd_journal_wait (inotify) blocks in follow
// mode before the context is checked again.
const journalWait = 250 * time.Millisecond

// Validate checks q and fills its defaults (Lines 0 → DefaultEntries).
// Journal and Follow call it; a transport that must refuse bad input
// before its own checks (D-Bus, before asking polkit) calls it too.
func (q *JournalQuery) Validate() error {
	if q.Lines == 0 {
		q.Lines = DefaultEntries
	}
	if q.Lines < 1 || q.Lines > MaxEntries {
		return errf(KindInvalidArgument, "invalid lines %d: between 1 and %d", q.Lines, MaxEntries)
	}
	if len(q.Cursor) > 512 {
		return errf(KindInvalidArgument, "invalid cursor: too long")
	}
	if q.Unit != "" && q.PID != 0 {
		return errf(KindInvalidArgument, "give a unit or a PID, not both")
	}
	if q.Unit == "" && q.PID <= 0 {
		return errf(KindInvalidArgument, "invalid pid %d: must be positive", q.PID)
	}
	if q.Unit != "" {
		if _, err := ValidateName(q.Unit); err != nil {
			return err
		}
	}
	return nil
}

// openJournal opens the system journal with q's matches: a unit's own
// messages (_SYSTEMD_UNIT=) or systemd's about it (UNIT= from PID 1); or a
// PID's (_PID=).
func openJournal(q JournalQuery) (*sdjournal.Journal, error) {
	j, err := sdjournal.NewJournal()
	if err != nil {
		return nil, failed("cannot open the journal", err)
	}
	// Fields are read at most this long: the message cap plus one byte
	// tells a capped message from one that fits.
	if err := j.SetDataThreshold(MaxMessage + 1); err != nil {
		j.Close()
		return nil, failed("cannot open the journal", err)
	}
	var matches [][]string
	if q.Unit != "" {
		matches = [][]string{{"_SYSTEMD_UNIT=" + q.Unit}, {"UNIT=" + q.Unit, "_PID=1"}}
	} else {
		matches = [][]string{{"_PID=" + strconv.Itoa(q.PID)}}
	}
	for i, group := range matches {
		if i > 0 {
			if err := j.AddDisjunction(); err != nil {
				j.Close()
				return nil, failed("cannot filter the journal", err)
			}
		}
		for _, m := range group {
			if err := j.AddMatch(m); err != nil {
				j.Close()
				return nil, failed("cannot filter the journal", err)
			}
		}
	}
	return j, nil
}

// Journal returns the last q.Lines entries (oldest first), or with a
// cursor, up to q.Lines entries after it.
func (s *Service) Journal(ctx context.Context, q JournalQuery) ([]Entry, error) {
	if !s.available {
		return nil, ErrNoSystemd
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	j, err := openJournal(q)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	out := make([]Entry, 0, min(q.Lines, 128))
	if q.Cursor != "" {
		if err := j.SeekCursor(q.Cursor); err != nil {
			return nil, errf(KindInvalidArgument, "invalid cursor")
		}
		if n, err := j.Next(); err == nil && n > 0 && j.TestCursor(q.Cursor) != nil {
			// The cursor's entry is gone: this one is the first after it.
			if e, err := readEntry(j); err == nil {
				out = append(out, e)
			}
		}
		out = readEntries(ctx, j, j.Next, out, q.Lines)
		return out, ctx.Err()
	}
	if err := j.SeekTail(); err != nil {
		return nil, failed("cannot read the journal", err)
	}
	out = readEntries(ctx, j, j.Previous, out, q.Lines)
	slices.Reverse(out)
	return out, ctx.Err()
}

// readEntries appends to out the entries step (the journal's Next or
// Previous) moves to, until out holds lines, the journal ends or ctx is
// done. An entry that cannot be read is skipped.
func readEntries(ctx context.Context, j *sdjournal.Journal, step func() (uint64, error), out []Entry, lines int) []Entry {
	for len(out) < lines && ctx.Err() == nil {
		n, err := step()
		if err != nil || n == 0 {
			break
		}
		e, err := readEntry(j)
		if err != nil {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Follow calls fn with each new entry matching q (after q.Cursor when set,
// else from now on) until ctx ends or fn fails. It waits on the journal's
// inotify, not on a timer.
func (s *Service) Follow(ctx context.Context, q JournalQuery, fn func(Entry) error) error {
	if !s.available {
		return ErrNoSystemd
	}
	if q.Lines == 0 {
		q.Lines = 1
	}
	if err := q.Validate(); err != nil {
		return err
	}
	j, err := openJournal(q)
	if err != nil {
		return err
	}
	defer j.Close()
	if q.Cursor != "" {
		if err := j.SeekCursor(q.Cursor); err != nil {
			return errf(KindInvalidArgument, "invalid cursor")
		}
		if n, err := j.Next(); err == nil && n > 0 && j.TestCursor(q.Cursor) != nil {
			if _, err := j.Previous(); err != nil {
				return failed("cannot read the journal", err)
			}
		}
	} else {
		if err := j.SeekTail(); err != nil {
			return failed("cannot read the journal", err)
		}
		// SeekTail points after the last entry; step onto it so Next
		// returns only what comes later.
		if _, err := j.Previous(); err != nil {
			return failed("cannot read the journal", err)
		}
	}
	for ctx.Err() == nil {
		n, err := j.Next()
		if err != nil {
			return failed("cannot read the journal", err)
		}
		if n == 0 {
			j.Wait(journalWait)
			continue
		}
		e, err := readEntry(j)
		if err != nil {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// readEntry reads the current entry with its message capped.
func readEntry(j *sdjournal.Journal) (Entry, error) {
	var e Entry
	us, err := j.GetRealtimeUsec()
	if err != nil {
		return e, err
	}
	e.Usec = us
	e.Time = time.UnixMicro(int64(us)).UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	if e.Cursor, err = j.GetCursor(); err != nil {
		return e, err
	}
	e.Priority = 6
	if v, err := j.GetDataValue("PRIORITY"); err == nil {
		if p, err := strconv.Atoi(v); err == nil && p >= 0 && p <= 7 {
			e.Priority = p
		}
	}
	if v, err := j.GetDataValue("_PID"); err == nil {
		e.PID, _ = strconv.Atoi(v)
	}
	if v, err := j.GetDataValue("SYSLOG_IDENTIFIER"); err == nil {
		e.Identifier = capText(v, 256)
	}
	if v, err := j.GetDataValue("_SYSTEMD_UNIT"); err == nil {
		e.Unit = capText(v, 256)
	} else if v, err := j.GetDataValue("UNIT"); err == nil {
		e.Unit = capText(v, 256)
	}
	b, err := j.GetDataValueBytes("MESSAGE")
	if err != nil { // no MESSAGE field
		b = nil
	}
	e.Message, e.Truncated, e.Binary = message(b)
	return e, nil
}

// message caps a MESSAGE value at MaxMessage bytes and shows binary data
// as such (journalctl prints "[N blob data]").
func message(b []byte) (msg string, truncated, binary bool) {
	capped := len(b) > MaxMessage
	if capped {
		b = b[:MaxMessage]
	}
	if isBinary(b, capped) {
		return fmt.Sprintf("[%d bytes of binary data]", len(b)), capped, true
	}
	if capped {
		// Cut at a rune boundary.
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
	}
	return string(b), capped, false
}

// isBinary says whether b is not printable text: invalid UTF-8 (other than a
// rune cut by the cap) or control characters other than tab and newline.
func isBinary(b []byte, capped bool) bool {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			if capped && len(b)-i < utf8.UTFMax {
				return false
			}
			return true
		}
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f {
			return true
		}
		i += n
	}
	return false
}

// capText caps a short field.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
