package sealer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
)

// sealRetryInterval is how long the writer waits after a signing failure
// before it asks the log key again.
const sealRetryInterval = time.Second

// maxBatch and maxBatchCost bound the requests of one group commit, in
// number and in what they cost against the queue's byte bound. Two groups
// are in memory at once (one being synced, the next being appended),
// outside that bound: these keep both under ~8 MiB with their records,
// and a group that large already makes an fdatasync's cost per record
// negligible.
const (
	maxBatch     = 4096
	maxBatchCost = 4 << 20
)

// writer is the one goroutine that owns the ledger. Each round it
//
//  1. collects what is queued (up to maxBatch requests a round), or waits for a
//     request, a signed checkpoint, the end of the group commit in flight,
//     or a tick;
//  2. appends the events, and the checkpoint the log key signed since;
//  3. settles the previous group commit: waits for its fdatasync, then
//     acknowledges its durable emits, and the critical events and flushes
//     that a durable checkpoint now covers; takes what arrived meanwhile;
//  4. commits this round: a commit record signed by the run key ends the
//     group (FORMAT.md §3.6), and a syncer goroutine writes and fdatasyncs
//     it while the next round appends. When a seal is due it flags that
//     commit and hands the checkpoint to the signer goroutine, so that the
//     log key's latency stays off this path; an anchored seal (once per
//     anchor interval) is the one seal it waits for;
//  5. maintains the log: segment rotation, the checkpoint file, retention,
//     and after a storage failure, recovery.
//
// One group commit is in flight at a time, so the writer's own work on a
// round overlaps the disk's fdatasync of the previous one. It returns after
// a stop request, once the log is sealed and closed.
type writer struct {
	s *Sealer

	batch       []*request
	durables    []*request // appended this round: acknowledged once durable
	sealWaiters []*request // acknowledged once a durable checkpoint covers them
	stop        bool
	forceSeal   bool  // a record of this round must be sealed at once (audit.events_shed)
	appended    int   // records appended this round
	taken       int   // requests taken from the queue this round (maxBatch)
	takenCost   int64 // and their cost (maxBatchCost)

	// The group commit in flight: its records are committed and a syncer
	// goroutine makes them durable; syncDone reports the outcome.
	inflight *groupCommit
	syncDone chan error
	// durableSize is the tree size of the last checkpoint known durable.
	durableSize uint64

	// Sealing off the acknowledgement path: one request at a time.
	signing     *ledger.SealRequest // the checkpoint being signed for the current ledger, or nil
	inFlight    int                 // jobs given to the signer goroutine and not yet answered
	requestedAt time.Time           // when signing was asked for
	signJobs    chan signJob
	signed      chan signResult
	lastSeal    time.Time
	unsealedAt  time.Time // when the oldest unsealed record was appended
	lastAnchor  time.Time
	sealRetryAt time.Time // after a signing failure, no new attempt before this
	lastSealErr error
	sealErr     error // this round's signing failure, for the seal waiters

	storageErr      error
	storageFailedAt time.Time
	lastRecovery    time.Time
	lastRetention   time.Time
}

// groupCommit is a committed group of records being synced.
type groupCommit struct {
	durables       []*request
	records        int
	checkpointSize uint64 // of the last checkpoint appended before the sync started
	started        time.Time
	done           bool
	err            error
}

// signJob is a checkpoint for the signer goroutine to sign.
type signJob struct {
	l   *ledger.Ledger
	req *ledger.SealRequest
}

// signResult is a signed checkpoint, or why it could not be signed.
type signResult struct {
	req    *ledger.SealRequest
	signed []byte
	err    error
	took   time.Duration
}

func (s *Sealer) writer() error {
	w := &writer{s: s, lastSeal: time.Now(), lastAnchor: time.Now(), lastSealErr: s.startSealErr,
		signJobs: make(chan signJob, 1), signed: make(chan signResult, 1), syncDone: make(chan error, 1)}
	if s.startSealErr != nil {
		w.sealRetryAt = time.Now().Add(sealRetryInterval)
	}
	if cp := s.ledger.LastCheckpoint(); cp != nil {
		w.durableSize = cp.Size // Open and the start's seal synced everything
	}
	go w.signLoop()
	defer close(w.signJobs)
	tick := time.NewTicker(writerTick(s.cfg.Seal.Interval.Duration))
	defer tick.Stop()
	for {
		w.round(tick.C)
		if w.stop {
			w.settle()
			return w.finishStop()
		}
	}
}

