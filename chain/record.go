package chain

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"time"
)

// HashSize is the size of every hash in the format (SHA-256).
const HashSize = 32

// Hash is a SHA-256 hash: a record hash, a Merkle node or root.
type Hash [HashSize]byte

// String returns the lowercase hex form of h.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// LogID identifies one log; it is chosen at random when the log is created
// and appears in every segment's first record and in the checkpoint origin.
type LogID [16]byte

// String returns the lowercase hex form of id.
func (id LogID) String() string { return hex.EncodeToString(id[:]) }

// Kind is the type of a record. Numbering starts at 1 so that a zero byte is
// never a valid record.
type Kind uint8

// The record kinds.
const (
	// KindSegmentStart opens every segment: it names the log and carries the
	// Merkle tree state (compact range) of all earlier records.
	KindSegmentStart Kind = 1
	// KindEvent is an audit event emitted by a service.
	KindEvent Kind = 2
	// KindSealerEvent is an event the sealer records about the log itself
	// (an audit.* type); only the sealer writes these.
	KindSealerEvent Kind = 3
	// KindCheckpoint holds a checkpoint signed by the log key: of all
	// earlier records, or of the records up to a seal-requested commit
	// (FORMAT.md §3.5).
	KindCheckpoint Kind = 4
	// KindCommit authenticates every record before it with the run key
	// that the sealer generated in memory when it started (FORMAT.md §3.6):
	// the sealer appends one to every group commit before the fdatasync
	// that makes the group durable.
	KindCommit Kind = 5
)

func (k Kind) String() string {
	switch k {
	case KindSegmentStart:
		return "segment_start"
	case KindEvent:
		return "event"
	case KindSealerEvent:
		return "sealer_event"
	case KindCheckpoint:
		return "checkpoint"
	case KindCommit:
		return "commit"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// RecordVersion is the version byte that starts every record.
const RecordVersion = 1

// SealerService is the service identity of records the sealer writes itself.
const SealerService = "audit-sealer"

// recordHashDomain prefixes the bytes of a record when its hash is computed,
// so that a record hash can never be confused with any other SHA-256 in the
// format (Merkle leaves and nodes start with 0x00 and 0x01).
const recordHashDomain = "audit-sealer record v1\n"

// headerSize is version, kind, seq, time and prev_hash.
const headerSize = 1 + 1 + 8 + 8 + HashSize

// Limits on variable fields, so that a parser never allocates without bound.
const (
	MaxServiceLen    = 256
	MaxAuditIDLen    = 128
	MaxTypeLen       = 128
	MaxEventLen      = 64 << 10
	MaxCheckpointLen = 16 << 10
	MaxTreeHashes    = 64
)

// Record is one entry of the chain. Byte slices of a decoded Record alias the
// buffer it was decoded from.
type Record struct {
	Kind     Kind
	Seq      uint64
	TimeNano int64 // the sealer's clock (Unix nanoseconds, UTC) when it wrote the record
	PrevHash Hash

	// KindSegmentStart.
	LogID     LogID
	TreeState []Hash // compact range of the Merkle tree over records [0, Seq)

	// KindEvent and KindSealerEvent.
	Service []byte // the emitting service's identity, set by the sealer
	AuditID []byte // AuditID(log, seq)
	Type    []byte // the event's dotted type name
	Event   []byte // the event's canonical JSON (package event)

	// KindCheckpoint.
	Checkpoint []byte // a signed note, see Checkpoint

	// KindCommit.
	Flags     CommitFlags
	Signature []byte // Ed25519 signature by the run key (CommitSignatureSize bytes), see SignCommit

	// Hash is the record's hash as stored; Decode does not check it.
	Hash Hash
}

// Time returns the record's time in UTC.
func (r *Record) Time() time.Time { return time.Unix(0, r.TimeNano).UTC() }

// Errors returned by Decode. Each decoding error wraps ErrMalformed.
var (
	ErrMalformed = errors.New("chain: malformed record")
)

// AuditID returns the audit_id of the record with sequence number seq in the
// log id: the first 8 bytes of the log ID in hex, a dash, and seq in decimal.
// It is unique across restarts because seq never repeats in a log.
func AuditID(id LogID, seq uint64) string {
	return hex.EncodeToString(id[:8]) + "-" + strconv.FormatUint(seq, 10)
}

// appendAuditID appends AuditID(id, seq) to dst without allocating.
func appendAuditID(dst []byte, id LogID, seq uint64) []byte {
	dst = hex.AppendEncode(dst, id[:8])
	dst = append(dst, '-')
	return strconv.AppendUint(dst, seq, 10)
}

// Encode appends the encoding of r, including its hash, to dst, and sets
// r.Hash. The encoding is (all integers big-endian):
//
//	u8 version (1) | u8 kind | u64 seq | i64 time | [32] prev_hash | body | [32] hash
//
// where body is, by kind:
//
//	segment_start:  [16] log_id | u8 n | n × [32] tree hash
//	event, sealer_event: u16 len | service | u16 len | audit_id | u16 len | type | u32 len | event
//	checkpoint:     u32 len | signed note
//	commit:         u8 flags | [64] run-key signature (SignCommit)
//
// and hash = SHA-256("audit-sealer record v1\n" || everything before it).
// Every field has a fixed size or a length prefix, so two different records
// never share an encoding.
func (r *Record) Encode(dst []byte) ([]byte, error) {
	if err := r.checkLimits(); err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, RecordVersion, byte(r.Kind))
	dst = binary.BigEndian.AppendUint64(dst, r.Seq)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.TimeNano))
	dst = append(dst, r.PrevHash[:]...)
	switch r.Kind {
	case KindSegmentStart:
		dst = append(dst, r.LogID[:]...)
		dst = append(dst, byte(len(r.TreeState)))
		for _, h := range r.TreeState {
			dst = append(dst, h[:]...)
		}
	case KindEvent, KindSealerEvent:
		dst = appendBytes16(dst, r.Service)
		dst = appendBytes16(dst, r.AuditID)
		dst = appendBytes16(dst, r.Type)
		dst = appendBytes32(dst, r.Event)
	case KindCheckpoint:
		dst = appendBytes32(dst, r.Checkpoint)
	case KindCommit:
		dst = append(dst, byte(r.Flags))
		dst = append(dst, r.Signature...)
	}
	r.Hash = hashRecordBytes(dst[start:])
	return append(dst, r.Hash[:]...), nil
}

