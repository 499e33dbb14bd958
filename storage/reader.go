package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// readBufSize is the Reader's buffer size. It must hold a whole frame of
// MaxPayload bytes, so that a payload can be returned without copying.
const readBufSize = 2 << 20

// SegmentInfo describes one segment file found by ListSegments.
type SegmentInfo struct {
	Name     string // file name, e.g. "00000000000003e8.seg"
	FirstSeq uint64 // sequence number parsed from Name
	Size     int64  // file size in bytes
}

// ListSegments returns the segment files of dir sorted by name, which is
// also first-sequence order. Only names ending in ".seg" are considered;
// such a name that SegmentName would not produce (upper-case hex, wrong
// length), or that is not a regular file (a symbolic link is not followed:
// ErrNotRegular), is an error naming it. All other files (LOCK,
// checkpoints, *.broken, *.tmp, keys) are ignored.
func ListSegments(dir string) ([]SegmentInfo, error) {
	ents, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("storage: list segments: %w", err)
	}
	var segs []SegmentInfo
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) {
			continue
		}
		seq, err := parseSegmentName(name)
		if err != nil {
			return nil, fmt.Errorf("storage: in %s: %w", dir, err)
		}
		fi, err := e.Info() // lstat(2): a symbolic link is seen as one
		if err != nil {
			return nil, fmt.Errorf("storage: list segments: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%w: segment %s in %s is a %s", ErrNotRegular, name, dir, kindOf(fi.Mode()))
		}
		segs = append(segs, SegmentInfo{Name: name, FirstSeq: seq, Size: fi.Size()})
	}
	return segs, nil
}

// A Reader streams the frames of one segment file. It reads the file as it
// was when OpenSegment was called (bytes appended later are not seen),
// through one large buffer, and does not allocate per frame: its memory
// does not grow with the segment. A Reader is not safe for concurrent use.
type Reader struct {
	name   string
	closer io.Closer
	size   int64
	isLast bool
	br     *bufio.Reader
	off    int64 // offset of the next frame
	err    error // sticky: io.EOF, *CorruptError, *TornTailError or a read error
}

// OpenSegment opens the segment file at path and checks its file header.
// isLast says whether it is the log's last segment: only there can a crash
// leave a torn tail, and only there are torn bytes reported as a
// *TornTailError (including a file shorter than the header whose bytes are
// a prefix of a valid header, or a file of zeros); everywhere else damage
// is a *CorruptError. OpenSegment takes no lock and writes nothing. It
// refuses a symbolic link (it is not followed) and anything that is not a
// regular file with an error matching ErrNotRegular.
func OpenSegment(path string, isLast bool) (*Reader, error) {
	f, err := openInDir(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: %w", err)
	}
	r, err := newReader(filepath.Base(path), f, fi.Size(), isLast)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// OpenSegmentAt is OpenSegment positioned at byte offset off, which must
// be where a frame starts (an offset Next reported, or the end of the
// file): the file header is checked, the frames before off are not read.
// It lets a reader that already read a segment up to off (export
// --follow) read only what was appended since. An off that is not a frame
// boundary makes Next report a corrupt or torn frame there, never a wrong
// payload, since every frame carries its length and checksum.
func OpenSegmentAt(path string, isLast bool, off int64) (*Reader, error) {
	r, err := OpenSegment(path, isLast)
	if err != nil {
		return nil, err
	}
	if off < headerSize || off > r.size {
		r.Close()
		return nil, fmt.Errorf("storage: segment %s: offset %d is outside its frames (%d to %d)", r.name, off, headerSize, r.size)
	}
	if off > r.off {
		f := r.closer.(*os.File)
		r.br.Reset(io.NewSectionReader(f, off, r.size-off))
		r.off = off
	}
	return r, nil
}

// newReader returns a Reader of the first size bytes of ra, positioned
// after the checked file header.
func newReader(name string, ra io.ReaderAt, size int64, isLast bool) (*Reader, error) {
	bufSize := readBufSize
	if size < int64(bufSize) {
		bufSize = int(size) // a frame never exceeds the file; bufio enforces a minimum of 16
	}
	r := &Reader{
		name:   name,
		size:   size,
		isLast: isLast,
		br:     bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), bufSize),
	}
	if size < headerSize {
		b := make([]byte, size)
		if _, err := io.ReadFull(r.br, b); err != nil {
			return nil, r.readError(err)
		}
		cause := fmt.Errorf("%w: file of %d bytes is shorter than the %d-byte header", ErrBadHeader, size, headerSize)
		if isLast && (isHeaderPrefix(b) || allZero(b)) {
			return nil, &TornTailError{Segment: name, Offset: 0, Err: cause}
		}
		return nil, &CorruptError{Segment: name, Offset: 0, Err: cause}
	}
	h, err := r.br.Peek(headerSize)
	if err != nil {
		return nil, r.readError(err)
	}
	if off, cause := checkHeader(h); cause != nil {
		if isLast {
			zero, err := r.zeroToEnd()
			if err != nil {
				return nil, err
			}
			if zero {
				return nil, &TornTailError{Segment: name, Offset: 0, Err: fmt.Errorf("%w: file is all zeros", ErrBadHeader)}
			}
		}
		return nil, &CorruptError{Segment: name, Offset: off, Err: cause}
	}
	r.br.Discard(headerSize)
	r.off = headerSize
	return r, nil
}

