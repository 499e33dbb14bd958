package query_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/index"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// queryDiffers is what Scan says of a vector where it differs from the
// verifier, and why: Scan reads neither the checkpoint file, nor a
// checkpoint the auditor kept, nor anchors or event schemas (a record
// the key holder signed is what it is), and records no trusted checkpoint
// covers are not returned rather than a failure (a live log always has
// some). Every other vector fails with the verifier's reason.
var queryDiffers = map[string]string{
	"anchor_not_increasing":  "", // anchors
	"checkpoint_file_forged": "", // the checkpoint file
	"crash_remains":          "", // an unauthenticated tail: not returned
	"fabricated_history":     "", // no checkpoint at all: nothing returned
	"forged_invalid_json":    "", // an unauthenticated tail
	// Scan trusts only the keys it is given and tells no untrusted_key
	// (the verifier's "cannot verify") from unknown_key: either way it
	// returns nothing those keys do not vouch for.
	"forged_key":             "unknown_key",
	"forged_key_introduced":  "unknown_key",
	"key_unendorsed":         "unknown_key",
	"forged_tail_event":      "",            // an unauthenticated tail
	"inconsistent_fork":      "",            // the auditor's checkpoint
	"intact_key_rotation":    "unknown_key", // main alone does not vouch for its successors' checkpoints (TestRotationWithCurrentKeyAlone)
	"prune_too_early":        "",            // the key holder signed it
	"retired_key_forgery":    "",            // main is given, so trusted; TestRetiredKeyNotTrusted gives the current key
	"rollback_forged_intent": "",            // an unauthenticated tail
	"rolled_back":            "",            // the auditor's checkpoint
	"schema_invalid":         "",            // the key holder signed it
	"truncated_tail":         "",            // the checkpoint file
	"truncated_trusted":      "",            // the auditor's checkpoint
	"unsealed_tail":          "",            // not sealed yet: not returned
}

// fromIntactMulti are the vectors made from the log of intact_multi: a
// record they return must be intact_multi's record of that number.
var fromIntactMulti = []string{
	"intact_multi", "modified_event", "corrupt_frame", "record_rehashed", "chain_rewritten", "record_deleted", "record_duplicated",
	"records_swapped", "checkpoint_bad_signature", "segment_missing_middle", "segment_missing_first", "segments_renamed",
	"segment_duplicated", "segment_foreign", "cosigned_checkpoint", "forged_tail_event", "forged_key_introduced",
	"forged_invalid_json", "forged_commit", "forged_prune", "closed_chain_rewritten", "final_checkpoint_resigned",
	"truncated_tail", "truncated_trusted", "checkpoint_file_forged", "inconsistent_fork",
}

// allTypes selects every record of the vectors through the indexes: the
// types of the event mix and the sealer's.
var allTypes = query.Filter{Types: []string{"auth.*", "authz.*", "task.*", "vram.*", "seal.*", "pool.*", "data.*", "audit.*"}, Sealer: true}

