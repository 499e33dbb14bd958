package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Options configures a Log. The zero value gives the defaults.
type Options struct {
	// SegmentSize is the size in bytes at which NeedsRotation reports that
	// the current segment should be rotated. 0 means 100 MB (100*1000*1000).
	SegmentSize int64
	// Now is the clock used to date new segments for the UTC-day rotation.
	// nil means time.Now.
	Now func() time.Time

	// wrapFile, set only by this package's tests, wraps every segment file
	// the Log opens for writing, to inject failures (disk full, EIO).
	wrapFile func(name string, f file) file
}

func (o Options) resolve() (Options, error) {
	if o.SegmentSize < 0 {
		return o, fmt.Errorf("storage: negative segment size %d", o.SegmentSize)
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = defaultSegmentSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// A Log appends opaque payloads, framed and checksummed, to the segment
// files of a locked data directory. It knows nothing of what the payloads
// mean: the caller chooses each segment's first sequence number and decides
// when to rotate (see NeedsRotation).
//
// A Log is safe for concurrent use. Append may run while another goroutine
// waits in Sync for the disk; the frames it adds are written by the next
// Sync. Frames are written in Append order, so a caller that numbers its
// payloads must serialize numbering with Append and Rotate.
//
// A Log fails closed: once a write, fsync, chmod or close of a segment has
// failed, the Log is poisoned and every later call returns that same error,
// because what is on disk is no longer known. Close it and Open the
// directory again, which repairs a torn tail.
type Log struct {
	dir  string
	opts Options
	lock *os.File // holds the flock on <dir>/LOCK

	syncMu sync.Mutex // held by Sync, Rotate and Close while they write f; taken before mu

	mu   sync.Mutex // guards the fields below
	f    file       // current segment, open for appending; nil after Close or a failed Rotate
	name string     // current segment's file name
	size int64      // current segment's size in bytes, including buf
	// durable is the current segment's size after its last successful
	// fdatasync: everything before it is on disk.
	durable int64
	day     time.Time // UTC midnight of the day the current segment was created
	buf     []byte    // frames appended but not yet written
	spare   []byte    // the other buffer, swapped with buf by Sync
	err     error     // poison: the first write/sync failure
	closed  bool
}

// Create makes a new log in dir, which must be missing or hold no segment
// files, and returns it locked and open for appending. The first segment is
// named after firstSeq and holds first (the caller's genesis payload) as
// its first frame. It is on disk, with its directory entry, when Create
// returns. A missing dir is created with mode 0700.
func Create(dir string, opts Options, firstSeq uint64, first []byte) (*Log, error) {
	opts, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	if err := checkPayload(first); err != nil {
		return nil, err
	}
	if err := prepareDir(dir, true); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	segs, err := ListSegments(dir)
	if err != nil {
		lock.Close()
		return nil, err
	}
	if len(segs) > 0 {
		lock.Close()
		return nil, fmt.Errorf("storage: %s already holds a log (segment %s): %w", dir, segs[0].Name, fs.ErrExist)
	}
	l := &Log{dir: dir, opts: opts, lock: lock}
	if err := l.createSegment(firstSeq, first); err != nil {
		// Nothing was acknowledged: leave no partial segment behind, so
		// that Create can be retried.
		if rerr := os.Remove(filepath.Join(dir, SegmentName(firstSeq))); rerr == nil {
			syncDir(dir)
		}
		lock.Close()
		return nil, err
	}
	return l, nil
}

// Open opens the existing log in dir for appending. It takes the lock,
// lists the segments, checks every segment's file header, scans the last
// segment completely and positions at its end; it does not scan earlier
// segments. A torn tail in the last segment is repaired (see Recovery and
// the package documentation); any other damage is returned as a
// *CorruptError and nothing on disk is changed. A read-only last segment is
// made writable (0600) again, and a closed segment that is still writable
// is sealed (0400); both are reported in Recovery.Notes. A missing
// directory, or one without segments, gives an error matching
// fs.ErrNotExist.
//
// The Recovery is nil when Open changed nothing on disk. If the log's only
// segment held no complete frame (a crash inside Create), Open keeps its
// bytes aside, removes it, and returns the Recovery together with an error
// matching fs.ErrNotExist, so that the caller may Create the log again.
func Open(dir string, opts Options) (*Log, *Recovery, error) {
	opts, err := opts.resolve()
	if err != nil {
		return nil, nil, err
	}
	if err := prepareDir(dir, false); err != nil {
		return nil, nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, nil, err
	}
	l := &Log{dir: dir, opts: opts, lock: lock}
	rec, err := l.recover()
	if err != nil {
		lock.Close()
		return nil, rec, err
	}
	return l, rec, nil
}

// Append frames a copy of payload (1 to MaxPayload bytes) into the buffer
// of the current segment. It neither writes nor syncs: the payload is
// durable only once a later Sync has returned nil.
func (l *Log) Append(payload []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if err := checkPayload(payload); err != nil {
		return err
	}
	l.buf = appendFrame(l.buf, payload)
	l.size += frameHeaderSize + int64(len(payload))
	return nil
}

// Sync writes the buffered frames with one write call and then calls
// fdatasync on the segment. When it returns nil, every payload appended
// before the call is durable. If the write or the fdatasync fails, the Log
// is poisoned and Sync returns the error (which wraps the system error, so
// errors.Is(err, syscall.ENOSPC) works); what was written may be a torn tail
// that the next Open repairs.
func (l *Log) Sync() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()

	l.mu.Lock()
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return err
	}
	if len(l.buf) == 0 { // everything written so far was synced by an earlier Sync
		l.mu.Unlock()
		return nil
	}
	buf, f, name := l.buf, l.f, l.name
	end := l.size // everything appended so far is in buf or already written
	l.buf = l.spare[:0]
	l.mu.Unlock()

	err := writeAndSync(f, name, buf)

	l.mu.Lock()
	if err == nil && l.err == nil && l.name == name {
		l.durable = end
	}
	if cap(buf) <= maxSpare {
		l.spare = buf[:0]
	} else {
		l.spare = nil
	}
	if err != nil && l.err == nil {
		l.err = err
	}
	err = l.err
	l.mu.Unlock()
	return err
}

