package ledger_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

func config(t *testing.T, dir string, clock *testkit.Clock) ledger.Config {
	return ledger.Config{Dir: dir, Signer: testkit.Key("main"), Dev: true, Now: clock.Now}
}

func appendN(t *testing.T, l *ledger.Ledger, clock *testkit.Clock, from, n int) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := from; i < from+n; i++ {
		now := clock.Now()
		service, raw := testkit.EventJSON(i, now.Add(-time.Millisecond))
		ev, err := event.Decode(raw, event.DecodeOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		body, err := event.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		seq, id, err := l.Append(chain.KindEvent, service, ev.EventType(), body, now)
		if err != nil {
			t.Fatal(err)
		}
		if id != chain.AuditID(l.LogID(), seq) {
			t.Fatalf("audit_id %s for seq %d", id, seq)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

func verifyDir(t *testing.T, dir string) *verify.Report {
	t.Helper()
	rep, err := verify.Dir(context.Background(), dir, verify.Options{Keys: signer.Verifiers{testkit.Key("main").Public()}})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestSequenceAndChainContinueAcrossRestarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	var all []uint64
	var id chain.LogID
	for run := 0; run < 3; run++ {
		l, info, err := ledger.Open(config(t, dir, clock))
		if err != nil {
			t.Fatal(err)
		}
		if info.Created != (run == 0) {
			t.Fatalf("run %d: Created = %v", run, info.Created)
		}
		if run == 0 {
			id = l.LogID()
		} else if l.LogID() != id {
			t.Fatal("log ID changed across a restart")
		}
		all = append(all, appendN(t, l, clock, run*10, 10)...)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < len(all); i++ {
		if all[i] <= all[i-1] {
			t.Fatalf("sequence went from %d to %d", all[i-1], all[i])
		}
	}
	rep := verifyDir(t, dir)
	if rep.Verdict != verify.Intact {
		t.Fatalf("%s %v", rep.Verdict, rep.FirstFailure)
	}
	if rep.Unsealed != 0 || rep.LastCheckpoint.Size+1 != rep.Records {
		t.Fatalf("close did not seal: %+v", rep)
	}
}

func TestDirectoryLayoutAndPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	cfg := config(t, dir, clock)
	cfg.SegmentSize = 4000
	l, _, err := ledger.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		appendN(t, l, clock, i, 1)
		if _, err := l.RotateIfDue(); err != nil {
			t.Fatal(err)
		}
	}
	// A second writer is refused while the first holds the directory.
	if _, _, err := ledger.Open(cfg); !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("second ledger: %v, want ErrLocked", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode %04o", fi.Mode().Perm())
	}
	segs, err := storage.ListSegments(dir)
	if err != nil || len(segs) < 3 {
		t.Fatalf("%d segments, %v", len(segs), err)
	}
	for i, s := range segs {
		fi, _ := os.Stat(filepath.Join(dir, s.Name))
		want := os.FileMode(0o400)
		if i == len(segs)-1 {
			want = 0o600
		}
		if fi.Mode().Perm() != want {
			t.Fatalf("segment %s mode %04o, want %04o", s.Name, fi.Mode().Perm(), want)
		}
	}
	cp, _ := os.Stat(filepath.Join(dir, storage.CheckpointFile))
	if cp == nil || cp.Mode().Perm() != 0o600 {
		t.Fatal("checkpoint file missing or not 0600")
	}
	if rep := verifyDir(t, dir); rep.Verdict != verify.Intact || rep.Segments != len(segs) {
		t.Fatalf("%s %v", rep.Verdict, rep.FirstFailure)
	}
}

func TestTornTailIsKeptAsideAndChainContinues(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	l, _, err := ledger.Open(config(t, dir, clock))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, clock, 0, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := storage.ListSegments(dir)
	last := filepath.Join(dir, segs[len(segs)-1].Name)
	before, _ := os.ReadFile(last)
	torn := []byte{0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3}
	f, _ := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(torn)
	f.Close()
	if rep := verifyDir(t, dir); rep.FirstFailure == nil || rep.FirstFailure.Reason != verify.ReasonTornTail {
		t.Fatalf("before recovery: %+v", rep.FirstFailure)
	}
	l, info, err := ledger.Open(config(t, dir, clock))
	if err != nil {
		t.Fatal(err)
	}
	if info.Recovery == nil || info.Recovery.Bytes != int64(len(torn)) || info.Recovery.Offset != int64(len(before)) {
		t.Fatalf("recovery %+v", info.Recovery)
	}
	kept, err := os.ReadFile(filepath.Join(dir, info.Recovery.KeptAs))
	if err != nil || string(kept) != string(torn) {
		t.Fatalf("kept-aside bytes %x, want %x (%v)", kept, torn, err)
	}
	appendN(t, l, clock, 5, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep := verifyDir(t, dir); rep.Verdict != verify.Intact {
		t.Fatalf("after recovery: %s %v", rep.Verdict, rep.FirstFailure)
	}
}

func TestRefusesTamperedTail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	l, _, err := ledger.Open(config(t, dir, clock))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, clock, 0, 5)
	l.Close()
	segs, _ := storage.ListSegments(dir)
	p := filepath.Join(dir, segs[0].Name)
	data, _ := os.ReadFile(p)
	// Change a byte of a record and re-frame it properly (the CRC is
	// recomputed), as an attacker would: only the record hash catches it.
	i := len(data) / 2
	data[i] ^= 0x01
	fixed := refreame(t, data)
	os.WriteFile(p, fixed, 0o600)
	if _, _, err := ledger.Open(config(t, dir, clock)); !errors.Is(err, ledger.ErrTailInvalid) {
		t.Fatalf("open of a tampered tail: %v, want ErrTailInvalid", err)
	}
	after, _ := os.ReadFile(p)
	if string(after) != string(fixed) {
		t.Fatal("the refused open changed the segment")
	}
}

func TestRecordTimesNeverGoBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	l, _, err := ledger.Open(config(t, dir, clock))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, clock, 0, 3)
	clock.T = clock.T.Add(-time.Hour) // the clock steps back
	appendN(t, l, clock, 3, 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep := verifyDir(t, dir); rep.Verdict != verify.Intact {
		t.Fatalf("%s %v", rep.Verdict, rep.FirstFailure)
	}
}

