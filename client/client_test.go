package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/wire"
)

const (
	hexA = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
	hexB = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
)

// patience bounds waits in tests; it is generous on purpose (slow CI,
// -race): the tests make no timing assertions.
const patience = 30 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

func newTestClient(t *testing.T, path string, opts Options) *Client {
	t.Helper()
	c, err := New(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

func task(i int) *event.TaskCompleted {
	return TaskCompleted(fmt.Sprintf("task-%d", i), "worker-gpu-0", 7, uint64(i), event.Success())
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// taskIDs returns the task ids of the task.completed events, in order.
func taskIDs(recs []fakeRecord) []string {
	var ids []string
	for _, r := range recs {
		if r.TaskID != "" {
			ids = append(ids, r.TaskID)
		}
	}
	return ids
}

func wantTasks(t *testing.T, got []string, from, to int) {
	t.Helper()
	if len(got) != to-from {
		t.Fatalf("sealer got %d task events, want %d", len(got), to-from)
	}
	for i, id := range got {
		if want := fmt.Sprintf("task-%d", from+i); id != want {
			t.Fatalf("event %d is %s, want %s (order or duplicates broken)", i, id, want)
		}
	}
}

type testLogger struct {
	mu   sync.Mutex
	msgs []string
}

func (l *testLogger) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, fmt.Sprintf(format, args...))
}

func (l *testLogger) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

func TestEmitFlushDeliversInOrder(t *testing.T) {
	s := newFakeSealer(t)
	c := newTestClient(t, s.path, Options{Service: "queen-rbee"})
	const n = 2000
	for i := range n {
		if err := c.Emit(task(i)); err != nil {
			t.Fatalf("emit %d: %v", i, err)
		}
	}
	size, err := c.Flush(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if size != n {
		t.Errorf("checkpoint size %d, want %d", size, n)
	}
	ops, events, _ := s.snapshot()
	wantTasks(t, taskIDs(events), 0, n)
	for _, r := range events {
		if r.Durable || r.Service != "queen-rbee" {
			t.Fatalf("emit sent with durable=%v service=%q", r.Durable, r.Service)
		}
	}
	if last := ops[len(ops)-1]; last.Op != "flush" {
		t.Errorf("last op %q, want flush", last.Op)
	}
	st := c.Stats()
	if st.Emitted != n || st.Sent != n || st.Acknowledged != n || st.Dropped != 0 || st.Buffered != 0 || st.BufferedBytes != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestEmitDurableReceipt(t *testing.T) {
	s := newFakeSealer(t)
	c := newTestClient(t, s.path, Options{})
	ctx := testCtx(t)
	for i := range 3 {
		if err := c.Emit(task(i)); err != nil {
			t.Fatal(err)
		}
	}
	rc, err := c.EmitDurable(ctx, VRAMSealed("shard-1", 0, 1<<30, hexA, "worker-gpu-0"))
	if err != nil {
		t.Fatal(err)
	}
	if rc.Seq != 4 || rc.AuditID != "fakefakefakefake-4" || rc.Sealed {
		t.Errorf("receipt %+v, want seq 4 (after the 3 emits), not sealed", rc)
	}
	rc, err = c.EmitDurable(ctx, SealVerificationFailed("shard-1", "digest_mismatch", hexA, hexB, "worker-gpu-0", event.SeverityCritical))
	if err != nil {
		t.Fatal(err)
	}
	if rc.Seq != 5 || !rc.Sealed {
		t.Errorf("critical receipt %+v, want seq 5 sealed", rc)
	}
	_, events, _ := s.snapshot()
	if !events[3].Durable || !events[4].Durable {
		t.Errorf("EmitDurable did not send durable:true: %+v", events)
	}
}

func TestErrorCodes(t *testing.T) {
	s := newFakeSealer(t)
	c := newTestClient(t, s.path, Options{})
	ctx := testCtx(t)
	for _, tc := range []struct {
		code     string
		sentinel error
	}{
		{"shed", ErrShed},
		{"not_authorized", ErrNotAuthorized},
		{"timeout", ErrTimeout},
		{"unavailable", ErrUnavailable},
		{"internal", nil},
		{"bad_request", nil},
		{"some_future_code", nil},
	} {
		t.Run(tc.code, func(t *testing.T) {
			s.setHook(func(*wire.Request) fakeAction { return fakeAction{code: tc.code} })
			_, err := c.EmitDurable(ctx, task(1))
			var se *ServerError
			if !errors.As(err, &se) || se.Code != tc.code || se.Message != "fake: "+tc.code {
				t.Fatalf("err %v (%T), want *ServerError with code %s", err, err, tc.code)
			}
			for _, sen := range []error{ErrShed, ErrNotAuthorized, ErrTimeout, ErrUnavailable, ErrNotSealed, ErrConnectionLost} {
				if errors.Is(err, sen) != (sen == tc.sentinel) {
					t.Errorf("errors.Is(%v, %v) = %v", err, sen, !(sen == tc.sentinel))
				}
			}
			if !strings.HasPrefix(err.Error(), "client: ") {
				t.Errorf("error %q lacks the client: prefix", err)
			}
		})
	}
	t.Run("invalid_event", func(t *testing.T) {
		s.setHook(func(*wire.Request) fakeAction { return fakeAction{code: "invalid_event"} })
		_, err := c.EmitDurable(ctx, task(1))
		var ie *InvalidEventError
		if !errors.As(err, &ie) || ie.Field != "actor.user_id" || ie.Rule != event.RuleTooLong || ie.Message == "" {
			t.Fatalf("err %v (%T), want *InvalidEventError", err, err)
		}
		if !errors.Is(err, event.ErrInvalid) {
			t.Errorf("InvalidEventError does not wrap event.ErrInvalid")
		}
	})
	t.Run("not_sealed", func(t *testing.T) {
		s.setHook(func(*wire.Request) fakeAction { return fakeAction{code: "not_sealed"} })
		rc, err := c.EmitDurable(ctx, task(1))
		if !errors.Is(err, ErrNotSealed) {
			t.Fatalf("err %v, want ErrNotSealed", err)
		}
		if rc.Seq == 0 || rc.AuditID == "" {
			t.Errorf("not_sealed returned no receipt: %+v", rc)
		}
	})
	t.Run("connection_lost", func(t *testing.T) {
		s.setHook(func(r *wire.Request) fakeAction { return fakeAction{close: r.Durable} })
		_, err := c.EmitDurable(ctx, task(1))
		if !errors.Is(err, ErrConnectionLost) {
			t.Fatalf("err %v, want ErrConnectionLost", err)
		}
		s.setHook(nil)
		// The client reconnects and goes on.
		if _, err := c.EmitDurable(ctx, task(2)); err != nil {
			t.Fatalf("after reconnect: %v", err)
		}
		if c.Stats().Reconnects == 0 {
			t.Errorf("no reconnect counted")
		}
	})
	s.setHook(nil)
	st := c.Stats()
	if st.Rejected != 0 {
		t.Errorf("durable refusals counted as Rejected: %+v", st)
	}
}

func TestEmitInvalid(t *testing.T) {
	c := newTestClient(t, socketPath(t), Options{})
	var ve *event.ValidationError
	err := c.Emit(AuthSuccess(event.Actor{}, event.AuthBearerToken, "/v2/tasks", "queen-rbee"))
	if !errors.As(err, &ve) || ve.Field != "actor.user_id" || !errors.Is(err, event.ErrInvalid) {
		t.Errorf("missing user id: err %v", err)
	}
	if err := c.Emit(nil); !errors.As(err, &ve) || ve.Rule != event.RuleNilEvent {
		t.Errorf("nil event: err %v", err)
	}
	if err := c.Emit((*event.TaskCompleted)(nil)); !errors.As(err, &ve) || ve.Rule != event.RuleNilEvent {
		t.Errorf("nil pointer: err %v", err)
	}
	err = c.Emit(&event.SealerStopped{Timestamp: time.Now(), Reason: "x", Records: 1})
	if !errors.As(err, &ve) || ve.Rule != event.RuleSealerTypeNotAllowed {
		t.Errorf("sealer type: err %v", err)
	}
	_, err = c.EmitDurable(testCtx(t), VRAMSealed("shard/1", 0, 1, hexA, "w"))
	if !errors.As(err, &ve) || ve.Rule != event.RulePathSeparator {
		t.Errorf("durable: err %v", err)
	}
	if st := c.Stats(); st.Emitted != 0 || st.Buffered != 0 || st.Dropped != 0 {
		t.Errorf("invalid events were counted: %+v", st)
	}
}

// TestEmitNeverBlocks emits 100k events at a sealer that accepts the
// connection but never reads: every Emit returns, the buffer bound holds,
// and the overflow is counted as dropped.
func TestEmitNeverBlocks(t *testing.T) {
	s := newFakeSealer(t)
	s.stall()
	c := newTestClient(t, s.path, Options{})
	waitFor(t, "connection", func() bool { return c.Stats().Connected })

	const n = 100000
	var queued, dropped int
	done := make(chan error, 1)
	go func() {
		for i := range n {
			switch err := c.Emit(task(i)); {
			case err == nil:
				queued++
			case errors.Is(err, ErrDropped):
				dropped++
			default:
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * patience):
		t.Fatal("Emit blocked on a stalled sealer")
	}
	st := c.Stats()
	if queued != DefaultBufferEvents || dropped != n-DefaultBufferEvents {
		t.Errorf("queued %d dropped %d, want %d and %d", queued, dropped, DefaultBufferEvents, n-DefaultBufferEvents)
	}
	if st.Emitted != uint64(queued) || st.Dropped != uint64(dropped) || st.Buffered != DefaultBufferEvents || st.DropsUnreported != uint64(dropped) {
		t.Errorf("stats %+v", st)
	}
	if st.Sent == 0 {
		t.Errorf("nothing was written to the socket")
	}
	// Critical events follow the same rule.
	if err := c.Emit(PolicyViolation("vram_only", "unified_memory_detected", "x", event.SeverityCritical, "worker-gpu-0", "worker_stopped")); !errors.Is(err, ErrDropped) {
		t.Errorf("critical emit on a full buffer: %v", err)
	}

	// Close cannot flush a stalled sealer: it gives up when ctx ends and
	// says what was lost.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := c.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "10000 buffered events not delivered") {
		t.Errorf("close: %v", err)
	}
	if st := c.Stats(); st.Dropped != n+1 || st.Buffered != 0 || st.Connected {
		t.Errorf("stats after close %+v", st)
	}
	if err := c.Emit(task(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("emit after close: %v", err)
	}
}

// TestDropsReportedAfterReconnect: drops made while the sealer stalls are
// reported with report_dropped on the next connection, and the buffered
// events arrive.
func TestDropsReportedAfterReconnect(t *testing.T) {
	s := newFakeSealer(t)
	s.stall()
	c := newTestClient(t, s.path, Options{BufferEvents: 100})
	waitFor(t, "connection", func() bool { return c.Stats().Connected })
	for i := range 1000 {
		c.Emit(task(i))
	}
	if st := c.Stats(); st.Dropped != 900 || st.DropsUnreported != 900 {
		t.Fatalf("stats %+v", st)
	}
	s.stop() // the stalled connection never read anything
	s.unstall()
	s.start()
	if _, err := c.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	_, events, reports := s.snapshot()
	wantTasks(t, taskIDs(events), 0, 100)
	var total uint64
	for _, r := range reports {
		if r.Reason != "buffer_full" {
			t.Errorf("report reason %q", r.Reason)
		}
		total += r.Count
	}
	if total != 900 {
		t.Errorf("reported %d drops, want 900", total)
	}
	st := c.Stats()
	if st.DropsUnreported != 0 || st.Dropped != 900 || st.Reconnects == 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestDropCountClearedOnlyWhenAcknowledged: a refused report is kept and
// sent again on the next connection.
func TestDropCountClearedOnlyWhenAcknowledged(t *testing.T) {
	s := newFakeSealer(t)
	s.stall()
	c := newTestClient(t, s.path, Options{BufferEvents: 10})
	waitFor(t, "connection", func() bool { return c.Stats().Connected })
	for i := range 15 {
		c.Emit(task(i))
	}
	s.setHook(func(r *wire.Request) fakeAction {
		if r.Op == "report_dropped" {
			return fakeAction{code: "unavailable"}
		}
		return fakeAction{}
	})
	s.closeConns() // the stalled connection never read anything
	s.unstall()
	if _, err := c.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.DropsUnreported != 5 {
		t.Fatalf("a refused report cleared the count: %+v", st)
	}
	s.setHook(nil)
	s.closeConns()
	waitFor(t, "report", func() bool { return c.Stats().DropsUnreported == 0 })
	_, events, reports := s.snapshot()
	if len(reports) != 1 || reports[0].Count != 5 {
		t.Errorf("reports %+v", reports)
	}
	wantTasks(t, taskIDs(events), 0, 10)
}

// TestReconnectAfterRestart: events emitted while the sealer is down are
// buffered and sent, in order, once it is back.
func TestReconnectAfterRestart(t *testing.T) {
	s := newFakeSealer(t)
	c := newTestClient(t, s.path, Options{})
	ctx := testCtx(t)
	for i := range 10 {
		c.Emit(task(i))
	}
	if _, err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.stop()
	waitFor(t, "disconnection", func() bool { return !c.Stats().Connected })
	for i := 10; i < 60; i++ {
		if err := c.Emit(task(i)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // let a few dials fail
	if st := c.Stats(); st.Buffered != 50 {
		t.Errorf("buffered %d while down, want 50", st.Buffered)
	}
	s.start()
	size, err := c.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, events, _ := s.snapshot()
	wantTasks(t, taskIDs(events), 0, 60)
	if size != 60 {
		t.Errorf("checkpoint size %d", size)
	}
	if st := c.Stats(); st.Reconnects != 1 || st.Buffered != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestInFlightEventsResent: events written to a connection that breaks
// before their replies are sent again on the next one.
func TestInFlightEventsResent(t *testing.T) {
	s := newFakeSealer(t)
	s.stall()
	c := newTestClient(t, s.path, Options{})
	waitFor(t, "connection", func() bool { return c.Stats().Connected })
	for i := range 20 {
		c.Emit(task(i))
	}
	waitFor(t, "writes", func() bool { return c.Stats().Sent == 20 })
	s.stop() // the stalled connection never read them
	s.unstall()
	s.start()
	if _, err := c.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	_, events, _ := s.snapshot()
	wantTasks(t, taskIDs(events), 0, 20)
	if st := c.Stats(); st.Sent != 40 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestFlushReportsUncertainEvents: when the connection breaks after the
// sealer accepted events and before a flush confirmed them, Flush says so.
func TestFlushReportsUncertainEvents(t *testing.T) {
	s := newFakeSealer(t)
	c := newTestClient(t, s.path, Options{})
	var once sync.Once
	s.setHook(func(r *wire.Request) fakeAction {
		act := fakeAction{}
		if r.Op == "flush" {
			once.Do(func() { act.close = true })
		}
		return act
	})
	for i := range 5 {
		c.Emit(task(i))
	}
	size, err := c.Flush(testCtx(t))
	if !errors.Is(err, ErrConnectionLost) || size != 5 {
		t.Fatalf("flush: %d, %v; want 5 and ErrConnectionLost", size, err)
	}
	// The next flush has nothing uncertain to report.
	if _, err := c.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	_, events, _ := s.snapshot()
	wantTasks(t, taskIDs(events), 0, 5)
}

func TestCriticalEmitIsFollowedByFlush(t *testing.T) {
	s := newFakeSealer(t)
	c := newTestClient(t, s.path, Options{})
	c.Emit(task(0))
	c.Emit(SealVerificationFailed("shard-1", "digest_mismatch", hexA, hexB, "worker-gpu-0", event.SeverityCritical))
	c.Emit(task(1))
	c.Emit(PolicyViolation("vram_only", "unified_memory_detected", "cudaMallocManaged seen", event.SeverityCritical, "worker-gpu-0", "worker_stopped"))
	waitFor(t, "replies", func() bool { return c.Stats().Acknowledged == 4 })
	ops, _, _ := s.snapshot()
	var got []string
	for _, o := range ops {
		got = append(got, o.Op+":"+o.Type)
	}
	want := []string{"emit:task.completed", "emit:seal.verification_failed", "flush:", "emit:task.completed", "emit:security.policy_violation", "flush:"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ops %v, want %v", got, want)
	}
}

func TestRejectedEmitsAreCountedAndLogged(t *testing.T) {
	s := newFakeSealer(t)
	log := &testLogger{}
	c := newTestClient(t, s.path, Options{Logger: log})
	s.setHook(func(r *wire.Request) fakeAction {
		if r.Op == "emit" {
			return fakeAction{code: "shed"}
		}
		return fakeAction{}
	})
	for i := range 5 {
		if err := c.Emit(task(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Rejected != 5 || st.Acknowledged != 0 || st.Buffered != 0 {
		t.Errorf("stats %+v", st)
	}
	if !log.contains("the sealer refused a task.completed event") || !log.contains("shed") {
		t.Errorf("log %q", log.msgs)
	}
}

func TestCloseFlushes(t *testing.T) {
	s := newFakeSealer(t)
	c, err := New(s.path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		c.Emit(task(i))
	}
	if err := c.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	ops, events, _ := s.snapshot()
	wantTasks(t, taskIDs(events), 0, 500)
	if ops[len(ops)-1].Op != "flush" {
		t.Errorf("close did not flush")
	}
	ctx := testCtx(t)
	if err := c.Emit(task(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("emit: %v", err)
	}
	if _, err := c.EmitDurable(ctx, task(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("emit durable: %v", err)
	}
	if _, err := c.Flush(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("flush: %v", err)
	}
	if err := c.Close(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("second close: %v", err)
	}
	if st := c.Stats(); st.Connected || st.Buffered != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestCloseReportsDrops(t *testing.T) {
	s := newFakeSealer(t)
	s.stall()
	c, err := New(s.path, Options{BufferEvents: 3})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connection", func() bool { return c.Stats().Connected })
	for i := range 10 {
		c.Emit(task(i))
	}
	s.closeConns() // the stalled connection never read anything
	s.unstall()
	if err := c.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	_, events, reports := s.snapshot()
	wantTasks(t, taskIDs(events), 0, 3)
	if len(reports) != 1 || reports[0].Count != 7 {
		t.Errorf("reports %+v", reports)
	}
}

// TestNoSealer: New does not need the sealer; Close with nothing to send
// returns at once; a durable emit whose ctx ends before it was written is
// never sent.
func TestNoSealer(t *testing.T) {
	s := newStoppedFakeSealer(t)
	c, err := New(s.path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.EmitDurable(ctx, task(99))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not sent") {
		t.Fatalf("emit durable: %v", err)
	}
	if st := c.Stats(); st.Buffered != 0 {
		t.Errorf("a canceled durable emit holds the buffer: %+v", st)
	}
	c.Emit(task(0))
	s.start()
	if _, err := c.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	_, events, _ := s.snapshot()
	wantTasks(t, taskIDs(events), 0, 1)

	c2, err := New(socketPath(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // into the backoff sleep
	start := time.Now()
	if err := c2.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > patience/2 {
		t.Errorf("close of an idle client took %v", d)
	}
	c.Close(testCtx(t))
}

func TestConcurrentEmit(t *testing.T) {
	s := newFakeSealer(t)
	c := newTestClient(t, s.path, Options{BufferEvents: 1 << 20})
	const goroutines, per = 32, 300
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() { // concurrent readers of Stats and flushes
		for {
			select {
			case <-stop:
				return
			default:
				c.Stats()
				c.Flush(testCtx(t))
			}
		}
	}()
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				e := TaskCompleted(fmt.Sprintf("g%d-%d", g, i), "worker-gpu-0", 1, 1, event.Success())
				if err := c.Emit(e); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					if _, err := c.EmitDurable(testCtx(t), AuthFailure("invalid_token", netip.MustParseAddr("10.0.0.1"), "/v2", "queen-rbee")); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if _, err := c.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	_, events, _ := s.snapshot()
	next := make([]int, goroutines)
	count := 0
	for _, id := range taskIDs(events) {
		var g, i int
		if _, err := fmt.Sscanf(id, "g%d-%d", &g, &i); err != nil {
			t.Fatal(err)
		}
		if i != next[g] {
			t.Fatalf("goroutine %d: event %d arrived, want %d", g, i, next[g])
		}
		next[g]++
		count++
	}
	if count != goroutines*per {
		t.Errorf("got %d events, want %d", count, goroutines*per)
	}
	if st := c.Stats(); st.Dropped != 0 || st.Emitted != goroutines*per+goroutines*per/50 {
		t.Errorf("stats %+v", st)
	}
}

func TestNewOptions(t *testing.T) {
	if _, err := New("", Options{}); err == nil {
		t.Error("empty path accepted")
	}
	if _, err := New("/x", Options{Service: strings.Repeat("a", 257)}); err == nil {
		t.Error("long service accepted")
	}
	for n, want := range map[int]time.Duration{0: 25 * time.Millisecond, 1: 50 * time.Millisecond, 30: 2500 * time.Millisecond} {
		for range 100 {
			if d := backoff(n); d < want || d > 2*want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, want, 2*want)
			}
		}
	}
}

// TestPoisonEventIsDropped: an event after which the sealer closes the
// connection every time is dropped after 3 attempts and reported; the
// events behind it are delivered, and Flush reports that events accepted
// on a lost connection may not be durable.
func TestPoisonEventIsDropped(t *testing.T) {
	s := newFakeSealer(t)
	c := newTestClient(t, s.path, Options{})
	s.setHook(func(r *wire.Request) fakeAction {
		return fakeAction{close: r.Op == "emit" && strings.Contains(string(r.Event), `"task-poison"`)}
	})
	c.Emit(task(0))
	c.Emit(TaskCompleted("task-poison", "worker-gpu-0", 1, 1, event.Success()))
	for i := 1; i < 4; i++ {
		c.Emit(task(i))
	}
	_, err := c.Flush(testCtx(t))
	if !errors.Is(err, ErrConnectionLost) {
		t.Errorf("flush: %v, want ErrConnectionLost (task-0 was only accepted)", err)
	}
	ops, events, reports := s.snapshot()
	wantTasks(t, taskIDs(events), 0, 4)
	poison := 0
	for _, o := range ops {
		if o.TaskID == "task-poison" {
			poison++
		}
	}
	if poison != maxSendAttempts {
		t.Errorf("poison sent %d times, want %d", poison, maxSendAttempts)
	}
	if len(reports) != 1 || reports[0].Reason != "connection_lost" || reports[0].Count != 1 {
		t.Errorf("reports %+v", reports)
	}
	if st := c.Stats(); st.Dropped != 1 || st.DropsUnreported != 0 || st.Reconnects != maxSendAttempts {
		t.Errorf("stats %+v", st)
	}
}

// TestIdleConnectionClosedBySealer: when the sealer closes an idle
// connection, the client reconnects only when it has something to send.
func TestIdleConnectionClosedBySealer(t *testing.T) {
	s := newFakeSealer(t)
	c := newTestClient(t, s.path, Options{})
	c.Emit(task(0))
	if _, err := c.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	s.closeConns()
	waitFor(t, "disconnection", func() bool { return !c.Stats().Connected })
	time.Sleep(100 * time.Millisecond)
	s.mu.Lock()
	n := s.nconn
	s.mu.Unlock()
	if n != 1 {
		t.Errorf("%d connections while idle, want 1", n)
	}
	c.Emit(task(1))
	if _, err := c.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	_, events, _ := s.snapshot()
	wantTasks(t, taskIDs(events), 0, 2)
	if st := c.Stats(); st.Reconnects != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestBadReplyBreaksConnection: a reply that does not match the oldest
// request is a protocol violation: the client drops the connection and
// sends the unanswered events again.
func TestBadReplyBreaksConnection(t *testing.T) {
	s := newFakeSealer(t)
	log := &testLogger{}
	c := newTestClient(t, s.path, Options{Logger: log})
	var once sync.Once
	s.setHook(func(r *wire.Request) fakeAction {
		act := fakeAction{}
		if r.Op == "emit" {
			once.Do(func() { act.badID = true })
		}
		return act
	})
	c.Emit(task(0))
	if _, err := c.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	ops, events, _ := s.snapshot()
	// task-0 was received twice: once answered with the wrong id, then
	// again on the new connection.
	if got := taskIDs(ops); len(got) != 2 || got[0] != "task-0" || got[1] != "task-0" {
		t.Errorf("ops %v", got)
	}
	wantTasks(t, taskIDs(events), 0, 1)
	if !log.contains("does not match request") {
		t.Errorf("log %q", log.msgs)
	}
}

// TestUnreachableSealerNamesTheCause: a durable emit that times out before
// any connection was made says why (the dial error, errors.Is-able: a
// missing socket is fs.ErrNotExist; a uid the socket refuses would be
// fs.ErrPermission), and Close with a background context does not wait
// for a sealer it cannot reach: it returns, counting what was buffered as
// lost, with the same cause.
func TestUnreachableSealerNamesTheCause(t *testing.T) {
	path := socketPath(t) // nothing listens there
	c, err := New(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = c.EmitDurable(ctx, task(1))
	var de *DialError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &de) || !errors.Is(err, fs.ErrNotExist) || de.Path != path {
		t.Fatalf("emit durable to no sealer: %v; want the deadline and the dial error (not exist) for %s", err, path)
	}
	c.Emit(task(2))
	done := make(chan error, 1)
	go func() { done <- c.Close(context.Background()) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) || !errors.As(err, &de) {
			t.Errorf("close with an event buffered and no sealer: %v; want ErrClosed and the dial error", err)
		}
	case <-time.After(patience):
		t.Fatalf("Close(context.Background()) still waits for an unreachable sealer after %v", patience)
	}
	if st := c.Stats(); st.Dropped != 1 {
		t.Errorf("the buffered event is not counted as dropped: %+v", st)
	}
}