// maxSpare bounds the capacity of the buffer kept between Syncs.
const maxSpare = 16 << 20

// writeAndSync writes b to f in one call and fdatasyncs f.
func writeAndSync(f file, name string, b []byte) error {
	if err := write(f, name, b); err != nil {
		return err
	}
	if err := f.Datasync(); err != nil {
		return fmt.Errorf("storage: fdatasync segment %s: %w", name, err)
	}
	return nil
}

func write(f file, name string, b []byte) error {
	n, err := f.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("storage: write segment %s (%d of %d bytes written): %w", name, n, len(b), err)
	}
	return nil
}

// Durable returns the current segment and its size after the last
// successful Sync (or its creation or recovery): every byte before that
// offset is on disk. After a failure, DiscardUndurable cuts what lies beyond.
func (l *Log) Durable() (segment string, offset int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.name, l.durable
}

// Buffered returns the number of bytes appended but not yet handed to the
// operating system by Sync.
func (l *Log) Buffered() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buf)
}

// NeedsRotation reports whether the current segment, counting buffered
// frames, has reached Options.SegmentSize, or was created on an earlier UTC
// day than now. The day of a segment found by Open is the UTC day of its
// modification time when Open found it: a segment holds only frames of the
// day it was created on if the caller checks NeedsRotation before it
// appends.
func (l *Log) NeedsRotation(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size >= l.opts.SegmentSize || utcDay(now).After(l.day)
}

// Rotate seals the current segment and starts the next one, named after
// firstSeq (which must sort after the current segment's) with first as its
// first frame. Sealing writes the buffered frames, makes the file
// read-only (0400), fsyncs it (data and mode) and closes it; the new
// segment is then created exclusively (0600), written, fsynced, and the
// directory fsynced. Appends wait while Rotate runs. A failure after
// sealing started poisons the Log; a bad payload or name does not.
func (l *Log) Rotate(firstSeq uint64, first []byte) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if err := checkPayload(first); err != nil {
		return err
	}
	name := SegmentName(firstSeq)
	if name <= l.name {
		return fmt.Errorf("storage: next segment %s does not sort after current segment %s", name, l.name)
	}
	if _, err := os.Lstat(filepath.Join(l.dir, name)); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: next segment %s: %w", name, fs.ErrExist)
	}
	if err := l.seal(); err != nil {
		l.err = err
		return err
	}
	if err := l.createSegment(firstSeq, first); err != nil {
		l.err = err
		return err
	}
	return nil
}