func (r *Record) checkLimits() error {
	switch r.Kind {
	case KindSegmentStart:
		if len(r.TreeState) > MaxTreeHashes {
			return fmt.Errorf("chain: tree state of %d hashes", len(r.TreeState))
		}
	case KindEvent, KindSealerEvent:
		switch {
		case len(r.Service) == 0 || len(r.Service) > MaxServiceLen:
			return fmt.Errorf("chain: service identity of %d bytes", len(r.Service))
		case len(r.AuditID) == 0 || len(r.AuditID) > MaxAuditIDLen:
			return fmt.Errorf("chain: audit_id of %d bytes", len(r.AuditID))
		case len(r.Type) == 0 || len(r.Type) > MaxTypeLen:
			return fmt.Errorf("chain: event type of %d bytes", len(r.Type))
		case len(r.Event) == 0 || len(r.Event) > MaxEventLen:
			return fmt.Errorf("chain: event of %d bytes", len(r.Event))
		}
	case KindCheckpoint:
		if len(r.Checkpoint) == 0 || len(r.Checkpoint) > MaxCheckpointLen {
			return fmt.Errorf("chain: checkpoint of %d bytes", len(r.Checkpoint))
		}
	case KindCommit:
		if r.Flags&^knownCommitFlags != 0 {
			return fmt.Errorf("chain: commit flags %#02x", byte(r.Flags))
		}
		if len(r.Signature) != CommitSignatureSize {
			return fmt.Errorf("chain: commit signature of %d bytes", len(r.Signature))
		}
	default:
		return fmt.Errorf("chain: cannot encode record of %v", r.Kind)
	}
	return nil
}

func appendBytes16(dst, b []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(b)))
	return append(dst, b...)
}

