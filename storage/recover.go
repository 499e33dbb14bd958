package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Recovery describes what Open changed on disk to make the log appendable.
type Recovery struct {
	Segment string   // segment whose torn tail was cut; "" if none was
	Offset  int64    // offset of the first cut byte: the segment's new size
	Bytes   int64    // number of bytes cut
	KeptAs  string   // file in the data directory holding exactly the cut bytes; "" when none were (Bytes is 0)
	Removed bool     // the segment held no complete frame and was removed
	Notes   []string // other changes, such as a read-only last segment made writable
}

func (r *Recovery) String() string {
	var parts []string
	switch {
	case r.Segment != "" && r.Removed && r.KeptAs == "":
		parts = append(parts, fmt.Sprintf("removed segment %s, which was empty", r.Segment))
	case r.Segment != "" && r.Removed:
		parts = append(parts, fmt.Sprintf("removed segment %s, which held no complete frame (%d bytes kept as %s)", r.Segment, r.Bytes, r.KeptAs))
	case r.Segment != "":
		parts = append(parts, fmt.Sprintf("cut torn tail of segment %s at offset %d (%d bytes kept as %s)", r.Segment, r.Offset, r.Bytes, r.KeptAs))
	}
	parts = append(parts, r.Notes...)
	return strings.Join(parts, "; ")
}

// recover checks the log in l.dir and positions l at the end of its last
// segment. It first decides what to do and changes the disk only once every
// check has passed, so that a *CorruptError leaves the disk untouched:
//
//   - every segment's file header must be good;
//   - the last segment is scanned with the torn-tail rules; a torn tail is
//     copied to <segment>.broken (or <segment>.<n>.broken), then cut off;
//   - if the last segment is left with no complete frame (a crash while it
//     was being created), all its bytes are kept aside and it is removed;
//     the previous segment, which must scan clean, becomes the last one;
//   - a read-only last segment is made writable (0600), and a closed
//     segment that is still writable is sealed (0400); both are noted.
func (l *Log) recover() (*Recovery, error) {
	segs, err := ListSegments(l.dir)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("storage: no log in %s: %w", l.dir, fs.ErrNotExist)
	}
	for _, s := range segs[:len(segs)-1] {
		if err := checkSegmentHeader(l.dir, s.Name); err != nil {
			return nil, err
		}
	}

	// Plan.
	last := len(segs) - 1
	lastPath := filepath.Join(l.dir, segs[last].Name)
	lastInfo, err := statInDir(lastPath)
	if err != nil {
		return nil, err
	}
	end, frames, torn, err := scanSegment(lastPath, true)
	if err != nil {
		return nil, err
	}
	remove := frames == 0
	target, targetEnd, targetInfo := last, end, lastInfo
	if remove {
		target = last - 1
		if target >= 0 {
			path := filepath.Join(l.dir, segs[target].Name)
			if targetInfo, err = statInDir(path); err != nil {
				return nil, err
			}
			if targetEnd, _, _, err = scanSegment(path, false); err != nil {
				return nil, err
			}
		}
	}

	// Apply.
	var rec *Recovery
	note := func(format string, args ...any) {
		if rec == nil {
			rec = &Recovery{}
		}
		rec.Notes = append(rec.Notes, fmt.Sprintf(format, args...))
	}
	if torn != nil || remove {
		from := end
		if remove {
			from = 0
		}
		keptAs, err := keepAside(l.dir, segs[last].Name, from, lastInfo.Size(), l.opts.wrapFile)
		if err != nil {
			return nil, err
		}
		rec = &Recovery{Segment: segs[last].Name, Offset: from, Bytes: lastInfo.Size() - from, KeptAs: keptAs, Removed: remove}
		if remove {
			if err := os.Remove(lastPath); err != nil {
				return rec, fmt.Errorf("storage: remove segment: %w", err)
			}
			if err := syncDir(l.dir); err != nil {
				return rec, err
			}
		}
	}
	if target < 0 {
		return rec, fmt.Errorf("storage: no log in %s: %s: %w", l.dir, rec, fs.ErrNotExist)
	}
	for _, s := range segs[:target] {
		mode, sealed, err := sealClosed(filepath.Join(l.dir, s.Name))
		if err != nil {
			return rec, err
		}
		if sealed {
			note("sealed closed segment %s, which was still writable (mode %#o), to 0400", s.Name, mode)
		}
	}

	name := segs[target].Name
	path := filepath.Join(l.dir, name)
	changed := torn != nil && !remove
	if perm := targetInfo.Mode().Perm(); perm&0o200 == 0 {
		if err := chmodInDir(path, 0o600); err != nil {
			return rec, err
		}
		note("made read-only last segment %s (mode %#o) writable (0600) to append to it", name, perm)
		changed = true
	}
	f, err := l.openFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return rec, err
	}
	if torn != nil && !remove {
		if err := f.Truncate(end); err != nil {
			f.Close()
			return rec, fmt.Errorf("storage: cut torn tail of segment %s: %w", name, err)
		}
	}
	if changed {
		if err := f.Sync(); err != nil {
			f.Close()
			return rec, fmt.Errorf("storage: fsync segment %s: %w", name, err)
		}
	}
	l.f, l.name, l.size, l.day = f, name, targetEnd, utcDay(targetInfo.ModTime())
	l.durable = targetEnd
	return rec, nil
}

