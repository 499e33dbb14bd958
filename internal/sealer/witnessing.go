package sealer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
	"github.com/audit-sealer/audit-sealer/witness"
)

// Witnessing (FORMAT.md §5.6) runs beside the writer and never touches the
// ledger. The writer hands it the latest durable checkpoint (offer, a
// 1-slot channel per witness that keeps the newest, never blocking), and
// takes back the records to append (recordWitnessing, from a bounded
// channel, without waiting). Each witness has a goroutine of its own, so a
// witness that hangs delays no other; it submits the newest checkpoint at
// least every witnessing interval and after each segment rotation, at most
// max_requests_per_second, computing the consistency proofs from the sealed
// log on disk. Nothing on the path that acknowledges events waits for a
// witness.

// witnessRetryAfterFailure bounds how long a failing witness waits before
// the next attempt (within the rate limit), so that the sealer catches up
// soon after the witness returns.
const witnessRetryAfterFailure = 5 * time.Second

// witnessOutLen bounds the records waiting for the writer: a witness
// goroutine that finds it full waits (only it: acknowledgements never do).
const witnessOutLen = 64

// witnessing is the sealer's witness client.
type witnessing struct {
	s        *Sealer // cfg, log, status; never the ledger
	dir      string
	interval time.Duration
	minGap   time.Duration // 1 / max_requests_per_second
	quorum   int
	ws       []*witnessState
	out      chan witnessRecord
	m        witnessMetrics

	// Only the writer goroutine uses these (offer, noteRotation,
	// recordWitnessing).
	offered  uint64          // size of the checkpoint offered last
	rotation bool            // a segment rotation since the last offer
	pending  []witnessRecord // taken from out, not appended yet

	mu     sync.Mutex // guards latest and every witnessState's status fields
	latest *chain.Checkpoint

	// witnessKey, when not nil, signs the checkpoints sent to witnesses
	// under origin (submissionNote); signed caches the last note it made.
	witnessKey signer.Signer
	origin     string
	signMu     sync.Mutex
	signed     []byte

	// testHookProof, if set, replaces each consistency proof before it is
	// sent (nil outside tests; export_test.go sets it before Run).
	testHookProof func([]chain.Hash) []chain.Hash
}

// witnessRecord is a record for the writer to append: an
// audit.checkpoint_witnessed with the signed note of the checkpoint it
// cosigns (for <dir>/checkpoint), or an audit.witness_alarm (note nil).
type witnessRecord struct {
	ev   event.Event
	note []byte
}

// witnessJob is a durable checkpoint to submit.
type witnessJob struct {
	note     []byte // the signed note, as in its record
	cp       chain.Checkpoint
	rotation bool // the checkpoint closes a segment, or follows a rotation: submit it now
}

// witnessState is one witness: its client, and what the sealer knows of it.
type witnessState struct {
	name   string
	url    string
	client *witness.Client
	jobs   chan witnessJob // 1 slot: the newest checkpoint

	// Owned by the witness's goroutine.
	root     chain.Hash // of the tree of size, when known
	hasRoot  bool
	lastTry  time.Time
	rotation bool

	// Read by status under witnessing.mu.
	size       uint64    // the size the witness cosigned last (0: none known)
	cosignedAt time.Time // the time of the checkpoint it cosigned last
	err        string    // why the last attempt failed; "" while it works
	alarm      bool      // a split view: nothing more is submitted in this run
}

// witnessMetrics are the per-witness metrics.
type witnessMetrics struct {
	size, lag                *prometheus.GaugeVec
	errors, splitView, cosig *prometheus.CounterVec
}

// ErrWitnessNeedsEd25519 is returned by New for witnesses configured with
// no key they can verify: a witness verifies the log's signature on what it
// is sent, and knows Ed25519 note keys only (FORMAT.md §5.6).
var ErrWitnessNeedsEd25519 = errors.New("sealer: witnesses verify Ed25519 log signatures only")