// round is one turn of the writer: collect, append, settle the previous
// group commit, commit this one, maintain.
func (w *writer) round(tick <-chan time.Time) {
	s := w.s
	w.durables, w.appended, w.taken, w.takenCost = w.durables[:0], 0, 0, 0
	w.forceSeal, w.sealErr = false, nil
	w.collect(tick)
	w.appendAll()
	if w.settle() {
		// What arrived while the previous group was being synced joins
		// this one.
		w.drain()
		w.appendAll()
	}
	w.recordShed()
	w.recordWitnessing()
	w.commit()
	// Publish the new head before acknowledging it, so that a status
	// asked after an ack never shows less than the ack.
	s.updateStatus()
	w.acknowledgeSealed()
	w.maintain()
	s.updateStatus()
	s.rounds.Add(1)
}

// writerTick is how often an idle writer wakes up to check the seal
// cadence: a quarter of the seal interval, between 1 ms and 250 ms.
func writerTick(interval time.Duration) time.Duration {
	return min(max(interval/4, time.Millisecond), 250*time.Millisecond)
}

// signLoop signs the checkpoints the writer asks for, one at a time, on
// its own goroutine (and so its own PKCS#11 session).
func (w *writer) signLoop() {
	for job := range w.signJobs {
		start := time.Now()
		signed, err := job.l.SignSeal(job.req)
		w.signed <- signResult{req: job.req, signed: signed, err: err, took: time.Since(start)}
	}
}

// collect waits for work and takes every queued request, up to maxBatch. A
// checkpoint signed meanwhile is taken too (appendSigned), and the end of
// the group commit in flight is noted.
func (w *writer) collect(tick <-chan time.Time) {
	s := w.s
	w.batch = w.batch[:0]
	select {
	case r := <-s.intake:
		w.take(r)
	case res := <-w.signed:
		w.appendSigned(res)
	case err := <-w.syncDone:
		w.synced(err)
	case <-tick:
	}
	if s.testHookRound != nil {
		s.testHookRound()
	}
	w.drain()
}

// drain takes queued requests and signed checkpoints until the round has
// taken maxBatch requests or maxBatchCost, or nothing more is queued.
func (w *writer) drain() {
	s := w.s
	for w.taken < maxBatch && w.takenCost < maxBatchCost {
		select {
		case r := <-s.intake:
			w.take(r)
			continue
		case res := <-w.signed:
			w.appendSigned(res)
			continue
		default:
		}
		return
	}
}

// take adds r to the batch.
func (w *writer) take(r *request) {
	w.batch = append(w.batch, r)
	w.taken++
	w.takenCost += int64(r.cost)
}

// appendAll appends the batch's requests and empties the batch. Until a
// checkpoint names this run's key (the start could not be sealed), nothing
// can be authenticated: events are refused, as when the log cannot be
// written.
func (w *writer) appendAll() {
	s := w.s
	l := s.ledger
	for _, r := range w.batch {
		switch r.kind {
		case reqStop:
			w.stop = true
			continue
		case reqRotateKey:
			w.rotateKey(r)
			continue
		}
		if r.kind == reqEmit {
			s.release(r)
		}
		if err := w.refusal(); err != nil {
			if r.kind == reqEmit && r.done == nil {
				s.log.Error("event accepted but lost: the log cannot take it now", "service", r.service, "type", r.typ, "error", err)
			}
			r.finish(reply{err: err})
			continue
		}
		var err error
		switch r.kind {
		case reqEmit:
			r.seq, r.auditID, err = l.Append(chain.KindEvent, r.service, r.typ, r.body, time.Unix(0, r.received))
		case reqDropped, reqLogRead, reqRecord:
			if r.seq, err = l.AppendSealerEvent(r.sealerEvent); err == nil {
				r.auditID = chain.AuditID(l.LogID(), r.seq)
			}
		case reqFlush:
			// A flush waits for a checkpoint of everything before it.
			r.seq = l.NextSeq() - 1
			w.sealWaiters = append(w.sealWaiters, r)
			continue
		}
		if err != nil {
			err = w.appendError(err)
			if r.kind == reqEmit && r.done == nil {
				s.log.Error("event accepted but lost: the log did not take it", "service", r.service, "type", r.typ, "error", err)
			}
			r.finish(reply{err: err})
			continue
		}
		w.appended++
		switch {
		case r.critical:
			w.sealWaiters = append(w.sealWaiters, r)
		case r.durable || r.kind != reqEmit:
			w.durables = append(w.durables, r)
		}
	}
	clear(w.batch)
	w.batch = w.batch[:0]
	s.signalSpace()
	if w.appended > 0 && w.unsealedAt.IsZero() {
		w.unsealedAt = time.Now()
	}
}

