package verify

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
)

// Checking one segment is split in three stages:
//
//   - read (one goroutine per segment): cut the segment's frames, whose
//     checksums storage.Reader checks, into batches of copied payloads;
//   - prepare (any goroutine): decode each record, check its hash, compute
//     its Merkle leaf hash, check an event's schema and canonical form, and
//     verify a checkpoint's signature with the auditor's keys: everything
//     that needs nothing but the record itself;
//   - follow (one goroutine per segment, in log order): sequence numbers,
//     chain links, times, audit_ids, the Merkle tree, the checkpoints'
//     contents and the keys the segment introduces. follow looks at each
//     record's properties in the same order as a single pass would, so the
//     first failure it reports is exactly the one a single pass reports,
//     whatever was prepared ahead of it.
//
// With one worker the three stages run one after the other on the
// segment's goroutine, on one batch. With more, a pool of workers shared by
// all segments prepares batches while each segment's goroutine follows its
// own in order; every segment has a fixed number of batches, so memory does
// not grow with the log.

// batchBytes is the payload bytes a batch holds (more only for a single
// frame larger than that, up to storage.MaxPayload).
const batchBytes = 256 << 10

// batchRecords is the most records a batch holds. Tests lower it, to cut
// small segments into many batches.
var batchRecords = 512

// prepared is one record of a batch and what prepare found about it.
type prepared struct {
	payload []byte // the frame's payload, in the batch's buffer
	off     int64  // the frame's offset in the segment file

	rec       chain.Record // decoded from payload (slices alias it)
	decodeErr error
	hashOK    bool
	leaf      chain.Hash // Merkle leaf hash, when hashOK

	// Events: the type CheckCanonical found, or its error.
	typ       string
	schemaErr error
	// Checkpoints: the note opened with the auditor's keys (opts.Keys),
	// and whether its signature block is the one line the format allows.
	cp          *chain.SignedCheckpoint
	cpErr       error
	sigBlockErr error
}

// batch is a run of consecutive frames of one segment.
type batch struct {
	buf  []byte
	recs []prepared
	end  int64         // the offset where reading stopped after recs
	err  error         // why reading stopped: nil (more frames follow), io.EOF, or the storage error
	done chan struct{} // a worker signals here when it prepared the batch
}

func newBatch() *batch {
	return &batch{buf: make([]byte, 0, batchBytes), recs: make([]prepared, 0, batchRecords), done: make(chan struct{}, 1)}
}

// frameSource cuts the frames of a segment into batches.
type frameSource struct {
	r        *storage.Reader
	carry    []byte // a payload read but not yet put into a batch (valid until the next r.Next)
	carryOff int64
	// alias makes every batch one frame whose payload is the reader's own
	// buffer, valid until the next fill: for one goroutine that prepares
	// and follows each batch before it reads the next, without a copy.
	alias bool
}

// fill reads frames into b until it is full or reading stops.
func (s *frameSource) fill(b *batch) {
	b.buf, b.recs, b.err = b.buf[:0], b.recs[:0], nil
	if s.alias {
		payload, off, err := s.r.Next()
		if err != nil {
			b.end, b.err = off, err
			return
		}
		b.recs = append(b.recs, prepared{payload: payload, off: off})
		b.end = off
		return
	}
	for len(b.recs) < batchRecords {
		payload, off := s.carry, s.carryOff
		if payload != nil {
			s.carry = nil
		} else {
			var err error
			payload, off, err = s.r.Next()
			if err != nil {
				b.end, b.err = off, err
				return
			}
		}
		if len(b.buf)+len(payload) > cap(b.buf) {
			if len(b.recs) > 0 {
				s.carry, s.carryOff = payload, off
				return
			}
			b.buf = make([]byte, 0, len(payload))
		}
		start := len(b.buf)
		b.buf = append(b.buf, payload...)
		b.recs = append(b.recs, prepared{payload: b.buf[start:len(b.buf):len(b.buf)], off: off})
		b.end = off
	}
}