// newWitnessing prepares the witness client of the configuration, or
// returns nil when it lists no witness. The configuration was validated.
// logKey signs checkpoints; witnessKey, when not nil, signs what is sent
// to the witnesses instead.
func newWitnessing(cfg config.Config, logKey, witnessKey signer.Signer) (*witnessing, error) {
	if len(cfg.Witnesses) == 0 {
		return nil, nil
	}
	switch {
	case witnessKey != nil && witnessKey.Public().Algorithm != signer.Ed25519:
		return nil, fmt.Errorf("%w: the witnessing key (key_label %q) is %s", ErrWitnessNeedsEd25519, cfg.Witnessing.KeyLabel, witnessKey.Public().Algorithm)
	case witnessKey == nil && logKey.Public().Algorithm != signer.Ed25519:
		return nil, fmt.Errorf("%w, and the log key is %s: set [witnessing] key_label to an Ed25519 key on the token, which signs what is sent to witnesses (FORMAT.md §5.6)",
			ErrWitnessNeedsEd25519, logKey.Public().Algorithm)
	}
	wg := &witnessing{dir: cfg.DataDir, interval: cfg.Witnessing.Interval.Duration, witnessKey: witnessKey,
		minGap: time.Duration(float64(time.Second) / cfg.Witnessing.MaxRequestsPerSecond),
		quorum: cfg.WitnessQuorum(), out: make(chan witnessRecord, witnessOutLen)}
	for _, w := range cfg.Witnesses {
		v, err := witness.ParseVerifierKey(w.VKey)
		if err != nil {
			return nil, fmt.Errorf("sealer: witness %q: %w", w.Name, err)
		}
		wg.ws = append(wg.ws, &witnessState{name: w.Name, url: w.URL, jobs: make(chan witnessJob, 1),
			client: &witness.Client{URL: strings.TrimSuffix(w.URL, "/"), Verifier: v, Timeout: cfg.Witnessing.Timeout.Duration}})
	}
	return wg, nil
}

// attach makes wg the witness client of s: its metrics, status and log.
// It returns wg (nil stays nil).
func (wg *witnessing) attach(s *Sealer) *witnessing {
	if wg == nil {
		return nil
	}
	wg.s = s
	wg.origin = chain.Origin(s.ledger.LogID())
	wg.m = newWitnessMetrics(s.m.reg)
	for _, st := range wg.ws {
		// Every witness has its series from the start, at zero.
		wg.m.size.WithLabelValues(st.name)
		wg.m.lag.WithLabelValues(st.name)
		wg.m.errors.WithLabelValues(st.name)
		wg.m.splitView.WithLabelValues(st.name)
		wg.m.cosig.WithLabelValues(st.name)
	}
	wg.publish()
	return wg
}

func newWitnessMetrics(reg *prometheus.Registry) witnessMetrics {
	gauge := func(name, help string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricNamespace, Name: name, Help: help}, []string{"witness"})
		reg.MustRegister(g)
		return g
	}
	counter := func(name, help string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricNamespace, Name: name, Help: help}, []string{"witness"})
		reg.MustRegister(c)
		return c
	}
	return witnessMetrics{
		size: gauge("witness_size", "Tree size of the last checkpoint the witness cosigned (0 before the first in this run)."),
		lag:  gauge("witness_lag_records", "Records between the latest durable checkpoint and the last one the witness cosigned."),
		errors: counter("witness_errors_total", "Submissions to the witness that failed (unavailable, timeout, bad answer, "+
			"a cosignature that did not verify, unknown log, split view)."),
		splitView: counter("witness_split_view_total", "Split-view alarms: the witness refused a checkpoint as inconsistent with one it cosigned, "+
			"or cosigned a larger tree of this log (each recorded in the chain as audit.witness_alarm)."),
		cosig: counter("witness_cosignatures_total", "Verified cosignatures received from the witness and handed to the writer to record."),
	}
}