// reasonOf returns the reason code of a failed scan, "" for none.
func reasonOf(err error) string {
	var te *verify.TamperError
	if errors.As(err, &te) {
		return string(te.Failure.Reason)
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return ""
}

// genuine returns intact_multi's event records by sequence number, as
// JSON lines of a match.
func genuine(t *testing.T) map[uint64]string {
	t.Helper()
	out := map[uint64]string{}
	err := testkit.Records(vectors["intact_multi"].Dir, func(rec chain.Record) bool {
		if rec.Kind == chain.KindEvent || rec.Kind == chain.KindSealerEvent {
			out[rec.Seq] = string(rec.AuditID) + " " + string(rec.Event)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withIndexes returns a copy of dir with the index of every closed segment
// that can be indexed (index.Update skips a segment it cannot read); with
// from set, with the index files of the log in from instead (the indexes
// of the log before it was tampered with).
func withIndexes(t *testing.T, dir, from string) string {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "data")
	if err := testkit.CopyDir(dir, cp); err != nil {
		t.Fatal(err)
	}
	if from == "" {
		index.Update(context.Background(), cp, false)
		return cp
	}
	src := filepath.Join(t.TempDir(), "indexed")
	if err := testkit.CopyDir(from, src); err != nil {
		t.Fatal(err)
	}
	if _, err := index.Update(context.Background(), src, false); err != nil {
		t.Fatal(err)
	}
	idx, _ := filepath.Glob(filepath.Join(src, "*.idx"))
	for _, p := range idx {
		b, _ := os.ReadFile(p)
		if err := os.WriteFile(filepath.Join(cp, filepath.Base(p)), b, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	return cp
}

// TestVectorsNeverReturnForgedRecords: on every vector, without indexes,
// with indexes built from what is on disk and (for the vectors made from
// intact_multi) with the indexes of the log before it was tampered with,
// a scan of everything and a scan of every type through the indexes fail
// with the verifier's reason code (or what queryDiffers says), and never
// return a record that is not the genuine one: a record of intact_multi
// for the vectors made from it, and one that a trusted checkpoint covers
// for all.
func TestVectorsNeverReturnForgedRecords(t *testing.T) {
	real := genuine(t)
	names := make([]string, 0, len(vectors))
	for n := range vectors {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		v := vectors[name]
		want := v.Expect
		if w, ok := queryDiffers[name]; ok {
			want = w
		}
		t.Run(name, func(t *testing.T) {
			modes := map[string]string{"plain": v.Dir, "own indexes": withIndexes(t, v.Dir, "")}
			original := slices.Contains(fromIntactMulti, name)
			if original {
				modes["original indexes"] = withIndexes(t, v.Dir, vectors["intact_multi"].Dir)
			}
			for mode, dir := range modes {
				for _, f := range []query.Filter{{Sealer: true}, allTypes} {
					var got []*query.Match
					info, err := query.Scan(context.Background(), dir, mainTrust, f, func(m *query.Match) error {
						got = append(got, m)
						return nil
					})
					if r := reasonOf(err); r != want {
						t.Errorf("%s, filter %v: %s, want %q", mode, f.Types, r, want)
					}
					for _, m := range got {
						if original && real[m.Seq] != m.AuditID+" "+string(m.Event) {
							t.Fatalf("%s: returned record %d, which is not the genuine one: %s", mode, m.Seq, m.Event)
						}
						if m.Seq >= info.SealedSize {
							t.Fatalf("%s: returned record %d, beyond the sealed size %d", mode, m.Seq, info.SealedSize)
						}
					}
					if want == "" && strings.HasPrefix(name, "intact") && len(got) == 0 {
						t.Fatalf("%s: nothing returned from an intact log", mode)
					}
				}
			}
		})
	}
}

// TestRotationWithCurrentKeyAlone: a log whose key was rotated twice
// (main, second, third) is read with the current key alone, with and
// without indexes: the segments the earlier keys signed are authenticated
// through the later ones, and every record comes back, as a scan trusting
// all three keys returns it. The first key alone cannot vouch for what
// the later keys signed: unknown_key.
func TestRotationWithCurrentKeyAlone(t *testing.T) {
	v := vectors["intact_key_rotation"]
	all := func(dir string, trust verify.Trust, f query.Filter) ([]*query.Match, *query.Info, error) {
		var out []*query.Match
		info, err := query.Scan(context.Background(), dir, trust, f, func(m *query.Match) error { out = append(out, m); return nil })
		return out, info, err
	}
	want, _, err := all(v.Dir, verify.Trust{Keys: testkit.Keys("main", "second", "third")}, query.Filter{Sealer: true})
	if err != nil || len(want) < 100 {
		t.Fatalf("%d records, %v", len(want), err)
	}
	indexed := withIndexes(t, v.Dir, "")
	for _, dir := range []string{v.Dir, indexed} {
		for _, f := range []query.Filter{{Sealer: true}, allTypes} {
			got, info, err := all(dir, verify.Trust{Keys: testkit.Keys("third")}, f)
			if err != nil || !bytes.Equal(encoded(got), encoded(want)) {
				t.Fatalf("%s %v: %d records of %d, %v", filepath.Base(dir), f.Types, len(got), len(want), err)
			}
			if dir == indexed && len(f.Types) > 0 && (info.IndexedSegments == 0 || info.UnindexedSegments != 0) {
				t.Fatalf("the indexes were not used: %+v", info)
			}
		}
		if _, _, err := all(dir, verify.Trust{Keys: testkit.Keys("main")}, query.Filter{Sealer: true}); reasonOf(err) != "unknown_key" {
			t.Fatalf("with the first key alone: %v, want unknown_key", err)
		}
	}
}

// TestRetiredKeyNotTrusted: the key was rotated from main to second, and
// someone holding the retired main key appended a checkpoint it signed
// over a forged event: a scan trusting the current key refuses it
// (unknown_key) and returns neither the forged event nor anything the
// active segment holds.
func TestRetiredKeyNotTrusted(t *testing.T) {
	v := vectors["retired_key_forgery"]
	var got []*query.Match
	_, err := query.Scan(context.Background(), v.Dir, verify.Trust{Keys: testkit.Keys("second")}, query.Filter{Sealer: true}, func(m *query.Match) error {
		got = append(got, m)
		return nil
	})
	if reasonOf(err) != "unknown_key" {
		t.Fatalf("%v, want unknown_key", err)
	}
	segs, err := storage.ListSegments(v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var forged uint64 // the last event: the forged one
	testkit.Records(v.Dir, func(rec chain.Record) bool {
		if rec.Kind == chain.KindEvent {
			forged = rec.Seq
		}
		return true
	})
	if len(got) == 0 {
		t.Fatal("nothing returned: the closed segments are intact")
	}
	for _, m := range got {
		if m.Seq == forged || m.Seq >= segs[len(segs)-1].FirstSeq {
			t.Fatalf("returned record %d of the active segment, which failed (the forged event is %d)", m.Seq, forged)
		}
	}
}

// TestManyMatchesWaiting: when more matches wait for a checkpoint than a
// read holds (segments signed by keys rotated out, authenticated only
// through the next one; here with a bound of 3), the read keeps their leaf
// hashes instead and reads them again once authenticated: the result is
// exactly what a scan trusting every key returns.
func TestManyMatchesWaiting(t *testing.T) {
	v := vectors["intact_key_rotation"]
	all3 := func() []*query.Match {
		var out []*query.Match
		_, err := query.Scan(context.Background(), v.Dir, verify.Trust{Keys: testkit.Keys("main", "second", "third")}, query.Filter{Sealer: true},
			func(m *query.Match) error { out = append(out, m); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := all3()
	defer query.SetMaxPending(3)()
	var got []*query.Match
	_, err := query.Scan(context.Background(), v.Dir, verify.Trust{Keys: testkit.Keys("third")}, query.Filter{Sealer: true},
		func(m *query.Match) error { got = append(got, m); return nil })
	if err != nil || !bytes.Equal(encoded(got), encoded(want)) || len(want) < 100 {
		t.Fatalf("%d records of %d: %v", len(got), len(want), err)
	}
}
