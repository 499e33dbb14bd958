package verify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
)

// Authenticated reads. Package query reads parts of a log (the records an
// index lists, or whole segments) and must hand out only records that a
// checkpoint it trusts covers, with the chain checked over what it read.
// The judging is done here, with the verifier's reason codes; what to
// read, and when to emit, is the reader's. FORMAT.md §8.5 states the
// rules:
//
//   - a checkpoint is trusted when its signature verifies with one of the
//     keys the reader was given (Trust.Keys: the log's current key, never
//     a key rotated out, which may have leaked), or when it is the
//     checkpoint the caller verified itself (Trust.Pinned);
//   - a segment read in full is followed record by record from its
//     segment_start (chain.Follower: hashes, links, sequence numbers,
//     audit_ids, every checkpoint against the tree), and its records are
//     authenticated by the trusted checkpoints that cover them
//     (SegmentReader);
//   - a closed segment described by leaf hashes (an index) is
//     authenticated when the root its tree state and leaves give is the
//     root of its final checkpoint, trusted (AuthenticateLeaves);
//   - a closed segment whose checkpoints no trusted key signed (a key
//     rotated out since) is authenticated through the segment after it:
//     its tree state extended by every record of the segment must be the
//     tree state of the next segment, once that one is authenticated
//     (SegmentEnd.Through). No old key is ever trusted.

// ErrTampered is matched (errors.Is) by every *TamperError.
var ErrTampered = errors.New("verify: the log is not what its keys signed")

// ErrNoAnchor is returned when no trusted checkpoint covers the part of
// the log a reader needed: nothing the reader was given vouches for it. A
// reader turns it into the failure of the segment it was authenticating
// (unknown_key at that segment's checkpoint).
var ErrNoAnchor = errors.New("verify: no checkpoint signed by a trusted key covers it")

// TamperError is a failure an authenticated read found: the first one in
// log order among what it read, with the reason code, segment, offset and
// sequence number the verifier reports for it.
type TamperError struct {
	Failure Failure
}

func (e *TamperError) Error() string { return "verify: " + e.Failure.String() }

// Is reports whether target is ErrTampered.
func (e *TamperError) Is(target error) bool { return target == ErrTampered }

// Reason returns the failure's reason code.
func (e *TamperError) Reason() Reason { return e.Failure.Reason }

func tamperedAt(reason Reason, segment string, offset int64, seq uint64, format string, args ...any) *TamperError {
	return &TamperError{Failure: Failure{Reason: reason, Segment: segment, Offset: offset, Seq: &seq, Detail: fmt.Sprintf(format, args...)}}
}

// Trust says which checkpoints an authenticated read trusts.
type Trust struct {
	// Keys are trusted on their own: give the log's current key (a key
	// rotated out may have leaked; the segments it signed are
	// authenticated through the later ones, FORMAT.md §8.5).
	Keys signer.Verifiers
	// Pinned, if set, is a checkpoint the caller verified itself (Dir,
	// which follows the key history): a checkpoint record of this size and
	// root is trusted whoever signed it.
	Pinned *Pin
}

// Pin is a checkpoint a caller verified: its tree size and root.
type Pin struct {
	Size uint64
	Root chain.Hash
}

// Pin returns the size and root of a checkpoint Dir verified.
func (s *CheckpointSummary) Pin() (*Pin, error) {
	b, err := base64.StdEncoding.DecodeString(s.Root)
	if err != nil || len(b) != chain.HashSize {
		return nil, fmt.Errorf("verify: checkpoint root %q is not a base64 SHA-256 hash", s.Root)
	}
	p := &Pin{Size: s.Size}
	copy(p.Root[:], b)
	return p, nil
}

// check returns an error wrapping ErrCannotCheck when t can trust nothing.
func (t *Trust) check() error {
	if t == nil || len(t.Keys) == 0 && t.Pinned == nil {
		return fmt.Errorf("%w: no trusted key", ErrCannotCheck)
	}
	return nil
}

