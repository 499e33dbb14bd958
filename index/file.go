package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/storage"
)

const (
	// magic opens every index file.
	magic = "ASEALIDX"
	// Version is the index file format version. Version 2 added the
	// records' Merkle leaf hashes; a file of version 1 is outdated
	// (ErrOutdated): readers treat it as missing, Update rewrites it.
	Version = 2
	// suffix ends every index file name.
	suffix = ".idx"
	// maxKeyLen bounds a key: "entity:" and an identifier of at most 256
	// bytes in EVENTS.md, with room to spare.
	maxKeyLen = 4096
)

// Errors of the index, for errors.Is.
var (
	// ErrMalformed: the file is not a well-formed index file (short,
	// wrong magic or version, bad checksum, a field out of range, a
	// non-canonical encoding).
	ErrMalformed = errors.New("index: malformed index file")
	// ErrStale: the file is well formed but does not describe the segment
	// as it is (another name, first sequence number, size or last record).
	ErrStale = errors.New("index: index does not match its segment")
	// ErrMismatch: the file differs from the index rebuilt from its
	// segment (Check), for example it omits a record.
	ErrMismatch = errors.New("index: index differs from its segment's content")
	// ErrOutdated: the file is an index of an earlier version (1, without
	// leaf hashes). Readers treat it as missing; Update rewrites it.
	ErrOutdated = errors.New("index: index file of an earlier version")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// kinds are the key prefixes, in the order a key's kind is checked.
var kinds = []string{"entity:", "service:", "type:", "user:"}

// FileName returns the name of the index file of a segment file:
// "00000000000003e8.seg" has "00000000000003e8.idx".
func FileName(segment string) string {
	return strings.TrimSuffix(segment, ".seg") + suffix
}

// Posting is one record a key occurs in: its sequence number and the
// offset of its frame in the segment file.
type Posting struct {
	Seq    uint64
	Offset int64
}

// Index is the index of one segment.
type Index struct {
	Segment    string     // the segment's file name
	FirstSeq   uint64     // sequence number of its first record
	Records    uint64     // number of records (frames) in the segment
	Size       int64      // the segment file's size in bytes
	LastOffset int64      // offset of the last frame
	LastHash   chain.Hash // hash of the last record
	FirstTime  int64      // time of the first record, Unix nanoseconds
	LastTime   int64      // time of the last record, Unix nanoseconds
	// Leaves are the Merkle leaf hashes (chain.LeafHash of the record
	// hash) of the segment's records in order, Records of them. Like
	// everything in an index they are not trusted: a reader uses them
	// only once their root matches a checkpoint it trusts (package
	// verify), and checks every record it reads against its leaf.
	Leaves []chain.Hash

	keys []entry // sorted by name
	// damaged is the first malformed list of postings Lookup met (Parse
	// checks the key table, Lookup the postings it is asked for).
	damaged error
}

// entry is one key and its encoded postings.
type entry struct {
	name     []byte
	n        uint32 // number of postings
	postings []byte // encoded, n pairs of uvarints
}

// Len returns the number of keys.
func (x *Index) Len() int { return len(x.keys) }

// Lookup returns the postings of key in sequence order, or nil. The
// postings are checked here, not by Parse (a query reads the postings of
// a few keys of thousands; checking them all at every load cost two thirds
// of it): a malformed list gives nil and is reported by Err, after which
// the index must not be used.
func (x *Index) Lookup(key string) []Posting {
	i := sort.Search(len(x.keys), func(i int) bool { return string(x.keys[i].name) >= key })
	if i == len(x.keys) || string(x.keys[i].name) != key {
		return nil
	}
	e := &x.keys[i]
	if err := checkPostings(e, x.FirstSeq, x.FirstSeq+x.Records-1, x.LastOffset); err != nil {
		if x.damaged == nil {
			x.damaged = fmt.Errorf("%w: key %q: %v", ErrMalformed, e.name, err)
		}
		return nil
	}
	return e.decode(x.FirstSeq)
}

// Err returns the first malformed list of postings a Lookup met, or nil.
// An index with one is damaged: a reader ignores it and reads the segment.
func (x *Index) Err() error { return x.damaged }

// KeysWithPrefix returns the keys that start with prefix, in order.
func (x *Index) KeysWithPrefix(prefix string) []string {
	i := sort.Search(len(x.keys), func(i int) bool { return string(x.keys[i].name) >= prefix })
	var out []string
	for ; i < len(x.keys) && bytes.HasPrefix(x.keys[i].name, []byte(prefix)); i++ {
		out = append(out, string(x.keys[i].name))
	}
	return out
}

// decode returns the postings of an entry that checkPostings accepted or
// encodePostings wrote; on any other it may panic.
func (e *entry) decode(firstSeq uint64) []Posting {
	out := make([]Posting, 0, e.n)
	seq, off := firstSeq, int64(0)
	for b := e.postings; len(b) > 0; {
		ds, n := binary.Uvarint(b)
		do, m := binary.Uvarint(b[n:])
		b = b[n+m:]
		seq += ds
		off += int64(do)
		out = append(out, Posting{Seq: seq, Offset: off})
	}
	return out
}

// encodePostings encodes postings in sequence order as deltas: the first
// from (first_seq, 0), every later one from the posting before it.
func encodePostings(firstSeq uint64, ps []Posting) []byte {
	var b []byte
	seq, off := firstSeq, int64(0)
	for _, p := range ps {
		b = binary.AppendUvarint(b, p.Seq-seq)
		b = binary.AppendUvarint(b, uint64(p.Offset-off))
		seq, off = p.Seq, p.Offset
	}
	return b
}

// Encode returns the index file:
//
//	41 53 45 41 4c 49 44 58  "ASEALIDX"
//	00 00 00 02              version 2
//	00 14 "0000000000000000.seg"
//	first_seq, records, size, last offset (u64 each), last hash (32 bytes),
//	first and last record time (i64 each), key count (u32)
//	per key: u16 length, key, u32 postings, u32 bytes, postings
//	leaves: records × 32 bytes, the leaf hash of each record in order
//	CRC-32C of all of the above (u32)
func (x *Index) Encode() []byte {
	var b bytes.Buffer
	b.Grow(128 + x.encodedKeysLen() + len(x.Leaves)*chain.HashSize)
	x.WriteTo(&b) // a bytes.Buffer takes every write
	return b.Bytes()
}

// WriteTo writes the index file, as Encode returns it, to w through a
// buffer of its own, so that the index of a large segment (a tenth of the
// segment's size, most of it leaf hashes) is written without a copy of the
// whole file in memory: the sealer writes one for every segment it closes
// while it ingests.
func (x *Index) WriteTo(w io.Writer) (int64, error) {
	const chunk = 64 << 10
	var (
		b   = make([]byte, 0, chunk)
		crc uint32
		n   int64
		err error
	)
	flush := func() {
		if err != nil || len(b) == 0 {
			return
		}
		crc = crc32.Update(crc, castagnoli, b)
		var k int
		k, err = w.Write(b)
		n += int64(k)
		b = b[:0]
	}
	put := func(p []byte) {
		if len(b)+len(p) > chunk {
			flush()
		}
		if len(p) > chunk/2 {
			b = append(b, p...)
			flush()
			return
		}
		b = append(b, p...)
	}
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint32(b, Version)
	b = binary.BigEndian.AppendUint16(b, uint16(len(x.Segment)))
	b = append(b, x.Segment...)
	b = binary.BigEndian.AppendUint64(b, x.FirstSeq)
	b = binary.BigEndian.AppendUint64(b, x.Records)
	b = binary.BigEndian.AppendUint64(b, uint64(x.Size))
	b = binary.BigEndian.AppendUint64(b, uint64(x.LastOffset))
	b = append(b, x.LastHash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(x.FirstTime))
	b = binary.BigEndian.AppendUint64(b, uint64(x.LastTime))
	b = binary.BigEndian.AppendUint32(b, uint32(len(x.keys)))
	var head [10]byte
	for _, e := range x.keys {
		put(binary.BigEndian.AppendUint16(head[:0], uint16(len(e.name))))
		put(e.name)
		put(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(head[:0], e.n), uint32(len(e.postings))))
		put(e.postings)
	}
	for i := range x.Leaves {
		put(x.Leaves[i][:])
	}
	flush()
	if err != nil {
		return n, err
	}
	k, err := w.Write(binary.BigEndian.AppendUint32(head[:0], crc))
	return n + int64(k), err
}

