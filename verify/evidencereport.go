package verify

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/signer"
)

// The evidence report (FORMAT.md §7.1): what the verification covered,
// the key history, the anchoring and the exceptions, gathered in log order
// by the goroutine that joins the segments. Every list is bounded
// (MaxListed) so that memory stays flat in the log's size, and only
// authenticated records count: what a record says waits in pending until a
// trusted checkpoint or the last commit covers it (promote).

// DefaultAnchorInterval and DefaultHeartbeat are the sealer's defaults
// (anchor_interval and heartbeat of its configuration), assumed for a log
// whose audit.sealer_started records no settings.
const (
	DefaultAnchorInterval = time.Minute
	DefaultHeartbeat      = time.Minute
)

// maxPending bounds the exceptions that wait for authentication: a
// legitimate log has a few between two checkpoints; an unauthenticated
// tail may hold many, which count for nothing anyway.
const maxPending = 64 << 10

// Codes counted in Completeness but not listed as exceptions.
const (
	noteStarted = "sealer_started"
	noteStopped = "sealer_stopped"
)

// evidenceState is the evidence report's state during a verification.
type evidenceState struct {
	pending        []Exception
	pendingDropped bool
	listed         []Exception
	counts         map[string]int
	comp           Completeness

	// Runs of the sealer.
	runSeen, stopped bool
	lastStart        uint64

	// Keys.
	given   signer.Verifiers
	history []*KeyUse
	byID    map[string]*KeyUse

	dev bool // the last checkpoint said mode dev

	// Anchoring.
	interval, heartbeat time.Duration
	intervalFromLog     bool
	anchoringOff        bool // the current run recorded anchoring disabled
	haveAnchor          bool
	first, last         *AnchorRef
	openFrom, lastCP    *CheckpointRef // the first checkpoint since the last anchor; the last checkpoint
	stretches           []Stretch
	stretchesTotal      int
}

func newEvidence(opts Options) *evidenceState {
	e := &evidenceState{given: opts.Keys, byID: map[string]*KeyUse{}, counts: map[string]int{},
		interval: opts.AnchorInterval, heartbeat: DefaultHeartbeat}
	if e.interval <= 0 {
		e.interval = DefaultAnchorInterval
	}
	return e
}

// keyInfo identifies k by key ID and SPKI fingerprint.
func keyInfo(k signer.PublicKey) KeyInfo {
	sum := sha256.Sum256(k.SPKI())
	return KeyInfo{KeyID: hex.EncodeToString(sum[:16]), SPKISHA256: hex.EncodeToString(sum[:]), Algorithm: string(k.Algorithm)}
}

// note adds something a record says, for promote to list once the record
// is authenticated.
func (e *evidenceState) note(x Exception) {
	if len(e.pending) >= maxPending {
		e.pendingDropped = true
		return
	}
	e.pending = append(e.pending, x)
}

// promote moves what authenticated records (before authEnd) say into the
// report's counts and list.
func (e *evidenceState) promote(authEnd uint64) {
	kept := e.pending[:0]
	for _, x := range e.pending {
		if x.Seq >= authEnd {
			kept = append(kept, x)
			continue
		}
		switch x.Code {
		case noteStarted:
			e.comp.SealerStarts++
			continue
		case noteStopped:
			e.comp.CleanStops++
			continue
		case "unclean_stop":
			e.comp.UncleanStops++
		case "events_shed":
			e.comp.EventsShed += x.Count
			e.comp.CriticalEventsShed += x.critical
		case "client_dropped":
			e.comp.ClientDropped += x.Count
		}
		e.counts[x.Code]++
		if len(e.listed) < MaxListed {
			e.listed = append(e.listed, x)
		}
	}
	e.pending = kept
}

// key returns the history entry of k, adding it.
func (e *evidenceState) key(k signer.PublicKey) *KeyUse {
	info := keyInfo(k)
	if u, ok := e.byID[info.KeyID]; ok {
		return u
	}
	u := &KeyUse{KeyInfo: info, Trust: "untrusted"}
	if e.given.Contains(k) {
		u.Trust = "given"
	}
	if len(e.history) < MaxListed {
		e.history = append(e.history, u)
	}
	e.byID[info.KeyID] = u
	return u
}

// endorsed records that the checkpoint at seq, signed by, covers the
// introduction of k at record introduced.
func (e *evidenceState) endorsed(k signer.PublicKey, introduced, seq uint64, by signer.PublicKey) {
	u := e.key(k)
	if u.IntroducedSeq != nil {
		return
	}
	u.IntroducedSeq, u.EndorsedSeq = &introduced, &seq
	if k.Equal(by) {
		u.Trust = "unendorsed"
		return
	}
	u.EndorsedBy = by.ID()
	if u.Trust != "given" {
		u.Trust = "endorsed"
	}
}