// trustClass is how far a Trust trusts a checkpoint before any signature
// is computed.
type trustClass int

const (
	untrusted trustClass = iota // no key of Trust.Keys signed it (by its signature line), and it is not the pin
	signed                      // its signature line names a key of Trust.Keys: trusted once the signature verifies
	pinned                      // its size and root are the pin's
)

// classify parses a checkpoint record's note and says how far t trusts
// it, without computing a signature. A note whose signature block is not
// exactly one line is a modification, one that does not parse malformed.
func (t *Trust) classify(rec *chain.Record, segment string, off int64) (chain.Checkpoint, trustClass, error) {
	if err := checkSignatureBlock(rec.Checkpoint); err != nil {
		return chain.Checkpoint{}, untrusted, tamperedAt(ReasonModified, segment, off, rec.Seq, "checkpoint record %d: %v", rec.Seq, err)
	}
	text, _, _, err := chain.PeekCheckpoint(rec.Checkpoint)
	if err != nil {
		return text, untrusted, tamperedAt(ReasonMalformed, segment, off, rec.Seq, "checkpoint record %d: %v", rec.Seq, err)
	}
	if p := t.Pinned; p != nil && text.Size == p.Size && text.Root == p.Root {
		return text, pinned, nil
	}
	_, err = chain.OpenCheckpointUnchecked(rec.Checkpoint, t.Keys)
	switch {
	case err == nil:
		return text, signed, nil
	case errors.Is(err, chain.ErrUnknownKey):
		return text, untrusted, nil
	}
	return text, untrusted, tamperedAt(checkpointReason(err), segment, off, rec.Seq, "checkpoint record %d: %v", rec.Seq, err)
}

// verifySignature checks the signature of a checkpoint classify found
// signed by a trusted key.
func (t *Trust) verifySignature(note []byte, segment string, off int64, seq uint64) error {
	if _, err := chain.OpenCheckpoint(note, t.Keys); err != nil {
		return tamperedAt(checkpointReason(err), segment, off, seq, "checkpoint record %d: %v", seq, err)
	}
	return nil
}

// untrustedFailure is the failure of a checkpoint that no trusted key
// signed and that nothing trusted covers.
func untrustedFailure(segment string, off int64, seq uint64, note []byte) *TamperError {
	return tamperedAt(ReasonUnknownKey, segment, off, seq,
		"checkpoint record %d is signed by %s, which is not a key you gave, and no checkpoint of a key you gave covers it (give the log's current key)", seq, describeSigner(note, nil))
}

// SegmentEnd is the state of the log at the end of a segment: what the
// next segment's segment_start must continue.
type SegmentEnd struct {
	Segment string // the segment's file name
	// Start is its segment_start; Kind 0 when the reader resumed in the
	// segment and did not read it.
	Start    chain.Record
	LogID    chain.LogID
	NextSeq  uint64     // the sequence number after its last record
	Head     chain.Hash // the hash of its last record
	State    []chain.Hash
	LastTime int64
	// Last is the text of the segment's last checkpoint (nil if it has
	// none), and RunKey the run key it names: commits at the start of the
	// next segment are signed by it.
	Last   *chain.Checkpoint
	RunKey []byte
	// Authenticated says whether a trusted checkpoint covers the whole
	// segment; if not, Through must authenticate it.
	Authenticated bool
	// untrusted is the segment's first checkpoint that no trusted key
	// signed, for the failure when nothing authenticates it.
	untrusted *checkpointAt
}

// checkpointAt is a checkpoint record kept for a later signature check or
// failure.
type checkpointAt struct {
	seq, size uint64
	offset    int64
	note      []byte
}

