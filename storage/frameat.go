package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// frameWindow is how many bytes a FrameReader reads at once: frames whose
// offsets an index lists close together are served from one read.
const frameWindow = 64 << 10

// A FrameReader reads single frames of a closed segment at offsets known in
// advance (from an index), instead of streaming the segment from its
// start. Every frame it returns has passed its length and CRC-32C checks,
// exactly as with Reader; an offset that does not start a good frame is a
// *CorruptError. It reads the file as it was when it was opened (its size
// is fixed then), takes no lock and writes nothing. Offsets asked for in
// increasing order are read through one buffer. A FrameReader is not safe
// for concurrent use.
type FrameReader struct {
	name   string
	f      *os.File
	size   int64
	buf    []byte // the bytes of the file from bufOff
	bufOff int64
}

// OpenFrames opens the segment file at path for reads at known offsets
// and checks its file header. Like OpenSegment, it refuses a symbolic link
// and anything that is not a regular file (ErrNotRegular).
func OpenFrames(path string) (*FrameReader, error) {
	f, err := openInDir(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: %w", err)
	}
	name := filepath.Base(path)
	r := &FrameReader{name: name, f: f, size: fi.Size()}
	var h [headerSize]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		f.Close()
		return nil, &CorruptError{Segment: name, Offset: 0, Err: fmt.Errorf("%w: %v", ErrBadHeader, err)}
	}
	if off, cause := checkHeader(h[:]); cause != nil {
		f.Close()
		return nil, &CorruptError{Segment: name, Offset: off, Err: cause}
	}
	return r, nil
}

// Size returns the size of the segment file when it was opened.
func (r *FrameReader) Size() int64 { return r.size }

// FrameAt returns the payload of the frame that starts at off and the
// offset just past it. The payload is valid until the next call.
func (r *FrameReader) FrameAt(off int64) (payload []byte, end int64, err error) {
	if off < headerSize || off > r.size-frameHeaderSize {
		return nil, off, &CorruptError{Segment: r.name, Offset: off, Err: fmt.Errorf("%w: no frame header fits at offset %d of a %d-byte file", ErrTruncated, off, r.size)}
	}
	h, err := r.window(off, frameHeaderSize)
	if err != nil {
		return nil, off, err
	}
	n := binary.BigEndian.Uint32(h[0:4])
	if n == 0 || n > MaxPayload {
		return nil, off, &CorruptError{Segment: r.name, Offset: off, Err: fmt.Errorf("%w: %d, want 1 to %d", ErrBadLength, n, MaxPayload)}
	}
	end = off + frameHeaderSize + int64(n)
	if end > r.size {
		return nil, off, &CorruptError{Segment: r.name, Offset: off, Err: fmt.Errorf("%w: %d-byte payload, %d bytes left", ErrTruncated, n, r.size-off-frameHeaderSize)}
	}
	b, err := r.window(off, frameHeaderSize+int(n))
	if err != nil {
		return nil, off, err
	}
	want := binary.BigEndian.Uint32(b[4:8])
	got := crc32.Update(crc32.Update(0, castagnoli, b[0:4]), castagnoli, b[frameHeaderSize:])
	if got != want {
		return nil, off, &CorruptError{Segment: r.name, Offset: off, Err: fmt.Errorf("%w: computed %08x, stored %08x", ErrChecksum, got, want)}
	}
	return b[frameHeaderSize:], end, nil
}

// window returns n bytes of the file from off, reading a new window when
// the buffer does not hold them. The caller has checked off+n <= size.
func (r *FrameReader) window(off int64, n int) ([]byte, error) {
	if off >= r.bufOff && off+int64(n) <= r.bufOff+int64(len(r.buf)) {
		return r.buf[off-r.bufOff : off-r.bufOff+int64(n)], nil
	}
	want := max(n, frameWindow)
	if rem := r.size - off; int64(want) > rem {
		want = int(rem)
	}
	if cap(r.buf) < want {
		r.buf = make([]byte, want)
	}
	r.buf = r.buf[:want]
	if _, err := r.f.ReadAt(r.buf, off); err != nil {
		r.buf = r.buf[:0]
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the file shrank while it was read
		}
		return nil, fmt.Errorf("storage: read segment %s at offset %d: %w", r.name, off, err)
	}
	r.bufOff = off
	return r.buf[:n], nil
}

// Close closes the segment file.
func (r *FrameReader) Close() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("storage: close segment %s: %w", r.name, err)
	}
	return nil
}
