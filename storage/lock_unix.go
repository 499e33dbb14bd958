//go:build unix

package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// lockDir takes an exclusive, non-blocking flock(2) on <dir>/LOCK and
// writes this process's PID into it. The lock is held until the returned
// file is closed. The lock belongs to the open file, so a second lockDir in
// the same process fails too.
//
// Whoever can write the directory can plant LOCK, so it is opened without
// following a symbolic link and refused unless it is a regular file with
// one link (a hard link could name a file elsewhere). Nothing is written to
// it before the lock is held: a process that finds it locked reads the
// holder's PID and leaves it as it is.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFileName)
	_, serr := os.Lstat(path)
	f, err := openInDir(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: lock: %w", err)
	}
	if n, ok := links(fi); ok && n != 1 {
		f.Close()
		return nil, fmt.Errorf("%w: %s has %d hard links, want 1 (remove it: the sealer creates it again)", ErrNotRegular, path, n)
	}
	if errors.Is(serr, os.ErrNotExist) {
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := "another process"
			var b [32]byte
			if n, rerr := f.ReadAt(b[:], 0); rerr == nil || rerr == io.EOF {
				if pid, perr := strconv.Atoi(string(bytes.TrimSpace(b[:n]))); perr == nil && pid > 0 {
					holder = "pid " + strconv.Itoa(pid)
				}
			}
			return nil, fmt.Errorf("%w: %s is held by %s", ErrLocked, path, holder)
		}
		return nil, fmt.Errorf("storage: lock %s: %w", path, err)
	}
	// The lock is held: only now replace the previous holder's PID.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0) // informational only
	}
	return f, nil
}

func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Flock(int(fd), how)
			if ferr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}
