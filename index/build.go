package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/storage"
)

// Build reads the closed segment file at path from its start and returns
// its index. It fails on any damage to the segment: an index is built only
// from frames that pass their checks.
func Build(ctx context.Context, path string) (*Index, error) {
	r, err := storage.OpenSegment(path, false)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	defer r.Close()
	x := &Index{Segment: filepath.Base(path)}
	var bd builder
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p, off, err := r.Next()
		if err == io.EOF {
			x.Size = off
			break
		}
		if err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
		rec, err := chain.Decode(p)
		if err != nil {
			return nil, fmt.Errorf("index: %s at offset %d: %w", x.Segment, off, err)
		}
		if n == 0 {
			x.FirstSeq, x.FirstTime = rec.Seq, rec.TimeNano
			bd.init(rec.Seq)
		} else if rec.Seq != x.FirstSeq+uint64(n) {
			return nil, fmt.Errorf("index: %s at offset %d: record %d, want %d", x.Segment, off, rec.Seq, x.FirstSeq+uint64(n))
		}
		x.Records++
		x.LastOffset, x.LastHash, x.LastTime = off, rec.Hash, rec.TimeNano
		bd.seq, bd.off = rec.Seq, off
		eachKey(&rec, &bd.scan, bd.post)
	}
	if x.Records == 0 {
		return nil, fmt.Errorf("index: %s holds no records", x.Segment)
	}
	slices.SortFunc(bd.keys, func(a, b building) int { return strings.Compare(a.name, b.name) })
	x.keys = make([]entry, len(bd.keys))
	for i, k := range bd.keys {
		x.keys[i] = entry{name: []byte(k.name), n: k.n, postings: k.postings}
	}
	return x, nil
}

// builder gathers the postings of a segment's keys as Build reads its
// records, in increasing sequence order. It keeps each key's postings
// encoded as the file holds them, looks a key up by its bytes without
// building a string, and reuses its buffers from record to record, so
// that a record whose keys are all known allocates nothing.
type builder struct {
	ids  map[string]int // key -> index in keys
	keys []building
	key  []byte // the key being looked up
	scan idScan
	post func(prefix string, v []byte) // add, bound once

	seq uint64 // the record being read
	off int64  // its frame's offset
}

// building is a key and its postings so far.
type building struct {
	name     string
	n        uint32 // postings
	seq      uint64 // the last posting, or (first_seq, 0) before the first
	off      int64
	postings []byte // encoded as encodePostings does
}

// init prepares bd for a segment that starts at firstSeq.
func (bd *builder) init(firstSeq uint64) {
	bd.ids = map[string]int{}
	bd.post = func(prefix string, v []byte) { bd.add(firstSeq, prefix, v) }
}

// add lists the current record under the key prefix+v, once however many
// times the record holds the key.
func (bd *builder) add(firstSeq uint64, prefix string, v []byte) {
	bd.key = append(append(bd.key[:0], prefix...), v...)
	i, ok := bd.ids[string(bd.key)] // does not allocate
	if !ok {
		name := string(bd.key)
		i = len(bd.keys)
		bd.ids[name] = i
		bd.keys = append(bd.keys, building{name: name, seq: firstSeq})
	}
	k := &bd.keys[i]
	if k.n > 0 && k.seq == bd.seq {
		return // a duplicate key of this record
	}
	k.postings = binary.AppendUvarint(k.postings, bd.seq-k.seq)
	k.postings = binary.AppendUvarint(k.postings, uint64(bd.off-k.off))
	k.n++
	k.seq, k.off = bd.seq, bd.off
}

// Path returns the path of the index file of segment in dir.
func Path(dir, segment string) string { return filepath.Join(dir, FileName(segment)) }

// Load reads and parses the index file of segment in dir. A missing file
// is an error matching fs.ErrNotExist; a damaged one matches ErrMalformed.
// Load does not compare the index with its segment: see Bind.
func Load(dir, segment string) (*Index, error) {
	b, err := os.ReadFile(Path(dir, segment))
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	x, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, FileName(segment))
	}
	return x, nil
}