// Link checks that next, the segment_start of the segment named nextName,
// continues the log exactly where e ends (the checks of the verifier's
// join): the same log, the next sequence number, the last record's hash,
// the tree state and a time no earlier.
func (e *SegmentEnd) Link(next *chain.Record, nextName string) error {
	at := func(reason Reason, format string, args ...any) error {
		return tamperedAt(reason, nextName, storage.SegmentHeaderSize, next.Seq, format, args...)
	}
	switch {
	case next.LogID != e.LogID:
		return at(ReasonSegmentForeign, "segment belongs to log %s, not %s", next.LogID, e.LogID)
	case next.Seq > e.NextSeq:
		return at(ReasonSegmentMissing, "records %d to %d are missing", e.NextSeq, next.Seq-1)
	case next.Seq < e.NextSeq:
		return at(ReasonSegmentDuplicated, "segment repeats records from %d (the previous segment ends at %d)", next.Seq, e.NextSeq-1)
	case next.PrevHash != e.Head:
		return at(ReasonChainBroken, "segment does not link to the end of the previous segment")
	case !equalState(next.TreeState, e.State):
		return at(ReasonModified, "tree state differs from the records before it")
	case next.TimeNano < e.LastTime:
		return at(ReasonTimeBackwards, "segment starts before the previous segment's last record")
	}
	return nil
}

// Through authenticates a closed segment that no trusted checkpoint
// covers through the segment after it: next is that segment's
// segment_start, authenticated (its segment is), and the tree state after
// every record of this segment must be next's. On success e is
// Authenticated. If it does not continue, the first checkpoint of the
// segment that no trusted key signed is the failure (unknown_key), as it
// is for the verifier; a segment without one fails with the link's
// reason.
func (e *SegmentEnd) Through(next *chain.Record, nextName string) error {
	if e.Authenticated {
		return nil
	}
	if err := e.Link(next, nextName); err != nil {
		if u := e.untrusted; u != nil {
			return untrustedFailure(e.Segment, u.offset, u.seq, u.note)
		}
		return err
	}
	e.Authenticated = true
	return nil
}

// Unanchored returns the failure of a closed segment that nothing trusted
// authenticates (no later checkpoint of a trusted key, ErrNoAnchor): its
// first checkpoint that no trusted key signed, as unknown_key.
func (e *SegmentEnd) Unanchored() error {
	if u := e.untrusted; u != nil {
		return untrustedFailure(e.Segment, u.offset, u.seq, u.note)
	}
	last := e.NextSeq - 1
	return tamperedAt(ReasonUnknownKey, e.Segment, -1, last, "no checkpoint signed by a key you gave covers record %d or the records before it in its segment", last)
}

// checkGenesis checks that a segment_start of record 0 starts an empty
// log.
func checkGenesis(rec *chain.Record, segment string) error {
	if rec.Seq == 0 && (rec.PrevHash != (chain.Hash{}) || len(rec.TreeState) != 0) {
		return tamperedAt(ReasonModified, segment, storage.SegmentHeaderSize, 0, "the genesis record does not start an empty log")
	}
	return nil
}

// checkName checks a segment's first record against the segment's name.
func checkName(rec *chain.Record, seg storage.SegmentInfo) error {
	switch {
	case rec.Kind != chain.KindSegmentStart:
		return tamperedAt(ReasonMalformed, seg.Name, storage.SegmentHeaderSize, rec.Seq, "segment starts with a %v record, not segment_start", rec.Kind)
	case rec.Seq > seg.FirstSeq:
		return tamperedAt(ReasonSegmentReordered, seg.Name, storage.SegmentHeaderSize, rec.Seq, "segment named for record %d starts with record %d", seg.FirstSeq, rec.Seq)
	case rec.Seq < seg.FirstSeq:
		return tamperedAt(ReasonSegmentDuplicated, seg.Name, storage.SegmentHeaderSize, rec.Seq, "segment named for record %d holds records from %d, which an earlier segment holds", seg.FirstSeq, rec.Seq)
	}
	return checkGenesis(rec, seg.Name)
}

