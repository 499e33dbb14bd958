package sealer

import (
	"context"
	"path/filepath"
	"time"

	"github.com/audit-sealer/audit-sealer/index"
)

// indexQueueLen bounds the segments waiting for their index. Rotation
// happens at most every few seconds even at full ingest rate with small
// segments; a full queue drops the request (audit-sealer index build, or
// the next start, writes the index later).
const indexQueueLen = 64

// indexer writes the index file of each segment the writer closes, one at
// a time, off the ingest path: the writer only hands over the segment's
// name, and the indexer reads the closed, read-only segment file while the
// writer appends to the next one. At start it first writes the index of
// every closed segment that lacks a usable one (segments closed by an
// earlier run that stopped before indexing them). A failure is logged and
// counted (index_errors_total); query then reads that segment in full.
// It returns when ctx is cancelled; an index being written then is left
// unwritten (its temporary file removed).
func (s *Sealer) indexer(ctx context.Context, queue <-chan string) {
	start := time.Now()
	res, err := index.Update(ctx, s.cfg.DataDir, false)
	built := 0
	for _, r := range res {
		if r.Status == "built" {
			built++
		}
	}
	s.m.indexes.Add(float64(built))
	switch {
	case ctx.Err() != nil:
		return
	case err != nil:
		s.m.indexErrors.Inc()
		s.log.Error("index: could not bring the segment indexes up to date; queries read those segments in full", "error", err)
	case built > 0:
		s.log.Info("index: wrote the missing segment indexes", "segments", built, "took", time.Since(start).Round(time.Millisecond))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case name := <-queue:
			s.indexSegment(ctx, name)
		}
	}
}

// indexSegment builds and writes the index of one closed segment.
func (s *Sealer) indexSegment(ctx context.Context, name string) {
	start := time.Now()
	x, err := index.Build(ctx, filepath.Join(s.cfg.DataDir, name))
	if err == nil {
		err = index.Write(s.cfg.DataDir, x)
	}
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		s.m.indexErrors.Inc()
		s.log.Error("index: could not write a segment's index; queries read it in full", "segment", name, "error", err)
		return
	}
	s.m.indexes.Inc()
	s.log.Debug("index: wrote a segment's index", "segment", name, "keys", x.Len(), "took", time.Since(start).Round(time.Millisecond))
}

// queueIndex asks the indexer for the index of a segment the writer just
// closed, without ever blocking the writer.
func (s *Sealer) queueIndex(name string) {
	if !s.cfg.Query.Index {
		return
	}
	select {
	case s.indexQueue <- name:
	default:
		s.m.indexErrors.Inc()
		s.log.Warn("index: the index queue is full; this segment is indexed later (audit-sealer index build, or the next start)", "segment", name)
	}
}
