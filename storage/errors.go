package storage

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrLocked is returned by Create and Open when another Log (in this or
	// another process) holds the directory's lock.
	ErrLocked = errors.New("storage: log directory is locked")
	// ErrCorrupt is matched by every *CorruptError.
	ErrCorrupt = errors.New("storage: corrupt segment")
	// ErrTornTail is matched by every *TornTailError.
	ErrTornTail = errors.New("storage: torn tail")
	// ErrInsecurePermissions is returned by Create, Open and
	// DiscardUndurable when the data directory grants any access to group
	// or others, or is not owned by the effective uid of the process.
	ErrInsecurePermissions = errors.New("storage: insecure permissions")
	// ErrClosed is returned by methods of a closed Log or Reader.
	ErrClosed = errors.New("storage: closed")
	// ErrTooManyBroken is returned by Open and DiscardUndurable when a
	// segment's bytes must be kept aside before a cut but the 64 files
	// <segment>.broken and <segment>.1.broken to <segment>.63.broken all
	// exist: nothing is cut until someone has looked at them.
	ErrTooManyBroken = errors.New("storage: too many .broken files")
	// ErrNotRegular is returned when a file of the data directory (a
	// segment, LOCK, an index) is a symbolic link, a hard link to a file
	// elsewhere where that matters (LOCK), or anything but a regular file:
	// such a file is refused, never followed.
	ErrNotRegular = errors.New("storage: not a regular file")
)

// Causes carried in CorruptError.Err and TornTailError.Err; match them with
// errors.Is to tell what was wrong.
var (
	// ErrBadHeader: the segment file header is short, or its magic,
	// version or reserved field is wrong.
	ErrBadHeader = errors.New("storage: bad segment header")
	// ErrBadLength: a frame's length is 0 or larger than MaxPayload.
	ErrBadLength = errors.New("storage: bad frame length")
	// ErrChecksum: a frame's CRC-32C does not match its length and payload.
	ErrChecksum = errors.New("storage: frame checksum mismatch")
	// ErrTruncated: a frame's header or payload extends past the end of the
	// segment file.
	ErrTruncated = errors.New("storage: frame extends past end of segment")
)

// CorruptError reports damage in a segment that is not a torn tail: the
// name of the segment file, the offset of the first bad byte range (a frame
// start, or the field of the file header), and the cause. It matches
// ErrCorrupt and, through Unwrap, its cause.
type CorruptError struct {
	Segment string // segment file name, without directory
	Offset  int64  // byte offset in the segment file
	Err     error  // cause, one of ErrBadHeader, ErrBadLength, ErrChecksum, ErrTruncated (wrapped)
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("storage: corrupt segment %s at offset %d: %s", e.Segment, e.Offset, cause(e.Err))
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// TornTailError reports an incomplete write at the end of the last segment,
// as left by a crash: everything from Offset to the end of the file is not a
// complete frame. It matches ErrTornTail and, through Unwrap, its cause.
type TornTailError struct {
	Segment string // segment file name, without directory
	Offset  int64  // offset of the first byte that is not part of a good frame
	Err     error  // cause, one of ErrBadHeader, ErrBadLength, ErrChecksum, ErrTruncated (wrapped)
}

func (e *TornTailError) Error() string {
	return fmt.Sprintf("storage: torn tail in segment %s at offset %d: %s", e.Segment, e.Offset, cause(e.Err))
}

// Is reports whether target is ErrTornTail.
func (e *TornTailError) Is(target error) bool { return target == ErrTornTail }

// Unwrap returns the cause.
func (e *TornTailError) Unwrap() error { return e.Err }

// cause renders a cause without repeating the package prefix.
func cause(err error) string {
	if err == nil {
		return "unknown cause"
	}
	return strings.TrimPrefix(err.Error(), "storage: ")
}