// prepare runs the checks of every record of b that need no other record.
// h is the calling goroutine's own hasher.
func (v *run) prepare(b *batch, h *chain.Hasher) {
	for i := range b.recs {
		p := &b.recs[i]
		p.rec, p.decodeErr = chain.Decode(p.payload)
		p.hashOK, p.typ, p.schemaErr, p.cp, p.cpErr, p.sigBlockErr = false, "", nil, nil, nil, nil
		if p.decodeErr != nil {
			continue
		}
		if p.hashOK = h.Check(p.payload); !p.hashOK {
			continue
		}
		p.leaf = chain.LeafHash(p.rec.Hash)
		switch p.rec.Kind {
		case chain.KindEvent, chain.KindSealerEvent:
			p.typ, p.schemaErr = event.CheckCanonical(p.rec.Event,
				event.DecodeOptions{Now: p.rec.Time(), AllowSealerEvents: p.rec.Kind == chain.KindSealerEvent})
		case chain.KindCheckpoint:
			p.sigBlockErr = checkSignatureBlock(p.rec.Checkpoint)
			if v.opts.AllSignatures {
				p.cp, p.cpErr = chain.OpenCheckpoint(p.rec.Checkpoint, v.opts.Keys)
			} else {
				p.cp, p.cpErr = chain.OpenCheckpointUnchecked(p.rec.Checkpoint, v.opts.Keys)
			}
		}
	}
}

// worker prepares batches from v.work until it is closed.
func (v *run) worker() {
	h := chain.NewHasher()
	for b := range v.work {
		v.prepare(b, h)
		b.done <- struct{}{}
	}
}

// segmentBatches is how many batches one segment has in flight when
// workers prepare them: enough to keep the workers busy on a single
// segment, bounded so that memory stays a few MiB per worker.
func segmentBatches(workers int) int { return min(workers, 6) + 2 }

// checkSegment checks segment i on its own: everything but its links to the
// segments around it, which join checks.
func (v *run) checkSegment(ctx context.Context, i int) *segResult {
	info := v.segs[i]
	res := &segResult{probeRoots: map[uint64]chain.Hash{}}
	r, err := storage.OpenSegment(filepath.Join(v.dir, info.Name), i == len(v.segs)-1)
	if err != nil {
		var ce *storage.CorruptError
		if errors.As(err, &ce) {
			res.failure = &Failure{Reason: ReasonModified, Segment: info.Name, Offset: ce.Offset, Detail: err.Error()}
		} else if errors.Is(err, storage.ErrTornTail) {
			res.failure = &Failure{Reason: ReasonTornTail, Segment: info.Name, Offset: 0, Detail: err.Error()}
		} else {
			res.ioErr = err
		}
		return res
	}
	src := &frameSource{r: r}
	f := &follower{v: v, info: info, res: res, lastOff: storage.SegmentHeaderSize}
	if v.work == nil {
		// One worker: read, prepare and follow each frame on this
		// goroutine, in the reader's buffer.
		defer r.Close()
		src.alias = true
		b, h := &batch{recs: make([]prepared, 0, 1)}, chain.NewHasher()
		for ctx.Err() == nil {
			src.fill(b)
			v.prepare(b, h)
			if !f.follow(b) {
				return f.finish()
			}
		}
		return res
	}

	n := segmentBatches(cap(v.work))
	free := make(chan *batch, n)
	for range n {
		free <- newBatch()
	}
	ordered := make(chan *batch, n) // never full: it holds at most the n batches
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer close(ordered)
		defer r.Close()
		for {
			var b *batch
			select {
			case b = <-free:
			case <-stop:
				return
			}
			src.fill(b)
			select {
			case v.work <- b:
			case <-stop:
				return
			}
			ordered <- b
			if b.err != nil {
				return
			}
		}
	}()
	// Batches abandoned at a failure may still be in a worker's hands;
	// nothing reads them again, and the worker's signal fits the channel.
	defer func() {
		close(stop)
		<-readerDone
	}()
	for b := range ordered {
		<-b.done
		if ctx.Err() != nil {
			return res
		}
		if !f.follow(b) {
			return f.finish()
		}
		free <- b
	}
	return res
}

// follower checks a segment's prepared records in log order.
type follower struct {
	v    *run
	info storage.SegmentInfo
	res  *segResult

	n       int              // records followed so far
	segKeys signer.Verifiers // keys introduced in this segment so far
	// cf checks the links between the segment's records (chain.Follower).
	cf       chain.Follower
	lastOff  int64
	complete bool // the segment was read to its end
	// runKey is the run key named by the segment's latest checkpoint so
	// far (runKnown); before its first checkpoint, commits are signed by
	// the run key of an earlier segment, which join knows.
	runKey   []byte
	runKnown bool
	// unchecked is the segment's latest checkpoint so far whose signature
	// was not checked (Options.AllSignatures unset), or nil. Its signature
	// covers every earlier checkpoint; finish checks it.
	unchecked *uncheckedCP
	// recent are the roots of the segment's last checkpoints, with a
	// witness policy: an audit.checkpoint_witnessed record is compared
	// with the checkpoint it names at once (witnessing.go).
	recent recentRoots
}

