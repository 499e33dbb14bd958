package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/evidence"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/witness"
)

// Options configure Dir. Keys is required.
type Options struct {
	// Keys are the trusted checkpoint keys.
	Keys signer.Verifiers
	// Trusted is a signed checkpoint the auditor kept from earlier; the log
	// must contain it (same size and root) and must not be shorter.
	Trusted []byte
	// Workers is how many goroutines check records, and how many segments
	// are checked at once; 0 = all cores. With more than one, the records
	// of each segment are checked in parallel too.
	Workers int
	// Progress, if set, receives the number of segment bytes checked so far
	// and the total, from any goroutine.
	Progress func(done, total int64)
	// RequireHardware refuses checkpoints that say they were signed by a
	// software key or in dev mode (reason software_key).
	RequireHardware bool
	// RequireFIPS refuses a log with a run of the sealer that its
	// authenticated audit.sealer_started says was not in FIPS 140-3 mode
	// (reason not_fips; fipsRunOf states the rule).
	RequireFIPS bool
	// MinCounter, if set, is a TPM counter value the auditor knows the log
	// reached: a last anchor below it is a rollback (reason rolled_back).
	MinCounter *uint64
	// Evidence, if set, is a verified TPM NV_Certify of the counter
	// (package evidence): it must be by the attestation key of the TPM
	// identity the log last recorded (unknown_ak), of the index it names,
	// and the log's last anchor must reach the certified value at the
	// certified index (rolled_back, evidence_mismatch).
	Evidence *evidence.Result
	// AKName, if set, is the attestation key Name the auditor pinned: the
	// TPM identity the log last recorded, and the evidence, must name it
	// (unknown_ak).
	AKName []byte
	// Witness, if set, is the witness policy (FORMAT.md §5.6, §7): the
	// checkpoints that listed witnesses cosigned must agree with the log
	// (inconsistent_with_witness), and the quorum of them must have
	// cosigned one, fresh (unwitnessed).
	Witness *WitnessPolicy
	// EKChallenge, if set, is the credential challenge the evidence
	// answers: the evidence's AK must be the one the challenge names, its
	// nonce the challenge's credential, and the challenge's endorsement
	// key certificate must chain to a CA the auditor pinned (unknown_ak).
	// It requires Evidence.
	EKChallenge *EKChallenge
	// AnchorInterval is the anchor interval the evidence report assumes
	// where the log records none in an audit.sealer_started (0: the
	// sealer's default, DefaultAnchorInterval).
	AnchorInterval time.Duration
	// AllSignatures checks the signature of every checkpoint. Without it,
	// Dir checks the signature of each segment's last checkpoint, of every
	// checkpoint that endorses a key, of every checkpoint after a key
	// introduction in the same segment, and of every checkpoint signed by a
	// key the log introduced; each other checkpoint is a leaf of the tree
	// of a later checkpoint whose signature Dir checks, which covers its
	// bytes (FORMAT.md §7). The verdict is the same either way for a log
	// whose signatures its key's holder made; a tampered verdict is always
	// reached with every signature checked, so that the first failure
	// reported is exactly the one a check of every signature finds.
	AllSignatures bool
}

// ErrCannotCheck is wrapped by errors that stop Dir from checking at all
// (an unreadable directory, no segments, a trusted checkpoint that does not
// verify). The command exits 2 for these.
var ErrCannotCheck = errors.New("verify: cannot check")

// probe is a tree size whose root some checkpoint outside the log claims.
type probe struct {
	size uint64
	root chain.Hash
	from string // "trusted" or storage.CheckpointFile
	// cosigned are the valid cosignatures of listed witnesses that the
	// note carries (with a witness policy).
	cosigned []cosigned
}

// Dir verifies the log in dir: every frame's checksum, every record's
// structure, hash, chain link and sequence number, every event's schema,
// every checkpoint's key, tree size, head and Merkle root and the signatures
// that cover every checkpoint (all of them with opts.AllSignatures), the
// links between segments, that the last record is sealed, that the log is
// consistent with <dir>/checkpoint and with opts.Trusted. Segments are
// checked in parallel; memory does not grow with the log.
func Dir(ctx context.Context, dir string, opts Options) (*Report, error) {
	start := time.Now()
	rep, err := checkDir(ctx, dir, opts)
	if err == nil && (rep.Verdict == Tampered || rep.Verdict == Unverifiable) && !opts.AllSignatures {
		// Something is wrong: find the first failure as a check of every
		// signature does, since a signature this run left to a later
		// checkpoint may be the first thing that fails (and make an
		// unverifiable log tampered if one does).
		opts.AllSignatures = true
		rep, err = checkDir(ctx, dir, opts)
	}
	if rep != nil {
		rep.Seconds = time.Since(start).Seconds()
	}
	return rep, err
}