// recordShed records the events shed since the last round
// (audit.events_shed is critical: it asks for a seal).
func (w *writer) recordShed() {
	if w.refusal() != nil {
		return
	}
	if n, err := w.s.recordShed(); err != nil {
		w.appendError(err)
	} else if n > 0 {
		w.appended++
		w.forceSeal = true
	}
}

// refusal returns why the writer cannot take records now, or nil.
func (w *writer) refusal() error {
	l := w.s.ledger
	switch {
	case l.Err() != nil:
		return fmt.Errorf("%w: %v", ErrUnavailable, l.Err())
	case w.storageErr != nil:
		return fmt.Errorf("%w: %v", ErrUnavailable, w.storageErr)
	case !l.RunNamed():
		return fmt.Errorf("%w: the sealer's start is not sealed yet, so nothing can be authenticated: %v", ErrUnavailable, w.lastSealErr)
	}
	return nil
}

// appendSigned appends a checkpoint the signer goroutine returned.
func (w *writer) appendSigned(res signResult) {
	s := w.s
	w.inFlight--
	if res.req != w.signing {
		return // superseded by a checkpoint the writer waited for, or from a ledger that is gone
	}
	w.signing = nil
	if res.err != nil {
		w.sealFailed(res.err)
		return
	}
	// Records appended since the commit the checkpoint covers wait for the
	// next one; they came after the request.
	after := s.ledger.NextSeq() - res.req.Checkpoint.Size
	_, err := s.ledger.AppendSeal(res.req, res.signed)
	switch {
	case errors.Is(err, ledger.ErrSealSuperseded):
		return // an anchored or closing seal covered more meanwhile
	case err != nil:
		w.appendError(err)
		return
	}
	s.m.sign.Observe(res.took.Seconds())
	s.m.checkpoints.Inc()
	s.noteSealOK()
	w.lastSeal = time.Now()
	w.unsealedAt = time.Time{}
	if after > 0 {
		w.unsealedAt = w.requestedAt
	}
}

// sealFailed notes that the log key could not sign: records stay durable
// and authenticated by the run key, sealing is retried after a pause, and
// whoever waits for a checkpoint learns it now.
func (w *writer) sealFailed(err error) {
	w.s.noteSealError(err)
	w.lastSealErr, w.sealRetryAt = err, time.Now().Add(sealRetryInterval)
	w.sealErr = err
}

// sealDue reports whether the log should be sealed now: someone waits for
// a checkpoint that does not cover them yet, or the cadence asks for one.
func (w *writer) sealDue() bool {
	s, l := w.s, w.s.ledger
	unsealed := l.Unsealed()
	return w.waitersUncovered() || w.forceSeal ||
		unsealed >= uint64(s.cfg.Seal.Records) ||
		(unsealed > 0 && !w.unsealedAt.IsZero() && time.Since(w.unsealedAt) >= s.cfg.Seal.Interval.Duration) ||
		time.Since(w.lastSeal) >= s.cfg.Seal.Heartbeat.Duration
}

// checkpointSize returns the tree size of the log's last checkpoint.
func (w *writer) checkpointSize() uint64 {
	if cp := w.s.ledger.LastCheckpoint(); cp != nil {
		return cp.Size
	}
	return 0
}

// waitersUncovered reports whether a request waits for a checkpoint that
// the last one does not cover.
func (w *writer) waitersUncovered() bool {
	size := w.checkpointSize()
	for _, r := range w.sealWaiters {
		if r.seq >= size {
			return true
		}
	}
	return false
}