// CheckLogStart checks the first segment of the log against the start
// line of cp, the log's last trusted checkpoint (FORMAT.md §5): the
// segment must hold the record it names (or start before it: a prune the
// sealer was interrupted in, §2.4). first is that segment's first record;
// a format 1 checkpoint (no start line) checks nothing.
func CheckLogStart(cp *chain.Checkpoint, seg storage.SegmentInfo, first *chain.Record) error {
	s := cp.Start
	switch {
	case s == nil || first.Seq < s.Seq:
		return nil
	case first.Seq > s.Seq:
		return tamperedAt(ReasonSegmentMissing, seg.Name, storage.SegmentHeaderSize, first.Seq,
			"the log's last trusted checkpoint names record %d as its first, but its first segment starts at record %d", s.Seq, first.Seq)
	case first.Hash != s.Hash:
		return tamperedAt(ReasonModified, seg.Name, storage.SegmentHeaderSize, first.Seq,
			"the first record is not the one the log's last trusted checkpoint names")
	}
	return nil
}

// AuthenticateLeaves authenticates the closed segment seg from its first
// and last records (the payloads of its first and last frames) and the
// leaf hashes of all its records (from an index, never trusted): the
// records must be whole and hash to their leaves, the last one a
// checkpoint at its own position (S = M, FORMAT.md §2.2) whose root is
// the root of the segment's tree state and leaves, whose head is the hash
// of the record before it, and whose time is the record's. If t trusts
// that checkpoint (its signature is checked), the returned end is
// Authenticated; otherwise the caller authenticates it Through the next
// segment. Any error means the leaves authenticate nothing (the caller
// reads the segment in full, which says what is wrong).
func AuthenticateLeaves(t *Trust, seg storage.SegmentInfo, firstPayload, lastPayload []byte, leaves []chain.Hash) (*SegmentEnd, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) (*SegmentEnd, error) {
		return nil, fmt.Errorf("verify: %s: the leaf hashes do not authenticate the segment: %s", seg.Name, fmt.Sprintf(format, args...))
	}
	if len(leaves) < 2 {
		return bad("%d leaf hashes", len(leaves))
	}
	h := chain.NewHasher()
	start, err := chain.Decode(firstPayload)
	if err != nil || !h.Check(firstPayload) {
		return bad("the first record does not decode or match its hash")
	}
	if err := checkName(&start, seg); err != nil {
		return bad("%v", err)
	}
	final, err := chain.Decode(lastPayload)
	if err != nil || !h.Check(lastPayload) {
		return bad("the last record does not decode or match its hash")
	}
	last := uint64(len(leaves) - 1)
	switch {
	case chain.LeafHash(start.Hash) != leaves[0]:
		return bad("the first record's leaf hash differs")
	case final.Kind != chain.KindCheckpoint || final.Seq != start.Seq+last:
		return bad("the last record is not a checkpoint at record %d", start.Seq+last)
	case chain.LeafHash(final.Hash) != leaves[last]:
		return bad("the last record's leaf hash differs")
	}
	text, class, err := t.classify(&final, seg.Name, -1)
	if err != nil {
		return bad("%v", err)
	}
	tree, err := chain.TreeFromState(start.Seq, start.TreeState)
	if err != nil {
		return bad("%v", err)
	}
	for _, l := range leaves[:last] {
		tree.AppendLeaf(l)
	}
	switch {
	case text.Origin != chain.Origin(start.LogID):
		return bad("the last checkpoint is for log %q", text.Origin)
	case text.Size != final.Seq:
		return bad("the last checkpoint covers %d records, not the %d before it", text.Size, final.Seq)
	case text.Root != tree.Root():
		return bad("the root of the leaf hashes is not the last checkpoint's")
	case chain.LeafHash(text.Head) != leaves[last-1] || final.PrevHash != text.Head:
		return bad("the last checkpoint's head is not the record before it")
	case text.Time.UnixNano() != final.TimeNano:
		return bad("the last checkpoint's time is not its record's")
	}
	tree.AppendLeaf(leaves[last])
	end := &SegmentEnd{Segment: seg.Name, Start: start, LogID: start.LogID, NextSeq: final.Seq + 1, Head: final.Hash, State: tree.State(),
		LastTime: final.TimeNano, Last: &text, RunKey: text.RunKey}
	end.Start.TreeState = append([]chain.Hash(nil), start.TreeState...)
	switch class {
	case signed:
		if err := t.verifySignature(final.Checkpoint, seg.Name, -1, final.Seq); err != nil {
			return bad("%v", err)
		}
		end.Authenticated = true
	case pinned:
		end.Authenticated = true
	default:
		end.untrusted = &checkpointAt{seq: final.Seq, size: text.Size, offset: -1, note: bytes.Clone(final.Checkpoint)}
	}
	return end, nil
}

