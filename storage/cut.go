package storage

import (
	"errors"
	"fmt"
)

// CutTail cuts the current segment back to offset, which must be the start
// of a frame: it first copies the bytes from offset to the end into
// <segment>.broken (or <segment>.<n>.broken) and fsyncs that file and the
// directory, then truncates the segment and fsyncs it. It is for a caller
// that found, at the end of the log, whole frames it must not keep (the
// ledger's records that nothing authenticates): like a torn tail, they are
// never destroyed, only set aside. Nothing may be buffered (call it before
// any Append). It returns nil when there is nothing to cut.
func (l *Log) CutTail(offset int64) (*Recovery, error) {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return nil, err
	}
	if len(l.buf) > 0 {
		return nil, errors.New("storage: cut tail: frames are buffered")
	}
	if offset < headerSize || offset > l.size {
		return nil, fmt.Errorf("storage: cut tail of segment %s at offset %d: outside the segment's frames (size %d)", l.name, offset, l.size)
	}
	if offset == l.size {
		return nil, nil
	}
	kept, err := keepAside(l.dir, l.name, offset, l.size, l.opts.wrapFile)
	if err != nil {
		return nil, err
	}
	rec := &Recovery{Segment: l.name, Offset: offset, Bytes: l.size - offset, KeptAs: kept}
	if err := l.f.Truncate(offset); err != nil {
		l.err = fmt.Errorf("storage: cut tail of segment %s: %w", l.name, err)
		return rec, l.err
	}
	if err := l.f.Sync(); err != nil {
		l.err = fmt.Errorf("storage: cut tail of segment %s: fsync: %w", l.name, err)
		return rec, l.err
	}
	l.size, l.durable = offset, offset
	return rec, nil
}
