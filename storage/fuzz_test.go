package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"testing"
)

// frameResult is what one Next call returned.
type frameResult struct {
	off     int64
	payload []byte
}

// readFrames reads data as a segment and returns the good frames and the
// error that ended the scan (from newReader or Next).
func readFrames(t *testing.T, data []byte, isLast bool) ([]frameResult, int64, error) {
	r, err := newReader("fuzz.seg", bytes.NewReader(data), int64(len(data)), isLast)
	if err != nil {
		if r != nil {
			t.Fatal("newReader returned a Reader and an error")
		}
		return nil, 0, err
	}
	var frames []frameResult
	for {
		p, off, err := r.Next()
		if err != nil {
			if _, _, err2 := r.Next(); err2 != err {
				t.Fatalf("error not sticky: %v then %v", err, err2)
			}
			return frames, off, err
		}
		frames = append(frames, frameResult{off, bytes.Clone(p)})
	}
}

// FuzzReader feeds arbitrary bytes to the Reader as a segment, both as the
// last segment and as an earlier one. It checks that the Reader never
// panics, returns only frames whose length and CRC-32C match the bytes at
// their offset, returns them at increasing, contiguous offsets, and
// classifies the end consistently: a torn tail only for the last segment,
// and then exactly where an earlier segment would be corrupt.
func FuzzReader(f *testing.F) {
	h := fileHeader()
	good := h[:]
	for i := 1; i <= 5; i++ {
		good = appendFrame(good, bytes.Repeat([]byte{byte(i)}, i*7))
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(good[:headerSize+5])
	f.Add(good[:7])
	f.Add([]byte{})
	f.Add(make([]byte, 40))
	f.Add(append(bytes.Clone(good), make([]byte, 9)...))
	bad := bytes.Clone(good)
	bad[headerSize+10] ^= 1
	f.Add(bad)
	f.Add(append(h[:], 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1))

	f.Fuzz(func(t *testing.T, data []byte) {
		results := map[bool][]frameResult{}
		ends := map[bool]int64{}
		errs := map[bool]error{}
		for _, isLast := range []bool{false, true} {
			frames, endOff, err := readFrames(t, data, isLast)
			results[isLast], ends[isLast], errs[isLast] = frames, endOff, err
			next := int64(headerSize)
			for _, fr := range frames {
				if fr.off != next {
					t.Fatalf("frame at %d, want %d", fr.off, next)
				}
				n := len(fr.payload)
				if n < 1 || n > MaxPayload {
					t.Fatalf("payload of %d bytes", n)
				}
				end := fr.off + frameHeaderSize + int64(n)
				if end > int64(len(data)) {
					t.Fatalf("frame at %d extends past the input", fr.off)
				}
				raw := data[fr.off:end]
				if binary.BigEndian.Uint32(raw[0:4]) != uint32(n) {
					t.Fatalf("frame at %d: length field does not match payload", fr.off)
				}
				if crc32.Checksum(append(raw[0:4:4], raw[frameHeaderSize:]...), castagnoli) != binary.BigEndian.Uint32(raw[4:8]) {
					t.Fatalf("frame at %d returned with a bad CRC", fr.off)
				}
				if !bytes.Equal(raw[frameHeaderSize:], fr.payload) {
					t.Fatalf("frame at %d: payload differs from the input", fr.off)
				}
				next = end
			}
			var ce *CorruptError
			var tt *TornTailError
			switch {
			case err == io.EOF:
				if len(frames) > 0 && next != int64(len(data)) || endOff != int64(len(data)) {
					t.Fatalf("EOF at %d before the end of %d bytes", endOff, len(data))
				}
			case errors.As(err, &tt):
				if !isLast {
					t.Fatalf("torn tail in a segment that is not last: %v", err)
				}
				if len(frames) > 0 && tt.Offset != next || !errors.Is(err, ErrTornTail) || errors.Is(err, ErrCorrupt) {
					t.Fatalf("torn tail %v after frames ending at %d", err, next)
				}
			case errors.As(err, &ce):
				if len(frames) > 0 && ce.Offset != next || !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTornTail) {
					t.Fatalf("corruption %v after frames ending at %d", err, next)
				}
			default:
				t.Fatalf("unexpected error %T %v", err, err)
			}
		}
		// Both views agree on the good frames, and differ only in how they
		// name the bad bytes after them.
		if len(results[true]) != len(results[false]) {
			t.Fatalf("%d frames as last segment, %d otherwise", len(results[true]), len(results[false]))
		}
		if (errs[true] == io.EOF) != (errs[false] == io.EOF) {
			t.Fatalf("clean end differs: %v vs %v", errs[true], errs[false])
		}
		var tt *TornTailError
		var ce *CorruptError
		if errors.As(errs[true], &tt) {
			if !errors.As(errs[false], &ce) || ce.Offset != tt.Offset {
				t.Fatalf("torn tail %v as last segment, but %v otherwise", errs[true], errs[false])
			}
		}
	})
}