// commit ends the round's group and starts its sync, sealing as due.
func (w *writer) commit() {
	s, l := w.s, w.s.ledger
	if l.Err() != nil || w.storageErr != nil {
		w.failDurables(w.refusal())
		return
	}
	if !l.RunNamed() {
		w.sealStart()
		return
	}
	retryWait := time.Now().Before(w.sealRetryAt) && !w.waitersUncovered()
	due := w.sealDue() && !retryWait && !w.stop // finishStop seals (anchored) after recording the stop
	if due && s.anchoring && time.Since(w.lastAnchor) >= s.cfg.Seal.AnchorInterval.Duration {
		// The anchored seal waits for the log key and the counter, and
		// syncs everything: this round is durable when it returns.
		w.settle()
		w.signing = nil // the anchored checkpoint covers more than any outstanding request
		if err := w.sealAnchored(); err != nil {
			w.commitFailed(err)
			return
		}
		w.durableSize = w.checkpointSize()
		w.acknowledgeDurables(w.durables, w.appended)
		return
	}
	var req *ledger.SealRequest
	var err error
	if due && w.inFlight == 0 {
		req, err = l.Commit(true)
	} else {
		_, err = l.Commit(false)
	}
	if err != nil {
		w.commitFailed(err)
		return
	}
	if req != nil {
		w.signing, w.requestedAt = req, time.Now()
		w.inFlight++
		w.signJobs <- signJob{l: l, req: req}
	}
	w.startSync()
}

// commitFailed sorts out a failure to commit or seal: the storage's, which
// stops the writer until it recovers, or the log key's.
func (w *writer) commitFailed(err error) {
	s := w.s
	if s.ledger.Err() != nil {
		w.storageErr = s.noteStorageError(err)
		w.failDurables(w.refusal())
		return
	}
	w.sealFailed(err)
	// The records are committed (the run key authenticated them): make
	// them durable all the same.
	w.startSync()
}

// startSync hands the round's committed group to a syncer goroutine. Only
// one is in flight: settle ran before. A round that appended nothing has
// nothing to sync.
func (w *writer) startSync() {
	l := w.s.ledger
	if !l.Unsynced() {
		// Everything appended is durable (an earlier sync may have written
		// what this round appended): the last checkpoint too.
		w.durableSize = w.checkpointSize()
		w.acknowledgeDurables(w.durables, w.appended)
		w.durables = w.durables[:0]
		return
	}
	g := &groupCommit{durables: append([]*request(nil), w.durables...), records: w.appended,
		checkpointSize: w.checkpointSize(), started: time.Now()}
	w.durables = w.durables[:0]
	w.inflight = g
	go func() { w.syncDone <- l.SyncAppended() }()
}

// synced notes the end of the group commit in flight.
func (w *writer) synced(err error) {
	w.inflight.done, w.inflight.err = true, err
}

// settle waits for the group commit in flight, if any, and acknowledges
// it. It reports whether it waited for one.
func (w *writer) settle() bool {
	g := w.inflight
	if g == nil {
		return false
	}
	if !g.done {
		w.synced(<-w.syncDone)
	}
	w.inflight = nil
	s := w.s
	if g.err != nil {
		w.storageErr = s.noteStorageError(s.ledger.Fail(g.err))
		err := fmt.Errorf("%w: %v", ErrUnavailable, g.err)
		for _, r := range g.durables {
			r.finish(reply{err: err})
		}
		return true
	}
	s.m.fsync.Observe(time.Since(g.started).Seconds())
	w.durableSize = max(w.durableSize, g.checkpointSize)
	if !s.ledger.Unsynced() {
		// The sync also wrote what was appended after it started (a
		// checkpoint among it): all of it is durable.
		w.durableSize = w.checkpointSize()
	}
	w.acknowledgeDurables(g.durables, g.records)
	return true
}

// acknowledgeDurables answers requests whose records are durable.
func (w *writer) acknowledgeDurables(rs []*request, records int) {
	for _, r := range rs {
		r.finish(reply{seq: r.seq, auditID: r.auditID, hasSeq: true})
	}
	if records > 0 {
		w.s.m.batch.Observe(float64(records))
		w.s.m.records.Add(float64(records))
	}
}

// failDurables answers the round's durable requests with err.
func (w *writer) failDurables(err error) {
	for _, r := range w.durables {
		r.finish(reply{err: err})
	}
	w.durables = w.durables[:0]
}