// Offset returns the offset of the next frame: after a successful Next,
// where the frame it returned ends.
func (r *Reader) Offset() int64 { return r.off }

// Size returns the size of the segment file when it was opened.
func (r *Reader) Size() int64 { return r.size }

// Next returns the next frame's payload and the offset of the frame in the
// file. The payload is valid until the next call to Next or Close. At the
// end of a good segment Next returns io.EOF. A bad frame yields a
// *TornTailError (only if the Reader was opened with isLast, and only for
// the torn-tail cases of the format) or a *CorruptError, with the offset of
// the bad frame. Errors are sticky: later calls return the same error.
func (r *Reader) Next() (payload []byte, offset int64, err error) {
	if r.err != nil {
		return nil, r.off, r.err
	}
	o := r.off
	rem := r.size - o
	if rem == 0 {
		r.err = io.EOF
		return nil, o, r.err
	}
	if rem < frameHeaderSize {
		return nil, o, r.fail(true, fmt.Errorf("%w: %d bytes left for an %d-byte frame header", ErrTruncated, rem, frameHeaderSize))
	}
	h, err := r.br.Peek(frameHeaderSize)
	if err != nil {
		return nil, o, r.readError(err)
	}
	n := binary.BigEndian.Uint32(h[0:4])
	if n == 0 || n > MaxPayload {
		return nil, o, r.fail(false, fmt.Errorf("%w: %d, want 1 to %d", ErrBadLength, n, MaxPayload))
	}
	end := o + frameHeaderSize + int64(n)
	if end > r.size {
		return nil, o, r.fail(true, fmt.Errorf("%w: %d-byte payload, %d bytes left", ErrTruncated, n, rem-frameHeaderSize))
	}
	b, err := r.br.Peek(frameHeaderSize + int(n))
	if err != nil {
		return nil, o, r.readError(err)
	}
	want := binary.BigEndian.Uint32(b[4:8])
	got := crc32.Update(crc32.Update(0, castagnoli, b[0:4]), castagnoli, b[frameHeaderSize:])
	if got != want {
		cause := fmt.Errorf("%w: computed %08x, stored %08x", ErrChecksum, got, want)
		if r.isLast && end < r.size {
			// A group commit writes many frames at once; a crash can leave
			// a frame half written and the rest of that write as zeros.
			// Such a frame followed only by zeros is torn too.
			r.br.Discard(len(b))
			zero, err := r.zeroToEnd()
			if err != nil {
				return nil, o, err
			}
			return nil, o, r.fail(zero, cause)
		}
		return nil, o, r.fail(end == r.size, cause)
	}
	r.br.Discard(len(b))
	r.off = end
	return b[frameHeaderSize:], o, nil
}

// fail records and returns the error for a bad frame at r.off. The frame is
// a torn tail if the segment is the last one and either torn is set (the
// frame extends past the end of the file, or its checksum fails and only
// zeros, or nothing, follow it) or every byte from r.off to the end is zero.
func (r *Reader) fail(torn bool, cause error) error {
	if r.isLast && !torn {
		zero, err := r.zeroToEnd()
		if err != nil {
			return err
		}
		torn = zero
	}
	if r.isLast && torn {
		r.err = &TornTailError{Segment: r.name, Offset: r.off, Err: cause}
	} else {
		r.err = &CorruptError{Segment: r.name, Offset: r.off, Err: cause}
	}
	return r.err
}

// zeroToEnd reports whether every byte from the buffered reader's position
// to the end of the file is zero. It consumes the reader.
func (r *Reader) zeroToEnd() (bool, error) {
	for {
		b, err := r.br.Peek(r.br.Size())
		if !allZero(b) {
			return false, nil
		}
		r.br.Discard(len(b))
		if err == io.EOF {
			return true, nil
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return false, r.readError(err)
		}
	}
}

// readError records and returns an I/O error met at r.off. The file size
// was fixed when the Reader was opened, so io.EOF here means the file
// shrank while it was read.
func (r *Reader) readError(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	r.err = fmt.Errorf("storage: read segment %s at offset %d: %w", r.name, r.off, err)
	return r.err
}

// Close closes the segment file. Payloads returned by Next become invalid.
func (r *Reader) Close() error {
	if r.err == nil || r.err == io.EOF {
		r.err = ErrClosed
	}
	if r.closer == nil {
		return nil
	}
	c := r.closer
	r.closer = nil
	if err := c.Close(); err != nil {
		return fmt.Errorf("storage: close segment %s: %w", r.name, err)
	}
	return nil
}

// allZero reports whether every byte of b is zero.
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
