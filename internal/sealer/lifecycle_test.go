package sealer_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
)

// promptStop is how long a stop may take: far below the line timeout (10 s)
// and the idle timeout (10 min) that would end the connections otherwise.
const promptStop = 5 * time.Second

// checkStoppedLog checks that the log ends with audit.sealer_stopped
// followed by a checkpoint that covers it.
func checkStoppedLog(t *testing.T, recs []chain.Record) {
	t.Helper()
	n := len(recs)
	if n < 2 {
		t.Fatalf("log holds %d records", n)
	}
	stop, cp := recs[n-2], recs[n-1]
	if stop.Kind != chain.KindSealerEvent || string(stop.Type) != event.TypeSealerStopped {
		t.Fatalf("second-to-last record %d is %v %q, want audit.sealer_stopped", stop.Seq, stop.Kind, stop.Type)
	}
	if cp.Kind != chain.KindCheckpoint {
		t.Fatalf("last record %d is %v, want a checkpoint", cp.Seq, cp.Kind)
	}
	c, err := chain.OpenCheckpoint(cp.Checkpoint, signer.Verifiers{testkit.Key("main").Public()})
	if err != nil {
		t.Fatalf("last checkpoint: %v", err)
	}
	if c.Size != cp.Seq {
		t.Fatalf("last checkpoint has size %d, want %d (everything before it)", c.Size, cp.Seq)
	}
}

// TestStopWithIdleClients: cancelling Run while clients are connected (idle,
// or in the middle of a line) stops promptly and cleanly.
func TestStopWithIdleClients(t *testing.T) {
	h := startSealer(t, testConfig(t))
	var cs []*client
	for i := range 5 {
		c := dial(t, h.cfg.Socket)
		c.emitDurable(sealVerified(i))
		cs = append(cs, c)
	}
	// One has sent half a line.
	cs[0].c.Write([]byte(`{"op":"emit","id":"half","event":`))
	mustOK(t, cs[1].do(`{"op":"ping","id":"p"}`))

	start := time.Now()
	if err := h.stop(promptStop); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("stopped in %v", time.Since(start))
	// Every client sees its connection end.
	for i, c := range cs {
		if _, err := c.tryRecv(ioTimeout); err == nil {
			t.Errorf("client %d got a reply after the stop", i)
		}
	}
	if _, err := os.Stat(h.cfg.Socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind after the stop: %v", err)
	}
	verifyIntact(t, h.cfg.DataDir)
	checkStoppedLog(t, readRecords(t, h.cfg.DataDir))
}

// TestStopWithBusyClient: a client that keeps sending requests does not
// keep the sealer from stopping.
func TestStopWithBusyClient(t *testing.T) {
	for round := range 5 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			h := startSealer(t, testConfig(t))
			c, err := net.Dial("unix", h.cfg.Socket)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			go io.Copy(io.Discard, c)
			sent := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				line := []byte(`{"op":"ping","id":"busy"}` + "\n" + emitLine("e", false, sealVerified(1)) + "\n")
				for i := 0; i < 1_000_000; i++ {
					c.SetWriteDeadline(time.Now().Add(ioTimeout))
					if _, err := c.Write(line); err != nil {
						return // closed by the sealer's stop
					}
					if i == 100 {
						close(sent)
					}
				}
			}()
			<-sent
			if err := h.stop(promptStop); err != nil {
				t.Fatalf("Run: %v", err)
			}
			c.Close()
			<-done
			verifyIntact(t, h.cfg.DataDir)
			checkStoppedLog(t, readRecords(t, h.cfg.DataDir))
		})
	}
}

// TestRestartContinuesSequence: a second run on the same data directory
// continues the sequence and the chain verifies across the restart.
func TestRestartContinuesSequence(t *testing.T) {
	cfg := testConfig(t)
	h := startSealer(t, cfg)
	c := dial(t, cfg.Socket)
	first := c.emitDurable(sealVerified(1))
	h.stopAndVerify()
	recs := readRecords(t, cfg.DataDir)
	checkStoppedLog(t, recs)
	last := recs[len(recs)-1].Seq

	h2 := startSealer(t, cfg)
	c2 := dial(t, cfg.Socket)
	second := c2.emitDurable(sealVerified(2))
	if second <= last {
		t.Fatalf("after the restart, seq %d does not follow the previous last %d", second, last)
	}
	h2.stopAndVerify()
	recs = readRecords(t, cfg.DataDir)
	checkStoppedLog(t, recs)
	for i, r := range recs {
		if r.Seq != uint64(i) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
	}
	next := recs[last+1]
	if string(next.Type) != event.TypeSealerStarted {
		t.Fatalf("first record of the second run (%d) is %v %q, want audit.sealer_started", next.Seq, next.Kind, next.Type)
	}
	if n := len(sealerEvents(t, recs, event.TypeSealerStarted)); n != 2 {
		t.Errorf("%d audit.sealer_started records, want 2", n)
	}
	if first >= second || provedRecord(t, cfg.DataDir, first).Seq != first {
		t.Errorf("first run's record %d not provable after the restart", first)
	}
}

