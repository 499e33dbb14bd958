package testkit

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/audit-sealer/audit-sealer/chain"
)

// This file is a second, independent implementation of the segment framing
// of FORMAT.md (the first is package storage): the tampering below must be
// able to write frames that are well formed, exactly as an attacker with a
// copy of the specification could.

const segmentHeaderSize = 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func hashOf(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// segmentFile is a segment read into memory: its header and its frame payloads.
type segmentFile struct {
	path   string
	header []byte
	frames [][]byte
}

func segmentNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".seg") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

func readSegment(path string) (*segmentFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < segmentHeaderSize {
		return nil, errors.New("testkit: short segment")
	}
	s := &segmentFile{path: path, header: data[:segmentHeaderSize]}
	for p := data[segmentHeaderSize:]; len(p) > 0; {
		if len(p) < 8 {
			return nil, errors.New("testkit: torn frame")
		}
		n := binary.BigEndian.Uint32(p)
		if uint32(len(p)-8) < n {
			return nil, errors.New("testkit: torn frame")
		}
		s.frames = append(s.frames, append([]byte(nil), p[8:8+n]...))
		p = p[8+n:]
	}
	return s, nil
}

// segmentHeader returns the 16-byte segment file header: magic, version
// 1, reserved.
func segmentHeader() []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32([]byte("ASEALSEG"), 1), 0)
}

// frame returns the framing of payload: length, CRC-32C of length and
// payload, payload.
func frame(payload []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	crc := crc32.Update(0, castagnoli, out)
	crc = crc32.Update(crc, castagnoli, payload)
	out = binary.BigEndian.AppendUint32(out, crc)
	return append(out, payload...)
}

func (s *segmentFile) bytes() []byte {
	out := append([]byte(nil), s.header...)
	for _, f := range s.frames {
		out = append(out, frame(f)...)
	}
	return out
}

func (s *segmentFile) write() error {
	os.Chmod(s.path, 0o600)
	return os.WriteFile(s.path, s.bytes(), 0o600)
}

// frameOffset returns the file offset of frame i.
func (s *segmentFile) frameOffset(i int) int64 {
	off := int64(segmentHeaderSize)
	for _, f := range s.frames[:i] {
		off += 8 + int64(len(f))
	}
	return off
}

// rehash recomputes the stored hash of frame i's record and then re-links
// every later record of the segment (prev_hash and hash), as an attacker who
// rewrites the rest of a segment would.
func (s *segmentFile) rehash(i int) error {
	var prev chain.Hash
	for j := i; j < len(s.frames); j++ {
		rec, err := chain.Decode(s.frames[j])
		if err != nil {
			return err
		}
		if j > i {
			rec.PrevHash = prev
		}
		enc, err := rec.Encode(nil)
		if err != nil {
			return err
		}
		s.frames[j] = enc
		prev = rec.Hash
	}
	return nil
}

// findFrame returns the index of the first frame in the segment whose record
// satisfies ok.
func (s *segmentFile) findFrame(ok func(*chain.Record) bool) int {
	for i, f := range s.frames {
		if rec, err := chain.Decode(f); err == nil && ok(&rec) {
			return i
		}
	}
	return -1
}

func segPath(dir string, names []string, i int) string {
	if i < 0 {
		i += len(names)
	}
	return filepath.Join(dir, names[i])
}
