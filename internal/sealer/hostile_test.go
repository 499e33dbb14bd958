package sealer_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/config"
)

// TestSlowloris: a client that trickles one byte every 200 ms never finishes
// its line within the line timeout and is cut off; an idle connection (no
// partial line) is not.
func TestSlowloris(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits.LineTimeout = config.Duration{Duration: time.Second}
	h := startSealer(t, cfg)
	idle := dial(t, h.cfg.Socket)
	slow := dial(t, h.cfg.Socket)

	closed := make(chan error, 1)
	go func() {
		// Any reply or the end of the connection ends the wait.
		slow.c.SetReadDeadline(time.Now().Add(ioTimeout))
		_, err := slow.r.ReadString('\n')
		closed <- err
	}()
	line := emitLine("slow", true, sealVerified(1))
	start := time.Now()
	var readErr error
	gotRead, cut := false, false
	for i := 0; i < len(line) && i < 75 && !cut; i++ { // at most 15 s
		slow.c.SetWriteDeadline(time.Now().Add(ioTimeout))
		if _, err := slow.c.Write([]byte{line[i]}); err != nil {
			cut = true // the sealer closed the connection
			break
		}
		select {
		case readErr = <-closed:
			gotRead, cut = true, true
		case <-time.After(200 * time.Millisecond):
		}
	}
	if !cut {
		t.Fatalf("a client sending one byte per 200 ms was not cut off in %v (line timeout 1s)", time.Since(start))
	}
	if !gotRead {
		readErr = <-closed // bounded by the reader's deadline
	}
	if readErr == nil {
		t.Fatal("the slow client got a reply to a line it never finished")
	}
	var ne net.Error
	if errors.As(readErr, &ne) && ne.Timeout() {
		t.Fatalf("slow client: the connection was not closed: %v", readErr)
	}

	// The idle connection outlived the line timeout and still works.
	if r := mustOK(t, idle.do(`{"op":"ping","id":"idle"}`)); r.ID != "idle" {
		t.Fatalf("idle connection: %s", r.raw)
	}
	idle.emitDurable(sealVerified(2))
	h.stopAndVerify()
}

// TestIdleTimeout: a silent connection is closed after the idle timeout; one
// that keeps talking outlives it.
func TestIdleTimeout(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits.IdleTimeout = config.Duration{Duration: 500 * time.Millisecond}
	h := startSealer(t, cfg)
	start := time.Now() // before the sealer can start the silent one's clock
	silent := dial(t, h.cfg.Socket)
	chatty := dial(t, h.cfg.Socket)
	closed := make(chan error, 1)
	go func() {
		silent.c.SetReadDeadline(time.Now().Add(ioTimeout))
		_, err := silent.r.ReadString('\n')
		closed <- err
	}()
	for i := 0; ; i++ {
		mustOK(t, chatty.do(`{"op":"ping","id":"c"}`))
		select {
		case err := <-closed:
			var ne net.Error
			if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
				t.Fatalf("silent connection: want it closed by the sealer, got %v", err)
			}
			// The chatty one has lived longer than the idle timeout.
			if time.Since(start) < cfg.Limits.IdleTimeout.Duration {
				t.Fatalf("silent connection closed after %v, before the idle timeout", time.Since(start))
			}
			mustOK(t, chatty.do(`{"op":"ping","id":"c"}`))
			h.stopAndVerify()
			return
		case <-time.After(100 * time.Millisecond):
		}
		if i > 150 {
			t.Fatal("the silent connection was not closed within 15 s (idle timeout 500 ms)")
		}
	}
}

