package testkit

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// NotifySocket plays systemd's NOTIFY_SOCKET for a test: a datagram socket
// at a short path (Unix socket paths are limited to 108 bytes) whose
// messages, split into their KEY=VALUE lines, arrive on the channel. The
// socket and its directory go at the test's cleanup.
func NotifySocket(t testing.TB) (path string, lines <-chan string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "as")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path = filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	out := make(chan string, 4096)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			for _, l := range strings.Split(string(buf[:n]), "\n") {
				select {
				case out <- l:
				default: // a test that stopped reading does not block this
				}
			}
		}
	}()
	return path, out
}
