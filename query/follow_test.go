package query_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/storage"
)

// TestFollowResumes: a follower that passes each scan's End as the next
// scan's Resume (export --follow) gets every sealed record exactly once, in
// order, across seals, unsealed tails and segment rotations, and each scan
// reads only the records appended since the last checkpoint it read.
func TestFollowResumes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	clock := testkit.NewClock()
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: testkit.Key("main"), Dev: true, SegmentSize: 64 << 10, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appended := 0
	appendEvents := func(n int) {
		for i := 0; i < n; i++ {
			now := clock.Now()
			raw := fmt.Sprintf(`{"type":"seal.verified","timestamp":"%s","shard_id":"shard-%d","worker_id":"worker-gpu-0"}`,
				now.Add(-time.Millisecond).Format(time.RFC3339Nano), appended)
			ev, err := event.Decode([]byte(raw), event.DecodeOptions{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := event.Encode(ev)
			if _, _, err := l.Append(chain.KindEvent, "worker-gpu-0", ev.EventType(), body, now); err != nil {
				t.Fatal(err)
			}
			appended++
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	seal := func() {
		if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.RotateIfDue(); err != nil {
			t.Fatal(err)
		}
	}
	var got []uint64
	f := query.Filter{}
	sealedEvents := 0
	poll := func(wantRead int) {
		t.Helper()
		last := f.After
		info, err := query.Scan(t.Context(), dir, mainTrust, f, func(m *query.Match) error {
			got = append(got, m.Seq)
			last = m.Seq
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if info.End == nil {
			t.Fatal("a scan to the end of the log gave no End")
		}
		if wantRead >= 0 && int(info.RecordsRead) > wantRead {
			t.Fatalf("the scan read %d records, want at most %d (only what was appended since the last checkpoint)", info.RecordsRead, wantRead)
		}
		f.After, f.Resume = last, info.End
		if len(got) != sealedEvents {
			t.Fatalf("%d events followed, %d sealed", len(got), sealedEvents)
		}
	}
	poll(1) // the segment start record
	for round := 0; round < 40; round++ {
		appendEvents(25)
		seal()
		sealedEvents = appended
		appendEvents(7) // an unsealed tail: not returned, read again next time
		// The 7 read again, 25 and 7 new, the commit after each group of
		// appends, and a checkpoint, perhaps a segment's last checkpoint
		// and start record.
		poll(7 + 25 + 7 + 3 + 3)
	}
	appendEvents(0)
	seal()
	sealedEvents = appended
	poll(-1)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 4 {
		t.Fatalf("%d segments: the test should cross rotations", len(segs))
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("record %d followed after %d", got[i], got[i-1])
		}
	}
	// The follower saw exactly what one full scan sees.
	full, _ := all(t, dir, query.Filter{})
	if len(full) != len(got) {
		t.Fatalf("followed %d events, a full scan finds %d", len(got), len(full))
	}
	for i := range full {
		if full[i].Seq != got[i] {
			t.Fatalf("event %d: followed seq %d, full scan %d", i, got[i], full[i].Seq)
		}
	}
}

// TestResumeThatNoLongerFits: a Resume whose offset is past the file,
// inside a frame, at another record or inside the header makes the scan
// read its segment from the start (the segments before it were read by
// the scan that gave it); one naming a missing segment is ignored.
func TestResumeThatNoLongerFits(t *testing.T) {
	dir := vectors["intact_multi"].Dir
	everything, info := all(t, dir, query.Filter{})
	if info.End == nil {
		t.Fatal("no End")
	}
	segs, err := storage.ListSegments(dir)
	if err != nil || len(segs) < 2 || segs[len(segs)-1].Name != info.End.Segment {
		t.Fatalf("segments %v, %v; End %+v", segs, err, info.End)
	}
	var lastSegment []*query.Match
	for _, m := range everything {
		if m.Seq >= segs[len(segs)-1].FirstSeq {
			lastSegment = append(lastSegment, m)
		}
	}
	end := *info.End
	for name, tc := range map[string]struct {
		r    query.Position
		want []*query.Match
	}{
		"no such segment":   {query.Position{Segment: "00000000000000ff.seg", Offset: end.Offset, NextSeq: end.NextSeq}, everything},
		"past the file":     {query.Position{Segment: end.Segment, Offset: 1 << 40, NextSeq: end.NextSeq}, lastSegment},
		"mid-frame":         {query.Position{Segment: end.Segment, Offset: end.Offset - 3, NextSeq: end.NextSeq}, lastSegment},
		"another record":    {query.Position{Segment: end.Segment, Offset: 16, NextSeq: end.NextSeq}, lastSegment},
		"inside the header": {query.Position{Segment: end.Segment, Offset: 5, NextSeq: 0}, lastSegment},
		"the end itself":    {end, nil},
	} {
		got, _ := all(t, dir, query.Filter{Resume: &tc.r})
		if len(got) != len(tc.want) || len(tc.want) > 0 && got[0].Seq != tc.want[0].Seq {
			t.Fatalf("%s: %d results, want %d", name, len(got), len(tc.want))
		}
	}
	if len(lastSegment) == 0 || len(lastSegment) == len(everything) {
		t.Fatalf("the last segment holds %d of %d events: the cases would not differ", len(lastSegment), len(everything))
	}
}

// TestFollowChecksWhatFollows: a follower that resumes from the End of
// its previous scan goes on from the chain state verified there: records
// changed after that point fail the next scan (chain_broken) although it
// reads only what follows, and so does a checkpoint that no trusted key
// signed (unknown_key); neither scan returns anything it could not
// authenticate.
func TestFollowChecksWhatFollows(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	clock := testkit.NewClock()
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: testkit.Key("main"), Dev: true, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	appendEvents := func(n int) {
		for i := 0; i < n; i++ {
			now := clock.Now()
			raw := fmt.Sprintf(`{"type":"seal.verified","timestamp":"%s","shard_id":"shard-%d","worker_id":"worker-gpu-0"}`,
				now.Add(-time.Millisecond).Format(time.RFC3339Nano), i)
			ev, err := event.Decode([]byte(raw), event.DecodeOptions{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := event.Encode(ev)
			if _, _, err := l.Append(chain.KindEvent, "worker-gpu-0", ev.EventType(), body, now); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	appendEvents(20)
	var f query.Filter
	poll := func() (*query.Info, []uint64, error) {
		var got []uint64
		info, err := query.Scan(t.Context(), dir, mainTrust, f, func(m *query.Match) error { got = append(got, m.Seq); return nil })
		if err == nil {
			if len(got) > 0 {
				f.After = got[len(got)-1]
			}
			f.Resume = info.End
		}
		return info, got, err
	}
	if _, got, err := poll(); err != nil || len(got) != 20 {
		t.Fatalf("first poll: %d records, %v", len(got), err)
	}
	appendEvents(20)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(t.TempDir(), "good")
	testkit.CopyDir(dir, good)

	// One event after the resume point changed, rehashed: the next record
	// no longer links to it.
	changed := f.After + 10
	if err := testkit.EditRecord(dir, changed, true, func(rec *chain.Record) {
		rec.Event = bytes.Replace(rec.Event, []byte(`"shard-`), []byte(`"shard_`), 1)
	}); err != nil {
		t.Fatal(err)
	}
	info, got, err := poll()
	if reasonOf(err) != "chain_broken" || len(got) != 0 || info.RecordsRead > 25 {
		t.Fatalf("after a change past the resume point: %v, %d records returned, %d read", err, len(got), info.RecordsRead)
	}

	// The genuine log again: the follower reads the rest, then a forged
	// event and a checkpoint signed by the attacker appear.
	os.RemoveAll(dir)
	testkit.CopyDir(good, dir)
	if _, got, err := poll(); err != nil || len(got) != 20 {
		t.Fatalf("second poll: %d records, %v", len(got), err)
	}
	if err := testkit.ForgeTail(dir, testkit.Key("attacker")); err != nil {
		t.Fatal(err)
	}
	info, got, err = poll()
	if reasonOf(err) != "unknown_key" || len(got) != 0 || info.RecordsRead > 2 {
		t.Fatalf("after a forged tail: %v, %d records returned, %d read", err, len(got), info.RecordsRead)
	}
}