func checkDir(ctx context.Context, dir string, opts Options) (*Report, error) {
	if len(opts.Keys) == 0 {
		return nil, fmt.Errorf("%w: no trusted key", ErrCannotCheck)
	}
	segs, err := storage.ListSegments(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCannotCheck, err)
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("%w: no segments in %s", ErrCannotCheck, dir)
	}
	rep := &Report{Segments: len(segs)}
	// Checkpoints from outside the log are read now (their size and root
	// tell the segment workers which roots to compute) and their signatures
	// checked at the end, with every key the log introduced.
	var probes []probe
	var trustedCP *chain.Checkpoint
	wit := newWitnessState(opts.Witness)
	if opts.Trusted != nil {
		text, _, _, err := chain.PeekCheckpoint(opts.Trusted)
		if err != nil {
			return nil, fmt.Errorf("%w: the trusted checkpoint: %v", ErrCannotCheck, err)
		}
		trustedCP = &text
		probes = append(probes, probe{size: text.Size, root: text.Root, from: "trusted", cosigned: wit.fileCosigned(opts.Trusted, &text, "trusted")})
		rep.TrustedCheckpoint = &TrustedResult{Size: text.Size}
	}
	fileNote, fileFailure := readCheckpointFile(dir, rep)
	var fileCP *chain.Checkpoint
	if fileNote != nil {
		text, _, _, err := chain.PeekCheckpoint(fileNote)
		if err != nil {
			fileFailure = &Failure{Reason: ReasonMalformed, Segment: storage.CheckpointFile, Offset: -1, Detail: err.Error()}
		} else {
			fileCP = &text
			probes = append(probes, probe{size: text.Size, root: text.Root, from: storage.CheckpointFile,
				cosigned: wit.fileCosigned(fileNote, &text, storage.CheckpointFile)})
		}
	}

	v := &run{dir: dir, segs: segs, opts: opts, probes: probes, trusted: append(signer.Verifiers(nil), opts.Keys...), ev: newEvidence(opts), wit: wit}
	if n, err := witness.ParseSignedNote(fileNote); fileNote != nil && err == nil && len(n.Lines) > 1 {
		v.fileCosigned = true
	}
	for _, s := range segs {
		v.total += s.Size
	}
	rep.Bytes = v.total
	fail := v.walk(ctx, rep)
	if err := ctx.Err(); err != nil && fail == nil {
		return nil, fmt.Errorf("%w: %v", ErrCannotCheck, err)
	}
	if v.ioErr != nil {
		return nil, fmt.Errorf("%w: %v", ErrCannotCheck, v.ioErr)
	}
	if opts.Trusted != nil {
		if _, err := chain.OpenCheckpoint(opts.Trusted, v.trusted); err != nil {
			return nil, fmt.Errorf("%w: the trusted checkpoint: %v", ErrCannotCheck, err)
		}
	}
	if fileCP != nil && fileFailure == nil {
		if _, err := chain.OpenCheckpoint(fileNote, v.trusted); errors.Is(err, chain.ErrUnknownKey) {
			fileFailure = v.untrusted(fileNote, storage.CheckpointFile, -1, nil, "the "+storage.CheckpointFile+" file")
		} else if err != nil {
			fileFailure = &Failure{Reason: checkpointReason(err), Segment: storage.CheckpointFile, Offset: -1, Detail: err.Error()}
		}
	}
	followed := fail == nil
	if fail == nil {
		fail = v.finish(rep, trustedCP, fileCP, fileFailure)
		if v.finishErr != nil {
			return nil, v.finishErr
		}
	}
	if v.wit != nil && rep.Witnessing == nil {
		v.fillWitnessing(rep, false)
	}
	v.fillEvidence(rep, followed)
	rep.FirstFailure = fail
	rep.Verdict = Intact
	if fail != nil {
		rep.Verdict = verdictOf(fail.Reason)
	}
	return rep, nil
}

// readCheckpointFile reads <dir>/checkpoint. A missing file is a warning.
func readCheckpointFile(dir string, rep *Report) ([]byte, *Failure) {
	data, err := storage.ReadDataFile(filepath.Join(dir, storage.CheckpointFile), chain.MaxCheckpointLen)
	if errors.Is(err, os.ErrNotExist) {
		rep.Warnings = append(rep.Warnings, "no "+storage.CheckpointFile+" file in the data directory")
		return nil, nil
	}
	if errors.Is(err, storage.ErrTooLarge) || errors.Is(err, storage.ErrNotRegular) {
		// Not what the sealer writes there: a checkpoint of at most 16 KiB.
		return nil, &Failure{Reason: ReasonMalformed, Segment: storage.CheckpointFile, Offset: -1, Detail: err.Error()}
	}
	if err != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("cannot read %s: %v", storage.CheckpointFile, err))
		return nil, nil
	}
	return data, nil
}

func checkpointReason(err error) Reason {
	switch {
	case errors.Is(err, chain.ErrUnknownKey):
		return ReasonUnknownKey
	case errors.Is(err, chain.ErrBadSignature):
		return ReasonBadSignature
	}
	return ReasonMalformed
}

