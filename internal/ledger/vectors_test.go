package ledger_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/verify"
)

// outcomeErrors maps the refusals a vector may expect to the ledger's errors.
var outcomeErrors = map[testkit.SealerOutcome]error{
	testkit.SealerUnauthenticatedTail: ledger.ErrUnauthenticatedTail,
	testkit.SealerTailInvalid:         ledger.ErrTailInvalid,
	testkit.SealerKeyNotIntroduced:    ledger.ErrKeyNotIntroduced,
	testkit.SealerHistoryRewritten:    ledger.ErrHistoryRewritten,
	testkit.SealerShorterThanFile:     ledger.ErrShorterThanCheckpoint,
	testkit.SealerRollback:            ledger.ErrRollback,
}

// openVector opens a copy of vector v's data directory as the sealer would,
// with the vector's key and counter.
func openVector(t *testing.T, v testkit.Vector, accept bool) (string, *ledger.Ledger, *ledger.OpenInfo, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := testkit.CopyDir(v.Dir, dir); err != nil {
		t.Fatal(err)
	}
	cfg := ledger.Config{Dir: dir, Signer: testkit.Key(v.SealerKey), Dev: true, Now: testkit.NewClock().Now, AcceptUnauthenticatedTail: accept}
	if v.Counter != 0 {
		cfg.Counter, cfg.AnchorIndex = &testkit.Counter{Value: v.Counter}, 0x01500100
	}
	l, info, err := ledger.Open(cfg)
	return dir, l, info, err
}

// TestVectorsAtStart: the sealer's start-up check does with every vector's
// data directory exactly what the vector says: it opens it, cuts the
// remains of a crash, completes an interrupted prune, or refuses with the
// vector's error. What it opens, it seals into a log that verifies as far as
// the vector's own damage allows.
func TestVectorsAtStart(t *testing.T) {
	vectors, err := testkit.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			dir, l, info, err := openVector(t, v, false)
			if want, refuses := outcomeErrors[v.Sealer]; refuses {
				if !errors.Is(err, want) {
					t.Fatalf("Open: %v; want %v", err, want)
				}
				t.Logf("refused as expected: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Open: %v; want %s", err, v.Sealer)
			}
			defer l.Close()
			switch v.Sealer {
			case testkit.SealerDiscards:
				if info.Discarded == nil || info.Discarded.Accepted || info.Discarded.Records == 0 {
					t.Fatalf("Discarded = %+v; want the remains of a crash, cut without the operator", info.Discarded)
				}
				if _, err := os.Stat(filepath.Join(dir, info.Discarded.KeptAs)); err != nil {
					t.Fatalf("the cut bytes are not kept: %v", err)
				}
			case testkit.SealerCompletesPrune:
				if len(info.PruneCompleted) == 0 {
					t.Fatal("the interrupted prune was not completed")
				}
			default:
				if info.Discarded != nil || len(info.PruneCompleted) > 0 {
					t.Fatalf("Open changed the log: discarded %+v, prune completed %v", info.Discarded, info.PruneCompleted)
				}
			}
		})
	}
}

// TestOperatorAcceptsUnauthenticatedTail: what the sealer refuses because
// none of its keys authenticates the end of the log, the operator can have
// it cut (kept aside, recorded as accepted); the log it then seals holds no
// forged record.
func TestOperatorAcceptsUnauthenticatedTail(t *testing.T) {
	vectors, err := testkit.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Cutting the tail does not lift what else is wrong with these.
	stillRefused := map[string]error{
		"checkpoint_bad_signature": ledger.ErrShorterThanCheckpoint, // the checkpoint file proves the cut records were sealed
		"forged_prune":             ledger.ErrHistoryRewritten,      // the deleted segments
	}
	n := 0
	for _, v := range vectors {
		if v.Sealer != testkit.SealerUnauthenticatedTail {
			continue
		}
		n++
		t.Run(v.Name, func(t *testing.T) {
			dir, l, info, err := openVector(t, v, true)
			if want := stillRefused[v.Name]; want != nil {
				if !errors.Is(err, want) {
					t.Fatalf("Open with the operator's acceptance: %v; want %v", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open with the operator's acceptance: %v", err)
			}
			if info.Discarded == nil || !info.Discarded.Accepted {
				t.Fatalf("Discarded = %+v; want accepted by the operator", info.Discarded)
			}
			if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			rep := verifyDir(t, dir)
			if v.SealerKey == "main" && rep.Verdict != verify.Intact {
				t.Fatalf("after the cut: %s %v", rep.Verdict, rep.FirstFailure)
			}
		})
	}
	if n < 5 {
		t.Fatalf("only %d vectors of an unauthenticated tail", n)
	}
}