// uncheckedCP is a checkpoint opened without checking its signature.
type uncheckedCP struct {
	cp     *chain.SignedCheckpoint
	seq    uint64
	offset int64
}

// progress reports the segment checked up to offset off.
func (f *follower) progress(off int64) {
	if p := f.v.opts.Progress; p != nil {
		p(f.v.done.Add(off-f.lastOff), f.v.total)
	}
	f.lastOff = off
}

// follow checks b's records in order, then what ended the batch. It
// reports whether the segment continues in another batch.
func (f *follower) follow(b *batch) bool {
	for i := range b.recs {
		p := &b.recs[i]
		f.progress(p.off)
		if !f.record(p) {
			return false
		}
		f.n++
	}
	f.progress(b.end)
	switch {
	case b.err == nil:
		return true
	case b.err == io.EOF:
		f.progress(f.info.Size)
		f.complete = true
		return false
	}
	var ce *storage.CorruptError
	var te *storage.TornTailError
	switch {
	case errors.As(b.err, &te):
		f.res.failure = &Failure{Reason: ReasonTornTail, Segment: f.info.Name, Offset: te.Offset, Detail: b.err.Error()}
	case errors.As(b.err, &ce):
		f.res.failure = &Failure{Reason: ReasonModified, Segment: f.info.Name, Offset: ce.Offset, Detail: b.err.Error()}
	default:
		f.res.ioErr = b.err
	}
	return false
}

// finish completes the result of a segment whose checking stopped: at its
// end or at a failure. Either way it first checks the signature of the
// segment's last unchecked checkpoint, which vouches for every checkpoint
// before it; a failure there comes first.
func (f *follower) finish() *segResult {
	if f.v.wit != nil {
		f.res.recentRoots = f.recent.all()
	}
	if u := f.unchecked; u != nil {
		f.unchecked = nil
		if _, err := chain.OpenCheckpoint(u.cp.Note, signer.Verifiers{u.cp.Key}); err != nil {
			seq := u.seq
			f.res.failure = &Failure{Reason: checkpointReason(err), Segment: f.info.Name, Offset: u.offset, Seq: &seq,
				Detail: fmt.Sprintf("checkpoint record %d: %v", seq, err)}
			return f.res
		}
		f.res.signatures++
	}
	if !f.complete {
		return f.res
	}
	if f.cf.Started() {
		f.res.tree = f.cf.Tree().State()
	}
	if !f.res.hasStart {
		f.res.failure = &Failure{Reason: ReasonMalformed, Segment: f.info.Name, Offset: storage.SegmentHeaderSize, Detail: "segment holds no record"}
	}
	return f.res
}

func (f *follower) checkProbes() {
	t := f.cf.Tree()
	for _, p := range f.v.probes {
		if p.size == t.Size() {
			f.res.probeRoots[p.size] = t.Root()
		}
	}
}

// followReasons maps the rules chain.Follower enforces to reason codes.
var followReasons = []struct {
	err    error
	reason Reason
}{
	{chain.ErrSequence, ReasonSequenceGap},
	{chain.ErrChainBroken, ReasonChainBroken},
	{chain.ErrTimeBackwards, ReasonTimeBackwards},
	{chain.ErrAuditID, ReasonModified},
	{chain.ErrServiceKind, ReasonMalformed},
	{chain.ErrCheckpointMismatch, ReasonCheckpointMismatch},
}

func followReason(err error) Reason {
	for _, fr := range followReasons {
		if errors.Is(err, fr.err) {
			return fr.reason
		}
	}
	return ReasonMalformed
}

// checkSignatureBlock checks that a checkpoint record's note carries
// exactly one signature line (FORMAT.md §5): a cosignature or any other
// line added to a record is a modification of it.
func checkSignatureBlock(note []byte) error {
	n, err := chain.SignatureLines(note)
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%d signature lines, the format allows exactly one", n)
	}
	return nil
}

