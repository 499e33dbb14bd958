package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProgressLine: the meter shows the percentage and MiB; the average
// rate from half a second on; the time left at that rate from two seconds
// and 1% of the bytes on, and not once everything is checked.
func TestProgressLine(t *testing.T) {
	const MiB = 1 << 20
	for _, tc := range []struct {
		done, total int64
		elapsed     time.Duration
		want        string
	}{
		{0, 1000 * MiB, 0, "verifying:   0.0% (0 of 1000 MiB)"},
		{0, 0, time.Second, "verifying: 100.0% (0 of 0 MiB)"},
		{10 * MiB, 1000 * MiB, 400 * time.Millisecond, "verifying:   1.0% (10 of 1000 MiB)"},
		{0, 1000 * MiB, 3 * time.Second, "verifying:   0.0% (0 of 1000 MiB)"},
		{5 * MiB, 1000 * MiB, time.Second, "verifying:   0.5% (5 of 1000 MiB, 5.0 MiB/s)"},
		// enough time, too few bytes: no ETA yet
		{5 * MiB, 1000 * MiB, 10 * time.Second, "verifying:   0.5% (5 of 1000 MiB, 0.5 MiB/s)"},
		// enough bytes, too little time: no ETA yet
		{500 * MiB, 1000 * MiB, time.Second, "verifying:  50.0% (500 of 1000 MiB, 500.0 MiB/s)"},
		{500 * MiB, 1000 * MiB, 2 * time.Second, "verifying:  50.0% (500 of 1000 MiB, 250.0 MiB/s, ETA 0:02)"},
		{10 * MiB, 1000 * MiB, 2 * time.Second, "verifying:   1.0% (10 of 1000 MiB, 5.0 MiB/s, ETA 3:18)"},
		{100 * MiB, 10000 * MiB, 40 * time.Second, "verifying:   1.0% (100 of 10000 MiB, 2.5 MiB/s, ETA 1:06:00)"},
		{1000 * MiB, 1000 * MiB, 4 * time.Second, "verifying: 100.0% (1000 of 1000 MiB, 250.0 MiB/s)"},
	} {
		if got := progressLine(tc.done, tc.total, tc.elapsed); got != tc.want {
			t.Errorf("progressLine(%d MiB, %d MiB, %v) = %q, want %q", tc.done>>20, tc.total>>20, tc.elapsed, got, tc.want)
		}
	}
}

// TestFormatETA: whole seconds, rounded up; hours from an hour on.
func TestFormatETA(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0:00", 1: "0:01", time.Second: "0:01", 59*time.Second + time.Millisecond: "1:00",
		10*time.Minute + 5*time.Second: "10:05", time.Hour - time.Second: "59:59", time.Hour: "1:00:00", 27*time.Hour + 3*time.Minute + 4*time.Second: "27:03:04",
	} {
		if got := formatETA(d); got != want {
			t.Errorf("formatETA(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestProgressOnlyOnATerminal: no meter when stderr is a buffer or a file,
// and clearing no meter writes nothing.
func TestProgressOnlyOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	if p := newProgress(&buf); p != nil {
		t.Error("a meter on a buffer")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := newProgress(f)
	if p != nil {
		t.Error("a meter on a regular file")
	}
	p.clear()
	if fi, err := f.Stat(); err != nil || fi.Size() != 0 {
		t.Errorf("the file got %d bytes (%v)", fi.Size(), err)
	}
}

// TestProgressUpdate: update redraws the line in place (carriage return,
// erase to the end of the line), at most once every progressInterval.
func TestProgressUpdate(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, start: time.Now().Add(-10 * time.Second)}
	p.update(500<<20, 1000<<20)
	p.update(600<<20, 1000<<20) // within progressInterval: dropped
	out := buf.String()
	if !strings.HasPrefix(out, "\rverifying:  50.0% (500 of 1000 MiB, ") || !strings.HasSuffix(out, ")\033[K") || !strings.Contains(out, "ETA ") {
		t.Errorf("update wrote %q", out)
	}
	if strings.Count(out, "\r") != 1 {
		t.Errorf("two redraws within %v: %q", progressInterval, out)
	}
}