// run is one verification of a directory.
type run struct {
	dir    string
	segs   []storage.SegmentInfo
	opts   Options
	probes []probe

	total int64
	done  atomic.Int64
	ioErr error
	// work feeds the workers that prepare batches of records for all
	// segments; nil with one worker, where each segment prepares its own.
	work chan *batch

	// Sequential state, carried from one segment to the next.
	logID       chain.LogID
	nextSeq     uint64
	head        chain.Hash
	tree        []chain.Hash // compact range at nextSeq
	lastTime    int64
	lastCP      *chain.SignedCheckpoint
	lastCPSeq   uint64
	haveCP      bool
	probeRoots  map[uint64]chain.Hash
	checkpoints int
	signatures  int
	records     uint64
	// trusted are the keys whose checkpoints are accepted so far: the
	// auditor's, then each key the log introduced once a checkpoint by an
	// already trusted key covered its introduction. retiredAt[key ID] is
	// the checkpoint after which a key signs nothing (it endorsed its
	// successor).
	trusted   signer.Verifiers
	pending   []pendingKey
	retiredAt map[string]uint64
	// Authentication (FORMAT.md §3.6): records [0, authEnd) are covered by
	// a trusted checkpoint or a commit; records [0, sealedTo) by a trusted
	// checkpoint. runKey is the run key the latest checkpoint names;
	// lastCommit the log's latest commit record.
	authEnd    uint64
	sealedTo   uint64
	runKey     []byte
	lastCommit *commitInfo
	// A log whose prefix retention deleted starts at prunedBefore; an
	// audit.retention_pruned record must account for [.., prunedBefore).
	prunedBefore uint64
	prunes       []keyEvent
	segStarts    map[uint64]int64 // first record of each segment -> its time
	// Anchors (FORMAT.md §5.3).
	lastAnchor    *uint64
	anchorIndex   uint32
	lastAnchorSeq uint64
	anchors       int
	states        []keyEvent // audit.anchor_state records since the last anchor
	intent        *keyEvent  // the last increment_intent since the last anchor
	// identities are the audit.tpm_identity records that may still be the
	// last authenticated one: the latest before authEnd, and every later.
	identities []keyEvent
	// ev gathers the evidence report; firstSeq and firstTime are the
	// log's first record.
	ev        *evidenceState
	firstSeq  uint64
	firstTime int64
	// started is the latest audit.sealer_started record so far: the key
	// it names identifies the signer of a checkpoint no key given opens.
	started *keyEvent
	// wit is the witness policy's state (nil without one).
	wit *witnessState
	// finishErr stops the verification in finish: it could not check.
	finishErr error
	// fileCosigned: the checkpoint file carries lines after the log's
	// signature line (the cosignatures of witnesses, FORMAT.md §5.6).
	fileCosigned bool
	// fips gathers the FIPS 140-3 state of each run (fips.go).
	fips fipsState
}

type pendingKey struct {
	key      signer.PublicKey
	seq      uint64
	timeNano int64
}

// commitInfo is a commit record and the run key it must verify with.
type commitInfo struct {
	rec     chain.Record
	segment string
	offset  int64
	runKey  []byte
	inherit bool // no checkpoint before it in its segment: the run key is the previous segment's
}

// walk checks segments in parallel and joins their results in order. It
// returns the first failure.
func (v *run) walk(ctx context.Context, rep *Report) *Failure {
	workers := v.opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	var workersDone sync.WaitGroup
	if workers > 1 {
		v.work = make(chan *batch, workers)
		for range workers {
			workersDone.Go(v.worker)
		}
	}
	results := make([]chan *segResult, len(v.segs))
	for i := range results {
		results[i] = make(chan *segResult, 1)
	}
	// window bounds how far checking may run ahead of joining, so memory
	// stays flat however many segments there are.
	window := make(chan struct{}, 2*workers)
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		for i := range v.segs {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				results[i] <- v.checkSegment(ctx, i)
			}(i)
		}
	}()
	// On return: stop dispatching, then wait for every worker, so that no
	// goroutine outlives the verification.
	defer func() {
		cancel()
		<-dispatched
		wg.Wait()
		if v.work != nil {
			close(v.work)
			workersDone.Wait()
		}
	}()
	v.probeRoots = make(map[uint64]chain.Hash)
	for i := range v.segs {
		var res *segResult
		select {
		case res = <-results[i]:
		case <-ctx.Done():
			return nil
		}
		<-window
		if res.ioErr != nil {
			v.ioErr = res.ioErr
			return nil
		}
		if f := v.join(i, res); f != nil {
			v.fill(rep)
			return f
		}
	}
	v.fill(rep)
	return nil
}

func (v *run) fill(rep *Report) {
	rep.Records = v.records
	rep.Checkpoints = v.checkpoints
	rep.SignaturesChecked = v.signatures
	if v.records > 0 {
		last := v.nextSeq - 1
		rep.LastSeq = &last
	}
	if v.haveCP {
		rep.LogID = v.logID.String()
	}
	if v.lastCP != nil {
		rep.LastCheckpoint = summarize(v.lastCP)
	}
	if v.lastAnchor != nil {
		seq := v.lastAnchorSeq
		rep.LastAnchor = &AnchorSummary{Counter: *v.lastAnchor, Index: fmt.Sprintf("0x%08x", v.anchorIndex), Seq: seq, Anchors: v.anchors}
	}
}

func summarize(cp *chain.SignedCheckpoint) *CheckpointSummary {
	sum := sha256.Sum256(cp.Note)
	return &CheckpointSummary{Size: cp.Size, Root: b64(cp.Root), Time: cp.Time, KeyID: cp.Key.ID(), KeyName: cp.KeyName,
		SignerKind: string(cp.SignerKind), Algorithm: string(cp.Algorithm), Dev: cp.Dev, NoteSHA256: hex.EncodeToString(sum[:])}
}

