package sealer

import (
	"bytes"
	"errors"
	"net"
	"time"
)

// errLineTooLong is returned once for a line longer than the limit; the
// reader then skips the rest of that line.
var errLineTooLong = errors.New("sealer: line too long")

// lineReader reads newline-terminated lines with two deadlines: a line that
// has started must end within lineTimeout (so a slowloris cannot hold a
// connection with one byte at a time), and a connection with no partial
// line may stay silent for idleTimeout (0: for ever).
type lineReader struct {
	c           net.Conn
	buf         []byte
	start, end  int
	max         int
	lineTimeout time.Duration
	idleTimeout time.Duration
	lineStarted time.Time // when the first byte of the current partial line arrived
	readAt      time.Time // when the last read that returned bytes returned
	skipping    bool      // discarding the rest of an over-long line
	skipped     int       // bytes of over-long lines discarded since onSkip was last called
	// onSkip, if set, is called for every max bytes of over-long lines
	// discarded: reading them costs the sealer as much as that many bytes
	// of lines it refuses, and the caller charges them as such.
	onSkip   func()
	stopping func() bool
}

// errStopping is returned once the sealer stops.
var errStopping = errors.New("sealer: stopping")

// newLineReader returns a reader of c. stopping reports whether the sealer
// stops: the stop sets c's read deadline to now to interrupt a blocked
// read, and the reader checks stopping after it set a deadline of its own,
// so that it never overrides the stop's deadline and blocks on.
func newLineReader(c net.Conn, max int, lineTimeout, idleTimeout time.Duration, stopping func() bool) *lineReader {
	return &lineReader{c: c, buf: make([]byte, 4<<10), max: max, lineTimeout: lineTimeout, idleTimeout: idleTimeout, stopping: stopping}
}

// lastRead returns when the last read that returned bytes returned: the
// arrival time of the line next returned last, give or take the reads.
func (lr *lineReader) lastRead() time.Time { return lr.readAt }

// skip counts n bytes of an over-long line discarded, calling onSkip for
// every max bytes.
func (lr *lineReader) skip(n int) {
	if lr.onSkip == nil {
		return
	}
	for lr.skipped += n; lr.skipped >= lr.max; lr.skipped -= lr.max {
		lr.onSkip()
	}
}

// next returns the next line without its newline; it is valid until the
// next call.
func (lr *lineReader) next() ([]byte, error) {
	for {
		if i := bytes.IndexByte(lr.buf[lr.start:lr.end], '\n'); i >= 0 {
			line := lr.buf[lr.start : lr.start+i]
			lr.start += i + 1
			if lr.start == lr.end {
				lr.start, lr.end = 0, 0
				lr.lineStarted = time.Time{}
			} else {
				// What follows the newline came with the last read (every
				// complete line is returned before the next read), so the
				// read's time is when the next line started, without a
				// clock reading per line.
				lr.lineStarted = lr.readAt
			}
			if lr.skipping {
				lr.skipping = false
				lr.skip(i)
				continue
			}
			if len(line)+1 > lr.max {
				return nil, errLineTooLong
			}
			return line, nil
		}
		if lr.skipping {
			lr.skip(lr.end - lr.start)
			lr.start, lr.end = 0, 0 // drop what we have of the over-long line
		} else if lr.end-lr.start >= lr.max {
			lr.skipping = true
			lr.skip(lr.end - lr.start - lr.max) // the first max bytes are the line reported
			lr.start, lr.end = 0, 0
			return nil, errLineTooLong
		}
		if lr.start > 0 {
			lr.end = copy(lr.buf, lr.buf[lr.start:lr.end])
			lr.start = 0
		}
		if lr.end == len(lr.buf) {
			nb := make([]byte, min(2*len(lr.buf), lr.max+1))
			lr.end = copy(nb, lr.buf[:lr.end])
			lr.buf = nb
		}
		if lr.end > lr.start || lr.skipping {
			if lr.lineStarted.IsZero() {
				lr.lineStarted = time.Now()
			}
			lr.c.SetReadDeadline(lr.lineStarted.Add(lr.lineTimeout))
		} else if lr.idleTimeout > 0 {
			lr.c.SetReadDeadline(time.Now().Add(lr.idleTimeout))
		} else {
			lr.c.SetReadDeadline(time.Time{}) // no idle timeout (a stream in progress)
		}
		if lr.stopping != nil && lr.stopping() {
			return nil, errStopping
		}
		n, err := lr.c.Read(lr.buf[lr.end:])
		if n > 0 {
			lr.readAt = time.Now()
			if lr.end == lr.start && !lr.skipping {
				lr.lineStarted = lr.readAt
			}
		}
		lr.end += n
		if err != nil && n == 0 {
			return nil, err
		}
	}
}