// startWitnessing runs the witness client, if there is one, until the
// stop it returns is called; stop returns once every witness's goroutine
// has (a request in flight is abandoned).
func (s *Sealer) startWitnessing() (stop func()) {
	if s.witnessing == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.witnessing.run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// run runs one goroutine per witness until ctx ends.
func (wg *witnessing) run(ctx context.Context) {
	var done sync.WaitGroup
	for _, st := range wg.ws {
		done.Add(1)
		go func() {
			defer done.Done()
			wg.runWitness(ctx, st)
		}()
	}
	done.Wait()
}

// noteRotation tells that the writer rotated the segment: the next
// checkpoint offered is submitted at once. Writer goroutine only.
func (wg *witnessing) noteRotation() {
	if wg != nil {
		wg.rotation = true
	}
}

// offer hands every witness the log's latest checkpoint, which must be
// durable, unless it was offered already. It never blocks: a witness's
// slot keeps only the newest checkpoint. Writer goroutine only.
func (wg *witnessing) offer(note []byte, cp *chain.Checkpoint) {
	if wg == nil || note == nil || cp == nil || (cp.Size == wg.offered && !wg.rotation) {
		return
	}
	j := witnessJob{note: note, cp: *cp, rotation: wg.rotation}
	wg.offered, wg.rotation = cp.Size, false
	wg.mu.Lock()
	wg.latest = &j.cp
	wg.mu.Unlock()
	for _, st := range wg.ws {
		jj := j
		for sent := false; !sent; {
			select {
			case st.jobs <- jj:
				sent = true
			default:
				// Replace the older checkpoint waiting in the slot, keeping
				// its rotation flag. Only the writer sends, so this ends.
				select {
				case older := <-st.jobs:
					jj.rotation = jj.rotation || older.rotation
				default:
				}
			}
		}
	}
	wg.publish()
}

// tick is how often a witness's goroutine checks whether a submission is
// due.
func (wg *witnessing) tick() time.Duration {
	return min(max(min(wg.interval, wg.minGap)/4, 10*time.Millisecond), time.Second)
}

// runWitness submits checkpoints to one witness until ctx ends.
func (wg *witnessing) runWitness(ctx context.Context, st *witnessState) {
	var latest *witnessJob
	t := time.NewTicker(wg.tick())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-st.jobs:
			st.rotation = st.rotation || j.rotation
			latest = &j
		case <-t.C:
		}
		if latest != nil && wg.due(st, latest, time.Now()) {
			wg.submit(ctx, st, latest)
		}
	}
}

// due reports whether j should be submitted to st now.
func (wg *witnessing) due(st *witnessState, j *witnessJob, now time.Time) bool {
	wg.mu.Lock()
	size, failing, alarm := st.size, st.err != "", st.alarm
	wg.mu.Unlock()
	switch {
	case alarm || j.cp.Size <= size:
		return false
	case !st.lastTry.IsZero() && now.Sub(st.lastTry) < wg.minGap:
		return false
	case st.lastTry.IsZero() || st.rotation:
		return true
	case failing:
		return now.Sub(st.lastTry) >= min(wg.interval, witnessRetryAfterFailure)
	}
	return now.Sub(st.lastTry) >= wg.interval
}