// ReadState is where a SegmentReader can resume: right after a trusted
// checkpoint at its own position, with the state of the chain there. It is
// kept in memory only (package query carries it in a Position).
type ReadState struct {
	segment string
	offset  int64
	cf      chain.Follower
	runKey  []byte
	cp      chain.Checkpoint
	cpSeq   uint64
}

// Segment returns the name of the segment the state is in.
func (s *ReadState) Segment() string { return s.segment }

// Offset returns the offset of the frame after the state.
func (s *ReadState) Offset() int64 { return s.offset }

// NextSeq returns the sequence number of the record after the state.
func (s *ReadState) NextSeq() uint64 { return s.cf.NextSeq() }

// SegmentReader reads one segment in full, from its first record or from
// a ReadState, and checks every record as the verifier does (frame,
// structure, hash, the links chain.Follower checks, a checkpoint's
// signature block and its contents against the tree), except event
// schemas. It keeps track of the records the trusted checkpoints cover:
// Sealed checks the signature that matters (the latest trusted
// checkpoint's, which covers every earlier one) only when asked, so that
// a segment costs few signature checks. A SegmentReader is not safe for
// concurrent use.
type SegmentReader struct {
	trust  *Trust
	seg    storage.SegmentInfo
	active bool
	r      *storage.Reader
	h      *chain.Hasher
	cf     chain.Follower
	rec    chain.Record // the record Next returns
	n      int          // records read
	start  chain.Record
	off    int64 // offset of the last record read

	lastText  *chain.Checkpoint // the latest checkpoint read
	covered   uint64            // records [0, covered) are covered by a trusted checkpoint whose trust is established
	anchor    *chain.Checkpoint // the latest such checkpoint (its text)
	anchorSeq uint64
	unchecked []checkpointAt // checkpoints signed (by their line) by a trusted key, since the last established one
	untrusted *checkpointAt  // the first checkpoint no trusted key signed since the last one a trusted key signed
	firstUntr *checkpointAt  // the segment's first checkpoint no trusted key signed
	runKey    []byte         // the run key the latest checkpoint names
	runKnown  bool
	commit    *chain.Record // the latest commit record (copied)
	commitOff int64
	commitKey []byte
	lastCP    bool // the last record read is a checkpoint at its own position

	// Resume points: snap is the state after the latest trusted
	// checkpoint at its own position; state the latest one whose trust is
	// established.
	snap, state *ReadState
	snapSeq     uint64
}

