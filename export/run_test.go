package export_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/export"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/verify"
)

// queryLog builds a log of n mixed events in several segments and returns
// its directory.
func queryLog(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := testkit.BuildQueryLog(dir, n, 32<<10); err != nil {
		t.Fatal(err)
	}
	return dir
}

var mainTrust = verify.Trust{Keys: testkit.Keys("main")}

// allMatches returns the sequence numbers a scan with f returns.
func allMatches(t *testing.T, dir string, f query.Filter) []uint64 {
	t.Helper()
	var seqs []uint64
	if _, err := query.Scan(context.Background(), dir, mainTrust, f, func(m *query.Match) error { seqs = append(seqs, m.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	return seqs
}

// memSink keeps what it is sent; failAt makes the Send of that batch (1
// for the first) fail after it took the batch (failPermanent: with
// ErrPermanent), as a receiver that got the records but whose
// confirmation was lost.
type memSink struct {
	mu       sync.Mutex
	got      []export.Record
	sends    int
	failAt   map[int]bool
	permFail bool
	onSend   func(n int)
}

func (s *memSink) Send(_ context.Context, batch []export.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends++
	for _, r := range batch {
		r.Line = append([]byte(nil), r.Line...)
		s.got = append(s.got, r)
	}
	if s.onSend != nil {
		s.onSend(s.sends)
	}
	if s.failAt[s.sends] {
		if s.permFail {
			return fmt.Errorf("%w: test", export.ErrPermanent)
		}
		return errors.New("the confirmation was lost")
	}
	return nil
}
func (s *memSink) Close() error   { return nil }
func (s *memSink) String() string { return "memory" }

func runConfig(dir, cursor string, sink export.Sink) export.Config {
	return export.Config{Dir: dir, Trust: mainTrust, Formatter: export.NewFormatter(export.JSONL, export.Options{Version: "t"}),
		Sink: sink, CursorFile: cursor, BatchRecords: 37, Retry: export.Retry{Initial: time.Millisecond, Max: 2 * time.Millisecond}}
}

// TestRunCursorResumes: an export with a cursor file delivers every
// matching record once; a second run delivers nothing; a run whose sink
// fails for good stops with the cursor at the last confirmed batch, and
// the next run delivers the rest, exactly once and in order.
func TestRunCursorResumes(t *testing.T) {
	dir := queryLog(t, 1500)
	f := query.Filter{Types: []string{"auth.*", "authz.*"}}
	want := allMatches(t, dir, f)
	if len(want) < 200 {
		t.Fatalf("only %d matches", len(want))
	}
	cursor := filepath.Join(t.TempDir(), "export.cursor")

	// A sink that refuses the 4th batch for good.
	s1 := &memSink{failAt: map[int]bool{4: true}, permFail: true}
	c := runConfig(dir, cursor, s1)
	c.Filter = f
	if _, err := export.Run(context.Background(), c); !errors.Is(err, export.ErrPermanent) {
		t.Fatalf("Run: %v, want the permanent failure", err)
	}
	cur, err := export.ReadCursor(cursor)
	if err != nil || cur == nil {
		t.Fatalf("cursor: %v %v", cur, err)
	}
	if cur.Seq != want[3*37-1] || cur.InFlight != want[4*37-1] {
		t.Fatalf("cursor at %d in flight %d, want %d and %d (3 batches confirmed, the 4th in flight)", cur.Seq, cur.InFlight, want[3*37-1], want[4*37-1])
	}
	if cur.Checkpoint.Size <= cur.Seq || !strings.HasPrefix(cur.AuditID, strings.TrimPrefix(cur.Origin, chain.OriginPrefix)[:16]+"-") {
		t.Fatalf("cursor %+v", cur)
	}

	// The next run resends the 4th batch marked redelivered, then the rest.
	s2 := &memSink{}
	c.Sink = s2
	st, err := export.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, r := range s1.got[:3*37] {
		got = append(got, r.Seq)
	}
	for i, r := range s2.got {
		got = append(got, r.Seq)
		if r.Redelivered != (i < 37) {
			t.Fatalf("record %d (#%d of the second run): redelivered %v", r.Seq, i, r.Redelivered)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delivered %d records, want %d, each once in order", len(got), len(want))
	}
	if st.Redelivered != 37 || st.Delivered != uint64(len(want)-3*37) {
		t.Fatalf("stats %+v", st)
	}
	cur, err = export.ReadCursor(cursor)
	if err != nil || cur.InFlight != 0 || cur.Seq < want[len(want)-1] {
		t.Fatalf("final cursor %+v %v", cur, err)
	}

	// Nothing new: nothing delivered.
	s3 := &memSink{}
	c.Sink = s3
	if _, err := export.Run(context.Background(), c); err != nil || len(s3.got) != 0 {
		t.Fatalf("a third run: %v, %d records", err, len(s3.got))
	}
}

// TestRunRetriesMarkRedelivered: a batch whose confirmation was lost is
// sent again, marked redelivered, and the export goes on.
func TestRunRetriesMarkRedelivered(t *testing.T) {
	dir := queryLog(t, 300)
	want := allMatches(t, dir, query.Filter{})
	s := &memSink{failAt: map[int]bool{2: true, 3: true}}
	var logged []string
	c := runConfig(dir, "", s)
	c.Logf = func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
	st, err := export.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	// Batch 2 was sent three times.
	if len(s.got) != len(want)+2*37 || st.Redelivered != 37 {
		t.Fatalf("%d records sent for %d, stats %+v", len(s.got), len(want), st)
	}
	for i, r := range s.got {
		if r.Redelivered != (i >= 2*37 && i < 4*37) {
			t.Fatalf("send #%d (record %d): redelivered %v", i, r.Seq, r.Redelivered)
		}
	}
	if len(logged) < 2 || !strings.Contains(logged[0], "failed (attempt 1)") {
		t.Fatalf("the failures were not reported: %q", logged)
	}
}

// TestRunGivesUp: with Retry.GiveUp, a sink that keeps failing ends the
// run with a *GiveUpError naming the records.
func TestRunGivesUp(t *testing.T) {
	dir := queryLog(t, 120)
	s := &memSink{failAt: map[int]bool{}}
	for i := 1; i < 1000; i++ {
		s.failAt[i] = true
	}
	c := runConfig(dir, "", s)
	c.Retry.GiveUp = 30 * time.Millisecond
	_, err := export.Run(context.Background(), c)
	var g *export.GiveUpError
	if !errors.As(err, &g) || g.First == 0 || g.Attempts < 2 {
		t.Fatalf("Run: %v, want a GiveUpError", err)
	}
}

// TestCursorChecks: a cursor is refused for another log, beyond the log,
// for another history, and when malformed; two exports cannot share one.
func TestCursorChecks(t *testing.T) {
	dir := queryLog(t, 400)
	cursor := filepath.Join(t.TempDir(), "c")
	s := &memSink{}
	if _, err := export.Run(context.Background(), runConfig(dir, cursor, s)); err != nil {
		t.Fatal(err)
	}
	good, err := export.ReadCursor(cursor)
	if err != nil || good == nil {
		t.Fatal(err)
	}
	if err := export.CheckCursor(dir, cursor, good); err != nil {
		t.Fatalf("the cursor of this log: %v", err)
	}
	other := filepath.Join(t.TempDir(), "other")
	if _, err := testkit.BuildLogOf(other, 50, testkit.EventJSON); err != nil {
		t.Fatal(err)
	}
	check := func(name string, dir string, c *export.Cursor, want error) {
		t.Helper()
		err := export.CheckCursor(dir, cursor, c)
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	check("another log", other, good, export.ErrCursorForeign)
	beyond := *good
	beyond.Seq, beyond.Checkpoint.Seq, beyond.Checkpoint.Size = 100_000, 100_200, 100_100
	check("beyond", dir, &beyond, export.ErrCursorBeyond)
	rewritten := *good
	rewritten.Checkpoint.Root[0] ^= 1
	check("another root", dir, &rewritten, export.ErrCursorMismatch)
	notCP := *good
	notCP.Checkpoint.Seq--
	check("not a checkpoint record", dir, &notCP, export.ErrCursorMismatch)

	// A run refuses such a cursor and delivers nothing.
	if err := export.WriteCursor(cursor, &rewritten); err != nil {
		t.Fatal(err)
	}
	s2 := &memSink{}
	if _, err := export.Run(context.Background(), runConfig(dir, cursor, s2)); !errors.Is(err, export.ErrCursorMismatch) || len(s2.got) != 0 {
		t.Fatalf("Run with another history's cursor: %v, %d records", err, len(s2.got))
	}

	for name, text := range map[string]string{
		"not JSON":       "seq=5",
		"version 2":      `{"version":2,"origin":"audit-sealer/00","seq":1,"audit_id":"x","checkpoint":{"seq":5,"size":5,"root":"` + strings.Repeat("A", 43) + `="},"written":"2026-01-01T00:00:00Z"}`,
		"unknown field":  `{"version":1,"origin":"audit-sealer/00","seq":1,"audit_id":"x","checkpoint":{"seq":5,"size":5,"root":"` + strings.Repeat("A", 43) + `="},"written":"2026-01-01T00:00:00Z","extra":1}`,
		"not covered":    `{"version":1,"origin":"audit-sealer/00","seq":9,"audit_id":"x","checkpoint":{"seq":5,"size":5,"root":"` + strings.Repeat("A", 43) + `="},"written":"2026-01-01T00:00:00Z"}`,
		"short root":     `{"version":1,"origin":"audit-sealer/00","seq":1,"audit_id":"x","checkpoint":{"seq":5,"size":5,"root":"AAAA"},"written":"2026-01-01T00:00:00Z"}`,
		"in_flight":      `{"version":1,"origin":"audit-sealer/00","seq":3,"audit_id":"x","checkpoint":{"seq":5,"size":5,"root":"` + strings.Repeat("A", 43) + `="},"in_flight":2,"written":"2026-01-01T00:00:00Z"}`,
		"foreign origin": `{"version":1,"origin":"example/00","seq":1,"audit_id":"x","checkpoint":{"seq":5,"size":5,"root":"` + strings.Repeat("A", 43) + `="},"written":"2026-01-01T00:00:00Z"}`,
	} {
		p := filepath.Join(t.TempDir(), "bad")
		os.WriteFile(p, []byte(text), 0o600)
		if _, err := export.ReadCursor(p); !errors.Is(err, export.ErrCursorMalformed) {
			t.Errorf("%s: %v, want ErrCursorMalformed", name, err)
		}
	}

	// While one export runs (its sink blocks), another with the same
	// cursor file is refused.
	os.Remove(cursor)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	blocking := &memSink{onSend: func(int) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
	}}
	done := make(chan error, 1)
	go func() {
		_, err := export.Run(context.Background(), runConfig(dir, cursor, blocking))
		done <- err
	}()
	<-started
	if _, err := export.Run(context.Background(), runConfig(dir, cursor, &memSink{})); !errors.Is(err, export.ErrCursorBusy) {
		t.Errorf("a second export on the cursor: %v, want ErrCursorBusy", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestCursorCheckpointCovers: the checkpoint a cursor names is a
// checkpoint record of the log that covers its position, for positions
// across segments.
func TestCursorCheckpointCovers(t *testing.T) {
	dir := queryLog(t, 1200)
	var checkpoints []export.CheckpointRef
	if err := testkit.Records(dir, func(rec chain.Record) bool {
		if rec.Kind == chain.KindCheckpoint {
			cp, _, _, err := chain.PeekCheckpoint(rec.Checkpoint)
			if err != nil {
				t.Fatal(err)
			}
			checkpoints = append(checkpoints, export.CheckpointRef{Seq: rec.Seq, Size: cp.Size, Root: cp.Root})
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	cursor := filepath.Join(t.TempDir(), "c")
	s := &memSink{onSend: func(int) {}}
	var seen []*export.Cursor
	c := runConfig(dir, cursor, s)
	c.BatchRecords = 101
	s.onSend = func(int) {
		cur, err := export.ReadCursor(cursor)
		if err != nil {
			t.Error(err)
			return
		}
		seen = append(seen, cur)
	}
	if _, err := export.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if len(seen) < 10 {
		t.Fatalf("%d batches", len(seen))
	}
	for _, cur := range seen {
		found := false
		for _, cp := range checkpoints {
			if cp == cur.Checkpoint {
				found = true
			}
		}
		if !found || cur.Checkpoint.Size <= cur.Seq || cur.InFlight <= cur.Seq {
			data, _ := json.Marshal(cur)
			t.Fatalf("cursor %s: its checkpoint is not a checkpoint record of the log covering its position", data)
		}
	}
}

// failingWriter fails every write after the first n bytes.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errors.New("no space left on device")
	}
	w.n -= len(p)
	return len(p), nil
}

// TestRunStdoutFailureStops: a write error on standard output ends the
// export at once (nothing can take back half a batch), with the cursor
// before the batch.
func TestRunStdoutFailureStops(t *testing.T) {
	dir := queryLog(t, 300)
	cursor := filepath.Join(t.TempDir(), "c")
	c := runConfig(dir, cursor, export.NewWriterSink(&failingWriter{n: 100 << 10}, "standard output"))
	c.BatchRecords = 50
	start := time.Now()
	_, err := export.Run(context.Background(), c)
	if !errors.Is(err, export.ErrPermanent) || time.Since(start) > 5*time.Second {
		t.Fatalf("Run: %v after %s, want a permanent failure at once", err, time.Since(start))
	}
	cur, err := export.ReadCursor(cursor)
	if err != nil || cur == nil || cur.InFlight == 0 {
		t.Fatalf("cursor %+v %v: want the failed batch in flight", cur, err)
	}
}