// submit sends j to the witness and sorts out the answer: a verified
// cosignature is handed to the writer to record; a split view raises the
// alarm; anything else is a failure, logged when it starts and counted.
func (wg *witnessing) submit(ctx context.Context, st *witnessState, j *witnessJob) {
	st.lastTry, st.rotation = time.Now(), false
	wg.mu.Lock()
	old := st.size
	wg.mu.Unlock()
	// The old size and proof of the last request Submit made, as far as
	// a proof tells (the first request's old size, or a 409's size).
	used, usedProof := old, []chain.Hash(nil)
	proof := func(from, to uint64) ([]chain.Hash, error) {
		_, root, p, err := verify.TreesFromLog(wg.dir, from, to)
		if err == nil && to == j.cp.Size && root != j.cp.Root {
			// The disk was changed under the sealer: send nothing it did
			// not sign for.
			err = fmt.Errorf("sealer: the log on disk has another root at size %d than the sealer's checkpoint", to)
		}
		if wg.testHookProof != nil {
			p = wg.testHookProof(p)
		}
		used, usedProof = from, p
		return p, err
	}
	note, err := wg.submissionNote(j)
	if err != nil {
		wg.failed(st, err)
		return
	}
	cs, err := st.client.Submit(ctx, old, note, proof)
	if ctx.Err() != nil {
		return // stopping: the answer, if any, is not needed
	}
	var conflict *witness.ConflictError
	switch {
	case err == nil:
		wg.cosigned(ctx, st, j, cs)
	case errors.As(err, &conflict) && conflict.Known > j.cp.Size:
		known := conflict.Known
		wg.alarm(ctx, st, j, old, &known, err)
	case errors.As(err, &conflict):
		// A second 409 in a row: the witness moved meanwhile. Start from
		// its size next time.
		wg.mu.Lock()
		st.size = conflict.Known
		wg.mu.Unlock()
		st.hasRoot = false
		wg.failed(st, err)
	case errors.Is(err, witness.ErrInconsistent):
		if cerr := wg.selfCheck(used, usedProof, st, &j.cp); cerr != nil {
			// Our own proof or tree is wrong: a fault of the sealer, not
			// evidence against the log. No alarm; retried later.
			wg.failed(st, fmt.Errorf("sealer: the witness refused the checkpoint as inconsistent, but the sealer's own check fails too (no split-view alarm): %w", cerr))
			return
		}
		wg.alarm(ctx, st, j, used, nil, err)
	default:
		wg.failed(st, err)
	}
}

// cosigned records the witness's cosignature of j, after checking it once
// more: the client verified it with the witness's key, and a cosignature
// that does not verify is never recorded.
func (wg *witnessing) cosigned(ctx context.Context, st *witnessState, j *witnessJob, cs []witness.Cosignature) {
	text := checkpointText(j.note)
	var c *witness.Cosignature
	for i := range cs {
		if st.client.Verifier.VerifyCosignature(text, cs[i]) == nil {
			c = &cs[i]
			break
		}
	}
	if c == nil {
		wg.failed(st, fmt.Errorf("sealer: %w", witness.ErrNoCosignature))
		return
	}
	ev := &event.CheckpointWitnessed{Timestamp: time.Now().UTC(), Witness: st.name, Size: j.cp.Size,
		Checkpoint: string(text), Cosignature: strings.TrimSuffix(c.Line(), "\n")}
	wg.mu.Lock()
	st.size, st.cosignedAt = j.cp.Size, j.cp.Time
	was := st.err
	st.err = ""
	wg.mu.Unlock()
	st.root, st.hasRoot = j.cp.Root, true
	if was != "" {
		wg.s.log.Info("witness: cosigning again", "witness", st.name, "size", j.cp.Size, "previous_error", was)
	}
	wg.m.cosig.WithLabelValues(st.name).Inc()
	wg.publish()
	select {
	case wg.out <- witnessRecord{ev: ev, note: j.note}:
	case <-ctx.Done():
	}
}

// failed notes a submission that failed: logged when the witness starts
// failing (not at every attempt), counted every time.
func (wg *witnessing) failed(st *witnessState, err error) {
	wg.m.errors.WithLabelValues(st.name).Inc()
	wg.mu.Lock()
	first := st.err == ""
	st.err = err.Error()
	wg.mu.Unlock()
	if first {
		wg.s.log.Warn("witness: cannot get a cosignature; events are sealed and acknowledged as usual, and the sealer retries",
			"witness", st.name, "url", st.url, "error", err)
	}
	wg.publish()
}