// join checks segment i's links to what came before and takes over its state.
func (v *run) join(i int, res *segResult) *Failure {
	name := v.segs[i].Name
	at := func(reason Reason, seq uint64, format string, args ...any) *Failure {
		return &Failure{Reason: reason, Segment: name, Offset: storage.SegmentHeaderSize, Seq: &seq, Detail: fmt.Sprintf(format, args...)}
	}
	if res.hasStart {
		s := res.start
		switch {
		case i == 0:
			if s.Seq != 0 || s.PrevHash != (chain.Hash{}) || len(s.TreeState) != 0 {
				if s.Seq == 0 {
					return at(ReasonModified, s.Seq, "the genesis record does not start an empty log")
				}
				// A pruned log: records 0..Seq-1 must be accounted for by
				// an audit.retention_pruned record later in the log
				// (checked in finish). The segment's tree state and
				// prev_hash cannot be checked against the deleted records;
				// the checkpoints' roots, computed from them, vouch for them.
				v.prunedBefore = s.Seq
				v.firstSeq = s.Seq
				v.nextSeq, v.head = s.Seq, s.PrevHash
				v.tree = append([]chain.Hash(nil), s.TreeState...)
				v.lastTime = s.TimeNano
				v.authEnd, v.sealedTo = s.Seq, s.Seq
			} else {
				// The genesis states only the log's ID and time.
				v.authEnd = 1
			}
			v.logID = s.LogID
			v.haveCP = true
			v.firstTime = s.TimeNano
		case s.LogID != v.logID:
			return at(ReasonSegmentForeign, s.Seq, "segment belongs to log %s, not %s", s.LogID, v.logID)
		case s.Seq > v.nextSeq:
			return at(ReasonSegmentMissing, s.Seq, "records %d to %d are missing", v.nextSeq, s.Seq-1)
		case s.Seq < v.nextSeq:
			return at(ReasonSegmentDuplicated, s.Seq, "segment repeats records from %d (the previous segment ends at %d)", s.Seq, v.nextSeq-1)
		case s.PrevHash != v.head:
			return at(ReasonChainBroken, s.Seq, "segment does not link to the end of the previous segment")
		case !equalState(s.TreeState, v.tree):
			return at(ReasonModified, s.Seq, "tree state differs from the records before it")
		case s.TimeNano < v.lastTime:
			return at(ReasonTimeBackwards, s.Seq, "segment starts before the previous segment's last record")
		default:
			// It continues the log exactly: right after a trusted checkpoint
			// that closes the previous segment, it needs nothing more.
			if v.authEnd == s.Seq {
				v.authEnd = s.Seq + 1
			}
		}
		if v.segStarts == nil {
			v.segStarts = map[uint64]int64{}
		}
		v.segStarts[s.Seq] = s.TimeNano
	}
	// Take over what the segment checked, up to its failure if any.
	v.records += res.records
	v.checkpoints += res.checkpoints
	v.signatures += res.signatures
	if res.records > 0 {
		v.nextSeq, v.head, v.tree, v.lastTime = res.nextSeq, res.head, res.tree, res.lastTime
	}
	// Commits before the segment's first checkpoint verify with the run key
	// of the checkpoint before the segment.
	prevRunKey := v.runKey
	for i := range res.deferredCommits {
		c := &res.deferredCommits[i]
		if reason, detail := checkCommit(&c.rec, prevRunKey); reason != "" {
			seq := c.rec.Seq
			return &Failure{Reason: reason, Segment: c.segment, Offset: c.offset, Seq: &seq, Detail: detail}
		}
		v.signatures++
	}
	if f := v.followKeys(res); f != nil {
		return f
	}
	if v.wit != nil {
		v.wit.joinedSegment(res)
		for _, w := range res.witnessWarnings {
			v.wit.warn("%s", w)
		}
	}
	if c := res.lastCommit; c != nil {
		lc := *c
		if lc.inherit {
			lc.runKey = prevRunKey
		}
		v.lastCommit = &lc
	}
	for size, root := range res.probeRoots {
		v.probeRoots[size] = root
	}
	return res.failure
}

// followKeys walks a segment's key introductions, checkpoints and sealer
// events in log order, keeping the set of trusted keys: a checkpoint must
// be signed by a key trusted at that point, and a key introduced by an
// audit.key_introduced record becomes trusted once a checkpoint by a
// trusted key covers that record; the key that endorsed it signs nothing
// after. FORMAT.md §5.1 states the rule.
func (v *run) followKeys(res *segResult) *Failure {
	for _, ke := range res.keyEvents {
		seq := ke.seq
		at := func(reason Reason, format string, args ...any) *Failure {
			return &Failure{Reason: reason, Segment: ke.segment, Offset: ke.offset, Seq: &seq, Detail: fmt.Sprintf(format, args...)}
		}
		switch ke.kind {
		case keyIntroduce:
			v.pending = append(v.pending, pendingKey{key: ke.key, seq: ke.seq, timeNano: ke.timeNano})
			continue
		case retentionPruned:
			v.prunes = append(v.prunes, ke)
			continue
		case anchorState:
			v.sealerNote(ke)
			v.states = append(v.states, ke)
			if ke.state.Status == event.AnchorIncrementIntent {
				k := ke
				v.intent = &k
			}
			continue
		case tpmIdentity:
			v.noteIdentity(ke)
			continue
		case tailDiscarded:
			d := ke.discarded
			v.exception(ke, "tail_discarded", fmt.Sprintf("at start the sealer cut %d bytes (%d records from %d) of segment %s that nothing it signed authenticated, kept as %s, SHA-256 %s; decided by %s",
				d.Bytes, d.Records, d.FirstSeq, d.Segment, d.KeptAs, d.SHA256, d.DecidedBy))
			continue
		case sealerStarted:
			k := ke
			v.started = &k
			v.sealerNote(ke)
			v.noteRun(ke)
			continue
		case sealerNote:
			v.sealerNote(ke)
			if _, ok := ke.sealer.(*event.WitnessAlarm); ok && v.wit != nil {
				v.witnessAlarm(ke)
			}
			continue
		case witnessedCP:
			v.followWitnessed(ke)
			continue
		case keySigned:
			if !v.trusted.Contains(ke.cp.Key) {
				return v.untrusted(ke.cp.Note, ke.segment, ke.offset, &seq, fmt.Sprintf("checkpoint record %d", seq))
			}
			if ke.unchecked && v.endorses(ke.seq) {
				// Trust in a key rests on this signature itself, never on
				// a later one, which the endorsed key may have made.
				if _, err := chain.OpenCheckpoint(ke.cp.Note, signer.Verifiers{ke.cp.Key}); err != nil {
					return at(checkpointReason(err), "checkpoint record %d: %v", seq, err)
				}
				v.signatures++
			}
		case keyDeferred:
			cp, err := chain.OpenCheckpoint(ke.note, v.trusted)
			if errors.Is(err, chain.ErrUnknownKey) {
				return v.untrusted(ke.note, ke.segment, ke.offset, &seq, fmt.Sprintf("checkpoint record %d", seq))
			}
			if err != nil {
				return at(checkpointReason(err), "checkpoint record %d: %v", seq, err)
			}
			ke.cp = cp
			v.checkpoints++
			v.signatures++
		}
		key := ke.cp.Key
		if after, ok := v.retiredAt[key.ID()]; ok && seq > after {
			return at(ReasonRetiredKey, "checkpoint record %d is signed by key %s, which endorsed its successor at checkpoint record %d and may sign nothing after it", seq, key.ID(), after)
		}
		// A checkpoint by a trusted key endorses the keys introduced before
		// it, and retires the key that signed it: from here on the new key
		// signs. A key that introduces itself (the operator accepted a new
		// key because the old one is lost) retires every other key.
		kept := v.pending[:0]
		for _, p := range v.pending {
			if p.seq >= ke.seq {
				kept = append(kept, p)
				continue
			}
			v.ev.endorsed(p.key, p.seq, ke.seq, key)
			switch {
			case p.key.Equal(key):
				for _, k := range v.trusted {
					if !k.Equal(key) {
						v.retire(k, ke.seq)
					}
				}
				v.exception(keyEvent{seq: p.seq, segment: ke.segment, offset: ke.offset, timeNano: p.timeNano}, "unendorsed_key",
					fmt.Sprintf("key %s was introduced without an endorsement by the previous key (the operator accepted it); it is trusted only because you gave it", key.ID()))
			case !v.trusted.Contains(p.key):
				v.trusted = append(v.trusted, p.key)
				v.retire(key, ke.seq)
			}
		}
		v.pending = kept
		v.lastCP, v.lastCPSeq = ke.cp, ke.seq
		v.runKey = ke.runKey
		sealed := ke.size
		if ke.size == ke.seq {
			sealed = ke.seq + 1
		}
		v.sealedTo = max(v.sealedTo, sealed)
		v.authEnd = max(v.authEnd, sealed)
		if ke.anchor != nil {
			if f := v.followAnchor(ke); f != nil {
				return f
			}
		}
		v.evidenceCheckpoint(ke)
		v.ev.promote(v.authEnd)
		if f := v.promoteFIPS(); f != nil {
			return f
		}
	}
	return nil
}