// OpenSegmentReader opens segment seg of the log in dir for a full read
// with trust t: from the start, or, when from is a state of this segment,
// right after it (a state that no longer fits makes the read start over
// from the segment's first record). active says whether seg is the log's
// last segment (only there is a torn tail the end of the records, and
// only there are records no checkpoint covers yet normal). inherit is the
// run key commits before the segment's first checkpoint are signed by
// (the previous segment's SegmentEnd.RunKey), nil if unknown.
func OpenSegmentReader(dir string, seg storage.SegmentInfo, active bool, t *Trust, from *ReadState, inherit []byte) (*SegmentReader, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	sr := &SegmentReader{trust: t, seg: seg, active: active, h: chain.NewHasher(), runKey: inherit, runKnown: inherit != nil}
	path := filepath.Join(dir, seg.Name)
	if from != nil && from.segment == seg.Name && fits(path, active, from) {
		if r, err := storage.OpenSegmentAt(path, active, from.offset); err == nil {
			sr.r, sr.cf, sr.n = r, from.cf, 1
			sr.runKey, sr.runKnown = from.runKey, true
			sr.lastCP = true // the last record taken: a checkpoint at its own position
			cp := from.cp
			sr.covered, sr.anchor, sr.anchorSeq = cp.Size, &cp, from.cpSeq
			sr.state = from
			return sr, nil
		}
	}
	r, err := storage.OpenSegment(path, active)
	if err != nil {
		var ce *storage.CorruptError
		switch {
		case errors.As(err, &ce):
			return nil, tamperedAt(ReasonModified, seg.Name, ce.Offset, seg.FirstSeq, "%v", err)
		case active && errors.Is(err, storage.ErrTornTail):
			// A segment being created: no record yet.
			return &SegmentReader{trust: t, seg: seg, active: true, h: chain.NewHasher()}, nil
		}
		return nil, fmt.Errorf("%w: %v", ErrCannotCheck, err)
	}
	sr.r = r
	return sr, nil
}

// fits reports whether the segment at path still continues the chain of
// from at its offset: the frame there (if the file goes on) holds the
// record after it, linked to it. A segment cut back since (the sealer
// discards what a failed fdatasync left, FORMAT.md §2.3) or rewritten is
// read from its start instead, where every check runs again.
func fits(path string, active bool, from *ReadState) bool {
	r, err := storage.OpenSegmentAt(path, active, from.offset)
	if err != nil {
		return false
	}
	defer r.Close()
	if r.Offset() == r.Size() {
		return true // nothing appended since
	}
	p, _, err := r.Next()
	if err != nil {
		return active && errors.Is(err, storage.ErrTornTail) // a frame being written
	}
	rec, err := chain.Decode(p)
	return err == nil && rec.Seq == from.cf.NextSeq() && rec.PrevHash == from.cf.Head()
}

// Offset returns the offset after the last record read.
func (sr *SegmentReader) Offset() int64 { return sr.r.Offset() }

// Close closes the segment file.
func (sr *SegmentReader) Close() error {
	if sr.r == nil {
		return nil
	}
	return sr.r.Close()
}

// Next reads and checks the next record, and returns it (its slices valid
// until the next call) with the offset of its frame. At the end of the
// segment, or at a torn tail of the active segment, it returns io.EOF. A
// record that fails a check is a *TamperError, the first failure in log
// order: a trusted checkpoint before it whose signature does not verify
// comes first.
func (sr *SegmentReader) Next() (*chain.Record, int64, error) {
	if sr.r == nil {
		return nil, 0, io.EOF
	}
	payload, off, err := sr.r.Next()
	if err != nil {
		var ce *storage.CorruptError
		switch {
		case err == io.EOF || sr.active && errors.Is(err, storage.ErrTornTail):
			return nil, off, io.EOF
		case errors.As(err, &ce):
			return nil, off, sr.fail(tamperedAt(ReasonModified, sr.seg.Name, ce.Offset, sr.cf.NextSeq(), "%v", err))
		}
		return nil, off, fmt.Errorf("%w: %v", ErrCannotCheck, err)
	}
	sr.off = off
	sr.rec, err = chain.Decode(payload)
	rec := &sr.rec
	if err != nil {
		return nil, off, sr.fail(tamperedAt(ReasonMalformed, sr.seg.Name, off, sr.cf.NextSeq(), "%v", err))
	}
	if !sr.h.Check(payload) {
		return nil, off, sr.fail(tamperedAt(ReasonModified, sr.seg.Name, off, rec.Seq, "record %d does not match its hash", rec.Seq))
	}
	if sr.n == 0 {
		if err := checkName(rec, sr.seg); err != nil {
			return nil, off, err
		}
	} else if rec.Kind == chain.KindSegmentStart {
		return nil, off, sr.fail(tamperedAt(ReasonMalformed, sr.seg.Name, off, rec.Seq, "segment_start record inside a segment"))
	}
	var text *chain.Checkpoint
	class := untrusted
	if rec.Kind == chain.KindCheckpoint {
		cp, c, err := sr.trust.classify(rec, sr.seg.Name, off)
		if err != nil {
			return nil, off, sr.fail(err)
		}
		text, class = &cp, c
	}
	if err := sr.cf.Next(rec, chain.LeafHash(rec.Hash), text); err != nil {
		return nil, off, sr.fail(tamperedAt(followReason(err), sr.seg.Name, off, rec.Seq, "%v", err))
	}
	sr.n++
	sr.lastCP = false
	switch rec.Kind {
	case chain.KindSegmentStart:
		sr.start = *rec
		sr.start.TreeState = append([]chain.Hash(nil), rec.TreeState...)
	case chain.KindCheckpoint:
		sr.checkpoint(rec, text, class, off)
	case chain.KindCommit:
		c := *rec
		c.Signature = bytes.Clone(rec.Signature)
		sr.commit, sr.commitOff, sr.commitKey = &c, off, nil
		if sr.runKnown {
			sr.commitKey = sr.runKey
		}
	}
	return &sr.rec, off, nil
}

