package export

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/storage"
)

// A cursor file says how far an export delivered (export --cursor-file,
// like journalctl --cursor-file). It holds one JSON object:
//
//	{"version":1,"origin":"audit-sealer/<log id>","seq":N,"audit_id":"…",
//	 "checkpoint":{"seq":M,"size":S,"root":"<base64>"},"in_flight":K,"written":"<RFC 3339>"}
//
// seq is the position: every record up to seq that the export's filters
// match was delivered and confirmed by the sink (seq is the last record
// delivered, or a later record the export read past because nothing after
// the last delivery matched); audit_id is that record's. checkpoint is a
// checkpoint record of the log that covers seq (its own sequence number,
// tree size and root hash), origin the log's checkpoint origin. in_flight,
// when not 0, says a batch ending at record K was being delivered and not
// confirmed when the file was written: the next run sends records seq+1 to
// K again, marked redelivered. The file is replaced atomically (a
// temporary file in the same directory, written, fsynced, renamed over it,
// the directory fsynced), before a batch is sent (to set in_flight) and
// after the sink confirms it.
type Cursor struct {
	Version    int           `json:"version"`
	Origin     string        `json:"origin"`
	Seq        uint64        `json:"seq"`
	AuditID    string        `json:"audit_id"`
	Checkpoint CheckpointRef `json:"checkpoint"`
	InFlight   uint64        `json:"in_flight,omitempty"`
	Written    time.Time     `json:"written"`
}

// CheckpointRef names a checkpoint record of a log.
type CheckpointRef struct {
	Seq  uint64     `json:"seq"`  // the checkpoint record's sequence number
	Size uint64     `json:"size"` // the tree size it signs: it covers records 0..Size-1
	Root chain.Hash `json:"root"`
}