func appendBytes32(dst, b []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

// Decode parses an encoded record. It checks the structure (version, kind,
// lengths, no trailing bytes) but not the hash: see Hasher.Check.
func Decode(b []byte) (Record, error) {
	var r Record
	if len(b) < headerSize+HashSize {
		return r, fmt.Errorf("%w: %d bytes is too short", ErrMalformed, len(b))
	}
	if b[0] != RecordVersion {
		return r, fmt.Errorf("%w: version %d", ErrMalformed, b[0])
	}
	r.Kind = Kind(b[1])
	r.Seq = binary.BigEndian.Uint64(b[2:])
	r.TimeNano = int64(binary.BigEndian.Uint64(b[10:]))
	copy(r.PrevHash[:], b[18:50])
	body := b[headerSize : len(b)-HashSize]
	copy(r.Hash[:], b[len(b)-HashSize:])
	d := decoder{b: body}
	switch r.Kind {
	case KindSegmentStart:
		copy(r.LogID[:], d.fixed(16))
		n := int(d.u8())
		if n > MaxTreeHashes {
			return r, fmt.Errorf("%w: tree state of %d hashes", ErrMalformed, n)
		}
		raw := d.fixed(n * HashSize)
		if d.err == nil {
			r.TreeState = make([]Hash, n)
			for i := range r.TreeState {
				copy(r.TreeState[i][:], raw[i*HashSize:])
			}
		}
	case KindEvent, KindSealerEvent:
		r.Service = d.bytes16(MaxServiceLen)
		r.AuditID = d.bytes16(MaxAuditIDLen)
		r.Type = d.bytes16(MaxTypeLen)
		r.Event = d.bytes32(MaxEventLen)
	case KindCheckpoint:
		r.Checkpoint = d.bytes32(MaxCheckpointLen)
	case KindCommit:
		r.Flags = CommitFlags(d.u8())
		r.Signature = d.fixed(CommitSignatureSize)
		if d.err == nil && r.Flags&^knownCommitFlags != 0 {
			d.err = fmt.Errorf("unknown flags %#02x", byte(r.Flags))
		}
	default:
		return r, fmt.Errorf("%w: unknown kind %d", ErrMalformed, b[1])
	}
	if d.err != nil {
		return r, fmt.Errorf("%w: %v: %v", ErrMalformed, r.Kind, d.err)
	}
	if len(d.b) != 0 {
		return r, fmt.Errorf("%w: %v: %d trailing bytes", ErrMalformed, r.Kind, len(d.b))
	}
	return r, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fixed(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.err = errors.New("truncated field")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() byte {
	v := d.fixed(1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (d *decoder) bytes16(max int) []byte {
	l := d.fixed(2)
	if l == nil {
		return nil
	}
	return d.field(int(binary.BigEndian.Uint16(l)), max)
}

func (d *decoder) bytes32(max int) []byte {
	l := d.fixed(4)
	if l == nil {
		return nil
	}
	return d.field(int(binary.BigEndian.Uint32(l)), max)
}

func (d *decoder) field(n, max int) []byte {
	if n == 0 || n > max {
		if d.err == nil {
			d.err = fmt.Errorf("field length %d out of range 1..%d", n, max)
		}
		return nil
	}
	return d.fixed(n)
}

// Hasher computes record hashes. It keeps its SHA-256 state and output
// buffer between calls, so one Hasher per goroutine hashes without
// allocating. A Hasher is not safe for concurrent use.
type Hasher struct {
	h   hash.Hash
	sum [HashSize]byte
}

// domain is recordHashDomain as bytes, converted once.
var domain = []byte(recordHashDomain)

// NewHasher returns a Hasher.
func NewHasher() *Hasher { return &Hasher{h: sha256.New()} }

// Hash returns the hash of an encoded record (all of it but the stored hash).
func (x *Hasher) Hash(encoded []byte) Hash {
	if len(encoded) < HashSize {
		return Hash{}
	}
	x.h.Reset()
	x.h.Write(domain)
	x.h.Write(encoded[:len(encoded)-HashSize])
	x.h.Sum(x.sum[:0])
	return x.sum
}

// Check reports whether the hash stored at the end of an encoded record is
// the hash of the rest of it.
func (x *Hasher) Check(encoded []byte) bool {
	if len(encoded) < HashSize {
		return false
	}
	h := x.Hash(encoded)
	return Hash(encoded[len(encoded)-HashSize:]) == h
}

func hashRecordBytes(b []byte) Hash {
	h := sha256.New()
	h.Write([]byte(recordHashDomain))
	h.Write(b)
	var out Hash
	h.Sum(out[:0])
	return out
}

// CheckAuditID reports whether r.AuditID is AuditID(id, r.Seq).
func (r *Record) CheckAuditID(id LogID) bool {
	var buf [64]byte
	want := appendAuditID(buf[:0], id, r.Seq)
	return string(want) == string(r.AuditID)
}
