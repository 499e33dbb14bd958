//go:build !linux

package storage

import "os"

// datasync falls back to fsync(2) where fdatasync(2) is not available.
func datasync(f *os.File) error { return f.Sync() }