// retire notes that key k signs nothing after checkpoint record seq.
func (v *run) retire(k signer.PublicKey, seq uint64) {
	if v.retiredAt == nil {
		v.retiredAt = map[string]uint64{}
	}
	if _, ok := v.retiredAt[k.ID()]; !ok {
		v.retiredAt[k.ID()] = seq
		v.ev.retired(k, seq)
	}
}

// exception notes something an auditor must look at although the log is
// intact (Report.Exceptions). It counts only once a trusted checkpoint or
// the last commit authenticates its record (evidenceState.promote).
func (v *run) exception(ke keyEvent, code, detail string) {
	v.ev.note(Exception{Code: code, Seq: ke.seq, Time: time.Unix(0, ke.timeNano).UTC(), Segment: ke.segment, Detail: detail})
}

// endorses reports whether a checkpoint at seq makes a key trusted: it
// covers a key introduction whose key is not trusted yet.
func (v *run) endorses(seq uint64) bool {
	for _, p := range v.pending {
		if p.seq < seq && !v.trusted.Contains(p.key) {
			return true
		}
	}
	return false
}

// keyEvent is a record that matters to the key history, the anchors,
// retention or the report's exceptions.
type keyEvent struct {
	kind     keyEventKind
	seq      uint64
	offset   int64
	segment  string
	timeNano int64                   // sealer events: the record's time
	key      signer.PublicKey        // keyIntroduce
	cp       *chain.SignedCheckpoint // keySigned: opened by the segment worker
	// keySigned: the segment worker did not check cp's signature (it
	// relies on a later checkpoint's, see Options.AllSignatures).
	unchecked bool
	note      []byte // keyDeferred: signature to check in join
	// Checkpoints: the tree size they cover, the run key they name, and the
	// anchor line, if any.
	size        uint64
	runKey      []byte
	anchor      *uint64
	anchorIndex uint32
	state       *event.AnchorState     // anchorState
	prune       *event.RetentionPruned // retentionPruned
	discarded   *event.TailDiscarded   // tailDiscarded
	identity    *event.TPMIdentity     // tpmIdentity
	sealer      event.Event            // sealerStarted, sealerNote: the event
	witnessed   *witnessedRecord       // witnessedCP
	witnessName string                 // witnessedCP: the sealer's name of the witness
}

type keyEventKind int

const (
	keyIntroduce keyEventKind = iota + 1
	keySigned
	keyDeferred
	anchorState
	retentionPruned
	tailDiscarded
	tpmIdentity
	sealerStarted
	sealerNote  // a sealer event only the evidence report reads
	witnessedCP // an audit.checkpoint_witnessed whose cosignature a listed witness made
)