// record checks one prepared record in log order. It reports false, with
// f.res.failure set, when the record fails.
func (f *follower) record(p *prepared) bool {
	v, res, info, rec, off := f.v, f.res, f.info, &p.rec, p.off
	fail := func(reason Reason, seq uint64, format string, args ...any) bool {
		res.failure = &Failure{Reason: reason, Segment: info.Name, Offset: off, Seq: &seq, Detail: fmt.Sprintf(format, args...)}
		return false
	}
	if p.decodeErr != nil {
		return fail(ReasonMalformed, rec.Seq, "%v", p.decodeErr)
	}
	if !p.hashOK {
		return fail(ReasonModified, rec.Seq, "record %d does not match its hash", rec.Seq)
	}
	if f.n == 0 {
		if rec.Kind != chain.KindSegmentStart {
			return fail(ReasonMalformed, rec.Seq, "segment starts with a %v record, not segment_start", rec.Kind)
		}
		switch {
		case rec.Seq > info.FirstSeq:
			return fail(ReasonSegmentReordered, rec.Seq, "segment named for record %d starts with record %d", info.FirstSeq, rec.Seq)
		case rec.Seq < info.FirstSeq:
			return fail(ReasonSegmentDuplicated, rec.Seq, "segment named for record %d holds records from %d, which an earlier segment holds", info.FirstSeq, rec.Seq)
		}
	} else if rec.Kind == chain.KindSegmentStart {
		return fail(ReasonMalformed, rec.Seq, "segment_start record inside a segment")
	}
	// A checkpoint's text, and its signature: with the auditor's keys and
	// the keys this segment introduced so far. A checkpoint signed by a key
	// introduced in an earlier segment is checked by join, which knows the
	// key history; everything else about it is checked here. prepare
	// opened the note with the auditor's keys alone, which gives the same
	// result as long as the segment introduced no key.
	var signed *chain.SignedCheckpoint
	var text *chain.Checkpoint
	checked := v.opts.AllSignatures
	if rec.Kind == chain.KindCheckpoint {
		if p.sigBlockErr != nil {
			return fail(ReasonModified, rec.Seq, "checkpoint record %d: %v", rec.Seq, p.sigBlockErr)
		}
		var err error
		signed, err = p.cp, p.cpErr
		if len(f.segKeys) > 0 {
			keys := append(v.opts.Keys[:len(v.opts.Keys):len(v.opts.Keys)], f.segKeys...)
			signed, err = chain.OpenCheckpoint(rec.Checkpoint, keys)
			checked = true
		}
		switch {
		case err == nil:
			text = &signed.Checkpoint
		case errors.Is(err, chain.ErrUnknownKey):
			peek, _, _, err := chain.PeekCheckpoint(rec.Checkpoint)
			if err != nil {
				return fail(ReasonMalformed, rec.Seq, "checkpoint record %d: %v", rec.Seq, err)
			}
			text = &peek
		default:
			return fail(checkpointReason(err), rec.Seq, "checkpoint record %d: %v", rec.Seq, err)
		}
	}
	if err := f.cf.Next(rec, p.leaf, text); err != nil {
		return fail(followReason(err), rec.Seq, "%v", err)
	}
	switch rec.Kind {
	case chain.KindSegmentStart:
		res.hasStart = true
		res.start = *rec
		res.start.TreeState = append([]chain.Hash(nil), rec.TreeState...)
	case chain.KindEvent, chain.KindSealerEvent:
		typ := p.typ
		if p.schemaErr != nil {
			return fail(ReasonSchemaInvalid, rec.Seq, "record %d: %v", rec.Seq, p.schemaErr)
		}
		if typ != string(rec.Type) {
			return fail(ReasonSchemaInvalid, rec.Seq, "record %d: type field says %q, event is %q", rec.Seq, rec.Type, typ)
		}
		if rec.Kind == chain.KindSealerEvent {
			if !f.sealerEvent(p, typ) {
				return false
			}
		}
	case chain.KindCheckpoint:
		if v.opts.RequireHardware && (text.SignerKind != signer.PKCS11 || text.Dev) {
			return fail(ReasonSoftwareKey, rec.Seq, "checkpoint record %d was signed by a %s key%s, and a hardware key is required",
				rec.Seq, text.SignerKind, map[bool]string{true: " in dev mode", false: ""}[text.Dev])
		}
		ke := keyEvent{seq: rec.Seq, offset: off, segment: info.Name, anchor: text.Anchor, anchorIndex: text.AnchorIndex,
			size: text.Size, runKey: text.RunKey}
		if signed != nil {
			ke.kind, ke.cp, ke.unchecked = keySigned, signed, !checked
			res.checkpoints++
			if checked {
				res.signatures++
				f.unchecked = nil // this signature covers the earlier checkpoints
			} else {
				f.unchecked = &uncheckedCP{cp: signed, seq: rec.Seq, offset: off}
			}
		} else {
			ke.kind, ke.note = keyDeferred, bytes.Clone(rec.Checkpoint)
		}
		res.keyEvents = append(res.keyEvents, ke)
		res.lastCPSeq = rec.Seq
		f.runKey, f.runKnown = text.RunKey, true
		if v.wit != nil {
			f.recent.add(text.Size, text.Root)
		}
	case chain.KindCommit:
		c := commitInfo{rec: *rec, segment: info.Name, offset: off, runKey: f.runKey, inherit: !f.runKnown}
		c.rec.Signature = bytes.Clone(rec.Signature)
		res.lastCommit = &c
		if v.opts.AllSignatures {
			if !f.runKnown {
				res.deferredCommits = append(res.deferredCommits, c)
			} else if reason, detail := checkCommit(&c.rec, f.runKey); reason != "" {
				return fail(reason, rec.Seq, "%s", detail)
			} else {
				res.signatures++
			}
		}
	}
	res.records++
	res.nextSeq, res.head, res.lastTime = f.cf.NextSeq(), f.cf.Head(), f.cf.LastTime()
	f.checkProbes()
	return true
}

