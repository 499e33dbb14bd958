package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// MaxPayload is the largest payload a frame may carry, in bytes.
const MaxPayload = 1 << 20

const (
	// segMagic opens every segment file.
	segMagic = "ASEALSEG"
	// segVersion is the format version in the segment file header.
	segVersion = 1
	// headerSize is the size of the segment file header: magic, version, reserved.
	headerSize = 16
	// frameHeaderSize is the size of a frame header: length, CRC-32C.
	frameHeaderSize = 8
	// segSuffix ends every segment file name.
	segSuffix = ".seg"
	// segNameLen is the length of a segment file name: 16 hex digits and ".seg".
	segNameLen = 16 + len(segSuffix)
	// defaultSegmentSize is the rotation size used when Options.SegmentSize is 0.
	defaultSegmentSize = 100 * 1000 * 1000
)

// castagnoli is the CRC-32C table used for every frame checksum.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fileHeader returns the 16-byte segment file header:
//
//	41 53 45 41 4c 53 45 47  "ASEALSEG"
//	00 00 00 01              format version 1, big-endian
//	00 00 00 00              reserved, zero
func fileHeader() [headerSize]byte {
	var h [headerSize]byte
	copy(h[:8], segMagic)
	binary.BigEndian.PutUint32(h[8:12], segVersion)
	return h
}

// checkHeader reports what is wrong with a complete 16-byte file header,
// and at which offset within it, or returns nil.
func checkHeader(h []byte) (int64, error) {
	if string(h[:8]) != segMagic {
		return 0, fmt.Errorf("%w: magic %q, want %q", ErrBadHeader, h[:8], segMagic)
	}
	if v := binary.BigEndian.Uint32(h[8:12]); v != segVersion {
		return 8, fmt.Errorf("%w: unsupported format version %d, want %d", ErrBadHeader, v, segVersion)
	}
	if r := binary.BigEndian.Uint32(h[12:16]); r != 0 {
		return 12, fmt.Errorf("%w: reserved field %#x, want 0", ErrBadHeader, r)
	}
	return 0, nil
}

// isHeaderPrefix reports whether b is a proper prefix of a valid file
// header, as left by a crash while a segment was being created.
func isHeaderPrefix(b []byte) bool {
	h := fileHeader()
	return len(b) < headerSize && string(b) == string(h[:len(b)])
}

// appendFrame appends the frame for payload to dst:
//
//	u32 BE length L | u32 BE CRC-32C(length bytes || payload) | payload (L bytes)
//
// For example the payload "hello" is framed as
//
//	00 00 00 05  39 23 f9 b4  68 65 6c 6c 6f
//
// The caller has checked that 1 <= len(payload) <= MaxPayload.
func appendFrame(dst, payload []byte) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, payload...)
	crc := crc32.Update(0, castagnoli, dst[start:start+4])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.BigEndian.PutUint32(dst[start+4:], crc)
	return dst
}

// checkPayload returns an error if payload cannot be framed.
func checkPayload(payload []byte) error {
	if n := len(payload); n < 1 || n > MaxPayload {
		return fmt.Errorf("storage: payload of %d bytes, want 1 to %d", n, MaxPayload)
	}
	return nil
}

// SegmentName returns the file name of the segment whose first payload has
// sequence number firstSeq: 16 lowercase hex digits and ".seg", so that
// names sort lexically in sequence order.
func SegmentName(firstSeq uint64) string {
	return fmt.Sprintf("%016x%s", firstSeq, segSuffix)
}

// parseSegmentName parses a name ending in ".seg". It accepts exactly the
// names SegmentName produces.
func parseSegmentName(name string) (uint64, error) {
	hex, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(name) != segNameLen {
		return 0, fmt.Errorf("storage: segment file name %q is not 16 lowercase hex digits and %q", name, segSuffix)
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return 0, fmt.Errorf("storage: segment file name %q is not 16 lowercase hex digits and %q", name, segSuffix)
		}
	}
	seq, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("storage: segment file name %q: %w", name, err)
	}
	return seq, nil
}