// followAnchor checks an anchored checkpoint's counter against the one
// before it (FORMAT.md §5.3): it must be one more; or, explained by an
// audit.anchor_state record that the checkpoint covers, more (the counter
// moved by more than one during an increment, or the operator accepted an
// old copy of the log) or anything (the operator accepted a reset counter).
// Every such explanation, and a recovered crash, is an exception of the
// report.
func (v *run) followAnchor(ke keyEvent) *Failure {
	a := *ke.anchor
	seq := ke.seq
	var explained *keyEvent
	for i := range v.states {
		st := &v.states[i]
		if st.seq < ke.size && st.state.Counter != nil && *st.state.Counter == a && st.state.Status != event.AnchorIncrementIntent {
			explained = st
		}
	}
	ok := v.lastAnchor == nil || (a == *v.lastAnchor+1 && ke.anchorIndex == v.anchorIndex)
	if v.lastAnchor != nil && explained != nil {
		st := explained.state
		switch st.Status {
		case event.AnchorCrashRecovered:
			if ok {
				v.exception(*explained, "crash_recovered", fmt.Sprintf("the sealer stopped between incrementing the counter to %d and writing the anchored checkpoint; it recorded that at its next start", a))
			}
		case event.AnchorContinuation:
			if a > *v.lastAnchor+1 && ke.anchorIndex == v.anchorIndex {
				ok = true
				v.exception(*explained, "counter_jump", fmt.Sprintf("the counter went from %d to %d during one increment (someone else incremented it, or a reply was lost)", *v.lastAnchor, a))
			}
		case event.AnchorRollbackOverride:
			if a > *v.lastAnchor && ke.anchorIndex == v.anchorIndex {
				ok = true
				v.exception(*explained, "rollback_override", fmt.Sprintf("the operator started the sealer on a log older than the TPM counter (counter %d after %d)", a, *v.lastAnchor))
			}
		case event.AnchorReset:
			ok = true
			v.exception(*explained, "anchor_reset", fmt.Sprintf("the operator accepted a TPM counter behind the log or another index (counter %d at 0x%08x after %d at 0x%08x)", a, ke.anchorIndex, *v.lastAnchor, v.anchorIndex))
		}
	}
	if !ok {
		return &Failure{Reason: ReasonAnchorSequence, Segment: ke.segment, Offset: ke.offset, Seq: &seq,
			Detail: fmt.Sprintf("anchored checkpoint %d carries counter %d at index 0x%08x after %d at index 0x%08x, and no audit.anchor_state record it covers explains it", seq, a, ke.anchorIndex, *v.lastAnchor, v.anchorIndex)}
	}
	v.lastAnchor, v.anchorIndex, v.lastAnchorSeq = &a, ke.anchorIndex, seq
	v.anchors++
	v.states, v.intent = v.states[:0], nil
	return nil
}

// introducedKey reads the public key out of an audit.key_introduced event.
func introducedKey(body []byte) (signer.PublicKey, error) {
	ev, err := event.Decode(body, event.DecodeOptions{AllowSealerEvents: true, Now: time.Now().Add(100 * 365 * 24 * time.Hour)})
	if err != nil {
		return signer.PublicKey{}, err
	}
	ki, ok := ev.(*event.KeyIntroduced)
	if !ok {
		return signer.PublicKey{}, errors.New("not an audit.key_introduced event")
	}
	raw, err := base64.StdEncoding.DecodeString(ki.PublicKey)
	if err != nil {
		return signer.PublicKey{}, fmt.Errorf("key_introduced public_key: %w", err)
	}
	// The key is trusted under any signature-line name, as a PEM key is:
	// the key itself, not its label, is what the history endorses.
	k, err := signer.PublicKeyFromRaw("", signer.Algorithm(ki.Algorithm), raw)
	if err != nil {
		return signer.PublicKey{}, err
	}
	if k.ID() != ki.KeyID {
		return signer.PublicKey{}, fmt.Errorf("key_introduced key_id %s does not match its public key (%s)", ki.KeyID, k.ID())
	}
	return k, nil
}

// checkEvidence checks TPM evidence against the log (FORMAT.md §5.4). The
// evidence must be by the attestation key of the TPM identity the log last
// recorded (and the one the auditor pinned, and the one its credential
// challenge bound to a certified EK); otherwise it proves nothing about
// this log's TPM: unknown_ak. It must certify the index the identity names.
// Then it compares the certified counter with the log's last anchor: equal
// is current; one above with an authenticated, unfinished increment_intent
// for exactly that value after the last anchor is an anchor in progress
// (incomplete); anything else above is a rolled-back log; below, or at
// another index, the evidence does not belong to this log's anchor.
func (v *run) checkEvidence(e *evidence.Result, id *keyEvent, sum *EvidenceSummary) *Failure {
	last := v.segs[len(v.segs)-1].Name
	fail := func(reason Reason, format string, args ...any) *Failure {
		return &Failure{Reason: reason, Segment: last, Offset: -1, Detail: fmt.Sprintf(format, args...)}
	}
	akName := hex.EncodeToString(e.AKName)
	if id == nil {
		return fail(ReasonUnknownAK, "the evidence is by the attestation key %s, but the log records no TPM identity (audit.tpm_identity) that its keys authenticate: nothing ties that key to the log's TPM", akName)
	}
	ti := id.identity
	if ti.AKName != akName {
		return fail(ReasonUnknownAK, "the evidence is by the attestation key %s, but the log's TPM identity (record %d) names %s: the evidence is not from the log's TPM", akName, id.seq, ti.AKName)
	}
	if pin := v.opts.AKName; len(pin) > 0 {
		if !bytes.Equal(pin, e.AKName) {
			return fail(ReasonUnknownAK, "the evidence is by the attestation key %s, not the one you pinned, %x", akName, pin)
		}
		sum.AKPinned = true
	}
	if c := v.opts.EKChallenge; c != nil {
		if f := v.checkEKChallenge(e, c, sum); f != nil {
			return f
		}
	}
	if e.Index != ti.NVIndex || hex.EncodeToString(e.IndexName) != ti.NVName {
		return fail(ReasonEvidenceMismatch, "the evidence certifies index 0x%08x (Name %x), the log's TPM identity (record %d) names index 0x%08x (Name %s)", e.Index, e.IndexName, id.seq, ti.NVIndex, ti.NVName)
	}
	if v.lastAnchor == nil {
		return fail(ReasonRolledBack, "the TPM certifies counter %d but the log holds no anchored checkpoint", e.Counter)
	}
	a := *v.lastAnchor
	pending := false
	if in := v.intent; in != nil && in.seq < v.authEnd {
		st := in.state
		pending = st.Counter != nil && *st.Counter == a && st.Expected != nil && *st.Expected == a+1
	}
	switch {
	case e.Index != v.anchorIndex:
		return fail(ReasonEvidenceMismatch, "the evidence certifies index 0x%08x, the log anchors at index 0x%08x", e.Index, v.anchorIndex)
	case e.Counter == a:
		return nil
	case e.Counter == a+1 && pending:
		return fail(ReasonAnchorPending, "the TPM counter is %d and the log announced that increment after its last anchor %d, but no checkpoint carries it yet (the sealer is anchoring, or stopped before it could)", e.Counter, a)
	case e.Counter > a:
		return fail(ReasonRolledBack, "the TPM certifies counter %d but the log's last anchor is %d: this log is older than the one the TPM anchored", e.Counter, a)
	default:
		return fail(ReasonEvidenceMismatch, "the TPM certifies counter %d, below the log's last anchor %d (evidence from before the log's last anchor, or another TPM)", e.Counter, a)
	}
}