// alarm raises the split-view alarm for st: logged at error, counted,
// recorded in the chain (audit.witness_alarm), and nothing more is
// submitted to that witness in this run.
func (wg *witnessing) alarm(ctx context.Context, st *witnessState, j *witnessJob, old uint64, known *uint64, err error) {
	wg.m.errors.WithLabelValues(st.name).Inc()
	wg.m.splitView.WithLabelValues(st.name).Inc()
	wg.mu.Lock()
	st.alarm, st.err = true, "split view: "+err.Error()
	wg.mu.Unlock()
	args := []any{"witness", st.name, "url", st.url, "old_size", old, "size", j.cp.Size, "answer", err}
	if known != nil {
		args = append(args, "witness_size", *known)
	}
	wg.s.log.Error("SPLIT VIEW: a witness holds a checkpoint of this log that the log does not extend (rolled back or forked); "+
		"recorded in the chain, no more submissions to this witness until the sealer restarts", args...)
	wg.publish()
	ev := &event.WitnessAlarm{Timestamp: time.Now().UTC(), Witness: st.name, OldSize: old, Size: j.cp.Size, KnownSize: known,
		Answer: truncateText(err.Error(), 1000)}
	select {
	case wg.out <- witnessRecord{ev: ev}:
	case <-ctx.Done():
	}
}

// selfCheck checks the sealer's side of a refused request from the log on
// disk, so that a refusal is called a split view only when that side is
// right: the root of the tree of cp.Size must be cp's, the root at old the
// one the witness cosigned (when known), and the proof sent (for 0 < old <
// cp.Size) must lead from one to the other.
func (wg *witnessing) selfCheck(old uint64, sent []chain.Hash, st *witnessState, cp *chain.Checkpoint) error {
	rootOld, rootNew, _, err := verify.TreesFromLog(wg.dir, old, cp.Size)
	if err != nil {
		return err
	}
	if rootNew != cp.Root {
		return fmt.Errorf("sealer: the log's tree of size %d has another root than its checkpoint", cp.Size)
	}
	wg.mu.Lock()
	size := st.size
	wg.mu.Unlock()
	if st.hasRoot && old == size && rootOld != st.root {
		return fmt.Errorf("sealer: the log's tree of size %d has another root than the checkpoint the witness cosigned", old)
	}
	if old == 0 || old == cp.Size {
		return nil
	}
	if err := chain.VerifyConsistency(old, cp.Size, sent, rootOld, rootNew); err != nil {
		return fmt.Errorf("sealer: the consistency proof sent from size %d to %d does not verify: %w", old, cp.Size, err)
	}
	return nil
}

// submissionNote returns the signed note to send the witnesses for j: its
// record's note, or, with a witnessing key, the same checkpoint text signed
// by that key under the log's origin (the name C2SP tlog-checkpoint asks a
// log's key to have), and by it alone. A cosignature covers the text only
// (FORMAT.md §5.6), so it is a cosignature of the checkpoint record all the
// same. The note is made once per checkpoint, whichever witness asks first.
func (wg *witnessing) submissionNote(j *witnessJob) ([]byte, error) {
	if wg.witnessKey == nil {
		return j.note, nil
	}
	text := checkpointText(j.note)
	wg.signMu.Lock()
	defer wg.signMu.Unlock()
	if wg.signed != nil && bytes.HasPrefix(wg.signed, text) && wg.signed[len(text)] == '\n' {
		return wg.signed, nil
	}
	signed, err := note.Sign(&note.Note{Text: string(text)}, signer.NoteSigner(wg.witnessKey, wg.origin))
	if err != nil {
		return nil, fmt.Errorf("sealer: the witnessing key cannot sign the checkpoint of size %d: %w", j.cp.Size, err)
	}
	wg.signed = signed
	return signed, nil
}

// checkpointText returns the note text of a signed checkpoint: every line
// before the blank line that starts the signatures, each with its newline.
// It is what a cosignature covers (FORMAT.md §5.6).
func checkpointText(note []byte) []byte {
	return note[:bytes.LastIndex(note, []byte("\n\n"))+1]
}