func TestSealFailureKeepsRecords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	l, flaky := openFlaky(t, dir, clock)
	appendN(t, l, clock, 0, 4)
	flaky.down = true
	if _, err := l.Seal(context.Background(), ledger.SealOptions{}); !errors.Is(err, signer.ErrUnavailable) {
		t.Fatalf("seal with the key down: %v", err)
	}
	if l.Err() != nil {
		t.Fatal("a signing failure poisoned the ledger")
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	unsealed := l.Unsealed()
	if unsealed != 5 {
		t.Fatalf("unsealed %d, want 5 (genesis and 4 events)", unsealed)
	}
	flaky.down = false
	appendN(t, l, clock, 4, 1)
	if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
		t.Fatal(err)
	}
	if l.Unsealed() != 0 {
		t.Fatalf("unsealed %d after sealing", l.Unsealed())
	}
	l.Close()
	// Genesis, 5 events, the checkpoint and the closing checkpoint.
	if rep := verifyDir(t, dir); rep.Verdict != verify.Intact || rep.Records != 8 {
		t.Fatalf("%s %v records %d", rep.Verdict, rep.FirstFailure, rep.Records)
	}
}

// TestSealOffTheSyncPath: SyncRequestingSeal makes the records durable and
// authenticated by a seal-requested commit and hands back the checkpoint
// to sign; records appended while it is signed follow it; AppendSeal puts
// the signed checkpoint after them, covering the log up to the commit; a
// seal made meanwhile supersedes the request; a signing failure loses
// nothing.
func TestSealOffTheSyncPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	l, flaky := openFlaky(t, dir, clock)
	if req, err := l.SyncRequestingSeal(); err != nil || req != nil {
		t.Fatalf("before the run key is named: request %v, %v; want none", req, err)
	}
	if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil { // names the run key
		t.Fatal(err)
	}
	appendN(t, l, clock, 0, 3)
	req, err := l.SyncRequestingSeal()
	if err != nil || req == nil {
		t.Fatalf("SyncRequestingSeal: %v, %v", req, err)
	}
	size := req.Checkpoint.Size // genesis, checkpoint, 3 events, the commit
	if size != 6 || l.NextSeq() != 6 {
		t.Fatalf("request for size %d, next record %d; want 6, 6", size, l.NextSeq())
	}
	late := appendN(t, l, clock, 3, 2)
	flaky.down = true
	if _, err := l.SignSeal(req); !errors.Is(err, signer.ErrUnavailable) {
		t.Fatalf("SignSeal with the key down: %v", err)
	}
	flaky.down = false
	signed, err := l.SignSeal(req)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := l.AppendSeal(req, signed)
	if err != nil || cp.Size != size {
		t.Fatalf("AppendSeal: %v, %v", cp, err)
	}
	if _, err := l.AppendSeal(req, signed); !errors.Is(err, ledger.ErrSealSuperseded) {
		t.Fatalf("AppendSeal twice: %v", err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if u := l.Unsealed(); u != 4 { // the 2 late events, the checkpoint, the commit
		t.Fatalf("unsealed %d, want 4", u)
	}
	// A request that a sealing checkpoint overtakes is void.
	req2, err := l.SyncRequestingSeal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
		t.Fatal(err)
	}
	signed2, err := l.SignSeal(req2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendSeal(req2, signed2); !errors.Is(err, ledger.ErrSealSuperseded) {
		t.Fatalf("AppendSeal after Seal: %v", err)
	}
	l.Close()
	var kinds []chain.Kind
	if err := testkit.Records(dir, func(r chain.Record) bool { kinds = append(kinds, r.Kind); return true }); err != nil {
		t.Fatal(err)
	}
	if kinds[5] != chain.KindCommit || kinds[late[1]+1] != chain.KindCheckpoint {
		t.Fatalf("record kinds %v: want the commit at 5 and the checkpoint after record %d", kinds, late[1])
	}
	if rep := verifyDir(t, dir); rep.Verdict != verify.Intact {
		t.Fatalf("%s %v", rep.Verdict, rep.FirstFailure)
	}
}

// openFlaky opens a new ledger in dir that signs through a flakySigner.
func openFlaky(t *testing.T, dir string, clock *testkit.Clock) (*ledger.Ledger, *flakySigner) {
	t.Helper()
	flaky := &flakySigner{Signer: testkit.Key("main")}
	cfg := config(t, dir, clock)
	cfg.Signer = flaky
	l, _, err := ledger.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, flaky
}

type flakySigner struct {
	signer.Signer
	down bool
}

func (f *flakySigner) Sign(msg []byte) ([]byte, error) {
	if f.down {
		return nil, signer.ErrUnavailable
	}
	return f.Signer.Sign(msg)
}

// TestRefusesLogShorterThanCheckpointFile: sealed records that vanished (the
// tail cut back behind the checkpoint file) stop the ledger at open.
func TestRefusesLogShorterThanCheckpointFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	l, _, err := ledger.Open(config(t, dir, clock))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, clock, 0, 3)
	if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, clock, 3, 3)
	if err := l.Close(); err != nil { // seals again and writes the checkpoint file
		t.Fatal(err)
	}
	segs, _ := storage.ListSegments(dir)
	p := filepath.Join(dir, segs[len(segs)-1].Name)
	data, _ := os.ReadFile(p)
	// Cut the segment back to the first checkpoint record: a well-formed,
	// shorter log.
	cut := cutAfterFirstCheckpoint(t, data)
	os.WriteFile(p, cut, 0o600)
	if _, _, err := ledger.Open(config(t, dir, clock)); !errors.Is(err, ledger.ErrShorterThanCheckpoint) {
		t.Fatalf("open of a cut-back log: %v, want ErrShorterThanCheckpoint", err)
	}
}