// authenticateTail extends what is authenticated with the log's last
// commit: if it follows the last trusted checkpoint's coverage, its
// signature (by the run key that checkpoint names) authenticates every
// record before it (FORMAT.md §3.6). A commit that does not verify is
// tampering: the sealer writes none.
func (v *run) authenticateTail() *Failure {
	c := v.lastCommit
	if c == nil || c.rec.Seq < v.authEnd {
		return nil
	}
	if reason, detail := checkCommit(&c.rec, c.runKey); reason != "" {
		seq := c.rec.Seq
		return &Failure{Reason: reason, Segment: c.segment, Offset: c.offset, Seq: &seq, Detail: detail}
	}
	if !v.opts.AllSignatures {
		v.signatures++
	}
	v.authEnd = c.rec.Seq + 1
	return nil
}

// checkPrunes checks that an authenticated audit.retention_pruned record
// accounts for a log that starts after record 0, and that every
// authenticated prune removed only segments older than its retention
// period (FORMAT.md §2.4). A log that starts inside a prune's declared
// range is a prune that was interrupted between two removals: intact, with
// an exception.
func (v *run) checkPrunes(rep *Report) *Failure {
	start := v.prunedBefore
	accounted := start == 0
	for _, ke := range v.prunes {
		if ke.seq >= v.authEnd {
			continue // not authenticated: it proves nothing
		}
		rp := ke.prune
		seq := ke.seq
		v.exception(ke, "retention_pruned", fmt.Sprintf("retention deleted records %d to %d (%d segments) older than %d days: %s",
			rp.FirstSeq, rp.LastSeq, len(rp.Segments), rp.RetentionDays, rp.Reason))
		if next, ok := v.segStarts[rp.LastSeq+1]; ok {
			cutoff := ke.timeNano - int64(rp.RetentionDays)*int64(24*time.Hour)
			if next > cutoff {
				return &Failure{Reason: ReasonPruneTooEarly, Segment: ke.segment, Offset: ke.offset, Seq: &seq,
					Detail: fmt.Sprintf("record %d deleted records %d to %d under a retention of %d days, but record %d, which follows them, was written %s, less than %d days before the deletion",
						seq, rp.FirstSeq, rp.LastSeq, rp.RetentionDays, rp.LastSeq+1, time.Unix(0, next).UTC().Format(time.RFC3339), rp.RetentionDays)}
			}
		}
		switch {
		case start == 0:
		case rp.LastSeq+1 == start:
			accounted = true
		case rp.FirstSeq < start && start <= rp.LastSeq && slices.Contains(rp.Segments, storage.SegmentName(start)):
			accounted = true
			v.exception(ke, "interrupted_prune", fmt.Sprintf("the prune at record %d declared records %d to %d deleted, but the log still holds them from record %d on (the sealer was interrupted between two removals and completes the prune at its next start)",
				seq, rp.FirstSeq, rp.LastSeq, start))
		}
	}
	if !accounted {
		first := start
		return &Failure{Reason: ReasonSegmentMissing, Segment: v.segs[0].Name, Offset: storage.SegmentHeaderSize, Seq: &first,
			Detail: fmt.Sprintf("the log starts at record %d and no authenticated audit.retention_pruned record accounts for records before it", first)}
	}
	if start > 0 {
		rep.PrunedBefore = start
	}
	return nil
}

