package testkit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
)

// The attacks of a disk writer who holds neither the log key nor the
// run key (FORMAT.md §9): everything here writes only what such an
// attacker can compute (record hashes, chain links, audit_ids, frame
// checksums), or signs with a key the sealer does not trust.

// forger appends records to the end of a log's last segment, correctly
// numbered and chained, as a disk writer can.
type forger struct {
	seg   *segmentFile
	logID chain.LogID
	last  chain.Record
	clock *Clock
}

// forgeAt opens the last segment of the log in dir for forging.
func forgeAt(dir string, clock *Clock) (*forger, error) {
	names, err := segmentNames(dir)
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("testkit: no segment in %s: %v", dir, err)
	}
	s, err := readSegment(segPath(dir, names, -1))
	if err != nil {
		return nil, err
	}
	first, err := chain.Decode(s.frames[0])
	if err != nil {
		return nil, err
	}
	last, err := chain.Decode(s.frames[len(s.frames)-1])
	if err != nil {
		return nil, err
	}
	return &forger{seg: s, logID: first.LogID, last: last, clock: clock}, nil
}

// add appends rec with the next sequence number, the previous record's
// hash and (for events) the right audit_id.
func (f *forger) add(rec chain.Record) (chain.Record, error) {
	rec.Seq, rec.PrevHash = f.last.Seq+1, f.last.Hash
	if rec.TimeNano == 0 {
		rec.TimeNano = f.clock.Now().UnixNano()
	}
	if rec.Kind == chain.KindEvent || rec.Kind == chain.KindSealerEvent {
		rec.AuditID = []byte(chain.AuditID(f.logID, rec.Seq))
	}
	enc, err := rec.Encode(nil)
	if err != nil {
		return rec, err
	}
	f.seg.frames = append(f.seg.frames, enc)
	f.last = rec
	return rec, nil
}

// event appends an event record of service with the canonical JSON of ev.
func (f *forger) event(service string, ev event.Event) error {
	body, err := event.Encode(ev)
	if err != nil {
		return err
	}
	kind := chain.KindEvent
	if service == chain.SealerService {
		kind = chain.KindSealerEvent
	}
	_, err = f.add(chain.Record{Kind: kind, Service: []byte(service), Type: []byte(ev.EventType()), Event: body})
	return err
}

// checkpoint appends a checkpoint of the log so far signed by key: the
// tree root is recomputed from the whole log in dir, as anyone can.
func (f *forger) checkpoint(dir string, key signer.Signer, runKey []byte) error {
	tree := chain.NewTree()
	if err := Records(dir, func(r chain.Record) bool { tree.Append(r.Hash); return true }); err != nil {
		return err
	}
	// Records already forged into the segment in memory.
	names, _ := segmentNames(dir)
	onDisk, err := readSegment(segPath(dir, names, -1))
	if err != nil {
		return err
	}
	for _, p := range f.seg.frames[len(onDisk.frames):] {
		r, err := chain.Decode(p)
		if err != nil {
			return err
		}
		tree.Append(r.Hash)
	}
	t := f.clock.Now()
	cp := chain.Checkpoint{Origin: chain.Origin(f.logID), Size: f.last.Seq + 1, Root: tree.Root(), Head: f.last.Hash,
		Time: t.UTC(), SignerKind: key.Kind(), Algorithm: key.Public().Algorithm, Dev: true, RunKey: runKey}
	note, err := chain.SignCheckpoint(&cp, key, key.Public().Name)
	if err != nil {
		return err
	}
	_, err = f.add(chain.Record{Kind: chain.KindCheckpoint, TimeNano: t.UnixNano(), Checkpoint: note})
	return err
}

func (f *forger) write() error { return f.seg.write() }

// segmentStartOf returns the first record (the segment_start) of segment i
// of the log in dir (negative: from the end), and the segments' names.
func segmentStartOf(dir string, i int) (chain.Record, []string, error) {
	names, err := segmentNames(dir)
	if err != nil {
		return chain.Record{}, nil, err
	}
	s, err := readSegment(segPath(dir, names, i))
	if err != nil {
		return chain.Record{}, nil, err
	}
	rec, err := chain.Decode(s.frames[0])
	return rec, names, err
}

