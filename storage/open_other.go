//go:build !unix

package storage

import (
	"io/fs"
	"os"
)

// openNoFollow is os.OpenFile refusing a symbolic link as the last element
// of path. Without O_NOFOLLOW the check comes before the open, so it is
// only as good as the system allows; writing a log needs a unix system
// anyway (lockDir).
func openNoFollow(path string, flag int, perm os.FileMode) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	return os.OpenFile(path, flag, perm)
}

// openNoBlock opens path for reading.
func openNoBlock(path string) (*os.File, error) { return os.Open(path) }

// links is not known on this system.
func links(fs.FileInfo) (uint64, bool) { return 0, false }

// owner is not known on this system.
func owner(fs.FileInfo) (uint32, bool) { return 0, false }

// euid is not known on this system.
func euid() uint32 { return 0 }
