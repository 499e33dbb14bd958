package testkit

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
)

// SealerLog is a log written the way the sealer writes one over three
// runs, with the records the evidence report reads, and where they are.
type SealerLog struct {
	Dir     string // the data directory
	KeyFile string // the first key ("main"), PEM
	// UncleanStart is the audit.sealer_started of the second run, which
	// follows a crash (no audit.sealer_stopped since the first start).
	UncleanStart uint64
	// Shed and Dropped are the audit.events_shed (ShedCount events) and
	// audit.client_dropped (DroppedCount events) records.
	Shed, Dropped           uint64
	ShedCount, DroppedCount uint64
	// Introduced is the audit.key_introduced of key "second", which the
	// checkpoint at Introduced+1 (signed by "main") endorses.
	Introduced uint64
	// Stretch is how long the first run left records unanchored (the TPM
	// "unreachable"), longer than the anchor interval plus the heartbeat.
	Stretch time.Duration
}

// BuildSealerLog writes a sealer-like log into root/sealer-log: run 1
// (key "main", anchored in a simulated TPM counter, anchor_interval and
// heartbeat of one minute in its settings) records events, a shed, a
// client's drops and a ten-minute stretch without an anchor, then crashes
// (no audit.sealer_stopped); run 2 starts again, rotates to key "second"
// and stops cleanly; run 3 (key "second") starts and stops cleanly.
func BuildSealerLog(root string) (SealerLog, error) {
	base := filepath.Join(root, "sealer-log")
	s := SealerLog{Dir: filepath.Join(base, "data"), KeyFile: filepath.Join(base, "key.pem"), ShedCount: 7, DroppedCount: 5, Stretch: 10 * time.Minute}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return s, err
	}
	clock := NewClock()
	ctr := &Counter{Value: 41}
	open := func(key string, seed string) (*ledger.Ledger, error) {
		l, _, err := ledger.Open(ledger.Config{Dir: s.Dir, Signer: Key(key), KeyName: "audit-sealer.test/log", Dev: true, SegmentSize: 8000, Now: clock.Now,
			Rand: &seededReader{buf: []byte(seed)}, Counter: ctr, AnchorIndex: 0x01500100})
		return l, err
	}
	started := func(l *ledger.Ledger, key string) (uint64, error) {
		pub := Key(key).Public()
		seq, err := l.AppendSealerEvent(&event.SealerStarted{Timestamp: clock.T.UTC(), Version: "test", Mode: event.ModeDev, KeyID: pub.ID(),
			KeyKind: event.KeySoftware, Algorithm: event.AlgEd25519, Settings: map[string]string{"anchor_interval": "1m0s", "heartbeat": "1m0s"}})
		if err != nil {
			return 0, err
		}
		_, err = l.Seal(context.Background(), ledger.SealOptions{})
		return seq, err
	}
	events := func(l *ledger.Ledger, n int) error {
		for i := 0; i < n; i++ {
			if err := appendEvent(l, i, clock); err != nil {
				return err
			}
			if _, err := l.RotateIfDue(); err != nil {
				return err
			}
		}
		_, err := l.Seal(context.Background(), ledger.SealOptions{})
		return err
	}
	ctx := context.Background()

	// Run 1: anchored, with a shed, a client's drops and a long stretch
	// without an anchor; then a crash.
	l, err := open("main", "sealer run 1")
	if err != nil {
		return s, err
	}
	if _, err := started(l, "main"); err != nil {
		return s, err
	}
	if err := events(l, 10); err != nil {
		return s, err
	}
	if _, err := l.Seal(ctx, ledger.SealOptions{Anchor: true}); err != nil {
		return s, err
	}
	if s.Shed, err = l.AppendSealerEvent(&event.EventsShed{Timestamp: clock.T.UTC(), Count: s.ShedCount, Reason: "queue full", CriticalCount: 2,
		FirstAt: clock.T.UTC(), LastAt: clock.T.UTC()}); err != nil {
		return s, err
	}
	if s.Dropped, err = l.AppendSealerEvent(&event.ClientDropped{Timestamp: clock.T.UTC(), ServiceID: "queen-rbee", Count: s.DroppedCount, Reason: "buffer_full"}); err != nil {
		return s, err
	}
	if err := events(l, 5); err != nil {
		return s, err
	}
	clock.T = clock.T.Add(s.Stretch)
	if err := events(l, 5); err != nil {
		return s, err
	}
	if _, err := l.Seal(ctx, ledger.SealOptions{Anchor: true}); err != nil {
		return s, err
	}
	if err := events(l, 5); err != nil {
		return s, err
	}
	if err := l.Abandon(); err != nil { // the crash: no audit.sealer_stopped
		return s, err
	}

	// Run 2: starts without a clean stop before it, rotates, stops.
	clock.T = clock.T.Add(time.Minute)
	if l, err = open("main", "sealer run 2"); err != nil {
		return s, err
	}
	if s.UncleanStart, err = started(l, "main"); err != nil {
		return s, err
	}
	if err := events(l, 10); err != nil {
		return s, err
	}
	s.Introduced = l.NextSeq()
	if _, err := l.IntroduceKey(Key("second"), "scheduled rotation"); err != nil {
		return s, err
	}
	if err := events(l, 10); err != nil {
		return s, err
	}
	if err := stopped(l, clock); err != nil {
		return s, err
	}

	// Run 3: the new key, a clean start and stop.
	clock.T = clock.T.Add(time.Minute)
	if l, err = open("second", "sealer run 3"); err != nil {
		return s, err
	}
	if _, err := started(l, "second"); err != nil {
		return s, err
	}
	if err := events(l, 10); err != nil {
		return s, err
	}
	if err := stopped(l, clock); err != nil {
		return s, err
	}
	return s, writePEM(s.KeyFile, Key("main"))
}

// stopped records audit.sealer_stopped and closes the ledger, as the
// sealer does at a clean stop.
func stopped(l *ledger.Ledger, clock *Clock) error {
	if _, err := l.AppendSealerEvent(&event.SealerStopped{Timestamp: clock.T.UTC(), Reason: "signal", Records: 1}); err != nil {
		return err
	}
	return l.Close()
}
