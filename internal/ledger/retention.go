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
	ev := &event.RetentionPruned{Timestamp: l.cfg.Now().UTC(), FirstSeq: res.FirstSeq, LastSeq: res.LastSeq,
		Segments: res.Segments, RetentionDays: retentionDays, Reason: "retention period expired"}
	seq, err := l.AppendSealerEvent(ev)
	if err != nil {
		return nil, err
	}
	cp, err := l.seal(true)
	if err != nil {
		return nil, fmt.Errorf("ledger: the deletion could not be sealed, nothing was deleted: %w", err)
	}
	res.Recorded, res.Sealed = seq, cp.Size
	for _, s := range expired {
		path := filepath.Join(l.cfg.Dir, s.Name)
		if archiveDir != "" {
			name, err := archive(path, archiveDir)
			if err != nil {
				return res, err
			}
			res.Archived = append(res.Archived, name)
		}
		// The segment's index goes first: a crash in between leaves a
		// segment without an index (read end to end), never an index
		// without its segment.
		if err := index.Remove(l.cfg.Dir, s.Name); err != nil {
			return res, fmt.Errorf("ledger: %w", err)
		}
		if err := os.Remove(path); err != nil {
			return res, fmt.Errorf("ledger: remove %s: %w", s.Name, err)
		}
	}
	if err := syncDir(l.cfg.Dir); err != nil {
		return res, fmt.Errorf("ledger: %w", err)
	}
	return res, nil
}

// segmentStartTime reads the time of a segment's first record.
func segmentStartTime(path string) (time.Time, error) {
	r, err := storage.OpenSegment(path, false)
	if err != nil {
		return time.Time{}, fmt.Errorf("ledger: %w", err)
	}
	defer r.Close()
	p, _, err := r.Next()
	if err != nil {
		return time.Time{}, fmt.Errorf("ledger: %s: %w", filepath.Base(path), err)
	}
	rec, err := chain.Decode(p)
	if err != nil {
		return time.Time{}, fmt.Errorf("ledger: %s: %w", filepath.Base(path), err)
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
	src, err := os.Open(path)
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