// checkCommit checks a commit record's signature with the run key named by
// the latest checkpoint before it (FORMAT.md §3.6); it returns a reason and
// detail when it fails.
func checkCommit(rec *chain.Record, runKey []byte) (Reason, string) {
	switch {
	case runKey == nil:
		return ReasonUnknownKey, fmt.Sprintf("commit record %d: no checkpoint before it names a run key", rec.Seq)
	case !chain.VerifyCommit(rec, runKey):
		return ReasonBadSignature, fmt.Sprintf("commit record %d: its signature does not verify with the run key %s that the checkpoint before it names", rec.Seq, base64.StdEncoding.EncodeToString(runKey))
	}
	return "", ""
}

// sealerEvent notes the sealer events that matter to the key history, the
// anchors, retention and the report's exceptions. It reports false, with
// the failure set, when one does not decode.
func (f *follower) sealerEvent(p *prepared, typ string) bool {
	rec, res := &p.rec, f.res
	at := keyEvent{seq: rec.Seq, offset: p.off, segment: f.info.Name, timeNano: rec.TimeNano}
	fail := func(err error) bool {
		seq := rec.Seq
		res.failure = &Failure{Reason: ReasonSchemaInvalid, Segment: f.info.Name, Offset: p.off, Seq: &seq, Detail: fmt.Sprintf("record %d: %v", rec.Seq, err)}
		return false
	}
	switch typ {
	case event.TypeCheckpointWitnessed:
		if f.v.wit == nil {
			return true // read only to enforce a witness policy
		}
		ev, err := event.Decode(rec.Event, event.DecodeOptions{AllowSealerEvents: true, Now: rec.Time()})
		if err != nil {
			return fail(err)
		}
		f.witnessedEvent(p, ev.(*event.CheckpointWitnessed))
		return true
	case event.TypeRetentionPruned, event.TypeAnchorState, event.TypeTailDiscarded, event.TypeTPMIdentity,
		event.TypeSealerStarted, event.TypeSealerStopped, event.TypeEventsShed, event.TypeClientDropped, event.TypeStorageRecovered,
		event.TypeWitnessAlarm:
		ev, err := event.Decode(rec.Event, event.DecodeOptions{AllowSealerEvents: true, Now: rec.Time()})
		if err != nil {
			return fail(err)
		}
		switch e := ev.(type) {
		case *event.RetentionPruned:
			at.kind, at.prune = retentionPruned, e
		case *event.AnchorState:
			at.kind, at.state = anchorState, e
		case *event.TailDiscarded:
			at.kind, at.discarded = tailDiscarded, e
		case *event.TPMIdentity:
			if err := checkIdentity(e); err != nil {
				return fail(err)
			}
			at.kind, at.identity = tpmIdentity, e
		case *event.SealerStarted:
			at.kind, at.sealer = sealerStarted, e
		default:
			at.kind, at.sealer = sealerNote, e
		}
	case event.TypeKeyIntroduced:
		key, err := introducedKey(rec.Event)
		if err != nil {
			return fail(err)
		}
		f.segKeys = append(f.segKeys, key)
		at.kind, at.key = keyIntroduce, key
	default:
		return true
	}
	res.keyEvents = append(res.keyEvents, at)
	return true
}