// sealStart retries sealing the sealer's start, which names the run key.
func (w *writer) sealStart() {
	s := w.s
	if time.Now().Before(w.sealRetryAt) {
		return
	}
	if _, err := s.ledger.Seal(context.Background(), ledger.SealOptions{}); err != nil {
		if s.ledger.Err() != nil {
			w.storageErr = s.noteStorageError(err)
			return
		}
		w.sealFailed(err)
		return
	}
	s.noteSealOK()
	w.lastSeal = time.Now()
	w.durableSize = w.checkpointSize()
}

// sealAnchored seals with an anchored checkpoint, waiting for the log key
// and the counter: once per anchor interval.
func (w *writer) sealAnchored() error {
	s := w.s
	start := time.Now()
	cp, err := s.ledger.Seal(context.Background(), ledger.SealOptions{Anchor: true})
	var anchorErr *ledger.AnchorError
	switch {
	case err == nil:
		s.noteAnchor(cp)
	case errors.As(err, &anchorErr): // sealed, but the counter failed
		s.noteAnchorError(err)
	default:
		return err
	}
	w.lastAnchor = time.Now() // after a counter failure: retry at the next interval
	s.m.sign.Observe(time.Since(start).Seconds())
	s.m.checkpoints.Inc()
	s.noteSealOK()
	w.lastSeal = time.Now()
	w.unsealedAt = time.Time{}
	return nil
}

// acknowledgeSealed answers the requests that wait for a checkpoint: once a
// durable one covers them, or with the signing failure of this round.
func (w *writer) acknowledgeSealed() {
	if err := w.refusal(); err != nil && w.s.ledger.RunNamed() {
		for _, r := range w.sealWaiters {
			r.finish(reply{err: err})
		}
		clear(w.sealWaiters)
		w.sealWaiters = w.sealWaiters[:0]
		return
	}
	size := w.durableSize
	kept := w.sealWaiters[:0]
	for _, r := range w.sealWaiters {
		switch {
		case r.seq < size:
			r.finish(reply{seq: r.seq, auditID: r.auditID, hasSeq: r.kind == reqEmit, sealed: true, checkpointSize: size})
		case w.sealErr != nil:
			r.finish(reply{seq: r.seq, auditID: r.auditID, hasSeq: r.kind == reqEmit, err: fmt.Errorf("%w: %v", ErrNotSealed, w.sealErr)})
		default:
			kept = append(kept, r)
		}
	}
	clear(w.sealWaiters[len(kept):])
	w.sealWaiters = kept
}

// appendError sorts out a failed append. If the ledger is poisoned, the log
// cannot be written: the writer refuses everything until it recovers and
// the emitter learns "unavailable". Otherwise the log refused this one
// record (for example a sealer event that does not validate) and nothing
// else is affected.
func (w *writer) appendError(err error) error {
	s := w.s
	if s.ledger.Err() != nil {
		w.storageErr = s.noteStorageError(err)
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	s.log.Error("the log refused a record", "error", err)
	return fmt.Errorf("sealer: record refused: %w", err)
}

// finishStop records the stop, seals and closes the log, and answers
// whoever still waits for a checkpoint.
func (w *writer) finishStop() error {
	s := w.s
	defer func() {
		for _, r := range w.sealWaiters {
			r.finish(reply{err: fmt.Errorf("%w: the sealer stopped", ErrUnavailable)})
		}
	}()
	if w.storageErr != nil {
		s.ledger.Close()
		return fmt.Errorf("sealer: stopped after a storage failure: %w", w.storageErr)
	}
	records := s.ledger.NextSeq() - s.startSeq + 1
	if _, err := s.ledger.AppendSealerEvent(&event.SealerStopped{Timestamp: time.Now().UTC(), Reason: "signal", Records: records}); err != nil {
		s.ledger.Close()
		return err
	}
	if err := s.ledger.Close(); err != nil {
		return fmt.Errorf("sealer: close: %w", err)
	}
	size := w.checkpointSize()
	for _, r := range w.sealWaiters {
		r.finish(reply{seq: r.seq, auditID: r.auditID, hasSeq: r.kind == reqEmit, sealed: true, checkpointSize: size})
	}
	w.sealWaiters = nil
	s.log.Info("stopped cleanly: log sealed and closed", "records", s.ledger.NextSeq())
	return nil
}
