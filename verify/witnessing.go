package verify

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/witness"
)

// The witness policy (FORMAT.md §5.6, §7). Cosigned checkpoints come from
// the log's audit.checkpoint_witnessed records, from the data directory's
// checkpoint file and from the auditor's --checkpoint (the cosignature
// lines after the log's signature line). A cosignature counts only if it
// verifies with a witness the auditor listed, each witness once. Every
// such cosigned checkpoint must agree with the log: the log's tree of its
// size has its root (inconsistent_with_witness otherwise). The log is
// witnessed when at least Quorum listed witnesses each cosigned a
// checkpoint that agrees with it, at most MaxAge before the log's last
// checkpoint and not in the future (unwitnessed otherwise); the witnessed
// size is the largest size that many witnesses cosigned (a witness that
// cosigned a larger tree vouched for every smaller one it extends).

// WitnessClockSkew is how far in the future (by the verifier's clock) a
// cosignature's time may be and still count: witnesses and auditors do
// not share a clock.
const WitnessClockSkew = 5 * time.Minute

// DefaultWitnessMaxAge is the freshness bound audit-verify applies unless
// told otherwise (--witness-max-age): well above the sealer's witnessing
// interval (at most its anchor interval, one minute by default).
const DefaultWitnessMaxAge = time.Hour

// WitnessPolicy is the witness policy a verification enforces.
type WitnessPolicy struct {
	// Policy is the witnesses the auditor trusts and the quorum.
	Policy *witness.Policy
	// MaxAge bounds how long before the log's last checkpoint a
	// cosignature may have been made and still count (0: no bound). For a
	// proof bundle, which holds one checkpoint, it is not applied: see
	// CheckCheckpoint.
	MaxAge time.Duration
	// Now is the verifier's clock (nil: time.Now): a cosignature made more
	// than WitnessClockSkew after it does not count.
	Now func() time.Time
}

// ErrUnwitnessed is returned by CheckCheckpoint for a checkpoint that fewer
// listed witnesses than the quorum cosigned.
var ErrUnwitnessed = errors.New("verify: unwitnessed")

// WitnessReport is what the verification found about the witness policy.
type WitnessReport struct {
	Quorum int    `json:"quorum"`
	MaxAge string `json:"max_age"` // "none" without a bound
	// LogSize is the number of records of the log; WitnessedSize the
	// largest tree size that Quorum listed witnesses each cosigned (in a
	// checkpoint of at least that size that agrees with the log, fresh),
	// 0 when they did not; Unwitnessed the records after it.
	LogSize       uint64 `json:"log_size"`
	WitnessedSize uint64 `json:"witnessed_size"`
	Unwitnessed   uint64 `json:"unwitnessed_records"`
	// Cosignatures counts the valid cosignatures by listed witnesses found
	// in every source.
	Cosignatures int `json:"cosignatures"`
	// Witnesses are the listed witnesses, in the order given.
	Witnesses []WitnessSummary `json:"witnesses"`
}

// WitnessSummary is one listed witness in the report.
type WitnessSummary struct {
	Name        string `json:"name"`
	VerifierKey string `json:"verifier_key"`
	// Cosignatures counts its valid cosignatures of checkpoints that agree
	// with the log (and are not in the future).
	Cosignatures int `json:"cosignatures"`
	// Latest is the largest checkpoint it cosigned, as far as the log
	// agrees with it.
	Latest *CosignedRef `json:"latest,omitempty"`
}

// CosignedRef is a checkpoint a witness cosigned.
type CosignedRef struct {
	Size           uint64    `json:"size"`
	CheckpointTime time.Time `json:"checkpoint_time"` // the checkpoint's time line
	CosignedAt     time.Time `json:"cosigned_at"`     // the cosignature's time
	// Source is where the cosignature was found: "record", the checkpoint
	// file ("checkpoint"), or the auditor's checkpoint ("trusted").
	Source string  `json:"source"`
	Seq    *uint64 `json:"seq,omitempty"` // the audit.checkpoint_witnessed record
	// Fresh: it counts for the policy (made at most max_age before the
	// log's last checkpoint).
	Fresh bool `json:"fresh"`
}

