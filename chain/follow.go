package chain

import (
	"errors"
	"fmt"
)

// Follower checks, one record at a time and in log order, the rules that
// tie each record to the records before it (FORMAT.md §3 to §5):
//
//   - the first record it is given is a segment_start, which sets the log,
//     the sequence number, the chain head and the Merkle tree state;
//   - every later record has the next sequence number, the previous
//     record's hash as prev_hash, and a time no earlier than it;
//   - a segment_start after the first one must continue exactly where the
//     records so far end (the next segment of the same log);
//   - an event's audit_id is derived from the log and its sequence number,
//     and only sealer events carry the sealer's service identity;
//   - a checkpoint record at sequence number M covers size M (head, root and
//     time are those of the records before it), or the size of the latest
//     seal-requested commit since the previous checkpoint (FORMAT.md §3.5).
//
// It keeps no record, only the chain head and the tree's compact range, so
// memory does not grow with the log. Signatures, keys and event schemas are
// the caller's: the verifier and the sealer's start-up check both use a
// Follower and add those on top. A Follower is not safe for concurrent use.
type Follower struct {
	started  bool
	logID    LogID
	origin   string
	tree     Tree
	head     Hash
	nextSeq  uint64
	lastTime int64
	// sealPoint is the state after the latest seal-requested commit since
	// the last checkpoint record, which a checkpoint may still cover.
	sealPoint *SealPoint
}

// SealPoint is the head of the log after a seal-requested commit: what a
// checkpoint of that size must state.
type SealPoint struct {
	Size     uint64
	Root     Hash
	Head     Hash
	TimeNano int64
}

// Errors of Follower.Next, by the rule a record broke. Each comes wrapped
// in a *FollowError.
var (
	ErrNotStart           = errors.New("chain: the first record is not a segment_start")
	ErrMisplacedStart     = errors.New("chain: segment_start record inside a segment")
	ErrSequence           = errors.New("chain: sequence number out of order")
	ErrChainBroken        = errors.New("chain: prev_hash does not link to the previous record")
	ErrTimeBackwards      = errors.New("chain: record time goes backwards")
	ErrAuditID            = errors.New("chain: audit_id is not derived from the log and sequence number")
	ErrServiceKind        = errors.New("chain: service identity does not fit the record kind")
	ErrCheckpointMismatch = errors.New("chain: checkpoint does not match the records it covers")
	// Errors of a segment_start that follows the records of another segment.
	ErrForeignSegment   = errors.New("chain: segment belongs to another log")
	ErrSegmentGap       = errors.New("chain: records between two segments are missing")
	ErrSegmentOverlap   = errors.New("chain: segment repeats records of the previous segment")
	ErrTreeStateMissing = errors.New("chain: segment's tree state is not the state of the records before it")
	ErrBadTreeState     = errors.New("chain: segment's tree state does not fit its sequence number")
)

// FollowError is a record that broke a rule of Follower.Next. It unwraps to
// one of the Err values above.
type FollowError struct {
	Seq    uint64 // the record's sequence number
	Err    error
	Detail string
}

func (e *FollowError) Error() string { return fmt.Sprintf("%v: record %d: %s", e.Err, e.Seq, e.Detail) }

// Unwrap returns the rule that was broken.
func (e *FollowError) Unwrap() error { return e.Err }

func broke(seq uint64, err error, format string, args ...any) error {
	return &FollowError{Seq: seq, Err: err, Detail: fmt.Sprintf(format, args...)}
}

// Started reports whether the follower has taken its first segment_start.
func (f *Follower) Started() bool { return f.started }

// LogID returns the log's ID (once started).
func (f *Follower) LogID() LogID { return f.logID }

// NextSeq returns the sequence number the next record must have.
func (f *Follower) NextSeq() uint64 { return f.nextSeq }

// Head returns the hash of the last record followed.
func (f *Follower) Head() Hash { return f.head }

// LastTime returns the time of the last record followed.
func (f *Follower) LastTime() int64 { return f.lastTime }

// Tree returns the Merkle tree over the records followed so far (together
// with those before the first segment_start, through its tree state).
func (f *Follower) Tree() *Tree { return &f.tree }