// checkpoint takes a checkpoint record the follower accepted.
func (sr *SegmentReader) checkpoint(rec *chain.Record, text *chain.Checkpoint, class trustClass, off int64) {
	sr.runKey, sr.runKnown = text.RunKey, true
	sr.lastText = text
	sr.lastCP = text.Size == rec.Seq
	at := checkpointAt{seq: rec.Seq, size: text.Size, offset: off}
	switch class {
	case untrusted:
		at.note = bytes.Clone(rec.Checkpoint)
		if sr.untrusted == nil {
			sr.untrusted = &at
		}
		if sr.firstUntr == nil {
			sr.firstUntr = &at
		}
		return
	case signed:
		at.note = bytes.Clone(rec.Checkpoint)
		sr.unchecked = append(sr.unchecked, at)
	case pinned:
		sr.establish(at.seq, at.size, text)
	}
	// A trusted checkpoint covers the untrusted ones before it, once its
	// signature verifies (Sealed fails otherwise).
	sr.untrusted = nil
	if sr.active && text.Size == rec.Seq {
		// A place to resume from, once this checkpoint is trusted.
		sr.snap = &ReadState{segment: sr.seg.Name, offset: sr.r.Offset(), cf: sr.cf, runKey: text.RunKey, cp: *text, cpSeq: rec.Seq}
		sr.snapSeq = rec.Seq
		if class == pinned {
			sr.state = sr.snap
		}
	}
}

// establish notes that the checkpoint at seq, of size size, is trusted:
// it covers every record before its size, and every checkpoint before it.
func (sr *SegmentReader) establish(seq, size uint64, text *chain.Checkpoint) {
	if size > sr.covered || sr.anchor == nil || seq > sr.anchorSeq {
		sr.covered = max(sr.covered, size)
		cp := *text
		sr.anchor, sr.anchorSeq = &cp, seq
	}
	if sr.snap != nil && sr.snapSeq <= seq {
		sr.state = sr.snap
	}
}

// Sealed returns the size the trusted checkpoints read so far cover:
// records below it are authenticated. It first checks the signature of the
// latest checkpoint signed by a trusted key whose signature was not
// checked yet (it covers the earlier ones); if that fails, the first of
// them in log order whose signature fails is the error.
func (sr *SegmentReader) Sealed() (uint64, error) {
	if len(sr.unchecked) == 0 {
		return sr.covered, nil
	}
	last := sr.unchecked[len(sr.unchecked)-1]
	if err := sr.trust.verifySignature(last.note, sr.seg.Name, last.offset, last.seq); err != nil {
		return sr.covered, sr.firstBadSignature(^uint64(0), err)
	}
	text, _, _, _ := chain.PeekCheckpoint(last.note)
	sr.unchecked = sr.unchecked[:0]
	sr.establish(last.seq, last.size, &text)
	return sr.covered, nil
}

