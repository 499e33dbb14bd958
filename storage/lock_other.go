//go:build !unix

package storage

import (
	"errors"
	"os"
)

// lockDir fails: writing a log needs flock(2). Reading (ListSegments,
// OpenSegment) works everywhere, so the offline verifier builds on any OS.
func lockDir(dir string) (*os.File, error) {
	return nil, errors.New("storage: writing a log requires a unix system")
}
