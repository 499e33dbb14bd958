package testkit

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/storage"
)

// SegmentRecords reads the segment at path with storage's reader (last:
// it is the log's last segment, which may end in a torn tail) and calls fn
// with each record, decoded from a copy of its frame (so fn may keep it),
// and the frame's offset, until fn returns false. It is how tests read a
// log independently of the packages they test.
func SegmentRecords(path string, last bool, fn func(rec chain.Record, off int64) bool) error {
	r, err := storage.OpenSegment(path, last)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		p, off, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		rec, err := chain.Decode(bytes.Clone(p))
		if err != nil {
			return err
		}
		if !fn(rec, off) {
			return nil
		}
	}
}

// Records calls fn with every record of the log in dir, in log order, as
// SegmentRecords does for each segment.
func Records(dir string, fn func(rec chain.Record) bool) error {
	segs, err := storage.ListSegments(dir)
	if err != nil {
		return err
	}
	more := true
	for i, s := range segs {
		err := SegmentRecords(filepath.Join(dir, s.Name), i == len(segs)-1, func(rec chain.Record, _ int64) bool {
			more = fn(rec)
			return more
		})
		if err != nil || !more {
			return err
		}
	}
	return nil
}