// firstBadSignature returns the failure of the first unchecked trusted
// checkpoint before seq whose signature does not verify, or err.
func (sr *SegmentReader) firstBadSignature(before uint64, err error) error {
	for _, c := range sr.unchecked {
		if c.seq >= before {
			break
		}
		if e := sr.trust.verifySignature(c.note, sr.seg.Name, c.offset, c.seq); e != nil {
			sr.unchecked = nil
			return e
		}
	}
	sr.unchecked = nil
	return err
}

// fail returns the failure err of a record, unless an unchecked trusted
// checkpoint before it has a signature that does not verify: that comes
// first in log order, as the verifier reports it.
func (sr *SegmentReader) fail(err error) error {
	var te *TamperError
	before := ^uint64(0)
	if errors.As(err, &te) && te.Failure.Seq != nil {
		before = *te.Failure.Seq
	}
	return sr.firstBadSignature(before, err)
}

// Anchor returns the latest checkpoint whose trust is established, and
// its sequence number; nil if none.
func (sr *SegmentReader) Anchor() (*chain.Checkpoint, uint64) { return sr.anchor, sr.anchorSeq }

// Start returns the segment's segment_start record, once read (Kind 0
// before, or when the reader resumed).
func (sr *SegmentReader) Start() *chain.Record { return &sr.start }

// State returns where a later read can resume: right after the latest
// checkpoint at its own position whose trust is established (only in the
// active segment); nil if there is none.
func (sr *SegmentReader) State() *ReadState { return sr.state }

// End returns the state at the end of the segment, once Next returned
// io.EOF: Authenticated when a trusted checkpoint at its own position is
// its last record, or covers it otherwise. It checks the signatures that
// matter first.
func (sr *SegmentReader) End() (*SegmentEnd, error) {
	covered, err := sr.Sealed()
	if err != nil {
		return nil, err
	}
	if !sr.cf.Started() {
		return nil, tamperedAt(ReasonMalformed, sr.seg.Name, storage.SegmentHeaderSize, sr.seg.FirstSeq, "segment holds no record")
	}
	e := &SegmentEnd{Segment: sr.seg.Name, Start: sr.start, LogID: sr.cf.LogID(), NextSeq: sr.cf.NextSeq(), Head: sr.cf.Head(), State: sr.cf.Tree().State(),
		LastTime: sr.cf.LastTime(), Last: sr.lastText, RunKey: sr.runKey, untrusted: sr.firstUntr}
	// The last record is authenticated by its own signature (a trusted
	// checkpoint at its own position), or covered by a later one.
	e.Authenticated = sr.cf.Started() && (covered >= e.NextSeq || sr.lastCP && covered == e.NextSeq-1 && sr.anchorSeq == e.NextSeq-1)
	return e, nil
}

// CheckTail runs the checks of the end of the active segment, once Next
// returned io.EOF: a checkpoint after the last trusted one that no
// trusted key signed is a failure (unknown_key: give the current key), and
// so is the last commit, when no trusted checkpoint covers it, if its
// signature does not verify with the run key the checkpoint before it
// names (bad_signature, as for the verifier; records after the last
// trusted checkpoint are never handed out either way).
func (sr *SegmentReader) CheckTail() error {
	covered, err := sr.Sealed()
	if err != nil {
		return err
	}
	if u := sr.untrusted; u != nil {
		return untrustedFailure(sr.seg.Name, u.offset, u.seq, u.note)
	}
	if c := sr.commit; c != nil && c.Seq >= covered && sr.commitKey != nil {
		if reason, detail := checkCommit(c, sr.commitKey); reason != "" {
			return tamperedAt(reason, sr.seg.Name, sr.commitOff, c.Seq, "%s", detail)
		}
	}
	return nil
}