// TestTooManyBadLines: up to the limit of consecutive bad lines (64) a
// connection lives on; one more closes it. A good line resets the count.
func TestTooManyBadLines(t *testing.T) {
	h := startSealer(t, testConfig(t))
	bad := []string{`garbage`, `{"op":"nope"}`, `{"op":"emit"}`, `[1]`, strings.Repeat("x", 200<<10)}
	badLines := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(bad[i%len(bad)] + "\n")
		}
		return b.String()
	}

	t.Run("limit tolerated, good line resets", func(t *testing.T) {
		c := dial(t, h.cfg.Socket)
		for round := range 3 {
			c.send(badLines(64) + `{"op":"ping","id":"ok"}`)
			for i := range 64 {
				if r := c.recv(); r.OK {
					t.Fatalf("round %d, bad line %d answered ok: %s", round, i, r.raw)
				}
			}
			if r := mustOK(t, c.recv()); r.ID != "ok" {
				t.Fatalf("round %d: %s", round, r.raw)
			}
		}
	})
	t.Run("one more closes", func(t *testing.T) {
		c := dial(t, h.cfg.Socket)
		// The writes may fail once the sealer closed the connection.
		c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
		io.WriteString(c.c, badLines(65)+`{"op":"ping","id":"late"}`+"\n"+badLines(200))
		got := c.waitClosed(ioTimeout)
		if len(got) != 65 {
			t.Fatalf("%d replies before the close, want 65", len(got))
		}
		for _, r := range got {
			if r.OK {
				t.Fatalf("a request after the 65th bad line was served: %s", r.raw)
			}
		}
	})
	c := dial(t, h.cfg.Socket)
	c.emitDurable(sealVerified(1))
	h.stopAndVerify()
}

// TestClientNotReadingReplies: a client that pipelines requests and never
// reads the replies is pushed back (its writes block) and does not slow
// down anyone else.
func TestClientNotReadingReplies(t *testing.T) {
	h := startSealer(t, testConfig(t))
	hog := dial(t, h.cfg.Socket)

	line := []byte(emitLine("h", false, sealVerified(1)) + "\n")
	batch := []byte(strings.Repeat(string(line), 100))
	pushedBack := false
	for i := 0; i < 2000 && !pushedBack; i++ { // at most 200 000 requests
		hog.c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := hog.c.Write(batch); err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("hog write: %v", err)
			}
			pushedBack = true
		}
	}
	if !pushedBack {
		t.Fatal("the sealer kept reading 200 000 requests from a client that reads no reply")
	}
	// While the hog is stuck, others are served.
	c := dial(t, h.cfg.Socket)
	for i := range 20 {
		c.emitDurable(sealVerified(i))
	}
	mustOK(t, c.do(`{"op":"flush","id":"f"}`))
	hog.close()
	h.stopAndVerify()
}