// Next checks rec, whose stored hash the caller has checked and whose
// Merkle leaf hash (LeafHash(rec.Hash)) is leaf, against the records before
// it, and takes it over. For a checkpoint record, cp is its parsed note
// text (the caller checks the signature); nil otherwise. On error nothing
// is taken over.
func (f *Follower) Next(rec *Record, leaf Hash, cp *Checkpoint) error {
	if !f.started {
		return f.start(rec, leaf)
	}
	if rec.Kind == KindSegmentStart {
		return f.link(rec, leaf)
	}
	switch {
	case rec.Seq != f.nextSeq:
		return broke(rec.Seq, ErrSequence, "follows record %d", f.nextSeq-1)
	case rec.PrevHash != f.head:
		return broke(rec.Seq, ErrChainBroken, "does not link to record %d", rec.Seq-1)
	case rec.TimeNano < f.lastTime:
		return broke(rec.Seq, ErrTimeBackwards, "is older than record %d", rec.Seq-1)
	}
	switch rec.Kind {
	case KindEvent, KindSealerEvent:
		if !rec.CheckAuditID(f.logID) {
			return broke(rec.Seq, ErrAuditID, "audit_id %q", rec.AuditID)
		}
		if (rec.Kind == KindSealerEvent) != (string(rec.Service) == SealerService) {
			return broke(rec.Seq, ErrServiceKind, "service %q in a %v record", rec.Service, rec.Kind)
		}
	case KindCheckpoint:
		if cp == nil {
			return broke(rec.Seq, ErrCheckpointMismatch, "no checkpoint text given")
		}
		if err := f.checkCheckpoint(rec, cp); err != nil {
			return err
		}
	}
	f.take(rec, leaf)
	switch {
	case rec.Kind == KindCheckpoint:
		f.sealPoint = nil
	case rec.Kind == KindCommit && rec.Flags&FlagSealRequested != 0:
		f.sealPoint = &SealPoint{Size: f.tree.Size(), Root: f.tree.Root(), Head: f.head, TimeNano: rec.TimeNano}
	}
	return nil
}

// checkCheckpoint checks what a checkpoint at rec.Seq states against the
// records it covers (FORMAT.md §3.5).
func (f *Follower) checkCheckpoint(rec *Record, cp *Checkpoint) error {
	if cp.Origin != f.origin {
		return broke(rec.Seq, ErrCheckpointMismatch, "checkpoint is for log %q", cp.Origin)
	}
	if cp.Size == rec.Seq {
		switch {
		case cp.Head != f.head:
			return broke(rec.Seq, ErrCheckpointMismatch, "head is not record %d", rec.Seq-1)
		case cp.Root != f.tree.Root():
			return broke(rec.Seq, ErrCheckpointMismatch, "Merkle root does not match records 0..%d", rec.Seq-1)
		case cp.Time.UnixNano() != rec.TimeNano:
			return broke(rec.Seq, ErrCheckpointMismatch, "time differs from the record's")
		}
		return nil
	}
	p := f.sealPoint
	switch {
	case p == nil || cp.Size != p.Size:
		return broke(rec.Seq, ErrCheckpointMismatch, "claims tree size %d, which is neither its own position nor a seal-requested commit since the previous checkpoint", cp.Size)
	case cp.Head != p.Head:
		return broke(rec.Seq, ErrCheckpointMismatch, "head is not record %d", cp.Size-1)
	case cp.Root != p.Root:
		return broke(rec.Seq, ErrCheckpointMismatch, "Merkle root does not match records 0..%d", cp.Size-1)
	case cp.Time.UnixNano() != p.TimeNano:
		return broke(rec.Seq, ErrCheckpointMismatch, "time differs from that of the commit it covers, record %d", cp.Size-1)
	}
	return nil
}

// start takes the first record: a segment_start, which sets the log and
// the tree state before it.
func (f *Follower) start(rec *Record, leaf Hash) error {
	if rec.Kind != KindSegmentStart {
		return broke(rec.Seq, ErrNotStart, "is a %v record", rec.Kind)
	}
	tree, err := TreeFromState(rec.Seq, rec.TreeState)
	if err != nil {
		return broke(rec.Seq, ErrBadTreeState, "%v", err)
	}
	f.started = true
	f.logID, f.origin = rec.LogID, Origin(rec.LogID)
	f.tree = *tree
	f.head, f.nextSeq, f.lastTime = rec.PrevHash, rec.Seq, rec.TimeNano
	f.take(rec, leaf)
	return nil
}

// link takes a segment_start that follows the records of the previous
// segment: it must continue them exactly.
func (f *Follower) link(rec *Record, leaf Hash) error {
	switch {
	case rec.LogID != f.logID:
		return broke(rec.Seq, ErrForeignSegment, "segment belongs to log %s, not %s", rec.LogID, f.logID)
	case rec.Seq > f.nextSeq:
		return broke(rec.Seq, ErrSegmentGap, "records %d to %d are missing", f.nextSeq, rec.Seq-1)
	case rec.Seq < f.nextSeq:
		return broke(rec.Seq, ErrSegmentOverlap, "segment repeats records from %d (the previous segment ends at %d)", rec.Seq, f.nextSeq-1)
	case rec.PrevHash != f.head:
		return broke(rec.Seq, ErrChainBroken, "segment does not link to the end of the previous segment")
	case !f.tree.EqualState(rec.TreeState):
		return broke(rec.Seq, ErrTreeStateMissing, "tree state differs from the records before it")
	case rec.TimeNano < f.lastTime:
		return broke(rec.Seq, ErrTimeBackwards, "segment starts before the previous segment's last record")
	}
	f.take(rec, leaf)
	f.sealPoint = nil
	return nil
}

func (f *Follower) take(rec *Record, leaf Hash) {
	f.head, f.nextSeq, f.lastTime = rec.Hash, rec.Seq+1, rec.TimeNano
	f.tree.AppendLeaf(leaf)
}
