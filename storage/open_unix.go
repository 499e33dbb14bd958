//go:build unix

package storage

import (
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// openNoFollow is os.OpenFile with O_NOFOLLOW, so that a symbolic link as
// the last element of path fails the open instead of being followed, and
// O_NONBLOCK, so that a FIFO or a device does not block the open before
// the caller sees what it is. O_NONBLOCK changes nothing for a regular
// file.
func openNoFollow(path string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK, perm)
}

// openNoBlock opens path for reading as os.Open does, but with
// O_NONBLOCK, so that a FIFO does not block the open.
func openNoBlock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
}

// links returns the number of hard links of the file fi describes, and
// whether it is known.
func links(fi fs.FileInfo) (uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(st.Nlink), true
}

// owner returns the uid owning the file fi describes, and whether it is
// known.
func owner(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}

// euid returns the effective uid of this process.
func euid() uint32 { return uint32(os.Geteuid()) }