// TestSecondSealerLocked: a second sealer on the same data directory is
// refused while the first holds it, and the first is unaffected.
func TestSecondSealerLocked(t *testing.T) {
	cfg := testConfig(t)
	h := startSealer(t, cfg)
	cfg2 := cfg
	cfg2.Socket = filepath.Join(filepath.Dir(cfg.Socket), "t.sock")
	sl, err := sealer.New(cfg2, testkit.Key("main"), hclog.NewNullLogger())
	if !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("second sealer.New: want storage.ErrLocked, got %v (%v)", err, sl)
	}
	c := dial(t, cfg.Socket)
	c.emitDurable(sealVerified(1))
	h.stopAndVerify()
	// Once the first stopped, the directory is free again.
	h2 := startSealer(t, cfg2)
	dial(t, cfg2.Socket).emitDurable(sealVerified(2))
	h2.stopAndVerify()
}

// TestHeartbeat: with no traffic, heartbeat checkpoints keep coming.
func TestHeartbeat(t *testing.T) {
	cfg := testConfig(t)
	cfg.Seal.Heartbeat = config.Duration{Duration: 200 * time.Millisecond}
	h := startSealer(t, cfg)
	c := dial(t, cfg.Socket)
	first := c.status()
	var sizes []uint64
	eventually(t, "two heartbeat checkpoints", func() bool {
		st := c.status()
		if len(sizes) == 0 || st.LastCheckpointSize != sizes[len(sizes)-1] {
			sizes = append(sizes, st.LastCheckpointSize)
		}
		return len(sizes) >= 3 && sizes[len(sizes)-1] > first.LastCheckpointSize
	})
	for i := 1; i < len(sizes); i++ {
		if sizes[i] <= sizes[i-1] {
			t.Fatalf("checkpoint sizes do not grow: %v", sizes)
		}
	}
	h.stopAndVerify()
}

// TestSealCadenceByRecords: with a long interval, records alone make the
// sealer seal: after 35 emits fewer than 10 records stay unsealed.
func TestSealCadenceByRecords(t *testing.T) {
	cfg := testConfig(t)
	cfg.Seal.Records = 10
	cfg.Seal.Interval = config.Duration{Duration: time.Hour}
	cfg.Seal.Heartbeat = config.Duration{Duration: time.Hour}
	h := startSealer(t, cfg)
	c := dial(t, cfg.Socket)
	before := c.status()
	w := bufio.NewWriter(c.c)
	for i := range 35 {
		fmt.Fprintln(w, emitLine(fmt.Sprint(i), false, sealVerified(i)))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	for range 35 {
		if r := mustOK(t, c.recv()); !r.Accepted {
			t.Fatalf("emit: %s", r.raw)
		}
	}
	var st sealer.Status
	eventually(t, "35 records written with fewer than 10 unsealed", func() bool {
		st = c.status()
		return st.Records >= before.Records+35 && st.Unsealed < 10
	})
	if st.LastCheckpointSize <= before.LastCheckpointSize {
		t.Fatalf("no checkpoint since the start: %+v", st)
	}
	h.stopAndVerify()
}

// TestSocketInUse: a sealer of another data directory configured with the
// same socket refuses to start instead of taking the socket over.
func TestSocketInUse(t *testing.T) {
	cfg := testConfig(t)
	h := startSealer(t, cfg)
	cfg2 := cfg
	cfg2.DataDir = filepath.Join(t.TempDir(), "data2")
	h2 := newSealer(t, cfg2)
	// Run fails at once; should it serve instead, it stops after 3 s.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := h2.sl.Run(ctx); err == nil {
		t.Fatal("a second sealer ran on a socket that is in use")
	}
	// The first still serves its socket.
	dial(t, cfg.Socket).emitDurable(sealVerified(1))
	h.stopAndVerify()
}

// TestTinySealInterval: the smallest valid interval (1 ns) works: every
// record is sealed at once.
func TestTinySealInterval(t *testing.T) {
	cfg := testConfig(t)
	cfg.Seal.Interval = config.Duration{Duration: time.Nanosecond}
	h := startSealer(t, cfg)
	c := dial(t, cfg.Socket)
	seq := c.emitDurable(sealVerified(1))
	eventually(t, "the record sealed", func() bool { return c.status().LastCheckpointSize > seq })
	h.stopAndVerify()
}
