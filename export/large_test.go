package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/export"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

var large struct {
	once sync.Once
	dir  string
	err  error
}

// largeLog builds, once per test binary, a log of 100,000 events (20,000
// with -short) of 16 types in segments of 4 MiB (1 MiB) (and one a day: the clock
// steps 5 s), and returns its data directory.
func largeLog(t *testing.T) string {
	t.Helper()
	large.once.Do(func() {
		root, err := os.MkdirTemp("", "audit-sealer-export-large-")
		if err != nil {
			large.err = err
			return
		}
		large.dir = filepath.Join(root, "data")
		n, seg := 100_000, int64(4<<20)
		if testing.Short() {
			n, seg = 20_000, 1<<20
		}
		_, large.err = testkit.BuildRealisticLog(large.dir, testkit.RealisticOptions{Events: n, SegmentSize: seg, Step: 5 * time.Second})
	})
	if large.err != nil {
		t.Fatal(large.err)
	}
	segs, err := storage.ListSegments(large.dir)
	if err != nil || len(segs) < 4 {
		t.Fatalf("the large log has %d segments (%v), want several", len(segs), err)
	}
	return large.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if large.dir != "" {
		os.RemoveAll(filepath.Dir(large.dir))
	}
	os.Exit(code)
}

// lineChecker receives an export and checks each line as it arrives: it
// must parse in its format and name the next record the filter matches
// (jsonl, cef; an OCSF object's sequence is deep inside it, so there the
// count and the validity are checked). The full conformance rules of
// conformance_test.go apply to the first line of each event type and to
// every 16th line. With sampleEvery > 0 it also collects garbage every
// sampleEvery lines and records the largest live heap.
type lineChecker struct {
	format  export.Format
	want    []uint64 // the sequence numbers a direct scan matched, in order
	lines   int
	bytes   int64
	partial []byte
	err     error
	seen    map[string]bool // event types checked in full

	sampleEvery int
	heapBase    uint64 // live heap before the export
	heapPeak    uint64 // the largest live heap sampled, before and during
}

func (c *lineChecker) Write(p []byte) (int, error) {
	c.bytes += int64(len(p))
	data := append(c.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if c.err == nil {
			c.err = c.check(data[:i])
			if c.err != nil {
				c.err = fmt.Errorf("line %d: %w\n%s", c.lines+1, c.err, data[:i])
			}
		}
		c.lines++
		if c.sampleEvery > 0 && c.lines%c.sampleEvery == 0 {
			c.sampleHeap()
		}
		data = data[i+1:]
	}
	c.partial = append(c.partial[:0], data...)
	return len(p), nil
}

// sampleHeap collects garbage and records the live heap: what the export
// holds at this point, whatever the GC's pacing.
func (c *lineChecker) sampleHeap() {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	c.heapPeak = max(c.heapPeak, ms.HeapAlloc)
}

// full reports whether a line of event type typ gets the full conformance
// check.
func (c *lineChecker) full(typ string) bool {
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	if !c.seen[typ] {
		c.seen[typ] = true
		return true
	}
	return c.lines%16 == 0
}

// between returns the text between the first "after" and the next "before".
func between(line []byte, after, before string) string {
	i := bytes.Index(line, []byte(after))
	if i < 0 {
		return ""
	}
	rest := line[i+len(after):]
	if j := bytes.Index(rest, []byte(before)); j >= 0 {
		return string(rest[:j])
	}
	return ""
}

func (c *lineChecker) check(line []byte) error {
	if !bytes.HasSuffix(line, []byte("}")) && c.format != export.CEF || bytes.ContainsAny(line, "\r") {
		return fmt.Errorf("not one record per line")
	}
	seq := uint64(0)
	ordered := true
	switch c.format {
	case export.JSONL:
		// {"seq":N,... : query.Match marshals seq first.
		if !json.Valid(line) {
			return fmt.Errorf("not JSON")
		}
		n, err := strconv.ParseUint(between(line, `{"seq":`, `,`), 10, 64)
		if err != nil {
			return fmt.Errorf("no seq first")
		}
		seq = n
		// ..."event":{...}}: the event is the last member.
		typ := between(line, `"type":"`, `"`)
		i := bytes.Index(line, []byte(`,"event":{`))
		if typ == "" || i < 0 || c.full(typ) && !bytes.Contains(line[i:], []byte(`{"type":"`+typ+`"`)) {
			return fmt.Errorf("type %q or its event is missing", typ)
		}
	case export.CEF:
		r, err := parseCEF(string(line))
		if err != nil {
			return err
		}
		if c.full(r.header[4]) {
			if err := checkCEF(r); err != nil {
				return err
			}
		}
		if seq, err = strconv.ParseUint(r.ext["cn1"], 10, 64); err != nil {
			return err
		}
	case export.OCSF:
		if !json.Valid(line) {
			return fmt.Errorf("not JSON")
		}
		if c.full(between(line, `"event_code":"`, `"`)) {
			if _, err := validateOCSF(line); err != nil {
				return err
			}
		}
		ordered = false
	}
	if c.lines >= len(c.want) {
		return fmt.Errorf("beyond the %d matched records", len(c.want))
	}
	if ordered && seq != c.want[c.lines] {
		return fmt.Errorf("record %d, want %d", seq, c.want[c.lines])
	}
	return nil
}