// cosigned is one valid cosignature by a listed witness of a checkpoint.
type cosigned struct {
	witness int
	size    uint64
	root    chain.Hash
	cpTime  time.Time
	at      time.Time // the cosignature's time
	source  string    // "record", "checkpoint", "trusted"
	seq     uint64    // source "record": the record
	segment string
	offset  int64
}

func (c *cosigned) ref() *CosignedRef {
	r := &CosignedRef{Size: c.size, CheckpointTime: c.cpTime, CosignedAt: c.at, Source: c.source}
	if c.source == "record" {
		seq := c.seq
		r.Seq = &seq
	}
	return r
}

// sizeRoot is a tree size and its root.
type sizeRoot struct {
	size uint64
	root chain.Hash
}

// recentRoots remembers the roots of the last checkpoints followed, so that
// an audit.checkpoint_witnessed record, which the sealer writes shortly
// after the checkpoint it names, is compared with the log at once.
type recentRoots struct {
	ring []sizeRoot
	next int
}

// recentCheckpoints is how many checkpoints recentRoots remembers.
const recentCheckpoints = 256

func (r *recentRoots) add(size uint64, root chain.Hash) {
	if len(r.ring) < recentCheckpoints {
		r.ring = append(r.ring, sizeRoot{size, root})
		return
	}
	r.ring[r.next] = sizeRoot{size, root}
	r.next = (r.next + 1) % recentCheckpoints
}

func (r *recentRoots) lookup(size uint64) (chain.Hash, bool) {
	for _, sr := range r.ring {
		if sr.size == size {
			return sr.root, true
		}
	}
	return chain.Hash{}, false
}

// all returns the remembered roots, oldest first.
func (r *recentRoots) all() []sizeRoot {
	return append(slices.Clone(r.ring[r.next:]), r.ring[:r.next]...)
}

// witnessedRecord is an audit.checkpoint_witnessed record whose
// cosignature verified with a listed witness, as the segment's follower
// found it.
type witnessedRecord struct {
	c        cosigned
	origin   string
	resolved bool // the follower compared its root with the log's
	agrees   bool
}

// maxWitnessWarnings bounds the warnings the witness policy adds.
const maxWitnessWarnings = 20

// witnessState is the witness policy's state during a verification.
type witnessState struct {
	pol    *WitnessPolicy
	now    time.Time
	recent recentRoots // the last checkpoints of the segments joined so far
	// frontier[w] holds witness w's cosignatures of checkpoints that agree
	// with the log that no other of its cosignatures beats in both size
	// and time: which of them count depends on the log's last checkpoint,
	// known only at the end.
	frontier [][]cosigned
	counts   []int
	total    int
	// unresolved are cosigned checkpoints of the log's records whose root
	// no recent checkpoint gave: compared after the walk (resolve).
	unresolved []cosigned
	// inconsistent is the first cosigned checkpoint found to disagree with
	// the log.
	inconsistent *Failure
	// names maps the sealer's name of a witness (audit.checkpoint_witnessed
	// and audit.witness_alarm records) to a listed witness whose key
	// verified a cosignature recorded under that name.
	names map[string]int
	// alarms are the audit.witness_alarm records (the first few).
	alarms   []keyEvent
	warnings []string
	future   int
}

