package sealer

// systemd integration: readiness and status notifications (sd_notify),
// the watchdog, and socket activation (sd_listen_fds). The protocols are
// a few lines each (a datagram to NOTIFY_SOCKET; file descriptors from 3
// named by LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES), so they are
// written here rather than taken from github.com/coreos/go-systemd/v22:
// the sealer needs only these lines, and its small dependency set is part
// of what an auditor reviews.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ListenFDName is the name the sealer looks for in LISTEN_FDNAMES: the
// FileDescriptorName= of deploy/audit-sealer.socket.
const ListenFDName = "audit-sealer"

// listenFDsStart is the first file descriptor systemd passes (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// ErrActivation is returned when systemd passed file descriptors the
// sealer cannot serve on: none named ListenFDName, or not a listening
// Unix stream socket.
var ErrActivation = errors.New("sealer: socket activation")

// notify sends state (newline-separated KEY=VALUE assignments) to the
// service manager when NOTIFY_SOCKET is set, and does nothing otherwise.
// An abstract socket is named with a leading '@'.
func notify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sealer: notify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sealer: notify: %w", err)
	}
	return nil
}

// sdNotify is notify that logs a failure instead of returning it: the
// service manager missing a message is worth a warning, not a stop.
func (s *Sealer) sdNotify(state string) {
	if err := notify(state); err != nil {
		s.log.Warn("cannot notify the service manager", "state", strings.SplitN(state, "\n", 2)[0], "error", err)
	}
}

// statusLine is the short STATUS= text systemctl status shows: records,
// unsealed records, queue depth and, first, a degraded dependency.
func statusLine(st Status) string {
	var b strings.Builder
	switch {
	case st.StorageError != "":
		b.WriteString("degraded: storage: " + st.StorageError + "; ")
	case st.SignerError != "":
		b.WriteString("degraded: signer: " + st.SignerError + "; ")
	case st.AnchorError != "":
		b.WriteString("degraded: tpm anchor: " + st.AnchorError + "; ")
	}
	fmt.Fprintf(&b, "records=%d unsealed=%d queue=%d connections=%d", st.Records, st.Unsealed, st.QueueDepth, st.Connections)
	if b.Len() > 200 { // an error can be long; systemctl shows one line
		return strings.ToValidUTF8(b.String()[:200], "")
	}
	return b.String()
}

// watchdogInterval returns half of WATCHDOG_USEC when the watchdog is
// enabled for this process (WATCHDOG_PID unset or ours), and 0 otherwise.
func watchdogInterval() time.Duration {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0
	}
	if p := os.Getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond / 2
}

// statusEvery is how often the sealer refreshes STATUS= without a watchdog.
const statusEvery = 5 * time.Second

// superviseNotify refreshes STATUS= and, when the watchdog is on, pings
// WATCHDOG=1 until stop closes.
//
// "Alive" means the writer goroutine turns: it wakes at least every 250 ms
// (writerTick) even when idle and counts each round in s.rounds. A ping
// is sent only if the count moved since the last check, so a writer
// stuck (in a deadlock, a hung fsync, or a write that never returns)
// stops the pings and systemd restarts the sealer; the socket held by
// audit-sealer.socket keeps the emitters' connections queued meanwhile.
// A writer that turns but cannot write or seal (disk full, token gone) is
// alive and degraded: a restart would not help, so it keeps pinging and
// says so in STATUS= and in its logs.
func (s *Sealer) superviseNotify(stop <-chan struct{}) {
	every := statusEvery
	wd := watchdogInterval()
	if wd > 0 {
		every = min(every, wd)
		s.log.Info("watchdog on: pinging while the writer turns", "interval", wd)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last := s.rounds.Load()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		msg := "STATUS=" + statusLine(s.Status())
		if wd > 0 {
			if now := s.rounds.Load(); now != last {
				last = now
				msg += "\nWATCHDOG=1"
			} else {
				s.log.Error("watchdog: the writer has not turned since the last check; not pinging", "interval", wd)
			}
		}
		s.sdNotify(msg)
	}
}

// activatedListener returns the listening socket systemd passed
// (LISTEN_FDS for this process), or nil when none was passed. With
// LISTEN_FDNAMES it takes the descriptor named ListenFDName; without, it
// takes the only one. It accepts only a listening Unix stream socket and
// refuses anything else (ErrActivation). The variables are removed so
// that child processes do not see them.
func activatedListener() (*net.UnixListener, error) {
	defer func() {
		os.Unsetenv("LISTEN_PID")
		os.Unsetenv("LISTEN_FDS")
		os.Unsetenv("LISTEN_FDNAMES")
	}()
	if os.Getenv("LISTEN_FDS") == "" {
		return nil, nil
	}
	if pid, err := strconv.Atoi(os.Getenv("LISTEN_PID")); err != nil || pid != os.Getpid() {
		return nil, nil // meant for another process (the manager's or a parent's)
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("%w: LISTEN_FDS=%q is not a positive count", ErrActivation, os.Getenv("LISTEN_FDS"))
	}
	fd := -1
	if names := os.Getenv("LISTEN_FDNAMES"); names != "" {
		for i, name := range strings.Split(names, ":") {
			if name == ListenFDName && i < n {
				fd = listenFDsStart + i
				break
			}
		}
		if fd < 0 {
			return nil, fmt.Errorf("%w: no descriptor named %q in LISTEN_FDNAMES=%q (set FileDescriptorName=%s in the socket unit)",
				ErrActivation, ListenFDName, names, ListenFDName)
		}
	} else if n == 1 {
		fd = listenFDsStart
	} else {
		return nil, fmt.Errorf("%w: %d descriptors passed and no LISTEN_FDNAMES to choose one", ErrActivation, n)
	}
	if err := checkUnixStreamListener(fd); err != nil {
		return nil, err
	}
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "LISTEN_FD_"+strconv.Itoa(fd))
	defer f.Close() // FileListener dups it
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrActivation, err)
	}
	ul, ok := ln.(*net.UnixListener)
	if !ok {
		ln.Close()
		return nil, fmt.Errorf("%w: descriptor %d is not a Unix socket", ErrActivation, fd)
	}
	// The socket belongs to the service manager, which keeps it (and the
	// connections queued on it) while the sealer restarts: never unlink it.
	ul.SetUnlinkOnClose(false)
	return ul, nil
}

// checkUnixStreamListener checks that fd is a listening AF_UNIX
// SOCK_STREAM socket.
func checkUnixStreamListener(fd int) error {
	domain, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_DOMAIN)
	if err != nil {
		return fmt.Errorf("%w: descriptor %d: %w", ErrActivation, fd, err)
	}
	typ, _ := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE)
	acc, _ := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	if domain != syscall.AF_UNIX || typ != syscall.SOCK_STREAM || acc != 1 {
		return fmt.Errorf("%w: descriptor %d is not a listening Unix stream socket (ListenStream= a path in the socket unit)", ErrActivation, fd)
	}
	return nil
}