// retired records that k may sign nothing after checkpoint seq.
func (e *evidenceState) retired(k signer.PublicKey, seq uint64) {
	if u := e.key(k); u.RetiredAfter == nil {
		u.RetiredAfter = &seq
	}
}

// checkpoint follows a trusted checkpoint: its key, whether it says mode
// dev, and whether it is anchored (after followAnchor accepted it).
func (v *run) evidenceCheckpoint(ke keyEvent) {
	e := v.ev
	ref := &CheckpointRef{Seq: ke.seq, Time: ke.cp.Time}
	u := e.key(ke.cp.Key)
	if u.FirstCheckpoint == nil {
		u.FirstCheckpoint = ref
	}
	u.LastCheckpoint = ref
	u.Checkpoints++
	if ke.cp.Dev && !e.dev {
		e.note(Exception{Code: "dev_mode", Seq: ke.seq, Time: ke.cp.Time, Segment: ke.segment,
			Detail: fmt.Sprintf("checkpoint record %d and those after it say mode dev: the sealer ran in development mode (a software key, no TPM anchor)", ke.seq)})
	}
	e.dev = ke.cp.Dev
	if ke.anchor != nil {
		a := &AnchorRef{Counter: *ke.anchor, Index: fmt.Sprintf("0x%08x", ke.anchorIndex), Seq: ke.seq, Time: ke.cp.Time}
		if e.first == nil {
			e.first = a
		}
		e.last = a
		e.closeStretch(ref, ke.segment, false)
		e.haveAnchor, e.lastCP = true, ref
		return
	}
	if e.haveAnchor && !e.anchoringOff && e.openFrom == nil {
		e.openFrom = ref
	}
	e.lastCP = ref
}

// threshold is how long records may stay unanchored under a running,
// anchoring sealer: it anchors at its first seal after the interval, and
// seals at least once per heartbeat.
func (e *evidenceState) threshold() time.Duration { return e.interval + e.heartbeat }

// closeStretch ends the unanchored stretch that began at openFrom, at to,
// and reports it if it lasted longer than the threshold.
func (e *evidenceState) closeStretch(to *CheckpointRef, segment string, open bool) {
	from := e.openFrom
	e.openFrom = nil
	if from == nil || to == nil {
		return
	}
	d := to.Time.Sub(from.Time)
	if d <= e.threshold() {
		return
	}
	e.stretchesTotal++
	if len(e.stretches) < MaxListed {
		e.stretches = append(e.stretches, Stretch{FromSeq: from.Seq, FromTime: from.Time, ToSeq: to.Seq, ToTime: to.Time, Seconds: d.Seconds(), Open: open})
	}
	end := fmt.Sprintf("until the anchored checkpoint at record %d", to.Seq)
	if open {
		end = fmt.Sprintf("and were still unanchored at the log's last record %d", to.Seq)
	}
	e.note(Exception{Code: "unanchored_stretch", Seq: from.Seq, Time: from.Time, Segment: segment,
		Detail: fmt.Sprintf("records from checkpoint %d on stayed unanchored for %s %s, longer than the anchor interval %s plus the heartbeat %s (anchoring failed, or the TPM was unreachable)",
			from.Seq, d.Round(time.Second), end, e.interval, e.heartbeat)})
}