func newWitnessState(p *WitnessPolicy) *witnessState {
	if p == nil {
		return nil
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	n := len(p.Policy.Witnesses())
	return &witnessState{pol: p, now: now(), frontier: make([][]cosigned, n), counts: make([]int, n), names: map[string]int{}}
}

func (w *witnessState) warn(format string, args ...any) {
	if len(w.warnings) < maxWitnessWarnings {
		w.warnings = append(w.warnings, fmt.Sprintf(format, args...))
	}
}

// inFuture reports whether a cosignature time is beyond the verifier's
// clock plus the skew allowed.
func (w *witnessState) inFuture(at time.Time) bool { return at.After(w.now.Add(WitnessClockSkew)) }

// agree takes a cosignature of a checkpoint that agrees with the log.
func (w *witnessState) agree(c cosigned) {
	w.total++
	if w.inFuture(c.at) {
		w.future++
		w.warn("a cosignature by %s is dated %s, in the future (more than %s after this verification's clock): not counted",
			w.pol.Policy.Witnesses()[c.witness].Name(), c.at.Format(time.RFC3339), WitnessClockSkew)
		return
	}
	w.counts[c.witness]++
	f := w.frontier[c.witness]
	for _, o := range f {
		if o.size >= c.size && !o.at.Before(c.at) {
			return // beaten
		}
	}
	kept := f[:0]
	for _, o := range f {
		if !(c.size >= o.size && !c.at.Before(o.at)) {
			kept = append(kept, o)
		}
	}
	w.frontier[c.witness] = append(kept, c)
}

// disagree notes the first cosigned checkpoint found to disagree with the
// log.
func (w *witnessState) disagree(f *Failure) {
	if w.inconsistent == nil {
		w.inconsistent = f
	}
}

// recordFailure is an inconsistent_with_witness failure at a
// checkpoint_witnessed record.
func (w *witnessState) recordFailure(c *cosigned, format string, args ...any) *Failure {
	seq := c.seq
	name := w.pol.Policy.Witnesses()[c.witness].Name()
	return &Failure{Reason: ReasonInconsistentWithWitness, Segment: c.segment, Offset: c.offset, Seq: &seq,
		Detail: fmt.Sprintf("record %d holds %s's cosignature of a checkpoint of size %d (%s) that ", c.seq, name, c.size, c.cpTime.Format(time.RFC3339Nano)) +
			fmt.Sprintf(format, args...)}
}

// witnessedEvent reads an audit.checkpoint_witnessed record for the
// segment's follower: a cosignature that verifies with a listed witness
// becomes a witnessedRecord, compared with the segment's recent
// checkpoints when one has its size. A record whose checkpoint or
// cosignature does not parse, or whose cosignature is by no listed witness
// or does not verify, counts for nothing (the first few are warned about).
func (f *follower) witnessedEvent(p *prepared, ev *event.CheckpointWitnessed) {
	rec, res := &p.rec, f.res
	pol := f.v.opts.Witness.Policy
	warn := func(format string, args ...any) {
		if len(res.witnessWarnings) < maxWitnessWarnings {
			res.witnessWarnings = append(res.witnessWarnings, fmt.Sprintf("record %d (audit.checkpoint_witnessed by %q): ", rec.Seq, ev.Witness)+fmt.Sprintf(format, args...))
		}
	}
	text, err := chain.ParseCheckpointText(ev.Checkpoint)
	if err != nil {
		warn("its checkpoint does not parse (%v): not counted", err)
		return
	}
	c, err := witness.ParseCosignature(ev.Cosignature)
	if err != nil {
		warn("%v: not counted", err)
		return
	}
	i := pol.Lookup(c)
	if i < 0 {
		return // a witness the auditor did not list
	}
	if err := pol.Witnesses()[i].VerifyCosignature([]byte(ev.Checkpoint), c); err != nil {
		warn("%v: not counted", err)
		return
	}
	if ev.Size != text.Size {
		warn("its size %d is not the size %d of the checkpoint the cosignature covers; the checkpoint's counts", ev.Size, text.Size)
	}
	wr := witnessedRecord{origin: text.Origin, c: cosigned{witness: i, size: text.Size, root: text.Root, cpTime: text.Time, at: c.Time(),
		source: "record", seq: rec.Seq, segment: f.info.Name, offset: p.off}}
	if root, ok := f.recent.lookup(text.Size); ok {
		wr.resolved, wr.agrees = true, root == text.Root
	}
	res.keyEvents = append(res.keyEvents, keyEvent{kind: witnessedCP, seq: rec.Seq, offset: p.off, segment: f.info.Name,
		timeNano: rec.TimeNano, witnessed: &wr, witnessName: ev.Witness})
}

// followWitnessed takes a witnessedRecord in log order (join): its
// witness's name, and its comparison with the log, now or after the walk.
func (v *run) followWitnessed(ke keyEvent) {
	w, wr := v.wit, ke.witnessed
	if _, ok := w.names[ke.witnessName]; !ok {
		w.names[ke.witnessName] = wr.c.witness
	}
	if wr.origin != v.origin() {
		w.warn("record %d holds a cosignature of a checkpoint of log %s, not of this log: not counted", ke.seq, wr.origin)
		return
	}
	if !wr.resolved {
		if root, ok := w.recent.lookup(wr.c.size); ok {
			wr.resolved, wr.agrees = true, root == wr.c.root
		}
	}
	switch {
	case !wr.resolved:
		w.unresolved = append(w.unresolved, wr.c)
	case !wr.agrees:
		w.disagree(w.recordFailure(&wr.c, "disagrees with the log: the log's checkpoint of that size has another root (the witness saw another history of this log)"))
	default:
		w.agree(wr.c)
	}
}

// origin is the log's checkpoint origin.
func (v *run) origin() string { return chain.Origin(v.logID) }

// joinedSegment remembers the last checkpoints of a joined segment.
func (w *witnessState) joinedSegment(res *segResult) {
	for _, sr := range res.recentRoots {
		w.recent.add(sr.size, sr.root)
	}
}

// resolve compares the cosigned checkpoints of the log's records that the
// walk could not compare with a recent checkpoint: a size beyond the log's
// end disagrees with it; another is compared with the root of the log's
// tree of that size, read again from the segment that holds it. A size
// whose records retention deleted cannot be compared and counts for
// nothing.
func (v *run) resolveWitnessed() error {
	w := v.wit
	roots := map[uint64]chain.Hash{}
	for i := range w.unresolved {
		c := &w.unresolved[i]
		switch {
		case c.size > v.nextSeq:
			w.disagree(w.recordFailure(c, "covers more records than the log has (%d): the witness saw a longer history of this log", v.nextSeq))
			continue
		case c.size < v.prunedBefore:
			w.warn("record %d holds a cosignature of a checkpoint of size %d, whose records retention deleted: not compared, not counted", c.seq, c.size)
			continue
		}
		root, ok := roots[c.size]
		if !ok {
			if c.size == 0 {
				root = chain.NewTree().Root()
			} else {
				_, r, _, err := TreesFromLog(v.dir, 0, c.size)
				if err != nil {
					return fmt.Errorf("%w: the log's tree of size %d, which a witness cosigned: %v", ErrCannotCheck, c.size, err)
				}
				root = r
			}
			roots[c.size] = root
		}
		if root != c.root {
			w.disagree(w.recordFailure(c, "disagrees with the log: the log's tree of that size has another root (the witness saw another history of this log)"))
			continue
		}
		w.agree(*c)
	}
	w.unresolved = nil
	return nil
}

// witnessAlarm notes an audit.witness_alarm record (join, in log order).
func (v *run) witnessAlarm(ke keyEvent) {
	if len(v.wit.alarms) < maxWitnessWarnings {
		v.wit.alarms = append(v.wit.alarms, ke)
	}
}

// fileCosigned returns the valid cosignatures by listed witnesses that a
// checkpoint note from outside the log carries (the checkpoint file, the
// auditor's checkpoint), as cosigned entries of its checkpoint cp.
func (w *witnessState) fileCosigned(note []byte, cp *chain.Checkpoint, source string) []cosigned {
	if w == nil || cp == nil {
		return nil
	}
	n, err := witness.ParseSignedNote(note)
	if err != nil {
		return nil // chain's reading of the note reports what is wrong
	}
	valid, bad := w.pol.Policy.Cosigners(n.Text, n.Cosignatures())
	for _, b := range bad {
		w.warn("the %s carries a cosignature line by %s that does not verify: not counted", sourceName(source), b.Name)
	}
	var out []cosigned
	for _, c := range valid {
		out = append(out, cosigned{witness: c.Witness, size: cp.Size, root: cp.Root, cpTime: cp.Time, at: c.Time(), source: source})
	}
	return out
}

// sourceName describes where a cosignature was found, for messages.
func sourceName(source string) string {
	switch source {
	case "checkpoint":
		return "checkpoint file"
	case "trusted":
		return "checkpoint you gave (--checkpoint)"
	}
	return "log's records"
}

// checkWitnessed runs the policy's checks that need the whole log (finish):
// the cosigned checkpoints of the log's records that the walk could not
// compare, then the alarms the log records, then the quorum.
func (v *run) checkWitnessed() (*Failure, error) {
	w := v.wit
	if err := v.resolveWitnessed(); err != nil {
		return nil, err
	}
	if w.inconsistent != nil {
		return w.inconsistent, nil
	}
	for _, ke := range w.alarms {
		if ke.seq >= v.authEnd {
			continue // not authenticated: it says nothing
		}
		a := ke.sealer.(*event.WitnessAlarm)
		i, ok := w.names[a.Witness]
		if !ok {
			continue // a witness the auditor did not list: an exception only
		}
		seq := ke.seq
		return &Failure{Reason: ReasonInconsistentWithWitness, Segment: ke.segment, Offset: ke.offset, Seq: &seq,
			Detail: fmt.Sprintf("record %d: the sealer recorded a split-view alarm: witness %q (%s, whose cosignatures this log records) refused the checkpoint of size %d as inconsistent with one it cosigned (%s)",
				ke.seq, a.Witness, w.pol.Policy.Witnesses()[i].Name(), a.Size, a.Answer)}, nil
	}
	return nil, nil
}

// witnessedSize returns the largest size that the quorum of listed
// witnesses each cosigned in a fresh cosignature, the number of witnesses
// with a fresh cosignature, and each witness's largest cosigned checkpoint
// (fresh or not).
func (v *run) witnessedSize() (size uint64, fresh int, latest []*cosigned) {
	w := v.wit
	var threshold time.Time
	bounded := w.pol.MaxAge > 0 && v.lastCP != nil
	if bounded {
		threshold = v.lastCP.Time.Add(-w.pol.MaxAge)
	}
	var best []uint64
	latest = make([]*cosigned, len(w.frontier))
	for i, f := range w.frontier {
		var b uint64
		has := false
		for j := range f {
			c := &f[j]
			if latest[i] == nil || c.size > latest[i].size || c.size == latest[i].size && c.at.After(latest[i].at) {
				latest[i] = c
			}
			if bounded && c.at.Before(threshold) {
				continue
			}
			if !has || c.size > b {
				b, has = c.size, true
			}
		}
		if has {
			best = append(best, b)
		}
	}
	q := w.pol.Policy.Quorum()
	if len(best) < q {
		return 0, len(best), latest
	}
	slices.Sort(best)
	slices.Reverse(best)
	return best[q-1], len(best), latest
}

// fillWitnessing writes the witness part of the report and, when the log
// otherwise verified (final), returns unwitnessed unless the quorum
// cosigned it.
func (v *run) fillWitnessing(rep *Report, final bool) *Failure {
	w := v.wit
	if w == nil {
		return nil
	}
	size, fresh, latest := v.witnessedSize()
	pol := w.pol.Policy
	wr := &WitnessReport{Quorum: pol.Quorum(), MaxAge: "none", LogSize: v.nextSeq, WitnessedSize: size, Cosignatures: w.total}
	if w.pol.MaxAge > 0 {
		wr.MaxAge = w.pol.MaxAge.String()
	}
	if v.nextSeq > size {
		wr.Unwitnessed = v.nextSeq - size
	}
	var threshold time.Time
	if w.pol.MaxAge > 0 && v.lastCP != nil {
		threshold = v.lastCP.Time.Add(-w.pol.MaxAge)
	}
	var said []string
	for i, wv := range pol.Witnesses() {
		s := WitnessSummary{Name: wv.Name(), VerifierKey: wv.String(), Cosignatures: w.counts[i]}
		if c := latest[i]; c != nil {
			s.Latest = c.ref()
			s.Latest.Fresh = threshold.IsZero() || !c.at.Before(threshold)
			state := "fresh"
			if !s.Latest.Fresh {
				state = fmt.Sprintf("%s before the log's last checkpoint: older than %s", v.lastCP.Time.Sub(c.at).Round(time.Second), w.pol.MaxAge)
			}
			said = append(said, fmt.Sprintf("%s cosigned size %d at %s (%s)", wv.Name(), c.size, c.at.Format(time.RFC3339), state))
		} else {
			said = append(said, wv.Name()+" cosigned no checkpoint that agrees with the log")
		}
		wr.Witnesses = append(wr.Witnesses, s)
	}
	rep.Witnessing = wr
	rep.Warnings = append(rep.Warnings, w.warnings...)
	if !final || fresh >= pol.Quorum() {
		return nil
	}
	last := v.segs[len(v.segs)-1].Name
	age := ""
	if w.pol.MaxAge > 0 && v.lastCP != nil {
		age = fmt.Sprintf(" at most %s before the log's last checkpoint (%s)", w.pol.MaxAge, v.lastCP.Time.Format(time.RFC3339Nano))
	}
	return &Failure{Reason: ReasonUnwitnessed, Segment: last, Offset: -1,
		Detail: fmt.Sprintf("the policy asks for cosignatures by %d of the witnesses you listed%s, of checkpoints that agree with the log; %d made one: %s",
			pol.Quorum(), age, fresh, strings.Join(said, "; "))}
}

// WitnessedCheckpoint is a checkpoint that the policy's quorum cosigned,
// on its own (a proof bundle's).
type WitnessedCheckpoint struct {
	Size      uint64
	Cosigners []WitnessCosignature
}

// WitnessCosignature is one counted cosignature.
type WitnessCosignature struct {
	Witness     string    `json:"witness"`
	VerifierKey string    `json:"verifier_key"`
	CosignedAt  time.Time `json:"cosigned_at"`
}

// CheckCheckpoint applies the policy to one signed checkpoint note on its
// own, as a proof bundle carries it: the valid cosignatures by listed
// witnesses of its text, each witness once, none dated more than
// WitnessClockSkew after the verifier's clock, must number at least the
// quorum (ErrUnwitnessed otherwise). The caller checks the log's signature
// and what the checkpoint proves. MaxAge is not applied: a bundle's
// checkpoint is the one the quorum cosigned, whatever its age; the
// cosignature times are returned for the auditor to judge.
func (p *WitnessPolicy) CheckCheckpoint(note []byte) (*WitnessedCheckpoint, error) {
	n, err := witness.ParseSignedNote(note)
	if err != nil {
		return nil, err
	}
	cp, err := chain.ParseCheckpointText(string(n.Text))
	if err != nil {
		return nil, err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	limit := now().Add(WitnessClockSkew)
	valid, bad := p.Policy.Cosigners(n.Text, n.Cosignatures())
	out := &WitnessedCheckpoint{Size: cp.Size}
	var future []string
	for _, c := range valid {
		wv := p.Policy.Witnesses()[c.Witness]
		if c.Time().After(limit) {
			future = append(future, fmt.Sprintf("%s's is dated %s, in the future", wv.Name(), c.Time().Format(time.RFC3339)))
			continue
		}
		out.Cosigners = append(out.Cosigners, WitnessCosignature{Witness: wv.Name(), VerifierKey: wv.String(), CosignedAt: c.Time()})
	}
	if len(out.Cosigners) >= p.Policy.Quorum() {
		return out, nil
	}
	names := "none"
	if len(out.Cosigners) > 0 {
		var ns []string
		for _, c := range out.Cosigners {
			ns = append(ns, c.Witness)
		}
		names = strings.Join(ns, ", ")
	}
	msg := fmt.Sprintf("the checkpoint of size %d carries valid cosignatures by %d of the witnesses you listed (%s), the policy asks for %d",
		cp.Size, len(out.Cosigners), names, p.Policy.Quorum())
	if len(bad) > 0 {
		msg += fmt.Sprintf("; %d cosignature line(s) by a listed witness do not verify", len(bad))
	}
	if len(future) > 0 {
		msg += "; " + strings.Join(future, "; ")
	}
	return out, fmt.Errorf("%w: %s", ErrUnwitnessed, msg)
}