// finish runs the checks that need the whole log.
func (v *run) finish(rep *Report, trusted, fileCP *chain.Checkpoint, fileFailure *Failure) *Failure {
	size := v.nextSeq
	if f := v.authenticateTail(); f != nil {
		return f
	}
	if f := v.promoteFIPS(); f != nil {
		return f
	}
	for _, p := range v.probes {
		if p.from == storage.CheckpointFile && fileFailure != nil {
			continue // an unverified file proves nothing about the log
		}
		root, ok := v.probeRoots[p.size]
		switch {
		case p.size > size:
			return &Failure{Reason: ReasonTruncated, Offset: -1, Segment: v.segs[len(v.segs)-1].Name,
				Detail: fmt.Sprintf("the %s checkpoint covers %d records but the log has only %d", p.from, p.size, size)}
		case !ok || root != p.root || (p.from == "trusted" && trusted.Origin != chain.Origin(v.logID)):
			reason := ReasonInconsistent
			if p.from == storage.CheckpointFile {
				reason = ReasonCheckpointMismatch
			}
			detail := fmt.Sprintf("the %s checkpoint of size %d does not match this log", p.from, p.size)
			if len(p.cosigned) > 0 {
				// Witnesses the auditor trusts cosigned it: they saw
				// another history of this log.
				reason = ReasonInconsistentWithWitness
				names := make([]string, len(p.cosigned))
				for i, c := range p.cosigned {
					names[i] = v.opts.Witness.Policy.Witnesses()[c.witness].Name()
				}
				detail += fmt.Sprintf(", and witnesses you listed cosigned it (%s): they saw another history of this log", strings.Join(names, ", "))
			}
			return &Failure{Reason: reason, Segment: p.from, Offset: -1, Detail: detail}
		}
		if p.from == "trusted" {
			rep.TrustedCheckpoint.Consistent = true
		}
		for _, c := range p.cosigned {
			v.wit.agree(c)
		}
	}
	if fileFailure != nil {
		return fileFailure
	}
	if v.wit != nil {
		f, err := v.checkWitnessed()
		if err != nil {
			v.finishErr = err
			return nil
		}
		if f != nil {
			return f
		}
	}
	if f := v.checkPrunes(rep); f != nil {
		return f
	}
	if m := v.opts.MinCounter; m != nil && (v.lastAnchor == nil || *v.lastAnchor < *m) {
		last := "no anchor"
		if v.lastAnchor != nil {
			last = fmt.Sprintf("counter %d", *v.lastAnchor)
		}
		return &Failure{Reason: ReasonRolledBack, Segment: v.segs[len(v.segs)-1].Name, Offset: -1,
			Detail: fmt.Sprintf("the log's last anchor is %s, below the minimum counter %d you gave: this log is older than one that was anchored", last, *m)}
	}
	if fileCP != nil && v.lastCP != nil && fileCP.Size < v.lastCP.Size && !v.fileCosigned {
		// (A sealer with witnesses keeps there the latest checkpoint they
		// cosigned, with their cosignature lines: older by design.)
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s holds an older checkpoint (size %d) than the log (size %d)", storage.CheckpointFile, fileCP.Size, v.lastCP.Size))
	}
	id := v.lastIdentity()
	if id != nil {
		ti := id.identity
		rep.TPMIdentity = &IdentitySummary{AKName: ti.AKName, NVIndex: fmt.Sprintf("0x%08x", ti.NVIndex), NVName: ti.NVName,
			EKCertificate: ti.EKCertificate, Seq: id.seq}
	}
	if f := v.checkAKPin(id); f != nil {
		return f
	}
	if e := v.opts.Evidence; e != nil {
		rep.Evidence = &EvidenceSummary{Counter: e.Counter, Index: fmt.Sprintf("0x%08x", e.Index), NonceChecked: e.NonceChecked, AKName: hex.EncodeToString(e.AKName)}
		if f := v.checkEvidence(e, id, rep.Evidence); f != nil {
			return f
		}
	}
	if f := v.fillWitnessing(rep, true); f != nil {
		return f
	}
	last := v.segs[len(v.segs)-1].Name
	if v.authEnd < size {
		first := v.authEnd
		rep.Unauthenticated = size - v.authEnd
		rep.Unsealed = size - min(v.sealedTo, size)
		return &Failure{Reason: ReasonUnauthenticatedTail, Segment: last, Offset: -1, Seq: &first,
			Detail: fmt.Sprintf("%s from %d on: no checkpoint and no commit authenticates them, so the sealer did not vouch for them (the remains of a crash, which it cuts at its next start, or records someone else wrote)", records(rep.Unauthenticated), first)}
	}
	if v.lastCP == nil {
		first := uint64(0)
		rep.Unsealed = size
		return &Failure{Reason: ReasonUnsealedTail, Segment: v.segs[0].Name, Offset: -1, Seq: &first, Detail: "the log holds no checkpoint"}
	}
	if v.sealedTo < size {
		first := v.sealedTo
		rep.Unsealed = size - v.sealedTo
		return &Failure{Reason: ReasonUnsealedTail, Segment: last, Offset: -1, Seq: &first,
			Detail: fmt.Sprintf("%s from %d on: the sealer's run key authenticated them but no checkpoint covers them yet", records(rep.Unsealed), first)}
	}
	return nil
}

// records says "1 record" or "n records".
func records(n uint64) string {
	if n == 1 {
		return "1 record"
	}
	return fmt.Sprintf("%d records", n)
}

func equalState(a, b []chain.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// segResult is what checking one segment on its own yields.
type segResult struct {
	hasStart bool
	start    chain.Record // the segment_start record (its slices are copied)

	records     uint64
	checkpoints int // checkpoints opened with a trusted key
	signatures  int // signatures checked
	nextSeq     uint64
	head        chain.Hash
	tree        []chain.Hash
	lastTime    int64
	lastCPSeq   uint64
	keyEvents   []keyEvent // key introductions and checkpoints, in log order
	probeRoots  map[uint64]chain.Hash
	// lastCommit is the segment's last commit record; deferredCommits,
	// with Options.AllSignatures, the commits before its first checkpoint,
	// whose run key join knows.
	lastCommit      *commitInfo
	deferredCommits []commitInfo
	// With a witness policy: the roots of the segment's last checkpoints,
	// and what its audit.checkpoint_witnessed records gave to warn about.
	recentRoots     []sizeRoot
	witnessWarnings []string

	failure *Failure
	ioErr   error
}