// checkSegmentHeader reads and checks the file header of a segment that is
// not the last one.
func checkSegmentHeader(dir, name string) error {
	f, err := openInDir(filepath.Join(dir, name), os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var h [headerSize]byte
	n, err := io.ReadFull(f, h[:])
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &CorruptError{Segment: name, Offset: 0, Err: fmt.Errorf("%w: file of %d bytes is shorter than the %d-byte header", ErrBadHeader, n, headerSize)}
	}
	if err != nil {
		return fmt.Errorf("storage: read segment header: %w", err)
	}
	if off, cause := checkHeader(h[:]); cause != nil {
		return &CorruptError{Segment: name, Offset: off, Err: cause}
	}
	return nil
}

// scanSegment reads a whole segment and returns the end of its last good
// frame, the number of good frames, and the torn tail if there is one
// (only when isLast). Corruption and read errors are returned as err.
func scanSegment(path string, isLast bool) (end int64, frames int, torn *TornTailError, err error) {
	r, err := OpenSegment(path, isLast)
	if errors.As(err, &torn) {
		return 0, 0, torn, nil
	}
	if err != nil {
		return 0, 0, nil, err
	}
	defer r.Close()
	for {
		_, off, err := r.Next()
		switch {
		case err == io.EOF:
			return off, frames, nil, nil
		case errors.As(err, &torn):
			return torn.Offset, frames, torn, nil
		case err != nil:
			return 0, 0, nil, err
		}
		frames++
	}
}

// maxBroken bounds the files keepAside creates for one segment:
// <name>.broken, then <name>.1.broken to <name>.63.broken. Each is a cut
// the sealer made at start or after a storage failure; more than a few
// means something is wrong that a person must look at, and a bound keeps a
// failure that repeats (the sealer retries every second) from filling the
// directory.
const maxBroken = 64

// keepAside copies the bytes [from, size) of segment name into a new file
// <name>.broken, or <name>.<n>.broken with the first free n from 1 to
// maxBroken-1, fsyncs it and the directory, and returns its name. With
// nothing to copy (from >= size) it creates no file and returns "". A copy
// that fails (a full disk) is removed, so that retries leave nothing
// behind; with all maxBroken names taken it refuses (ErrTooManyBroken).
// wrap, when set, wraps the new file as Options.wrapFile does.
func keepAside(dir, name string, from, size int64, wrap func(string, file) file) (string, error) {
	if from >= size {
		return "", nil
	}
	src, err := openInDir(filepath.Join(dir, name), os.O_RDONLY, 0)
	if err != nil {
		return "", err
	}
	defer src.Close()
	for n := 0; n < maxBroken; n++ {
		kept := name + ".broken"
		if n > 0 {
			kept = fmt.Sprintf("%s.%d.broken", name, n)
		}
		path := filepath.Join(dir, kept)
		dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // O_EXCL: never through a link
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("storage: keep torn bytes of %s: %w", name, err)
		}
		var f file = osFile{dst}
		if wrap != nil {
			f = wrap(kept, f)
		}
		_, err = io.Copy(f, io.NewSectionReader(src, from, size-from))
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			// A partial copy keeps nothing worth having: remove it.
			if rerr := os.Remove(path); rerr != nil {
				err = fmt.Errorf("%w (and could not remove it: %v)", err, rerr)
			}
			return "", fmt.Errorf("storage: keep torn bytes of %s in %s: %w", name, kept, err)
		}
		if err := syncDir(dir); err != nil {
			return "", err
		}
		return kept, nil
	}
	return "", fmt.Errorf("%w: %s.broken and %s.1.broken to %s.%d.broken all exist: inspect them and remove them",
		ErrTooManyBroken, name, name, name, maxBroken-1)
}