func (x *Index) encodedKeysLen() int {
	n := 0
	for _, e := range x.keys {
		n += 10 + len(e.name) + len(e.postings)
	}
	return n
}

// maxFileSize returns the size no index file of a segment of segSize
// bytes can exceed (FORMAT.md §8.1): 4 × segSize + 4096. Load refuses a
// larger file before reading it, so a huge or sparse file planted in the
// data directory costs a reader nothing.
//
// Every byte of an index but its header and checksum (122 bytes with a
// segment name of 20) belongs to a key entry, a posting or a leaf hash.
// Each record has one leaf hash of 32 bytes, and every frame takes at
// least 90 bytes (framing, kind, sequence number, time and two hashes):
// a record without keys adds less than its frame. A posting names
// one record under one key, and each key of a record comes from its own
// field of that record: the type, the service, or one string member of the
// event JSON (a member gives at most one key; a record's duplicate keys
// give one posting). A posting is two uvarints of at most 10 bytes each;
// at worst (a key found in one record only) its entry comes with it: 10
// bytes of lengths and counts, a prefix of at most 8 bytes and the value v.
// That is at most 38+|v| bytes, never more than 4 times what the field
// takes in the frame: the type and service share the frame's 100 fixed
// bytes (framing, kind, sequence number, time, hashes, lengths), whose
// four times also pay for the record's leaf hash (76+32 < 400); a member
// takes at least `"_id":"v"` and a comma or brace, 9+|v| bytes (a value
// decodes to at most 3 bytes per encoded byte, an invalid byte to U+FFFD,
// and 37+3k <= 4×(9+k) for k >= 1). Frames do not overlap, so the entries,
// postings and leaf hashes of a segment of S bytes take at most 4×S bytes.
// Real indexes take about 4 % of their segment, plus 32 bytes a record.
func maxFileSize(segSize int64) int64 {
	const slack = 4096 // the header and checksum, with room to spare
	if segSize <= 0 {
		return slack
	}
	if segSize > (math.MaxInt64-slack)/4 {
		return math.MaxInt64
	}
	return 4*segSize + slack
}