// removeSegments deletes the named segments of dir, as someone who may
// write the directory can, read-only or not.
func removeSegments(dir string, names []string) error {
	for _, n := range names {
		os.Chmod(filepath.Join(dir, n), 0o600)
		if err := os.Remove(filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}

// authSuccess is an event a service the attacker does not control would send.
func authSuccess(t time.Time) *event.AuthSuccess {
	return &event.AuthSuccess{Timestamp: t.UTC(), Actor: event.Actor{UserID: "admin@example.com", AuthMethod: event.AuthBearerToken},
		Method: event.AuthBearerToken, Path: "/v2/tasks", ServiceID: "queen-rbee"}
}

// sealedThenForged builds a log closed cleanly, then lets forge add to it.
func sealedThenForged(forge func(dir string, f *forger) error) func(root, name string) (Vector, error) {
	return func(root, name string) (Vector, error) {
		v, err := newVector(root, name, multiSpec())
		if err != nil {
			return v, err
		}
		clock := NewClock()
		clock.T = clock.T.Add(time.Hour)
		f, err := forgeAt(v.Dir, clock)
		if err != nil {
			return v, err
		}
		if err := forge(v.Dir, f); err != nil {
			return v, err
		}
		return v, f.write()
	}
}

// crashedRun builds a log whose last run started (sealed its start, naming
// its run key), made events durable with commits, and crashed: no stop
// record, no final checkpoint. It returns the open ledger's clock.
func crashedRun(dir string, counter *Counter) (*Clock, error) {
	clock := NewClock()
	spec := multiSpec()
	if counter != nil {
		l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: spec.key, Dev: true, SegmentSize: spec.segmentSize, Now: clock.Now,
			Rand: &seededReader{buf: []byte("crashed run 1")}, Counter: counter, AnchorIndex: 0x01500100})
		if err != nil {
			return nil, err
		}
		for i := 0; i < 20; i++ {
			if err := appendEvent(l, i, clock); err != nil {
				return nil, err
			}
		}
		if err := l.Close(); err != nil {
			return nil, err
		}
	} else if _, err := buildLog(dir, spec, clock, false); err != nil {
		return nil, err
	}
	cfg := ledger.Config{Dir: dir, Signer: spec.key, Dev: true, SegmentSize: 1 << 20, Now: clock.Now, Rand: &seededReader{buf: []byte("crashed run 2")}}
	if counter != nil {
		cfg.Counter, cfg.AnchorIndex = counter, 0x01500100
	}
	l, _, err := ledger.Open(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := l.AppendSealerEvent(&event.SealerStarted{Timestamp: clock.Now().UTC(), Version: "test", Mode: event.ModeDev,
		KeyID: spec.key.Public().ID(), KeyKind: event.KeySoftware, Algorithm: event.AlgEd25519}); err != nil {
		return nil, err
	}
	if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil { // the start: names the run key
		return nil, err
	}
	for i := 0; i < 6; i++ {
		if err := appendEvent(l, i, clock); err != nil {
			return nil, err
		}
		if i%2 == 1 {
			if err := l.Sync(); err != nil { // a group commit, authenticated
				return nil, err
			}
		}
	}
	// The crash: the ledger is dropped without Close. Release its lock.
	return clock, l.Abandon()
}

// attackVectors are the attacks of FORMAT.md §9 on a data directory by
// someone without the keys, and the states a crash leaves, with what the
// verifier and the sealer must say.
var attackVectors = []generator{
	{name: "forged_tail_event", sealer: SealerUnauthenticatedTail, expect: "unauthenticated_tail",
		comment: "an auth.success of a service the attacker does not hold, appended after the sealer stopped cleanly; no commit or checkpoint covers it",
		build: sealedThenForged(func(dir string, f *forger) error {
			return f.event("queen-rbee", authSuccess(f.clock.T))
		})},
	{name: "forged_key_introduced", sealer: SealerUnauthenticatedTail, expect: "untrusted_key",
		comment: "an audit.key_introduced carrying the attacker's key appended to the log, then a checkpoint signed by that key: it looks like an operator's unendorsed key, so the records after it are unverifiable with the keys given",
		build: sealedThenForged(func(dir string, f *forger) error {
			attacker := Key("attacker")
			pub := attacker.Public()
			if err := f.event(chain.SealerService, &event.KeyIntroduced{Timestamp: f.clock.T.UTC(), KeyID: pub.ID(), KeyName: pub.Name,
				Algorithm: event.AlgEd25519, KeyKind: event.KeySoftware, PublicKey: base64.StdEncoding.EncodeToString(pub.Raw()), Reason: "scheduled rotation"}); err != nil {
				return err
			}
			return f.checkpoint(dir, attacker, nil)
		})},
	{name: "forged_invalid_json", sealer: SealerUnauthenticatedTail, expect: "schema_invalid",
		comment: "an event record whose event is not JSON appended after the sealer stopped",
		build: sealedThenForged(func(dir string, f *forger) error {
			_, err := f.add(chain.Record{Kind: chain.KindEvent, Service: []byte("queen-rbee"), Type: []byte("auth.success"), Event: []byte(`{"type":"auth.success",`)})
			return err
		})},
	{name: "forged_commit", sealer: SealerUnauthenticatedTail, expect: "bad_signature",
		comment: "events appended and a commit record whose signature is not the run key's",
		build: sealedThenForged(func(dir string, f *forger) error {
			if err := f.event("queen-rbee", authSuccess(f.clock.T)); err != nil {
				return err
			}
			_, err := f.add(chain.Record{Kind: chain.KindCommit, Signature: make([]byte, chain.CommitSignatureSize)})
			return err
		})},
	{name: "cosigned_checkpoint", sealer: SealerUnauthenticatedTail, expect: "modified",
		comment: "a second signature line (a fake witness cosignature) added to the last checkpoint record",
		build: func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			names, _ := segmentNames(v.Dir)
			s, err := readSegment(segPath(v.Dir, names, -1))
			if err != nil {
				return v, err
			}
			i := len(s.frames) - 1
			rec, err := chain.Decode(s.frames[i])
			if err != nil || rec.Kind != chain.KindCheckpoint {
				return v, fmt.Errorf("the last record is not a checkpoint: %v", err)
			}
			rec.Checkpoint = append(append([]byte(nil), rec.Checkpoint...), []byte("\u2014 witness.example/w1 AAAAAAAA\n")...)
			if s.frames[i], err = rec.Encode(nil); err != nil {
				return v, err
			}
			return v, s.write()
		}},
	{name: "fabricated_history", sealer: SealerTailInvalid, expect: "segment_missing",
		comment: "every segment and the checkpoint file deleted; one segment written that starts at record 1000 with an invented tree state, a retention_pruned record for records 0..999 and events",
		build: func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			genesis, names, err := segmentStartOf(v.Dir, 0)
			if err != nil {
				return v, err
			}
			if err := removeSegments(v.Dir, names); err != nil {
				return v, err
			}
			if err := os.Remove(filepath.Join(v.Dir, storage.CheckpointFile)); err != nil {
				return v, err
			}
			clock := NewClock()
			state := make([]chain.Hash, 6) // 1000 = 0b1111101000: six perfect subtrees
			for i := range state {
				copy(state[i][:], hashOf([]byte{byte(i)}))
			}
			start := chain.Record{Kind: chain.KindSegmentStart, Seq: 1000, TimeNano: clock.Now().UnixNano(), LogID: genesis.LogID, TreeState: state}
			copy(start.PrevHash[:], hashOf([]byte("invented")))
			enc, err := start.Encode(nil)
			if err != nil {
				return v, err
			}
			s := &segmentFile{path: filepath.Join(v.Dir, fmt.Sprintf("%016x.seg", 1000)), header: segmentHeader(), frames: [][]byte{enc}}
			f := &forger{seg: s, logID: genesis.LogID, last: start, clock: clock}
			if err := f.event(chain.SealerService, &event.RetentionPruned{Timestamp: clock.T.UTC(), FirstSeq: 0, LastSeq: 999,
				Segments: names, RetentionDays: 1, Reason: "retention period expired"}); err != nil {
				return v, err
			}
			if err := f.event("queen-rbee", authSuccess(clock.T)); err != nil {
				return v, err
			}
			return v, f.write()
		}},
	{name: "forged_prune", sealer: SealerUnauthenticatedTail, expect: "segment_missing",
		comment: "the two oldest segments deleted and an audit.retention_pruned record for them appended, unsigned",
		build: func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			start, names, err := segmentStartOf(v.Dir, 2)
			if err != nil {
				return v, err
			}
			if err := removeSegments(v.Dir, names[:2]); err != nil {
				return v, err
			}
			clock := NewClock()
			clock.T = clock.T.Add(time.Hour)
			f, err := forgeAt(v.Dir, clock)
			if err != nil {
				return v, err
			}
			if err := f.event(chain.SealerService, &event.RetentionPruned{Timestamp: clock.T.UTC(), FirstSeq: 0, LastSeq: start.Seq - 1,
				Segments: names[:2], RetentionDays: 2555, Reason: "retention period expired"}); err != nil {
				return v, err
			}
			return v, f.write()
		}},
	{name: "prune_too_early", sealer: SealerOpens, expect: "prune_too_early",
		comment: "the key holder recorded and sealed the deletion of the two oldest segments under a retention of 30 days, an hour after they were written, and deleted them",
		build: func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			clock := NewClock()
			clock.T = clock.T.Add(time.Hour)
			start, names, err := segmentStartOf(v.Dir, 2)
			if err != nil {
				return v, err
			}
			f, err := forgeAt(v.Dir, clock)
			if err != nil {
				return v, err
			}
			// The ledger refuses to write such a prune (ErrPruneTooEarly):
			// the record and its checkpoint are made here, with the key.
			if err := f.event(chain.SealerService, &event.RetentionPruned{Timestamp: clock.T.UTC(), FirstSeq: 0, LastSeq: start.Seq - 1,
				Segments: names[:2], RetentionDays: 30, Reason: "retention period expired"}); err != nil {
				return v, err
			}
			if err := f.checkpoint(v.Dir, Key("main"), nil); err != nil {
				return v, err
			}
			if err := f.write(); err != nil {
				return v, err
			}
			if err := removeSegments(v.Dir, names[:2]); err != nil {
				return v, err
			}
			return v, os.Remove(filepath.Join(v.Dir, storage.CheckpointFile))
		}},
	{name: "interrupted_prune", sealer: SealerCompletesPrune, expect: "",
		comment: "retention recorded and sealed the deletion of the three oldest segments, then stopped after removing only the first (intact, with an exception)",
		build: func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			names, _ := segmentNames(v.Dir)
			kept := map[string][]byte{}
			for _, n := range names[1:3] {
				data, err := os.ReadFile(filepath.Join(v.Dir, n))
				if err != nil {
					return v, err
				}
				kept[n] = data
			}
			start, _, err := segmentStartOf(v.Dir, 3)
			if err != nil {
				return v, err
			}
			clock := NewClock()
			clock.T = start.Time().Add(31 * 24 * time.Hour)
			l, _, err := ledger.Open(ledger.Config{Dir: v.Dir, Signer: Key("main"), Dev: true, SegmentSize: 6000, Now: clock.Now, Rand: &seededReader{buf: []byte(name)}})
			if err != nil {
				return v, err
			}
			res, err := l.Prune(start.Time().Add(time.Nanosecond), 30, "")
			if err != nil {
				return v, err
			}
			if len(res.Segments) != 3 {
				return v, fmt.Errorf("pruned %v, want three segments", res.Segments)
			}
			if err := l.Close(); err != nil {
				return v, err
			}
			for n, data := range kept {
				if err := os.WriteFile(filepath.Join(v.Dir, n), data, 0o400); err != nil {
					return v, err
				}
			}
			return v, nil
		}},
	{name: "retired_key_forgery", sealer: SealerUnauthenticatedTail, sealerKey: "second", expect: "retired_key",
		comment: "the key was rotated from main to second; someone holding the retired main key appends a checkpoint signed by it",
		build: func(root, name string) (Vector, error) {
			v, err := newVector(root, name, multiSpec())
			if err != nil {
				return v, err
			}
			clock := NewClock()
			clock.T = clock.T.Add(time.Hour)
			l, _, err := ledger.Open(ledger.Config{Dir: v.Dir, Signer: Key("main"), Dev: true, SegmentSize: 1 << 20, Now: clock.Now, Rand: &seededReader{buf: []byte(name)}})
			if err != nil {
				return v, err
			}
			if _, err := l.IntroduceKey(Key("second"), "scheduled rotation"); err != nil {
				return v, err
			}
			if err := l.Close(); err != nil {
				return v, err
			}
			f, err := forgeAt(v.Dir, clock)
			if err != nil {
				return v, err
			}
			if err := f.event("queen-rbee", authSuccess(clock.T)); err != nil {
				return v, err
			}
			if err := f.checkpoint(v.Dir, Key("main"), nil); err != nil {
				return v, err
			}
			return v, f.write()
		}},
	{name: "crash_remains", sealer: SealerDiscards, expect: "unauthenticated_tail",
		comment: "a run made events durable with commits, then crashed in the middle of a group commit: its last events have no commit",
		build: func(root, name string) (Vector, error) {
			base := filepath.Join(root, name)
			v := Vector{Dir: filepath.Join(base, "data"), KeyFile: filepath.Join(base, "key.pem")}
			clock, err := crashedRun(v.Dir, nil)
			if err != nil {
				return v, err
			}
			f, err := forgeAt(v.Dir, clock) // what the crashed writer had appended
			if err != nil {
				return v, err
			}
			for i := 0; i < 2; i++ {
				if err := f.event("queen-rbee", authSuccess(clock.T)); err != nil {
					return v, err
				}
			}
			return v, errors.Join(f.write(), writePEM(v.KeyFile, Key("main")))
		}},
	{name: "unsealed_tail", sealer: SealerOpens, expect: "unsealed_tail",
		comment: "events made durable and authenticated by the run key's commits after the last checkpoint, then the sealer crashed",
		build: func(root, name string) (Vector, error) {
			base := filepath.Join(root, name)
			v := Vector{Dir: filepath.Join(base, "data"), KeyFile: filepath.Join(base, "key.pem")}
			if _, err := crashedRun(v.Dir, nil); err != nil {
				return v, err
			}
			return v, writePEM(v.KeyFile, Key("main"))
		}},
	{name: "rollback_forged_intent", sealer: SealerRollback, counter: 108, expect: "unauthenticated_tail",
		comment: "an old copy whose run crashed (last anchor 102, the TPM counter is at 108), with an audit.anchor_state increment_intent expecting 108 appended without a commit",
		build: func(root, name string) (Vector, error) {
			base := filepath.Join(root, name)
			v := Vector{Dir: filepath.Join(base, "data"), KeyFile: filepath.Join(base, "key.pem")}
			ctr := &Counter{Value: 100}
			clock, err := crashedRun(v.Dir, ctr)
			if err != nil {
				return v, err
			}
			f, err := forgeAt(v.Dir, clock)
			if err != nil {
				return v, err
			}
			last, expected := ctr.Value, uint64(108)
			if err := f.event(chain.SealerService, &event.AnchorState{Timestamp: clock.T.UTC(), Status: event.AnchorIncrementIntent,
				Counter: &last, Expected: &expected}); err != nil {
				return v, err
			}
			return v, errors.Join(f.write(), writePEM(v.KeyFile, Key("main")))
		}},
	{name: "closed_chain_rewritten", expect: "checkpoint_mismatch",
		comment: "an event of a middle (closed) segment changed and the rest of the segment re-linked up to its final checkpoint, whose head no longer matches",
		build: tamperSegment(1, func(s *segmentFile) error {
			i := s.findFrame(isEvent)
			flipEventByte(s, i)
			return s.rehash(i)
		})},
	{name: "final_checkpoint_resigned", expect: "unknown_key",
		comment: "the final checkpoint of a middle (closed) segment replaced by the same checkpoint signed by the attacker's key",
		build: tamperSegment(1, func(s *segmentFile) error {
			i := len(s.frames) - 1
			rec, err := chain.Decode(s.frames[i])
			if err != nil || rec.Kind != chain.KindCheckpoint {
				return fmt.Errorf("the segment's last record is not a checkpoint: %v", err)
			}
			cp, name, _, err := chain.PeekCheckpoint(rec.Checkpoint)
			if err != nil {
				return err
			}
			if rec.Checkpoint, err = chain.SignCheckpoint(&cp, Key("attacker"), name); err != nil {
				return err
			}
			s.frames[i], err = rec.Encode(nil)
			return err
		})},
	{name: "tail_record_modified", sealer: SealerTailInvalid, expect: "chain_broken",
		comment: "an event the run key's commit already authenticated changed, after a crash left the tail unsealed",
		build: func(root, name string) (Vector, error) {
			base := filepath.Join(root, name)
			v := Vector{Dir: filepath.Join(base, "data"), KeyFile: filepath.Join(base, "key.pem")}
			if _, err := crashedRun(v.Dir, nil); err != nil {
				return v, err
			}
			names, _ := segmentNames(v.Dir)
			s, err := readSegment(segPath(v.Dir, names, -1))
			if err != nil {
				return v, err
			}
			i := len(s.frames) - 3 // an event before the last commit
			rec, err := chain.Decode(s.frames[i])
			if err != nil || rec.Kind != chain.KindEvent {
				return v, fmt.Errorf("record %d is not an event: %v", i, err)
			}
			flipEventByte(s, i)
			if rec, err = chain.Decode(s.frames[i]); err != nil {
				return v, err
			}
			if s.frames[i], err = rec.Encode(nil); err != nil { // its own hash recomputed; the next record no longer links
				return v, err
			}
			return v, errors.Join(s.write(), writePEM(v.KeyFile, Key("main")))
		}},
}

