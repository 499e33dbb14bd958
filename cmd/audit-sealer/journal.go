package main

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// journalStream reports whether stderr is the stream journald gave this
// process: systemd sets JOURNAL_STREAM to "DEVICE:INODE" of that stream,
// and it is ours only if fd 2 is still the same file (a shell redirect or
// a child with its own stderr inherits the variable but not the stream).
func journalStream(stderr *os.File) bool {
	dev, ino, ok := strings.Cut(os.Getenv("JOURNAL_STREAM"), ":")
	if !ok {
		return false
	}
	d, err1 := strconv.ParseUint(dev, 10, 64)
	i, err2 := strconv.ParseUint(ino, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(stderr.Fd()), &st); err != nil {
		return false
	}
	return uint64(st.Dev) == d && st.Ino == i
}

// journalWriter prefixes every line with its syslog priority ("<3>" for
// an error), which journald strips and stores as PRIORITY=, so that
// `journalctl -p err` finds the sealer's errors. It implements
// hclog.LevelWriter, which hclog calls with each entry's level.
type journalWriter struct{ w io.Writer }

// syslogPriority maps hclog's levels to syslog priorities: err=3,
// warning=4, info=6, debug=7 (trace is debug to syslog).
func syslogPriority(l hclog.Level) byte {
	switch l {
	case hclog.Error:
		return '3'
	case hclog.Warn:
		return '4'
	case hclog.Debug, hclog.Trace:
		return '7'
	default:
		return '6'
	}
}

// LevelWrite writes p, one or more lines of one entry, each prefixed
// with the entry's priority.
func (j journalWriter) LevelWrite(l hclog.Level, p []byte) (int, error) {
	prefix := []byte{'<', syslogPriority(l), '>'}
	var b bytes.Buffer
	for line := range bytes.Lines(p) {
		b.Write(prefix)
		b.Write(line)
	}
	if _, err := j.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Write is for writes without a level (hclog always passes one): info.
func (j journalWriter) Write(p []byte) (int, error) { return j.LevelWrite(hclog.Info, p) }
