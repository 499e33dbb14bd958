package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/storage"
)

// Build reads the closed segment file at path from its start and returns
// its index. It fails on a frame that does not pass its checks or a record
// that does not parse. It does not hash the records again: an index is
// never trusted, and a reader authenticates its leaf hashes against a
// signed checkpoint before it uses them (FORMAT.md §8.5), so a segment
// changed on disk gives an index that readers do not use, at no cost to the
// sealer, which indexes every segment it closes while it ingests.
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
		if n == reserveAfter {
			x.Leaves = bd.reserve(x.Leaves, r.Size())
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
		} else if rec.Seq != x.FirstSeq+uint64(n) {
			return nil, fmt.Errorf("index: %s at offset %d: record %d, want %d", x.Segment, off, rec.Seq, x.FirstSeq+uint64(n))
		}
		x.Records++
		x.LastOffset, x.LastHash, x.LastTime = off, rec.Hash, rec.TimeNano
		x.Leaves = append(x.Leaves, chain.LeafHash(rec.Hash))
		bd.record(off)
		eachKey(&rec, &bd.scan, bd.post)
	}
	if x.Records == 0 {
		return nil, fmt.Errorf("index: %s holds no records", x.Segment)
	}
	x.keys = bd.entries()
	return x, nil
}

// builder gathers the postings of a segment's keys as Build reads its
// records, in increasing sequence order. Its keys are in a hash table of
// its own: their bytes one after another in one buffer, found by their
// bytes with one hash, so that a new key costs no allocation of its own
// and the garbage collector has no pointers to follow. The postings are
// one log of (key, record) pairs, sorted by key with a counting sort and
// encoded into one buffer at the end.
type builder struct {
	names []byte     // the bytes of every key, one after another
	keys  []building // by id
	slots []uint32   // open addressing, linear probing: 1 + a key's id, 0 when free
	seed  maphash.Seed
	offs  []int64   // frame offset of each record, by seq - first_seq
	posts []posting // in record order
	key   []byte    // the key being looked up
	scan  idScan
	post  func(prefix string, v []byte) // bd.add, bound once
}

// building is a key and the number of its postings so far.
type building struct {
	start, end uint32 // its bytes in names
	hash       uint64
	n          uint32 // postings
	last       uint32 // 1 + the record of the last posting, 0 before the first
}

// posting lists record rec (its seq less first_seq) under key.
type posting struct{ key, rec uint32 }

// record starts the next record, whose frame is at off.
func (bd *builder) record(off int64) {
	if bd.post == nil {
		bd.seed = maphash.MakeSeed()
		bd.slots = make([]uint32, 1024)
		bd.post = bd.add
	}
	bd.offs = append(bd.offs, off)
}

// add lists the current record under the key prefix+v, once however many
// times the record holds the key.
func (bd *builder) add(prefix string, v []byte) {
	bd.key = append(append(bd.key[:0], prefix...), v...)
	id := bd.lookup(bd.key)
	rec := uint32(len(bd.offs) - 1)
	k := &bd.keys[id]
	if k.last == rec+1 {
		return // a duplicate key of this record
	}
	k.last = rec + 1
	k.n++
	bd.posts = append(bd.posts, posting{key: id, rec: rec})
}