// seal writes the buffered frames of the current segment, makes it
// read-only, fsyncs and closes it. The caller holds syncMu and mu.
func (l *Log) seal() error {
	f, name := l.f, l.name
	l.f = nil
	if len(l.buf) > 0 {
		if err := write(f, name, l.buf); err != nil {
			f.Close()
			return err
		}
		l.buf = l.buf[:0]
	}
	if err := f.Chmod(0o400); err != nil {
		f.Close()
		return fmt.Errorf("storage: seal segment %s: %w", name, err)
	}
	if err := f.Sync(); err != nil { // one fsync makes both the data and the mode durable
		f.Close()
		return fmt.Errorf("storage: seal segment %s: fsync: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("storage: seal segment %s: close: %w", name, err)
	}
	return nil
}

// createSegment creates the segment for firstSeq holding the file header
// and first, makes it and its directory entry durable, and makes it the
// current segment. The caller holds syncMu and mu, or owns l exclusively.
func (l *Log) createSegment(firstSeq uint64, first []byte) error {
	name := SegmentName(firstSeq)
	f, err := l.openFile(filepath.Join(l.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return err // names the segment, with the package prefix
	}
	h := fileHeader()
	b := make([]byte, 0, headerSize+frameHeaderSize+len(first))
	b = appendFrame(append(b, h[:]...), first)
	if err := write(f, name, b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("storage: create segment %s: fsync: %w", name, err)
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	l.f, l.name, l.size, l.day = f, name, int64(len(b)), utcDay(l.opts.Now())
	l.durable = l.size
	return nil
}

// Segment returns the file name of the current segment.
func (l *Log) Segment() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.name
}

// Dir returns the data directory.
func (l *Log) Dir() string { return l.dir }

// Close syncs the buffered frames, closes the current segment and releases
// the lock. It does not seal the current segment: the next Open appends to
// it. Close releases the file and the lock even if the Log is poisoned, and
// then returns the poison error.
func (l *Log) Close() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		if l.err != nil {
			return l.err
		}
		return ErrClosed
	}
	l.closed = true
	if l.err == nil && len(l.buf) > 0 {
		l.err = writeAndSync(l.f, l.name, l.buf)
	}
	l.buf, l.spare = nil, nil
	if l.f != nil {
		if err := l.f.Close(); err != nil && l.err == nil {
			l.err = fmt.Errorf("storage: close segment %s: %w", l.name, err)
		}
		l.f = nil
	}
	if err := l.lock.Close(); err != nil && l.err == nil {
		return fmt.Errorf("storage: release lock: %w", err)
	}
	return l.err
}

// usable returns the error every call must return now, if any. The caller
// holds mu.
func (l *Log) usable() error {
	if l.err != nil {
		return l.err
	}
	if l.closed {
		return ErrClosed
	}
	return nil
}

// prepareDir checks that dir is a directory owned by the effective uid of
// this process (root too must own it) with no access for group and others,
// creating it with mode 0700 first if create is set and it is missing. A
// directory another user owns is refused: its owner could change its mode,
// or replace its files, at any time.
func prepareDir(dir string, create bool) error {
	fi, err := os.Stat(dir)
	if create && errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			return err
		}
		fi, err = os.Stat(dir)
	}
	if err != nil {
		return fmt.Errorf("storage: data directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("storage: data directory %s is not a directory", dir)
	}
	if uid, ok := owner(fi); ok && uid != euid() {
		return fmt.Errorf("%w: data directory %s is owned by uid %d, want uid %d, which this process runs as", ErrInsecurePermissions, dir, uid, euid())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: data directory %s has mode %#o, want no access for group or others (0700)", ErrInsecurePermissions, dir, perm)
	}
	return nil
}

// utcDay returns UTC midnight of t's UTC day.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