// Parse parses an index file. It is strict: it checks the checksum, every
// length, that keys are known kinds, sorted and unique, that every posting
// lies inside the segment in increasing order, that there is one leaf
// hash per record and nothing after them, and that every number has its
// one canonical encoding, so that Encode gives back exactly b. It
// allocates little beyond the key table; the keys and the leaf hashes
// alias b. A file of version 1 is refused with ErrOutdated.
func Parse(b []byte) (*Index, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	if len(b) < len(magic)+4+4 {
		return nil, bad("%d bytes is too short", len(b))
	}
	if string(b[:len(magic)]) != magic {
		return nil, bad("magic %q, want %q", b[:len(magic)], magic)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, bad("checksum %08x, stored %08x", got, sum)
	}
	d := reader{b: body[len(magic):]}
	if v := d.u32(); d.ok() && v != Version {
		if v == 1 {
			return nil, fmt.Errorf("%w: version 1, without leaf hashes (audit-sealer index build rewrites it)", ErrOutdated)
		}
		return nil, bad("version %d, want %d", v, Version)
	}
	x := &Index{}
	x.Segment = string(d.bytes(int(d.u16())))
	x.FirstSeq = d.u64()
	x.Records = d.u64()
	x.Size = int64(d.u64())
	x.LastOffset = int64(d.u64())
	copy(x.LastHash[:], d.bytes(chain.HashSize))
	x.FirstTime = int64(d.u64())
	x.LastTime = int64(d.u64())
	nkeys := d.u32()
	if !d.ok() {
		return nil, bad("header is truncated")
	}
	if !strings.HasSuffix(x.Segment, ".seg") || strings.ContainsAny(x.Segment, "/\\\x00") {
		return nil, bad("segment name %q", x.Segment)
	}
	if x.Records == 0 || x.FirstSeq+x.Records < x.FirstSeq || x.Size < 0 || x.LastOffset < storage.SegmentHeaderSize || x.LastOffset >= x.Size {
		return nil, bad("segment of %d records from seq %d, %d bytes, last frame at %d", x.Records, x.FirstSeq, x.Size, x.LastOffset)
	}
	if x.LastTime < x.FirstTime {
		return nil, bad("last record time before the first")
	}
	// Every key takes at least 13 bytes, which bounds the table before it
	// is allocated.
	if uint64(nkeys)*13 > uint64(len(d.b)) {
		return nil, bad("%d keys in %d bytes", nkeys, len(d.b))
	}
	x.keys = make([]entry, 0, nkeys)
	for i := uint32(0); i < nkeys; i++ {
		var e entry
		e.name = d.bytes(int(d.u16()))
		e.n = d.u32()
		e.postings = d.bytes(int(d.u32()))
		if !d.ok() {
			return nil, bad("key %d is truncated", i)
		}
		if !validKey(e.name) {
			return nil, bad("key %q", e.name)
		}
		if i > 0 && bytes.Compare(x.keys[i-1].name, e.name) >= 0 {
			return nil, bad("key %q is out of order", e.name)
		}
		// The postings themselves are checked when looked up (Lookup):
		// here only that the list can hold n of them.
		if e.n == 0 || uint64(e.n)*2 > uint64(len(e.postings)) {
			return nil, bad("key %q: %d postings in %d bytes", e.name, e.n, len(e.postings))
		}
		x.keys = append(x.keys, e)
	}
	// The leaf hashes: exactly records of them, nothing after.
	if uint64(len(d.b))%chain.HashSize != 0 || uint64(len(d.b))/chain.HashSize != x.Records {
		return nil, bad("%d bytes of leaf hashes for %d records", len(d.b), x.Records)
	}
	// The leaves alias b, as the keys do: an index of a large segment
	// holds megabytes of them, read once. A chain.Hash is 32 bytes of
	// alignment 1, so the bytes are a []chain.Hash as they are.
	x.Leaves = unsafe.Slice((*chain.Hash)(unsafe.Pointer(unsafe.SliceData(d.b))), x.Records) // Records >= 1
	return x, nil
}