// TestSigningKeyMustBeIntroduced: a sealer restarted with another key is
// refused unless the key was introduced (IntroduceKey) or the operator
// accepts it, which the chain records.
func TestSigningKeyMustBeIntroduced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	clock := testkit.NewClock()
	l, _, err := ledger.Open(config(t, dir, clock))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, clock, 0, 2)
	l.Close()
	other := config(t, dir, clock)
	other.Signer = testkit.Key("other")
	if _, _, err := ledger.Open(other); !errors.Is(err, ledger.ErrKeyNotIntroduced) {
		t.Fatalf("open with an unintroduced key: %v", err)
	}
	// Rotating properly with the old key lets the new key in.
	l, _, err = ledger.Open(config(t, dir, clock))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.IntroduceKey(testkit.Key("other"), "test"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, _, err = ledger.Open(other)
	if err != nil {
		t.Fatalf("open with the introduced key: %v", err)
	}
	appendN(t, l, clock, 2, 2)
	l.Close()
	if rep := verifyDir(t, dir); rep.Verdict != verify.Intact {
		t.Fatalf("%s %v", rep.Verdict, rep.FirstFailure)
	}
}

// TestRetiredKeyRefusedSegmentsLater: a sealer started with a key that
// was rotated out is refused with ErrKeyNotIntroduced, however many
// segments its successor has written since the endorsement.
func TestRetiredKeyRefusedSegmentsLater(t *testing.T) {
	for _, events := range []int{2, 200} {
		dir := filepath.Join(t.TempDir(), "log")
		clock := testkit.NewClock()
		old := config(t, dir, clock)
		old.SegmentSize = 4000
		l, _, err := ledger.Open(old)
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, l, clock, 0, 2)
		if _, err := l.IntroduceKey(testkit.Key("other"), "test"); err != nil {
			t.Fatal(err)
		}
		l.Close()
		next := old
		next.Signer = testkit.Key("other")
		if l, _, err = ledger.Open(next); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < events; i++ {
			appendN(t, l, clock, 2+i, 1)
			if _, err := l.RotateIfDue(); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
		segs, _ := storage.ListSegments(dir)
		_, _, err = ledger.Open(old)
		if !errors.Is(err, ledger.ErrKeyNotIntroduced) {
			t.Fatalf("%d events (%d segments) after the rotation, open with the retired key: %v, want ErrKeyNotIntroduced", events, len(segs), err)
		}
		if len(segs) == 1 && !strings.Contains(err.Error(), "was rotated out") {
			t.Errorf("the endorsement in the same segment: the refusal should say the key was rotated out: %v", err)
		}
	}
}