// truncateText cuts s to at most n bytes, on a rune boundary.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// recordWitnessing appends the records the witness goroutines handed over
// (audit.checkpoint_witnessed, audit.witness_alarm), without waiting for
// any, and puts each cosignature into <dir>/checkpoint (Ledger.AddCosignature).
// An alarm is critical: it asks for a seal at once. A record the log
// cannot take now (a storage failure) waits for the next round; one the
// log refuses (it does not validate) is logged by appendError and dropped.
func (w *writer) recordWitnessing() {
	wg := w.s.witnessing
	if wg == nil {
		return
	}
	for len(wg.pending) < witnessOutLen {
		select {
		case ev := <-wg.out:
			wg.pending = append(wg.pending, ev)
			continue
		default:
		}
		break
	}
	for len(wg.pending) > 0 && w.refusal() == nil {
		rec := wg.pending[0]
		ev := rec.ev
		if _, err := w.s.ledger.AppendSealerEvent(ev); err != nil {
			w.appendError(err)
			if w.s.ledger.Err() != nil {
				return
			}
		} else {
			w.appended++
			if w.unsealedAt.IsZero() {
				w.unsealedAt = time.Now()
			}
			if event.IsCritical(ev.EventType()) {
				w.forceSeal = true
			}
			if cw, ok := ev.(*event.CheckpointWitnessed); ok && rec.note != nil {
				if err := w.s.ledger.AddCosignature(rec.note, cw.Size, cw.Cosignature); err != nil {
					w.s.log.Error("witness: cannot write the cosigned checkpoint file (the cosignature is in the chain)",
						"witness", cw.Witness, "size", cw.Size, "error", err)
				}
			}
		}
		wg.pending[0] = witnessRecord{}
		wg.pending = wg.pending[1:]
	}
}

// WitnessStatus is one witness in the status: the size it cosigned last in
// this run and how far behind the log's latest durable checkpoint that is.
type WitnessStatus struct {
	Name          string `json:"name"`
	URL           string `json:"url"`
	WitnessedSize uint64 `json:"witnessed_size"`
	// LagRecords is the latest checkpoint's size minus WitnessedSize;
	// LagSeconds the time between the two checkpoints.
	LagRecords uint64  `json:"lag_records"`
	LagSeconds float64 `json:"lag_seconds"`
	Error      string  `json:"error"`
	SplitView  bool    `json:"split_view"`
}

// publish refreshes the witnesses' part of the status and their gauges.
func (wg *witnessing) publish() {
	wg.mu.Lock()
	latest := wg.latest
	list := make([]WitnessStatus, len(wg.ws))
	sizes := make([]uint64, len(wg.ws))
	for i, st := range wg.ws {
		ws := WitnessStatus{Name: st.name, URL: st.url, WitnessedSize: st.size, Error: st.err, SplitView: st.alarm}
		if latest != nil && latest.Size >= st.size {
			ws.LagRecords = latest.Size - st.size
			if !st.cosignedAt.IsZero() && latest.Time.After(st.cosignedAt) {
				ws.LagSeconds = latest.Time.Sub(st.cosignedAt).Seconds()
			}
		}
		list[i], sizes[i] = ws, st.size
	}
	wg.mu.Unlock()
	for _, ws := range list {
		wg.m.size.WithLabelValues(ws.Name).Set(float64(ws.WitnessedSize))
		wg.m.lag.WithLabelValues(ws.Name).Set(float64(ws.LagRecords))
	}
	// The quorum's size: the largest size that quorum witnesses cosigned.
	var quorumSize uint64
	for _, sz := range sizes {
		n := 0
		for _, other := range sizes {
			if other >= sz {
				n++
			}
		}
		if n >= wg.quorum && sz > quorumSize {
			quorumSize = sz
		}
	}
	s := wg.s
	s.statusMu.Lock()
	s.status.Witnesses, s.status.WitnessQuorum, s.status.WitnessedSize = list, wg.quorum, &quorumSize
	s.statusMu.Unlock()
}