// TestManyIdleConnections: 500 idle connections do not stop a good client.
func TestManyIdleConnections(t *testing.T) {
	h := startSealer(t, testConfig(t))
	conns := make([]net.Conn, 0, 500)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range 500 {
		c, err := net.Dial("unix", h.cfg.Socket)
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	c := dial(t, h.cfg.Socket)
	eventually(t, "500 idle connections served", func() bool { return c.status().Connections >= 501 })
	for i := range 10 {
		c.emitDurable(sealVerified(i))
	}
	// A few of the idle ones still work too.
	for _, raw := range conns[:5] {
		ic := &client{t: t, c: raw.(*net.UnixConn), r: newReader(raw)}
		mustOK(t, ic.do(`{"op":"ping","id":"i"}`))
	}
	h.stopAndVerify()
}

// TestMaxConnections: beyond the limit a connection gets "unavailable" and
// is closed; a freed slot can be used again.
func TestMaxConnections(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits.MaxConnections = 2
	h := startSealer(t, cfg)
	// The probe connection of startSealer (served, then closed) may still
	// be counted for a moment.
	eventually(t, "no connection", func() bool { return h.sl.Status().Connections == 0 })
	a := dial(t, h.cfg.Socket)
	b := dial(t, h.cfg.Socket)
	mustOK(t, a.do(`{"op":"ping","id":"a"}`))
	mustOK(t, b.do(`{"op":"ping","id":"b"}`))

	over := dial(t, h.cfg.Socket)
	got := over.waitClosed(ioTimeout)
	if len(got) != 1 || got[0].OK || got[0].code() != "unavailable" {
		t.Fatalf("connection over the limit: want one unavailable reply and the close, got %v", got)
	}
	// The two admitted connections are unaffected.
	a.emitDurable(sealVerified(1))
	b.emitDurable(sealVerified(2))

	b.close()
	eventually(t, "a free slot", func() bool { return a.status().Connections == 1 })
	again := dial(t, h.cfg.Socket)
	again.emitDurable(sealVerified(3))
	h.stopAndVerify()
}

// TestHostileFlood: over-long lines, nesting bombs, garbage and a client
// that holds a line open for ever all at once, while a good client's durable
// emits succeed; the sealer's memory stays bounded.
func TestHostileFlood(t *testing.T) {
	h := startSealer(t, testConfig(t))
	good := dial(t, h.cfg.Socket)
	good.emitDurable(sealVerified(0))

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	conns := make(chan net.Conn, 64)
	attack := func(name string, fn func(c net.Conn) error) {
		c, err := net.Dial("unix", h.cfg.Socket)
		if err != nil {
			t.Fatal(err)
		}
		conns <- c
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetDeadline(time.Now().Add(ioTimeout))
			if err := fn(c); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	expect := func(r *bufio.Reader, code string) error {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.Contains(line, `"code":"`+code+`"`) {
			return fmt.Errorf("want %s, got %.200s", code, line)
		}
		return nil
	}
	// Over-long lines: 1 MiB each, then a ping on the same connection.
	for i := range 4 {
		attack(fmt.Sprint("long lines ", i), func(c net.Conn) error {
			r := newReader(c)
			big := strings.Repeat("A", 1<<20) + "\n"
			for range 4 {
				if _, err := io.WriteString(c, big); err != nil {
					return err
				}
				if err := expect(r, "frame_too_large"); err != nil {
					return err
				}
			}
			io.WriteString(c, `{"op":"ping","id":"p"}`+"\n")
			line, err := r.ReadString('\n')
			if err != nil || !strings.Contains(line, `"ok":true`) {
				return fmt.Errorf("ping after long lines: %q, %v", line, err)
			}
			return nil
		})
	}
	// Nesting bombs in the event.
	for i := range 2 {
		attack(fmt.Sprint("nesting ", i), func(c net.Conn) error {
			r := newReader(c)
			for _, d := range []int{100, 5000, 60000} {
				nest := strings.Repeat("[", d) + strings.Repeat("]", d)
				ev := `{"type":"pool.modified","timestamp":"` + nowUTC().Format(time.RFC3339Nano) + `","changes":{"a":` + nest + `}}`
				if _, err := io.WriteString(c, emitLine("n", true, ev)+"\n"); err != nil {
					return err
				}
				if err := expect(r, "invalid_event"); err != nil {
					return err
				}
			}
			return nil
		})
	}
	// Garbage until the sealer hangs up: 65 replies, then the end.
	attack("garbage", func(c net.Conn) error {
		io.WriteString(c, strings.Repeat("\x00\xff{{{garbage\n", 1000)) // fails once the sealer hung up
		r := newReader(c)
		n := 0
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					return errors.New("1000 garbage lines did not get the connection closed")
				}
				break
			}
			if !strings.Contains(line, `"code":"bad_json"`) {
				return fmt.Errorf("garbage line answered %q", line)
			}
			n++
		}
		if n != 65 {
			return fmt.Errorf("%d replies to garbage before the close, want 65", n)
		}
		return nil
	})
	// Never-ending lines (no newline) of 16 MiB each: the sealer must skip
	// them, not buffer them.
	const endless, endlessConns = 16 << 20, 4
	for i := range endlessConns {
		attack(fmt.Sprint("endless line ", i), func(c net.Conn) error {
			chunk := []byte(strings.Repeat("B", 1<<20))
			for range endless >> 20 {
				if _, err := c.Write(chunk); err != nil {
					return err
				}
			}
			return nil
		})
	}

	// Meanwhile, the good client.
	for i := range 30 {
		good.emitDurable(sealVerified(i + 1))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The endless lines are still open (their line timeout is 10 s): the
	// sealer has read 64 MiB of them and holds at most a line's worth each.
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grow := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("heap in use grew by %d KiB during the flood", grow>>10)
	if grow > 24<<20 {
		t.Errorf("heap in use grew by %d MiB after %d MiB of unterminated lines", grow>>20, endlessConns*endless>>20)
	}
	good.emitDurable(sealVerified(99))
	close(conns)
	for c := range conns {
		c.Close()
	}
	h.stopAndVerify()
}

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReaderSize(c, 1<<20) }