// MarshalJSON writes the root in base64, as checkpoints do.
func (c CheckpointRef) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Seq  uint64 `json:"seq"`
		Size uint64 `json:"size"`
		Root string `json:"root"`
	}{c.Seq, c.Size, base64.StdEncoding.EncodeToString(c.Root[:])})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *CheckpointRef) UnmarshalJSON(b []byte) error {
	var v struct {
		Seq  uint64 `json:"seq"`
		Size uint64 `json:"size"`
		Root string `json:"root"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	root, err := base64.StdEncoding.DecodeString(v.Root)
	if err != nil || len(root) != chain.HashSize {
		return fmt.Errorf("checkpoint root %q: want %d bytes in base64", v.Root, chain.HashSize)
	}
	c.Seq, c.Size = v.Seq, v.Size
	copy(c.Root[:], root)
	return nil
}

// Errors about a cursor file. Each *CursorError wraps one of them.
var (
	// ErrCursorMalformed: the file is not a cursor this version writes.
	ErrCursorMalformed = errors.New("export: malformed cursor file")
	// ErrCursorForeign: the cursor was written for another log.
	ErrCursorForeign = errors.New("export: the cursor belongs to another log")
	// ErrCursorBeyond: the cursor names records the log does not hold
	// (a log restored from an older copy, or a cursor of a longer log).
	ErrCursorBeyond = errors.New("export: the cursor points beyond the log")
	// ErrCursorMismatch: the log holds another history than the one the
	// cursor was written for.
	ErrCursorMismatch = errors.New("export: the log does not hold the checkpoint the cursor names")
	// ErrCursorPruned: records after the cursor were pruned (retention)
	// before they were exported.
	ErrCursorPruned = errors.New("export: records after the cursor were pruned before they were exported")
	// ErrCursorBusy: another export holds the cursor file.
	ErrCursorBusy = errors.New("export: another export is using the cursor file")
)

// CursorError is an error about a cursor file.
type CursorError struct {
	File   string
	Err    error // one of the ErrCursor… sentinels
	Detail string
}

func (e *CursorError) Error() string {
	return fmt.Sprintf("%v: %s: %s", e.Err, e.File, e.Detail)
}

func (e *CursorError) Unwrap() error { return e.Err }

// maxCursorFile bounds what is read of a cursor file.
const maxCursorFile = 4096

// ReadCursor reads the cursor file at path; a file that does not exist is
// (nil, nil).
func ReadCursor(path string) (*Cursor, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("export: cursor file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCursorFile+1))
	if err != nil {
		return nil, fmt.Errorf("export: cursor file: %w", err)
	}
	bad := func(format string, args ...any) error {
		return &CursorError{File: path, Err: ErrCursorMalformed, Detail: fmt.Sprintf(format, args...)}
	}
	if len(data) > maxCursorFile {
		return nil, bad("larger than %d bytes", maxCursorFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Cursor
	if err := dec.Decode(&c); err != nil {
		return nil, bad("%v", err)
	}
	switch {
	case c.Version != 1:
		return nil, bad("version %d (this build reads version 1)", c.Version)
	case !strings.HasPrefix(c.Origin, chain.OriginPrefix):
		return nil, bad("origin %q is not an audit-sealer log's", c.Origin)
	case c.Checkpoint.Size <= c.Seq || c.Checkpoint.Seq < c.Checkpoint.Size:
		return nil, bad("checkpoint %d of size %d does not cover record %d", c.Checkpoint.Seq, c.Checkpoint.Size, c.Seq)
	case c.InFlight != 0 && c.InFlight <= c.Seq:
		return nil, bad("in_flight %d is not after seq %d", c.InFlight, c.Seq)
	}
	return &c, nil
}

// WriteCursor replaces the cursor file at path with c atomically: a
// temporary file in the same directory is written and fsynced, renamed
// over path, and the directory fsynced. A crash at any point leaves the
// old cursor or the new one, never a mix.
func WriteCursor(path string, c *Cursor) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("export: writing the cursor file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("export: writing the cursor file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("export: writing the cursor file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("export: writing the cursor file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("export: writing the cursor file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("export: writing the cursor file: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("export: writing the cursor file: fsync of %s: %w", dir, err)
	}
	return nil
}

// logOrigin returns the checkpoint origin of the log in dir (that of its
// first segment's segment_start), and its first segment.
func logOrigin(dir string) (string, *storage.SegmentInfo, error) {
	segs, err := storage.ListSegments(dir)
	if err != nil {
		return "", nil, fmt.Errorf("export: %w", err)
	}
	if len(segs) == 0 {
		return "", nil, fmt.Errorf("export: %s holds no log", dir)
	}
	r, err := storage.OpenSegment(filepath.Join(dir, segs[0].Name), len(segs) == 1)
	if err != nil {
		return "", nil, fmt.Errorf("export: %w", err)
	}
	defer r.Close()
	p, _, err := r.Next()
	if err != nil {
		return "", nil, fmt.Errorf("export: the first record of %s: %w", segs[0].Name, err)
	}
	rec, err := chain.Decode(p)
	if err != nil || rec.Kind != chain.KindSegmentStart {
		return "", nil, fmt.Errorf("export: %s does not start with a segment_start", segs[0].Name)
	}
	return chain.Origin(rec.LogID), &segs[0], nil
}

// CheckCursor checks that c belongs to the log in dir and that the log
// holds the checkpoint it names: the same origin, and at the checkpoint's
// sequence number a checkpoint record of the same size and root. It
// refuses a cursor of another log (ErrCursorForeign), one that points
// beyond the log (ErrCursorBeyond), one whose checkpoint the log holds
// differently (ErrCursorMismatch), and one whose next records were pruned
// (ErrCursorPruned). It reads at most one segment.
func CheckCursor(dir, file string, c *Cursor) error {
	origin, first, err := logOrigin(dir)
	if err != nil {
		return err
	}
	fail := func(e error, format string, args ...any) error {
		return &CursorError{File: file, Err: e, Detail: fmt.Sprintf(format, args...)}
	}
	if origin != c.Origin {
		return fail(ErrCursorForeign, "it was written for %s, and %s is %s", c.Origin, dir, origin)
	}
	if first.FirstSeq > c.Checkpoint.Seq {
		if first.FirstSeq > c.Seq+1 {
			return fail(ErrCursorPruned, "it ends at record %d, and the log now starts at record %d: records %d to %d were never exported (start a new cursor file to export from the log's start)",
				c.Seq, first.FirstSeq, c.Seq+1, first.FirstSeq-1)
		}
		return nil // the checkpoint was pruned, the records after the cursor were not
	}
	ref, err := checkpointAt(dir, c.Checkpoint.Seq)
	if errors.Is(err, errNoSuchRecord) {
		return fail(ErrCursorBeyond, "it names checkpoint record %d (tree size %d) after delivering record %d, and the log ends before it (a log restored from an older copy?)",
			c.Checkpoint.Seq, c.Checkpoint.Size, c.Seq)
	}
	if err != nil {
		return err
	}
	if ref == nil || ref.Size != c.Checkpoint.Size || ref.Root != c.Checkpoint.Root {
		return fail(ErrCursorMismatch, "record %d of the log is not the checkpoint of size %d and root %s it names: this log holds another history",
			c.Checkpoint.Seq, c.Checkpoint.Size, base64.StdEncoding.EncodeToString(c.Checkpoint.Root[:]))
	}
	return nil
}

// errNoSuchRecord: the log does not hold the record asked for.
var errNoSuchRecord = errors.New("export: no such record")

// checkpointAt returns the checkpoint record at seq in the log in dir, or
// nil if the record there is not a checkpoint, or errNoSuchRecord.
func checkpointAt(dir string, seq uint64) (*CheckpointRef, error) {
	segs, err := storage.ListSegments(dir)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	i := len(segs) - 1
	for i >= 0 && segs[i].FirstSeq > seq {
		i--
	}
	if i < 0 {
		return nil, errNoSuchRecord
	}
	r, err := storage.OpenSegment(filepath.Join(dir, segs[i].Name), i == len(segs)-1)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer r.Close()
	for {
		p, _, err := r.Next()
		if err != nil {
			var torn *storage.TornTailError
			if err == io.EOF || errors.As(err, &torn) {
				return nil, errNoSuchRecord
			}
			return nil, fmt.Errorf("export: %w", err)
		}
		if len(p) < 10 {
			return nil, fmt.Errorf("export: %s: a record of %d bytes", segs[i].Name, len(p))
		}
		switch s := recordSeq(p); {
		case s < seq:
			continue
		case s > seq:
			return nil, errNoSuchRecord
		}
		return checkpointOf(p)
	}
}

// recordSeq returns the sequence number of an encoded record (FORMAT.md
// §3.1: version, kind, then seq big-endian).
func recordSeq(p []byte) uint64 {
	var s uint64
	for _, b := range p[2:10] {
		s = s<<8 | uint64(b)
	}
	return s
}

// checkpointOf returns the checkpoint an encoded record holds, or nil if
// it is not a checkpoint record.
func checkpointOf(p []byte) (*CheckpointRef, error) {
	if chain.Kind(p[1]) != chain.KindCheckpoint {
		return nil, nil
	}
	rec, err := chain.Decode(p)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	cp, _, _, err := chain.PeekCheckpoint(rec.Checkpoint)
	if err != nil {
		return nil, fmt.Errorf("export: checkpoint record %d: %w", rec.Seq, err)
	}
	return &CheckpointRef{Seq: rec.Seq, Size: cp.Size, Root: cp.Root}, nil
}

// checkpointFinder names, for a sealed record, a checkpoint record of the
// log that covers it, reading the log's checkpoint records forward from
// where it was first asked. It reads each frame once however many times it
// is asked (the records asked for only grow), decodes only checkpoint
// records, and holds one segment open. The records it reads are those an
// export's scan authenticated before it handed them out: the checkpoint it
// names is the first checkpoint record after the record asked for whose
// tree covers it, and its size and root are what the scan checked against
// the Merkle tree.
type checkpointFinder struct {
	dir  string
	seg  string // the segment r reads
	r    *storage.Reader
	last CheckpointRef // the latest checkpoint read; Size 0 if none
}

func newCheckpointFinder(dir string) *checkpointFinder { return &checkpointFinder{dir: dir} }

func (cf *checkpointFinder) close() {
	if cf.r != nil {
		cf.r.Close()
		cf.r = nil
	}
}

// covering returns a checkpoint record that covers record seq.
func (cf *checkpointFinder) covering(seq uint64) (CheckpointRef, error) {
	if cf.last.Size > seq {
		return cf.last, nil
	}
	reopened := false
	for {
		if cf.r == nil {
			if err := cf.open(seq); err != nil {
				return CheckpointRef{}, err
			}
		}
		p, _, err := cf.r.Next()
		if err != nil {
			var torn *storage.TornTailError
			if err != io.EOF && !errors.As(err, &torn) {
				return CheckpointRef{}, fmt.Errorf("export: %w", err)
			}
			// The end of what the segment held when opened: go on in the
			// next segment, or read what was appended since, once.
			moved, err := cf.next()
			if err != nil {
				return CheckpointRef{}, err
			}
			if !moved {
				if reopened {
					return CheckpointRef{}, fmt.Errorf("export: no checkpoint record in %s covers record %d", cf.dir, seq)
				}
				reopened = true
			}
			continue
		}
		if len(p) < 10 {
			return CheckpointRef{}, fmt.Errorf("export: %s: a record of %d bytes", cf.seg, len(p))
		}
		ref, err := checkpointOf(p)
		if err != nil {
			return CheckpointRef{}, err
		}
		if ref != nil && ref.Size > cf.last.Size {
			cf.last = *ref
			if ref.Size > seq {
				return *ref, nil
			}
		}
	}
}

// open opens the segment that holds record seq+1 (the first that can hold
// a checkpoint covering seq).
func (cf *checkpointFinder) open(seq uint64) error {
	segs, err := storage.ListSegments(cf.dir)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	i := len(segs) - 1
	for i > 0 && segs[i].FirstSeq > seq+1 {
		i--
	}
	if i < 0 {
		return fmt.Errorf("export: %s holds no log", cf.dir)
	}
	r, err := storage.OpenSegment(filepath.Join(cf.dir, segs[i].Name), i == len(segs)-1)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	cf.seg, cf.r = segs[i].Name, r
	return nil
}

// next moves to the segment after the current one if there is one
// (moved), else reopens the current one where it was read to, to see what
// was appended since.
func (cf *checkpointFinder) next() (moved bool, err error) {
	segs, err := storage.ListSegments(cf.dir)
	if err != nil {
		return false, fmt.Errorf("export: %w", err)
	}
	for i, s := range segs {
		if s.Name != cf.seg {
			continue
		}
		if i+1 < len(segs) {
			r, err := storage.OpenSegment(filepath.Join(cf.dir, segs[i+1].Name), i+1 == len(segs)-1)
			if err != nil {
				return false, fmt.Errorf("export: %w", err)
			}
			cf.r.Close()
			cf.seg, cf.r = segs[i+1].Name, r
			return true, nil
		}
		off := cf.r.Offset()
		r, err := storage.OpenSegmentAt(filepath.Join(cf.dir, s.Name), true, off)
		if err != nil {
			return false, fmt.Errorf("export: %w", err)
		}
		cf.r.Close()
		cf.r = r
		return false, nil
	}
	return false, fmt.Errorf("export: segment %s is gone from %s", cf.seg, cf.dir)
}