// sealerNote follows the sealer events of the evidence report, in log
// order.
func (v *run) sealerNote(ke keyEvent) {
	e := v.ev
	at := Exception{Seq: ke.seq, Time: time.Unix(0, ke.timeNano).UTC(), Segment: ke.segment}
	add := func(code string, count uint64, format string, args ...any) {
		x := at
		x.Code, x.Count, x.Detail = code, count, fmt.Sprintf(format, args...)
		e.note(x)
	}
	sealer := ke.sealer
	if ke.kind == anchorState {
		sealer = ke.state
	}
	switch ev := sealer.(type) {
	case *event.SealerStarted:
		if e.runSeen && !e.stopped {
			add("unclean_stop", 0, "the sealer started at record %d with no audit.sealer_stopped since its start at record %d: the previous run did not stop cleanly (a crash, a kill or a power loss)", ke.seq, e.lastStart)
		}
		e.runSeen, e.stopped, e.lastStart = true, false, ke.seq
		add(noteStarted, 0, "")
		if ev.TornTailBytes != nil {
			add("torn_tail_cut", 0, "at start the sealer cut a torn frame of %d bytes left by a crash, kept as %s", *ev.TornTailBytes, ev.TornTailKeptAs)
		}
		// A stretch open when the previous run ended ends with it.
		e.closeStretch(e.lastCP, ke.segment, false)
		e.anchoringOff = false
		if d, err := time.ParseDuration(ev.Settings["anchor_interval"]); err == nil && d > 0 {
			e.interval, e.intervalFromLog = d, true
		}
		if d, err := time.ParseDuration(ev.Settings["heartbeat"]); err == nil && d > 0 {
			e.heartbeat = d
		}
	case *event.SealerStopped:
		e.stopped = true
		add(noteStopped, 0, "")
	case *event.EventsShed:
		x := at
		x.Code, x.Count, x.critical = "events_shed", ev.Count, ev.CriticalCount
		x.Detail = fmt.Sprintf("the sealer shed %d events (%d critical emits timed out) between %s and %s: %s",
			ev.Count, ev.CriticalCount, ev.FirstAt.UTC().Format(time.RFC3339), ev.LastAt.UTC().Format(time.RFC3339), ev.Reason)
		e.note(x)
	case *event.ClientDropped:
		add("client_dropped", ev.Count, "service %s reported %d events its client library dropped before they reached the sealer: %s", ev.ServiceID, ev.Count, ev.Reason)
	case *event.StorageRecovered:
		var cut uint64
		if ev.DiscardedBytes != nil {
			cut = *ev.DiscardedBytes
		}
		add("storage_recovered", 0, "writing the log failed at %s (%s); the sealer refused events until it could write again, and cut %d bytes never made durable",
			ev.FailedAt.UTC().Format(time.RFC3339), ev.Error, cut)
	case *event.WitnessAlarm:
		known := ""
		if ev.KnownSize != nil {
			known = fmt.Sprintf(", the witness named size %d", *ev.KnownSize)
		}
		add("witness_alarm", 0, "split view: witness %q refused the checkpoint of size %d (submitted from size %d%s) as inconsistent with one it cosigned: %s",
			ev.Witness, ev.Size, ev.OldSize, known, ev.Answer)
	case *event.AnchorState:
		if ev.Status == event.AnchorDisabled {
			e.anchoringOff = true
			e.closeStretch(e.lastCP, ke.segment, false)
			add("anchoring_disabled", 0, "the sealer run that started before record %d anchored nothing in a TPM counter: %s", ke.seq, ev.Details)
		}
	}
}

// fillEvidence writes the evidence report into rep. final is set once the
// whole log is followed (a stretch still open reaches its last record).
func (v *run) fillEvidence(rep *Report, final bool) {
	e := v.ev
	if final && e.openFrom != nil && v.records > 0 {
		e.closeStretch(&CheckpointRef{Seq: v.nextSeq - 1, Time: time.Unix(0, v.lastTime).UTC()}, v.segs[len(v.segs)-1].Name, true)
	}
	e.promote(v.authEnd)
	if e.pendingDropped {
		rep.ExceptionsTruncated = true
	}
	rep.Exceptions = slices.Clone(e.listed)
	slices.SortStableFunc(rep.Exceptions, func(a, b Exception) int { return cmp.Compare(a.Seq, b.Seq) })
	if len(e.counts) > 0 {
		rep.ExceptionCounts = e.counts
		if totalOf(e.counts) > len(rep.Exceptions) {
			rep.ExceptionsTruncated = true
		}
	}
	if v.records > 0 {
		rep.Period = &Period{FirstSeq: v.firstSeq, FirstTime: time.Unix(0, v.firstTime).UTC(),
			LastSeq: v.nextSeq - 1, LastTime: time.Unix(0, v.lastTime).UTC(), PrunedBefore: v.prunedBefore}
	}
	rep.SegmentFiles = rep.SegmentFiles[:0]
	for i, s := range v.segs {
		if i == MaxListed {
			rep.SegmentFilesTruncated = true
			break
		}
		rep.SegmentFiles = append(rep.SegmentFiles, SegmentFile{Name: s.Name, Bytes: s.Size, FirstSeq: s.FirstSeq})
	}
	rep.TrustedKeys = rep.TrustedKeys[:0]
	for i, k := range v.opts.Keys {
		if i == MaxListed {
			break
		}
		rep.TrustedKeys = append(rep.TrustedKeys, keyInfo(k))
	}
	rep.KeyHistory = rep.KeyHistory[:0]
	for _, u := range e.history {
		rep.KeyHistory = append(rep.KeyHistory, *u)
	}
	src := "assumed"
	if e.intervalFromLog {
		src = "log"
	}
	rep.Anchoring = &Anchoring{Interval: e.interval.String(), IntervalSource: src, Threshold: e.threshold().String(),
		Anchors: v.anchors, First: e.first, Last: e.last, Stretches: slices.Clone(e.stretches), StretchesTotal: e.stretchesTotal}
	if rep.Anchoring.Stretches == nil {
		rep.Anchoring.Stretches = []Stretch{}
	}
	comp := e.comp
	rep.Completeness = &comp
	rep.FIPS = v.fipsReport()
}

// totalOf sums counts.
func totalOf(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}