// sealClosed makes a closed segment read-only (0400) if it is writable, and
// fsyncs it so that the mode is durable. It returns the old mode and
// whether it changed it.
func sealClosed(path string) (fs.FileMode, bool, error) {
	f, err := openInDir(path, os.O_RDONLY, 0)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, false, fmt.Errorf("storage: %w", err)
	}
	perm := fi.Mode().Perm()
	if perm&0o222 == 0 {
		return perm, false, nil
	}
	if err := f.Chmod(0o400); err != nil {
		return perm, false, fmt.Errorf("storage: seal closed segment: %w", err)
	}
	if err := f.Sync(); err != nil {
		return perm, false, fmt.Errorf("storage: seal closed segment: %w", err)
	}
	return perm, true, nil
}

// DiscardUndurable cuts segment back to offset, the size it had after its
// last successful Sync (Log.Durable), keeping the bytes after it aside in
// <segment>.broken (or <segment>.<n>.broken) first. A caller uses it after
// a failed write or fdatasync and before the next Open: bytes written
// without a successful fdatasync may still be readable from the page cache
// yet never reach the disk (the kernel can drop them after a failed
// fdatasync), so they must not become part of the log that later records
// extend. It takes the directory's lock, so no Log may hold it. It returns
// nil when there was nothing to cut, and then creates no file. If the
// bytes cannot be kept (a full disk), it cuts nothing and leaves no file;
// once maxBroken (64) such files exist for the segment, it refuses
// (ErrTooManyBroken).
func DiscardUndurable(dir, segment string, offset int64) (*Recovery, error) {
	return discardUndurable(dir, segment, offset, nil)
}

// discardUndurable is DiscardUndurable, with the file kept aside wrapped by
// wrap (tests inject failures through it).
func discardUndurable(dir, segment string, offset int64, wrap func(string, file) file) (*Recovery, error) {
	if err := prepareDir(dir, false); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	path := filepath.Join(dir, segment)
	fi, err := statInDir(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // never created: Open removes what is left of it
	}
	if err != nil {
		return nil, err
	}
	if fi.Size() <= offset {
		return nil, nil
	}
	kept, err := keepAside(dir, segment, offset, fi.Size(), wrap)
	if err != nil {
		return nil, err
	}
	// Until the segment is cut, the bytes are still in it: a failure here
	// removes the copy, so that the caller's retries do not pile up copies.
	// Once it is cut, the copy stays even if the fsync fails.
	unkeep := func(err error) error {
		if rerr := os.Remove(filepath.Join(dir, kept)); rerr != nil {
			return fmt.Errorf("%w (and could not remove %s: %v)", err, kept, rerr)
		}
		return err
	}
	f, err := openInDir(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, unkeep(err)
	}
	defer f.Close()
	if err := f.Truncate(offset); err != nil {
		return nil, unkeep(fmt.Errorf("storage: cut undurable bytes of %s: %w", segment, err))
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("storage: fsync segment %s: %w", segment, err)
	}
	return &Recovery{Segment: segment, Offset: offset, Bytes: fi.Size() - offset, KeptAs: kept}, nil
}

// statInDir is os.Lstat of a segment: a symbolic link, or anything else
// that is not a regular file, is refused (ErrNotRegular), never followed.
func statInDir(path string) (fs.FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is a %s", ErrNotRegular, path, kindOf(fi.Mode()))
	}
	return fi, nil
}

// chmodInDir changes the mode of a segment through a descriptor that
// openInDir opened, so that a symbolic link is never followed. The caller
// makes the mode durable.
func chmodInDir(path string, mode fs.FileMode) error {
	f, err := openInDir(path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	return nil
}
