//go:build unix

package ledger

import "golang.org/x/sys/unix"

// lockMemory keeps the pages that hold b in RAM (mlock(2)), so that the run
// key is never written to swap: nothing on any disk can sign a commit of
// this run (FORMAT.md §9). Go's collector does not move heap objects, so
// the pages stay the key's for the process's life. It fails when the
// process may lock no more memory (RLIMIT_MEMLOCK); the caller says so.
func lockMemory(b []byte) error { return unix.Mlock(b) }