// Bind checks that x describes the segment that r reads, as it is: the
// name, first sequence number and size are the segment's, and the frame
// at x.LastOffset is a good frame that ends the file and holds the
// record x.FirstSeq+x.Records-1 with hash x.LastHash. That hash commits,
// through the chain of prev_hash, to every earlier record of the segment.
// Any difference is an error matching ErrStale.
func (x *Index) Bind(r *storage.FrameReader, seg storage.SegmentInfo) error {
	stale := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrStale, FileName(seg.Name), fmt.Sprintf(format, args...))
	}
	if x.Segment != seg.Name || x.FirstSeq != seg.FirstSeq {
		return stale("describes %s from seq %d", x.Segment, x.FirstSeq)
	}
	if x.Size != r.Size() {
		return stale("describes %d bytes, the segment has %d", x.Size, r.Size())
	}
	p, end, err := r.FrameAt(x.LastOffset)
	if err != nil {
		return stale("no good last frame at offset %d: %v", x.LastOffset, err)
	}
	if end != x.Size {
		return stale("the frame at offset %d is not the last", x.LastOffset)
	}
	rec, err := chain.Decode(p)
	if err != nil {
		return stale("last frame: %v", err)
	}
	if rec.Seq != x.FirstSeq+x.Records-1 || rec.Hash != x.LastHash {
		return stale("the last record is %d with hash %s, the index names %d with hash %s",
			rec.Seq, rec.Hash, x.FirstSeq+x.Records-1, x.LastHash)
	}
	return nil
}

// Write writes x as the index file of its segment in dir, atomically: a
// temporary file in dir, written, fsynced and made read-only, then renamed
// over any older index and the directory fsynced. A crash leaves either
// the old file or the new one, and at worst a temporary file
// (".<name>.*.tmp") that every reader ignores.
func Write(dir string, x *Index) error {
	name := FileName(x.Segment)
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("index: write %s: %w", name, err)
	}
	tmp := f.Name()
	_, err = f.Write(x.Encode())
	if err == nil {
		err = f.Chmod(0o400)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("index: write %s: %w", name, err)
	}
	return syncDir(dir)
}

// Remove deletes the index file of segment in dir, if there is one. The
// caller fsyncs the directory.
func Remove(dir, segment string) error {
	if err := os.Remove(Path(dir, segment)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// Check rebuilds the index of the closed segment seg in dir from the
// segment and compares it with the file. It returns nil when they are
// identical; an error matching ErrMismatch that names the first key that
// differs (an index that omits a record, lists one it should not, or
// points elsewhere); or the error of Load or Build.
func Check(ctx context.Context, dir string, seg storage.SegmentInfo) error {
	file, err := Load(dir, seg.Name)
	if err != nil {
		return err
	}
	built, err := Build(ctx, filepath.Join(dir, seg.Name))
	if err != nil {
		return err
	}
	if bytes.Equal(file.Encode(), built.Encode()) {
		return nil
	}
	return fmt.Errorf("%w: %s: %s", ErrMismatch, FileName(seg.Name), diff(file, built))
}

// diff describes the first difference between an index file and the index
// rebuilt from the segment.
func diff(file, built *Index) string {
	if file.Segment != built.Segment || file.FirstSeq != built.FirstSeq || file.Records != built.Records ||
		file.Size != built.Size || file.LastOffset != built.LastOffset || file.LastHash != built.LastHash ||
		file.FirstTime != built.FirstTime || file.LastTime != built.LastTime {
		return "the header does not describe the segment"
	}
	i, j := 0, 0
	for i < len(file.keys) || j < len(built.keys) {
		switch {
		case j == len(built.keys) || i < len(file.keys) && string(file.keys[i].name) < string(built.keys[j].name):
			return fmt.Sprintf("key %q is not in the segment", file.keys[i].name)
		case i == len(file.keys) || string(built.keys[j].name) < string(file.keys[i].name):
			return fmt.Sprintf("key %q of the segment is missing (%d records)", built.keys[j].name, built.keys[j].n)
		case !bytes.Equal(file.keys[i].postings, built.keys[j].postings):
			fp, bp := file.keys[i].decode(file.FirstSeq), built.keys[j].decode(built.FirstSeq)
			for k := range bp {
				if k == len(fp) || fp[k] != bp[k] {
					return fmt.Sprintf("key %q: the index omits or misplaces record %d", built.keys[j].name, bp[k].Seq)
				}
			}
			return fmt.Sprintf("key %q: the index lists record %d, which does not hold it", file.keys[i].name, fp[len(bp)].Seq)
		}
		i++
		j++
	}
	return "the files differ"
}

// syncDir fsyncs the directory dir.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("index: sync directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("index: sync directory %s: %w", dir, err)
	}
	return nil
}
