package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress prints a one-line progress meter on stderr while audit-verify
// checks a data directory, when stderr is a terminal (never into a file or
// pipe, where the carriage returns would be noise).
type progress struct {
	w     io.Writer
	start time.Time
	mu    sync.Mutex
	last  time.Time
}

// progressInterval is the least time between two redraws.
const progressInterval = 100 * time.Millisecond

// How much must be known before the meter shows a rate and an ETA: an
// average over the first moments, or over a sliver of the log, says little
// about the rest (the first segments may be in the page cache, the rest
// not).
const (
	rateMinElapsed = 500 * time.Millisecond
	etaMinElapsed  = 2 * time.Second
	etaMinPermille = 10 // 1% of the bytes checked
)

// newProgress returns a meter writing to stderr, or nil when stderr is not
// a terminal.
func newProgress(stderr io.Writer) *progress {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &progress{w: stderr, start: time.Now()}
}

// update redraws the meter for done of total segment bytes checked; it is
// verify.Options.Progress, called from several goroutines.
func (p *progress) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < progressInterval {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\r%s\033[K", progressLine(done, total, now.Sub(p.start)))
}

// clear erases the meter; a nil meter does nothing.
func (p *progress) clear() {
	if p == nil {
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
}

// progressLine is the meter's text for done of total bytes checked in
// elapsed: the percentage and MiB, then the average rate once elapsed
// reaches rateMinElapsed, then the time left at that rate once elapsed
// reaches etaMinElapsed and done is 1% of total. (verify reports bytes
// only, so the rate is in MiB/s, not records/s.)
func progressLine(done, total int64, elapsed time.Duration) string {
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	line := fmt.Sprintf("verifying: %5.1f%% (%d of %d MiB", pct, done>>20, total>>20)
	if elapsed < rateMinElapsed || done <= 0 {
		return line + ")"
	}
	rate := float64(done) / elapsed.Seconds() // bytes a second
	line += fmt.Sprintf(", %.1f MiB/s", rate/(1<<20))
	if elapsed >= etaMinElapsed && done < total && done*1000 >= total*etaMinPermille {
		left := time.Duration(float64(total-done) / rate * float64(time.Second))
		line += ", ETA " + formatETA(left)
	}
	return line + ")"
}

// formatETA prints d rounded up to a second as m:ss, or h:mm:ss from an
// hour on.
func formatETA(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
