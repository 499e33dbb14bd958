package index

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/storage"
)

// Closed returns the closed segments of the log in dir: every segment but
// the last, which the sealer may still append to and which is never
// indexed.
func Closed(dir string) ([]storage.SegmentInfo, error) {
	segs, err := storage.ListSegments(dir)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if len(segs) == 0 {
		return nil, nil
	}
	return segs[:len(segs)-1], nil
}

// Usable loads the index of seg in dir and binds it to the segment (Bind).
func Usable(dir string, seg storage.SegmentInfo) (*Index, error) {
	x, err := Load(dir, seg.Name)
	if err != nil {
		return nil, err
	}
	r, err := storage.OpenFrames(filepath.Join(dir, seg.Name))
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	defer r.Close()
	if err := x.Bind(r, seg); err != nil {
		return nil, err
	}
	return x, nil
}

// Result says what Update or CheckAll found for one closed segment.
type Result struct {
	Segment string `json:"segment"`
	// Status: "ok" (usable, or identical to the rebuilt index for
	// CheckAll), "built" (written by Update), "missing", "outdated" (an
	// index of an earlier version, which readers treat as missing),
	// "stale", "malformed", "mismatch" or "error".
	Status string `json:"status"`
	Err    string `json:"error,omitempty"`
}

// status names the error of Usable, Load or Check.
func status(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, fs.ErrNotExist):
		return "missing"
	case errors.Is(err, ErrOutdated):
		return "outdated"
	case errors.Is(err, ErrStale):
		return "stale"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrMismatch):
		return "mismatch"
	}
	return "error"
}

// Update writes the index of every closed segment of the log in dir that
// has none, or whose index is outdated, malformed or stale; with all, it rebuilds
// every index, including one that is bound to its segment but differs
// from its content (as Check reports). It goes on past a segment it cannot
// index and returns the errors joined. It also removes index files whose
// segment is gone (retention removes the index before its segment, so
// these are left only by a crash or by hand). It needs write access to
// dir. Two Updates (audit-sealer index build while the sealer indexes) may
// run at once: each file is written atomically from the same segment, so
// the last rename wins with the same content.
func Update(ctx context.Context, dir string, all bool) ([]Result, error) {
	segs, err := Closed(dir)
	if err != nil {
		return nil, err
	}
	if err := removeOrphans(dir); err != nil {
		return nil, err
	}
	var out []Result
	var errs []error
	for _, s := range segs {
		if !all {
			if _, err := Usable(dir, s); err == nil {
				out = append(out, Result{Segment: s.Name, Status: "ok"})
				continue
			}
		}
		x, err := Build(ctx, filepath.Join(dir, s.Name))
		if err == nil {
			err = Write(dir, x)
		}
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			// One segment's failure (say, retention removed it meanwhile)
			// does not keep the others unindexed.
			errs = append(errs, err)
			out = append(out, Result{Segment: s.Name, Status: "error", Err: err.Error()})
			continue
		}
		out = append(out, Result{Segment: s.Name, Status: "built"})
	}
	return out, errors.Join(errs...)
}

// CheckAll checks the index of every closed segment of the log in dir
// against its segment (Check) and reports each. It needs only read access.
// ok is true when every closed segment has an index identical to the one
// its content gives.
func CheckAll(ctx context.Context, dir string) (results []Result, ok bool, err error) {
	segs, err := Closed(dir)
	if err != nil {
		return nil, false, err
	}
	ok = true
	for _, s := range segs {
		err := Check(ctx, dir, s)
		if ctx.Err() != nil {
			return results, false, ctx.Err()
		}
		r := Result{Segment: s.Name, Status: status(err)}
		if err != nil {
			r.Err, ok = err.Error(), false
		}
		results = append(results, r)
	}
	return results, ok, nil
}

// staleTempAge is how old a temporary index file (Write's ".<name>.*.tmp")
// must be before removeOrphans takes it for one a crash left behind: a
// Write in progress takes seconds, and `audit-sealer index build` may run
// beside the sealer.
const staleTempAge = time.Hour

// removeOrphans removes the index files of dir whose segment is gone, and
// temporary index files older than staleTempAge (left by a crash during
// Write).
func removeOrphans(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	removed := false
	for _, e := range ents {
		if isTempIndex(e.Name()) {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleTempAge {
				if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("index: %w", err)
				}
				removed = true
			}
			continue
		}
		stem, ok := strings.CutSuffix(e.Name(), suffix)
		if !ok || len(stem) != 16 || strings.Trim(stem, "0123456789abcdef") != "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, stem+".seg")); errors.Is(err, fs.ErrNotExist) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("index: %w", err)
			}
			removed = true
		}
	}
	if removed {
		return syncDir(dir)
	}
	return nil
}

// isTempIndex reports whether name is a temporary file of Write:
// ".<16 hex digits>.idx.<random>.tmp".
func isTempIndex(name string) bool {
	rest, ok := strings.CutPrefix(name, ".")
	if !ok || !strings.HasSuffix(rest, ".tmp") || len(rest) < 16+len(suffix)+1 {
		return false
	}
	stem, after := rest[:16], rest[16:]
	return strings.Trim(stem, "0123456789abcdef") == "" && strings.HasPrefix(after, suffix+".")
}
