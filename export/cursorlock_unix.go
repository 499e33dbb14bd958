//go:build unix

package export

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockCursor takes an exclusive, non-blocking flock(2) on path+".lock",
// held until the returned file is closed (or the process ends, however it
// ends): two exports with the same cursor file would deliver the same
// records twice.
func lockCursor(path string) (*os.File, error) {
	lp := path + ".lock"
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("export: the cursor's lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &CursorError{File: path, Err: ErrCursorBusy, Detail: "its lock " + lp + " is held"}
		}
		return nil, fmt.Errorf("export: locking %s: %w", lp, err)
	}
	return f, nil
}
