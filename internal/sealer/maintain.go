package sealer

import (
	"context"
	"errors"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/storage"
)

// maintain rotates the segment, refreshes the checkpoint file, applies
// retention, and recovers from a storage failure. Each of these syncs, or
// reopens the log: the group commit in flight settles first.
func (w *writer) maintain() {
	s := w.s
	if s.ledger.Err() == nil && w.storageErr == nil && s.ledger.RunNamed() && s.ledger.RotationDue() {
		w.settle()
		closing, _ := s.ledger.Durable()
		rotated, err := s.ledger.RotateIfDue()
		var anchorErr *ledger.AnchorError
		switch {
		case err != nil && s.ledger.Err() != nil:
			w.storageErr = s.noteStorageError(err)
		case errors.As(err, &anchorErr):
			s.noteAnchorError(err)
		case err != nil:
			s.noteSealError(err)
		}
		if rotated {
			w.signing = nil // the closing checkpoint covered it
			w.durableSize = w.checkpointSize()
			s.queueIndex(closing)
			s.witnessing.noteRotation()
		}
	}
	// The file may only hold a checkpoint that is durable in the log.
	if w.storageErr == nil && s.ledger.RunNamed() && w.durableSize == w.checkpointSize() {
		if err := s.ledger.RefreshCheckpointFile(); err != nil {
			w.storageErr = s.noteStorageError(err)
		}
		s.witnessing.offer(s.ledger.LastSignedCheckpoint(), s.ledger.LastCheckpoint())
	}
	if w.storageErr == nil && !w.stop && s.cfg.Retention.Days > 0 && time.Since(w.lastRetention) >= s.cfg.Retention.CheckInterval.Duration {
		w.settle()
		w.lastRetention = time.Now()
		s.applyRetention()
		w.durableSize = max(w.durableSize, w.checkpointSize())
	}
	if w.storageErr == nil && s.ledger.Err() != nil {
		w.storageErr = s.noteStorageError(s.ledger.Err())
	}
	if w.storageErr != nil && w.storageFailedAt.IsZero() {
		w.storageFailedAt = time.Now()
	}
	if w.storageErr != nil && !w.stop && time.Since(w.lastRecovery) >= storageRetryInterval {
		w.settle()
		w.lastRecovery = time.Now()
		if err := s.recoverStorage(w.storageFailedAt, w.storageErr); err != nil {
			s.log.Debug("the log still cannot be written", "error", err)
			return
		}
		w.storageErr, w.storageFailedAt = nil, time.Time{}
		w.signing = nil
		w.lastSeal, w.unsealedAt = time.Now(), time.Time{}
		w.durableSize = w.checkpointSize()
	}
}

// applyRetention deletes the segments retention has expired (the ledger
// records and seals the deletion first) and logs what it did.
func (s *Sealer) applyRetention() {
	cutoff := time.Now().Add(-time.Duration(s.cfg.Retention.Days) * 24 * time.Hour)
	res, err := s.ledger.Prune(cutoff, s.cfg.Retention.Days, s.cfg.Retention.ArchiveDir)
	switch {
	case errors.Is(err, ledger.ErrNothingToPrune):
	case err != nil:
		s.log.Error("retention: could not delete expired segments", "error", err)
	default:
		s.log.Info("retention: deleted expired segments, recorded in the chain", "segments", len(res.Segments),
			"first_seq", res.FirstSeq, "last_seq", res.LastSeq, "record", res.Recorded, "archived", len(res.Archived))
	}
}

// storageRetryInterval is how often a sealer whose log cannot be written
// tries to resume.
const storageRetryInterval = time.Second

// recoverStorage resumes after a write or fdatasync failure: it releases
// the failed log, cuts the current segment back to what was durable (the
// bytes after it are kept aside: they were never acknowledged, and after a
// failed fdatasync the page cache may hold bytes the disk never got), opens
// the log again (which verifies its tail), records audit.storage_recovered
// and seals. If any step fails, the sealer keeps refusing events and tries
// again later.
func (s *Sealer) recoverStorage(failedAt time.Time, cause error) error {
	seg, off := s.ledger.Durable()
	s.ledger.Abandon()
	cut, err := storage.DiscardUndurable(s.cfg.DataDir, seg, off)
	if err != nil {
		return err
	}
	l, info, err := ledger.Open(s.ledgerCfg)
	if err != nil {
		return err
	}
	s.ledger = l
	ev := &event.StorageRecovered{Timestamp: time.Now().UTC(), FailedAt: failedAt.UTC(), Error: cause.Error()}
	if cut != nil {
		n := uint64(cut.Bytes)
		ev.DiscardedBytes, ev.KeptAs = &n, cut.KeptAs
	}
	if r := info.Recovery; r != nil && r.Segment != "" && cut == nil {
		n := uint64(r.Bytes)
		ev.DiscardedBytes, ev.KeptAs = &n, r.KeptAs
	}
	if _, err := l.AppendSealerEvent(ev); err != nil {
		return err
	}
	if err := s.recordDiscarded(l, info.Discarded); err != nil {
		return err
	}
	// The reopened log has a new run key: seal to name it. If the log key
	// cannot sign now, the writer refuses events until it can.
	if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil && l.Err() != nil {
		return err
	} else if err != nil {
		s.noteSealError(err)
		if err := l.Sync(); err != nil {
			return err
		}
	}
	s.working(disk)
	var discarded uint64
	if ev.DiscardedBytes != nil {
		discarded = *ev.DiscardedBytes
	}
	s.log.Info("the log can be written again: accepting events", "failed_at", failedAt, "discarded_bytes", discarded, "kept_as", ev.KeptAs)
	return nil
}
