package ledger_test

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// refreame recomputes the CRC of every frame of a segment image, so that a
// test can change record bytes without the framing noticing.
func refreame(t *testing.T, seg []byte) []byte {
	t.Helper()
	tab := crc32.MakeTable(crc32.Castagnoli)
	out := append([]byte(nil), seg...)
	for off := 16; off < len(out); {
		n := int(binary.BigEndian.Uint32(out[off:]))
		crc := crc32.Update(0, tab, out[off:off+4])
		crc = crc32.Update(crc, tab, out[off+8:off+8+n])
		binary.BigEndian.PutUint32(out[off+4:], crc)
		off += 8 + n
	}
	return out
}

// cutAfterFirstCheckpoint returns the segment image up to and including its
// first checkpoint record.
func cutAfterFirstCheckpoint(t *testing.T, seg []byte) []byte {
	t.Helper()
	for off := 16; off < len(seg); {
		n := int(binary.BigEndian.Uint32(seg[off:]))
		if seg[off+8+1] == 4 { // record kind byte: 4 = checkpoint
			return seg[:off+8+n]
		}
		off += 8 + n
	}
	t.Fatal("no checkpoint in segment")
	return nil
}