// Forge appends ev, as emitted by service, to the end of the log in dir,
// correctly numbered and chained but authenticated by nothing: what a disk
// writer without the keys can add. It returns the record's sequence number.
func Forge(dir, service string, ev event.Event) (uint64, error) {
	f, err := forgeAt(dir, NewClock())
	if err != nil {
		return 0, err
	}
	f.clock.T = time.Unix(0, f.last.TimeNano).Add(time.Millisecond)
	if err := f.event(service, ev); err != nil {
		return 0, err
	}
	return f.last.Seq, f.write()
}

// AuthSuccess is an auth.success event of a service at t, for tests that
// forge one.
func AuthSuccess(t time.Time) event.Event { return authSuccess(t) }

// EditRecord changes record seq of the log in dir as a disk writer can:
// edit changes the decoded record, which is encoded again in place of the
// old one, its frame checksum recomputed. With rehash its stored hash is
// the hash of its new bytes (the next record no longer links to it);
// without, it keeps the old hash (it no longer matches its bytes).
func EditRecord(dir string, seq uint64, rehash bool, edit func(rec *chain.Record)) error {
	names, err := segmentNames(dir)
	if err != nil {
		return err
	}
	for i := range names {
		s, err := readSegment(segPath(dir, names, i))
		if err != nil {
			return err
		}
		for j, f := range s.frames {
			rec, err := chain.Decode(f)
			if err != nil || rec.Seq != seq {
				continue
			}
			old := rec.Hash
			edit(&rec)
			enc, err := rec.Encode(nil)
			if err != nil {
				return err
			}
			if !rehash {
				copy(enc[len(enc)-chain.HashSize:], old[:])
			}
			s.frames[j] = enc
			return s.write()
		}
	}
	return fmt.Errorf("testkit: no record %d in %s", seq, dir)
}

// ForgeTail appends to the last segment of the log in dir, as a disk
// writer can, an auth.success event of a service the writer does not
// hold and, when signWith is not nil, a checkpoint of the log so far that
// signWith signs (the attacker's key, or one it stole).
func ForgeTail(dir string, signWith signer.Signer) error {
	clock := NewClock()
	clock.T = clock.T.Add(24 * time.Hour)
	f, err := forgeAt(dir, clock)
	if err != nil {
		return err
	}
	if err := f.event("queen-rbee", authSuccess(clock.T)); err != nil {
		return err
	}
	if signWith != nil {
		if err := f.checkpoint(dir, signWith, nil); err != nil {
			return err
		}
	}
	return f.write()
}
