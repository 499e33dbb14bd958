package ledger

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/index"
	"github.com/audit-sealer/audit-sealer/storage"
)

// PruneResult says what Prune removed.
type PruneResult struct {
	Segments  []string
	FirstSeq  uint64
	LastSeq   uint64
	Archived  []string // compressed copies, when an archive directory was given
	Recorded  uint64   // sequence number of the audit.retention_pruned record
	Sealed    uint64   // tree size of the checkpoint that covers it
	ExpiredAt time.Time
}

// ErrPruneTooEarly is returned by Prune for a cut-off later than the
// retention period allows.
var ErrPruneTooEarly = errors.New("ledger: refusing to delete records younger than the retention period")

// ErrNothingToPrune is returned by Prune when no whole segment is expired.
var ErrNothingToPrune = errors.New("ledger: no sealed segment is past the retention period")

// Prune deletes the oldest segments whose every record is older than
// before, as retention requires (FORMAT.md §2.4). Only whole, closed,
// sealed segments go, and only a prefix of the log: the deletion is first
// recorded in the chain (audit.retention_pruned, naming the segments and the
// sequence range) and sealed, then each segment is optionally copied,
// gzip-compressed, into archiveDir (fsynced), and only then removed, with
// its index file (package index). A
// verifier accepts a log that starts after such a record's range and
// refuses any other missing prefix.
func (l *Ledger) Prune(before time.Time, retentionDays uint32, archiveDir string) (*PruneResult, error) {
	if l.failed != nil {
		return nil, l.failed
	}
	// The verifier checks that every deleted record is older than the
	// retention period the record states (FORMAT.md §2.4): never delete
	// what it would reject.
	if latest := l.cfg.Now().Add(-time.Duration(retentionDays) * 24 * time.Hour); before.After(latest) {
		return nil, fmt.Errorf("%w: the cut-off %s is later than %d days ago (%s)", ErrPruneTooEarly, before.UTC().Format(time.RFC3339), retentionDays, latest.UTC().Format(time.RFC3339))
	}
	segs, err := storage.ListSegments(l.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	// A segment is expired when the next segment started (its first record
	// was written) before the cut-off: every record of it is older.
	var expired []storage.SegmentInfo
	for i := 0; i+1 < len(segs); i++ {
		start, err := segmentStartTime(filepath.Join(l.cfg.Dir, segs[i+1].Name))
		if err != nil {
			return nil, err
		}
		if !start.Before(before) {
			break
		}
		expired = append(expired, segs[i])
	}
	if len(expired) == 0 {
		return nil, ErrNothingToPrune
	}
	res := &PruneResult{FirstSeq: expired[0].FirstSeq, LastSeq: segs[len(expired)].FirstSeq - 1, ExpiredAt: before}
	for _, s := range expired {
		res.Segments = append(res.Segments, s.Name)
	}
	// From this record on, every checkpoint names the first retained
	// record as the log's start.
	newStart, err := segmentStart(filepath.Join(l.cfg.Dir, segs[len(expired)].Name))
	if err != nil {
		return nil, err
	}
	ev := &event.RetentionPruned{Timestamp: l.cfg.Now().UTC(), FirstSeq: res.FirstSeq, LastSeq: res.LastSeq,
		Segments: res.Segments, RetentionDays: retentionDays, Reason: "retention period expired"}
	seq, err := l.AppendSealerEvent(ev)
	if err != nil {
		return nil, err
	}
	oldStart := l.start
	l.start = chain.LogStart{Seq: newStart.Seq, Hash: newStart.Hash}
	cp, err := l.sealNow(true, nil)
	if err != nil {
		l.start = oldStart
		return nil, fmt.Errorf("ledger: the deletion could not be sealed, nothing was deleted: %w", err)
	}
	res.Recorded, res.Sealed = seq, cp.Size
	for _, s := range expired {
		name, err := l.removeSegment(s.Name, archiveDir)
		if name != "" {
			res.Archived = append(res.Archived, name)
		}
		if err != nil {
			return res, err
		}
	}
	if err := syncDir(l.cfg.Dir); err != nil {
		return res, fmt.Errorf("ledger: %w", err)
	}
	return res, nil
}

// removeSegment deletes a segment whose deletion the log recorded and
// sealed: it copies it into archiveDir first (when not ""), then removes
// its index and then the segment. It returns the archive's name.
func (l *Ledger) removeSegment(name, archiveDir string) (string, error) {
	path := filepath.Join(l.cfg.Dir, name)
	var archived string
	if archiveDir != "" {
		var err error
		if archived, err = archive(path, archiveDir); err != nil {
			return "", err
		}
	}
	// The segment's index goes first: a crash in between leaves a segment
	// without an index (read end to end), never an index without its
	// segment.
	if err := index.Remove(l.cfg.Dir, name); err != nil {
		return archived, fmt.Errorf("ledger: %w", err)
	}
	if err := os.Remove(path); err != nil {
		return archived, fmt.Errorf("ledger: remove %s: %w", name, err)
	}
	return archived, nil
}

// ErrHistoryRewritten is returned by Open when the log's first segment is
// not the one the last trusted checkpoint names as the log's start
// (FORMAT.md §2.4): records were deleted or replaced at the start of the
// log.
var ErrHistoryRewritten = errors.New("ledger: the log's first segment is not the one its last checkpoint names")

// checkLogStart compares the log's first segment with the start that the
// last trusted checkpoint names. Segments before that start are what an
// interrupted retention prune left (the prune was recorded and sealed
// before any file was removed): Open completes the prune. Anything else is
// a rewritten or fabricated history, refused.
func (l *Ledger) checkLogStart(a *authentication, info *OpenInfo) error {
	segs, err := storage.ListSegments(l.cfg.Dir)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	first, err := segmentStart(filepath.Join(l.cfg.Dir, segs[0].Name))
	if err != nil {
		return err
	}
	if first.LogID != l.logID {
		return fmt.Errorf("%w: segment %s belongs to log %s, not %s", ErrHistoryRewritten, segs[0].Name, first.LogID, l.logID)
	}
	if first.Seq != segs[0].FirstSeq {
		return fmt.Errorf("%w: segment %s starts with record %d", ErrHistoryRewritten, segs[0].Name, first.Seq)
	}
	var want *chain.LogStart
	if a.trusted != nil && !a.newKey {
		want = a.trusted.cp.Start
	}
	if want == nil {
		// A checkpoint of format 1 names no start: nothing to compare.
		l.start = chain.LogStart{Seq: first.Seq, Hash: first.Hash}
		return nil
	}
	l.start = *want
	if first.Seq == want.Seq && first.Hash == want.Hash {
		return nil
	}
	if first.Seq > want.Seq {
		return fmt.Errorf("%w: the log starts at record %d (segment %s) but its last checkpoint says it starts at record %d: records were deleted",
			ErrHistoryRewritten, first.Seq, segs[0].Name, want.Seq)
	}
	k := -1
	for i, s := range segs {
		if s.FirstSeq == want.Seq {
			k = i
		}
	}
	if k < 0 {
		return fmt.Errorf("%w: the log's last checkpoint says it starts at record %d, and no segment starts there", ErrHistoryRewritten, want.Seq)
	}
	named, err := segmentStart(filepath.Join(l.cfg.Dir, segs[k].Name))
	if err != nil {
		return err
	}
	if named.Hash != want.Hash {
		return fmt.Errorf("%w: segment %s is not the segment the log's last checkpoint names as its start", ErrHistoryRewritten, segs[k].Name)
	}
	// Segments before the recorded start: an interrupted prune. Finish it.
	for _, s := range segs[:k] {
		if _, err := l.removeSegment(s.Name, l.cfg.ArchiveDir); err != nil {
			return err
		}
		info.PruneCompleted = append(info.PruneCompleted, s.Name)
	}
	if err := syncDir(l.cfg.Dir); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// segmentStart reads a segment's first record, its segment_start.
func segmentStart(path string) (*chain.Record, error) {
	r, err := storage.OpenSegment(path, false)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer r.Close()
	p, _, err := r.Next()
	if err != nil {
		return nil, fmt.Errorf("ledger: %s: %w", filepath.Base(path), err)
	}
	rec, err := chain.Decode(p)
	if err == nil && rec.Kind != chain.KindSegmentStart {
		err = fmt.Errorf("the first record is a %v", rec.Kind)
	}
	if err == nil && !chain.NewHasher().Check(p) {
		err = errors.New("the first record does not match its hash")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrHistoryRewritten, filepath.Base(path), err)
	}
	rec.TreeState = append([]chain.Hash(nil), rec.TreeState...)
	return &rec, nil
}

// segmentStartTime reads the time of a segment's first record.
func segmentStartTime(path string) (time.Time, error) {
	rec, err := segmentStart(path)
	if err != nil {
		return time.Time{}, err
	}
	return rec.Time(), nil
}

// archive writes a gzip copy of a segment into dir (0600, fsynced, with the
// directory fsynced) and returns its name.
func archive(path, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("ledger: archive: %w", err)
	}
	name := filepath.Base(path) + ".gz"
	src, err := storage.OpenDataFile(path)
	if err != nil {
		return "", fmt.Errorf("ledger: archive: %w", err)
	}
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("ledger: archive: %w", err)
	}
	zw := gzip.NewWriter(dst)
	zw.Name = filepath.Base(path)
	_, err = io.Copy(zw, src)
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("ledger: archive %s: %w", name, err)
	}
	return name, syncDir(dir)
}