// validKey reports whether k is a known kind of key with a non-empty value.
func validKey(k []byte) bool {
	if len(k) > maxKeyLen {
		return false
	}
	for _, kind := range kinds {
		if v, ok := bytes.CutPrefix(k, []byte(kind)); ok {
			return len(v) > 0
		}
	}
	return false
}

// checkPostings checks that e holds e.n postings in shortest-form uvarints,
// with sequence numbers in [firstSeq, lastSeq] and offsets in
// [storage.SegmentHeaderSize, lastOffset], both strictly increasing.
func checkPostings(e *entry, firstSeq, lastSeq uint64, lastOffset int64) error {
	if e.n == 0 {
		return errors.New("no postings")
	}
	if uint64(e.n)*2 > uint64(len(e.postings)) {
		return fmt.Errorf("%d postings in %d bytes", e.n, len(e.postings))
	}
	seq, off := firstSeq, uint64(0)
	b := e.postings
	for i := uint32(0); i < e.n; i++ {
		ds, n := uvarint(b)
		if n <= 0 {
			return fmt.Errorf("posting %d: bad uvarint", i)
		}
		do, m := uvarint(b[n:])
		if m <= 0 {
			return fmt.Errorf("posting %d: bad uvarint", i)
		}
		b = b[n+m:]
		if i > 0 && (ds == 0 || do == 0) {
			return fmt.Errorf("posting %d does not increase", i)
		}
		if ds > lastSeq-seq || do > uint64(lastOffset)-off {
			return fmt.Errorf("posting %d lies outside the segment", i)
		}
		seq += ds
		off += do
		if off < storage.SegmentHeaderSize {
			return fmt.Errorf("posting %d: offset %d is inside the segment header", i, off)
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("%d bytes after the last posting", len(b))
	}
	return nil
}

// uvarint decodes a uvarint in its shortest form; n <= 0 otherwise.
func uvarint(b []byte) (uint64, int) {
	v, n := binary.Uvarint(b)
	if n <= 0 || n > 1 && b[n-1] == 0 { // a last byte of 0 adds nothing: not the shortest form
		return 0, -1
	}
	return v, n
}

// reader reads big-endian fields; after the first short read every field
// is zero and ok reports false.
type reader struct {
	b     []byte
	short bool
}

func (r *reader) ok() bool { return !r.short }

func (r *reader) bytes(n int) []byte {
	if r.short || n > len(r.b) {
		r.short = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u16() uint16 {
	if b := r.bytes(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.bytes(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// New returns the index with the header fields and leaf hashes of hdr and
// the given postings per key (each in sequence order), checked as Parse
// checks a file; leaf hashes hdr lacks (one per record) are zero, and
// those past its Records are dropped. Build is the way to index a segment;
// New lets a caller (a test, a tool) write any index, for example one that
// omits a record.
func New(hdr Index, postings map[string][]Posting) (*Index, error) {
	x := hdr
	x.keys, x.damaged = nil, nil
	if x.Records > 1<<24 {
		return nil, fmt.Errorf("%w: %d records", ErrMalformed, x.Records)
	}
	x.Leaves = make([]chain.Hash, x.Records)
	copy(x.Leaves, hdr.Leaves)
	names := make([]string, 0, len(postings))
	for k := range postings {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		ps := postings[k]
		for i, p := range ps {
			if p.Seq < x.FirstSeq || p.Offset < 0 || i > 0 && (p.Seq <= ps[i-1].Seq || p.Offset <= ps[i-1].Offset) {
				return nil, fmt.Errorf("%w: key %q: postings out of order or range", ErrMalformed, k)
			}
		}
		x.keys = append(x.keys, entry{name: []byte(k), n: uint32(len(ps)), postings: encodePostings(x.FirstSeq, ps)})
	}
	return Parse(x.Encode())
}

// Keys returns every key of the index, in order.
func (x *Index) Keys() []string {
	out := make([]string, len(x.keys))
	for i, e := range x.keys {
		out[i] = string(e.name)
	}
	return out
}
