package verify_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

// TestEvidenceReport: on a log written as the sealer writes one (three
// runs, a crash, a shed, a client's drops, a rotation, a stretch without
// an anchor), the evidence report states the period, the trusted key's
// fingerprint, the key history with the rotation, the anchoring with the
// stretch, the completeness counts, and each exception with its record
// and time.
func TestEvidenceReport(t *testing.T) {
	s, err := testkit.BuildSealerLog(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	main, second := testkit.Key("main").Public(), testkit.Key("second").Public()
	main.Name = ""
	for _, workers := range []int{1, 4} {
		rep, err := verify.Dir(context.Background(), s.Dir, verify.Options{Keys: signer.Verifiers{main}, Workers: workers})
		if err != nil || rep.Verdict != verify.Intact {
			t.Fatalf("workers=%d: %v %+v", workers, err, rep.FirstFailure)
		}
		p := rep.Period
		if p == nil || p.FirstSeq != 0 || p.LastSeq != *rep.LastSeq || !p.FirstTime.Equal(testkit.NewClock().T) || p.LastTime.Before(p.FirstTime.Add(s.Stretch)) {
			t.Fatalf("period %+v", p)
		}
		sum := sha256.Sum256(main.SPKI())
		if len(rep.TrustedKeys) != 1 || rep.TrustedKeys[0].SPKISHA256 != hex.EncodeToString(sum[:]) || rep.TrustedKeys[0].KeyID != main.ID() {
			t.Fatalf("trusted keys %+v", rep.TrustedKeys)
		}
		h := rep.KeyHistory
		if len(h) != 2 || h[0].KeyID != main.ID() || h[0].Trust != "given" || h[1].KeyID != second.ID() || h[1].Trust != "endorsed" ||
			*h[1].IntroducedSeq != s.Introduced || *h[1].EndorsedSeq != s.Introduced+1 || h[1].EndorsedBy != main.ID() ||
			h[0].RetiredAfter == nil || *h[0].RetiredAfter != s.Introduced+1 || h[1].FirstCheckpoint.Seq <= s.Introduced+1 ||
			h[1].LastCheckpoint.Seq != rep.LastCheckpoint.Size || h[0].Checkpoints+h[1].Checkpoints != rep.Checkpoints {
			t.Fatalf("key history %+v", h)
		}
		a := rep.Anchoring
		if a == nil || a.IntervalSource != "log" || a.Interval != "1m0s" || a.First == nil || a.First.Counter != 42 || a.Last.Counter != rep.LastAnchor.Counter ||
			a.StretchesTotal != 1 || len(a.Stretches) != 1 || a.Stretches[0].Seconds < s.Stretch.Seconds() {
			t.Fatalf("anchoring %+v", a)
		}
		c := rep.Completeness
		if c == nil || c.SealerStarts != 3 || c.CleanStops != 2 || c.UncleanStops != 1 || c.EventsShed != s.ShedCount || c.CriticalEventsShed != 2 || c.ClientDropped != s.DroppedCount {
			t.Fatalf("completeness %+v", c)
		}
		want := map[string]uint64{"unclean_stop": s.UncleanStart, "events_shed": s.Shed, "client_dropped": s.Dropped, "unanchored_stretch": a.Stretches[0].FromSeq}
		for _, e := range rep.Exceptions {
			if seq, ok := want[e.Code]; ok && seq == e.Seq && !e.Time.IsZero() && e.Time.Location() == time.UTC {
				delete(want, e.Code)
			}
		}
		if len(want) != 0 || rep.ExceptionCounts["unclean_stop"] != 1 {
			t.Fatalf("exceptions %+v: missing %v", rep.Exceptions, want)
		}
		if rep.LastCheckpoint.NoteSHA256 == "" || len(rep.SegmentFiles) != rep.Segments {
			t.Fatalf("inputs: %+v, %d segment files", rep.LastCheckpoint, len(rep.SegmentFiles))
		}
	}
}

// TestUntrustedKeyVerdicts: which checkpoints by a key not given are
// "cannot verify" (unverifiable, untrusted_key) and which are tampering
// (unknown_key), FORMAT.md §7.
func TestUntrustedKeyVerdicts(t *testing.T) {
	s, err := testkit.BuildSealerLog(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The current key only: the first checkpoint is by a key not given,
	// named by the key ID audit.sealer_started gives.
	rep, err := verify.Dir(context.Background(), s.Dir, verify.Options{Keys: testkit.Keys("second")})
	if err != nil || rep.Verdict != verify.Unverifiable || rep.FirstFailure.Reason != verify.ReasonUntrustedKey ||
		!strings.Contains(rep.FirstFailure.Detail, testkit.Key("main").Public().ID()) || rep.Verdict.ExitCode() != 2 {
		t.Fatalf("current key only: %v %+v", err, rep.FirstFailure)
	}
	if rep.Period == nil || rep.TrustedKeys[0].KeyID != testkit.Key("second").Public().ID() {
		t.Fatalf("an unverifiable log still has its report: %+v", rep)
	}
}