// lookup returns the id of key, adding it if it is new.
func (bd *builder) lookup(key []byte) uint32 {
	h := maphash.Bytes(bd.seed, key)
	mask := uint64(len(bd.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := bd.slots[i]
		if s == 0 {
			id := uint32(len(bd.keys))
			start := uint32(len(bd.names))
			bd.names = append(bd.names, key...)
			bd.keys = append(bd.keys, building{start: start, end: uint32(len(bd.names)), hash: h})
			bd.slots[i] = id + 1
			if 2*len(bd.keys) > len(bd.slots) {
				bd.grow()
			}
			return id
		}
		if k := &bd.keys[s-1]; k.hash == h && string(bd.names[k.start:k.end]) == string(key) {
			return s - 1
		}
	}
}

// grow doubles the hash table.
func (bd *builder) grow() {
	bd.slots = make([]uint32, 2*len(bd.slots))
	mask := uint64(len(bd.slots) - 1)
	for id, k := range bd.keys {
		i := k.hash & mask
		for bd.slots[i] != 0 {
			i = (i + 1) & mask
		}
		bd.slots[i] = uint32(id) + 1
	}
}

// reserveAfter is the number of records after which Build sizes the
// per-record lists for the whole segment.
const reserveAfter = 1024

// reserve gives the lists that grow by a fixed amount per record (the
// frame offsets, the postings and leaves, the leaf hashes) the capacity
// the whole segment of size bytes needs, extrapolated from the records
// read so far, with a margin. The sealer indexes every segment it closes
// while it ingests: growing these lists by doubling copied and cleared
// each of them about twice and left up to half of them unused.
func (bd *builder) reserve(leaves []chain.Hash, size int64) []chain.Hash {
	n := len(bd.offs)
	if n == 0 || size <= 0 {
		return leaves
	}
	read := bd.offs[n-1] // the records before the last one
	if read <= 0 {
		return leaves
	}
	est := int(size/read*int64(n-1)) + int(size%read*int64(n-1)/read)
	est += est/16 + 64
	bd.offs = slices.Grow(bd.offs, est-n)
	bd.posts = slices.Grow(bd.posts, (len(bd.posts)*est/n)-len(bd.posts))
	return slices.Grow(leaves, est-len(leaves))
}

// name returns the bytes of key id.
func (bd *builder) name(id uint32) []byte {
	k := &bd.keys[id]
	return bd.names[k.start:k.end:k.end]
}

// entries returns the keys in order with their postings encoded as
// encodePostings encodes them, all in one buffer; the entries' names are
// slices of bd.names.
func (bd *builder) entries() []entry {
	// Where each key's records go in recs, in the order of bd.keys.
	start := make([]uint32, len(bd.keys))
	var total uint32
	for i, k := range bd.keys {
		start[i] = total
		total += k.n
	}
	recs := make([]uint32, total)
	next := slices.Clone(start)
	for _, p := range bd.posts { // in record order, so each key's records are in order
		recs[next[p.key]] = p.rec
		next[p.key]++
	}
	order := make([]uint32, len(bd.keys))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int { return bytes.Compare(bd.name(a), bd.name(b)) })
	// The first posting is relative to (first_seq, 0), each later one to
	// the posting before it; a record is its seq less first_seq.
	buf := make([]byte, 0, 4*int(total))
	ends := make([]int, len(order))
	for j, id := range order {
		k := bd.keys[id]
		prevRec, prevOff := uint32(0), int64(0)
		for _, rec := range recs[start[id] : start[id]+k.n] {
			buf = binary.AppendUvarint(buf, uint64(rec-prevRec))
			buf = binary.AppendUvarint(buf, uint64(bd.offs[rec]-prevOff))
			prevRec, prevOff = rec, bd.offs[rec]
		}
		ends[j] = len(buf)
	}
	out := make([]entry, len(order))
	from := 0
	for j, id := range order {
		out[j] = entry{name: bd.name(id), n: bd.keys[id].n, postings: buf[from:ends[j]:ends[j]]}
		from = ends[j]
	}
	return out
}

// Path returns the path of the index file of segment in dir.
func Path(dir, segment string) string { return filepath.Join(dir, FileName(segment)) }

// Load reads and parses the index file of segment in dir. A missing file
// (or segment) is an error matching fs.ErrNotExist; one of an earlier
// version matches ErrOutdated (a reader treats it as missing); a damaged
// one, or one larger than any index of the segment can be (4 × its size +
// 4096 bytes), matches ErrMalformed and is refused before it is read; a
// symbolic link or anything but a regular file is refused and never
// followed (storage.ErrNotRegular). Load does not compare the index with
// its segment: see Bind.
func Load(dir, segment string) (*Index, error) {
	seg, err := os.Lstat(filepath.Join(dir, segment))
	if err != nil {
		return nil, fmt.Errorf("index: segment of %s: %w", FileName(segment), err)
	}
	b, err := storage.ReadDataFile(Path(dir, segment), maxFileSize(seg.Size()))
	if errors.Is(err, storage.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
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
	_, err = x.WriteTo(f)
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
	for i := range built.Leaves {
		if file.Leaves[i] != built.Leaves[i] {
			return fmt.Sprintf("the leaf hash of record %d is not the record's", built.FirstSeq+uint64(i))
		}
	}
	i, j := 0, 0
	for i < len(file.keys) || j < len(built.keys) {
		switch {
		case j == len(built.keys) || i < len(file.keys) && string(file.keys[i].name) < string(built.keys[j].name):
			return fmt.Sprintf("key %q is not in the segment", file.keys[i].name)
		case i == len(file.keys) || string(built.keys[j].name) < string(file.keys[i].name):
			return fmt.Sprintf("key %q of the segment is missing (%d records)", built.keys[j].name, built.keys[j].n)
		case !bytes.Equal(file.keys[i].postings, built.keys[j].postings):
			if err := checkPostings(&file.keys[i], file.FirstSeq, file.FirstSeq+file.Records-1, file.LastOffset); err != nil {
				return fmt.Sprintf("key %q: malformed postings: %v", file.keys[i].name, err)
			}
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