// matches returns the sequence numbers of the records of the large log
// that f matches.
func matches(t *testing.T, dir string, f query.Filter) []uint64 {
	t.Helper()
	var want []uint64
	if _, err := query.Scan(context.Background(), dir, verify.Trust{Keys: testkit.Keys("main")}, f, func(m *query.Match) error { want = append(want, m.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatalf("the filter %+v matches nothing", f)
	}
	return want
}

// exportAndCheck exports the records that f matches in format fm through a
// lineChecker, checks that it wrote one valid line per matched record, and
// returns the checker.
func exportAndCheck(t *testing.T, dir string, f query.Filter, fm export.Format, want []uint64, sampleEvery int) *lineChecker {
	t.Helper()
	c := &lineChecker{format: fm, want: want, sampleEvery: sampleEvery}
	if sampleEvery > 0 {
		c.sampleHeap()
		c.heapBase = c.heapPeak
	}
	x := export.NewWriter(c, fm, "test")
	if _, err := query.Scan(context.Background(), dir, verify.Trust{Keys: testkit.Keys("main")}, f, x.Write); err != nil {
		t.Fatal(err)
	}
	if c.err != nil {
		t.Fatalf("%s: %v", fm, c.err)
	}
	if c.lines != len(want) || len(c.partial) != 0 {
		t.Fatalf("%s: %d lines (%d bytes left over), the scan matched %d records", fm, c.lines, len(c.partial), len(want))
	}
	if len(c.seen) == 0 {
		t.Fatalf("%s: no line was checked in full", fm)
	}
	return c
}

// testLargeExport: on a log of 100,000 events in many segments, exporting
// the whole log in format fm writes one valid line per record (CEF and OCSF
// by the conformance rules), in order, in flat memory: the live heap while
// exporting all of it is no larger than while exporting a tenth of it, and
// a small fraction of the output. A filtered export writes exactly the
// records a direct scan matches.
func testLargeExport(t *testing.T, fm export.Format, filtered query.Filter) {
	dir := largeLog(t)
	all := matches(t, dir, query.Filter{})
	tenth := exportAndCheck(t, dir, query.Filter{Limit: len(all) / 10}, fm, all[:len(all)/10], len(all)/100)
	whole := exportAndCheck(t, dir, query.Filter{}, fm, all, len(all)/100)
	t.Logf("%s: %d lines, %.1f MiB, types checked in full %d; live heap peak %.1f MiB exporting %.1f MiB, %.1f MiB exporting %.1f MiB",
		fm, whole.lines, float64(whole.bytes)/(1<<20), len(whole.seen),
		float64(tenth.heapPeak)/(1<<20), float64(tenth.bytes)/(1<<20), float64(whole.heapPeak)/(1<<20), float64(whole.bytes)/(1<<20))
	if whole.heapPeak > tenth.heapPeak+2<<20 {
		t.Errorf("%s: the live heap grew with the export: %d bytes for a tenth of the log, %d for all of it", fm, tenth.heapPeak, whole.heapPeak)
	}
	if grew := whole.heapPeak - whole.heapBase; grew > uint64(whole.bytes)/4 {
		t.Errorf("%s: the live heap grew by %d bytes while exporting %d bytes", fm, grew, whole.bytes)
	}
	exportAndCheck(t, dir, filtered, fm, matches(t, dir, filtered), 0)
}

func TestExportLargeLogJSONL(t *testing.T) {
	testLargeExport(t, export.JSONL, query.Filter{Entity: testkit.RealisticCustomer(42)})
}

func TestExportLargeLogCEF(t *testing.T) {
	testLargeExport(t, export.CEF, query.Filter{Types: []string{"security.*"}, CriticalOnly: true})
}

func TestExportLargeLogOCSF(t *testing.T) {
	testLargeExport(t, export.OCSF, query.Filter{UserID: testkit.RealisticCustomer(42) + "@tenants.example.com"})
}
