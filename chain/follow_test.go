package chain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/signer"
)

// followLog builds records in order, as the ledger would, and feeds each to
// a Follower; checkpoint records get the text a test asks for.
type followLog struct {
	t     *testing.T
	f     chain.Follower
	tree  *chain.Tree
	logID chain.LogID
	head  chain.Hash
	next  uint64
	now   int64
	// points records, for each record appended, the log's state after it.
	points map[uint64]chain.Checkpoint
}

func newFollowLog(t *testing.T) *followLog {
	l := &followLog{t: t, tree: chain.NewTree(), logID: chain.LogID{9}, now: 1e18, points: map[uint64]chain.Checkpoint{}}
	if err := l.add(chain.Record{Kind: chain.KindSegmentStart, LogID: l.logID}, nil); err != nil {
		t.Fatal(err)
	}
	return l
}

// stateText is the checkpoint of the log as it is now.
func (l *followLog) stateText() chain.Checkpoint {
	return chain.Checkpoint{Origin: chain.Origin(l.logID), Size: l.next, Root: l.tree.Root(), Head: l.head,
		Time: time.Unix(0, l.now).UTC(), SignerKind: signer.Software, Algorithm: signer.Ed25519}
}

func (l *followLog) add(rec chain.Record, cp *chain.Checkpoint) error {
	l.now++
	rec.Seq, rec.PrevHash, rec.TimeNano = l.next, l.head, l.now
	switch rec.Kind {
	case chain.KindEvent:
		rec.Service, rec.AuditID, rec.Type, rec.Event = []byte("svc"), []byte(chain.AuditID(l.logID, rec.Seq)), []byte("t"), []byte("{}")
	case chain.KindCommit:
		rec.Signature = make([]byte, chain.CommitSignatureSize)
	case chain.KindCheckpoint:
		rec.Checkpoint = []byte("n\n\n— k AAAA\n")
		if cp.Size == rec.Seq {
			rec.TimeNano = cp.Time.UnixNano()
		}
	}
	if _, err := rec.Encode(nil); err != nil {
		l.t.Fatal(err)
	}
	if err := l.f.Next(&rec, chain.LeafHash(rec.Hash), cp); err != nil {
		return err
	}
	l.tree.Append(rec.Hash)
	l.head, l.next = rec.Hash, rec.Seq+1
	l.points[rec.Seq] = l.stateText()
	return nil
}

func (l *followLog) events(n int) {
	for range n {
		if err := l.add(chain.Record{Kind: chain.KindEvent}, nil); err != nil {
			l.t.Fatal(err)
		}
	}
}

// TestFollowerCheckpointSizes: a checkpoint covers its own position, or
// the log up to the latest seal-requested commit since the previous
// checkpoint (FORMAT.md §3.5), and nothing else.
func TestFollowerCheckpointSizes(t *testing.T) {
	t.Run("own position", func(t *testing.T) {
		l := newFollowLog(t)
		l.events(3)
		cp := l.stateText()
		cp.Time = time.Unix(0, l.now+1).UTC()
		if err := l.add(chain.Record{Kind: chain.KindCheckpoint}, &cp); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("seal-requested commit a few records back", func(t *testing.T) {
		l := newFollowLog(t)
		l.events(2)
		if err := l.add(chain.Record{Kind: chain.KindCommit, Flags: chain.FlagSealRequested}, nil); err != nil {
			t.Fatal(err)
		}
		cp := l.points[l.next-1]
		l.events(3)
		if err := l.add(chain.Record{Kind: chain.KindCheckpoint}, &cp); err != nil {
			t.Fatalf("a checkpoint of the seal-requested commit: %v", err)
		}
	})
	for name, build := range map[string]func(l *followLog) chain.Checkpoint{
		"a commit without the flag": func(l *followLog) chain.Checkpoint {
			l.add(chain.Record{Kind: chain.KindCommit}, nil)
			cp := l.points[l.next-1]
			l.events(1)
			return cp
		},
		"an earlier seal-requested commit": func(l *followLog) chain.Checkpoint {
			l.add(chain.Record{Kind: chain.KindCommit, Flags: chain.FlagSealRequested}, nil)
			cp := l.points[l.next-1]
			l.events(1)
			l.add(chain.Record{Kind: chain.KindCommit, Flags: chain.FlagSealRequested}, nil)
			return cp
		},
		"a commit before the previous checkpoint": func(l *followLog) chain.Checkpoint {
			l.add(chain.Record{Kind: chain.KindCommit, Flags: chain.FlagSealRequested}, nil)
			cp := l.points[l.next-1]
			own := l.stateText()
			own.Time = time.Unix(0, l.now+1).UTC()
			if err := l.add(chain.Record{Kind: chain.KindCheckpoint}, &own); err != nil {
				l.t.Fatal(err)
			}
			l.events(1)
			return cp
		},
		"the right size with another root": func(l *followLog) chain.Checkpoint {
			l.add(chain.Record{Kind: chain.KindCommit, Flags: chain.FlagSealRequested}, nil)
			cp := l.points[l.next-1]
			cp.Root[0] ^= 1
			l.events(1)
			return cp
		},
		"the right size with the checkpoint's own time": func(l *followLog) chain.Checkpoint {
			l.add(chain.Record{Kind: chain.KindCommit, Flags: chain.FlagSealRequested}, nil)
			cp := l.points[l.next-1]
			cp.Time = cp.Time.Add(time.Second)
			l.events(1)
			return cp
		},
	} {
		t.Run(name, func(t *testing.T) {
			l := newFollowLog(t)
			l.events(2)
			cp := build(l)
			if err := l.add(chain.Record{Kind: chain.KindCheckpoint}, &cp); !errors.Is(err, chain.ErrCheckpointMismatch) {
				t.Fatalf("Next: %v; want ErrCheckpointMismatch", err)
			}
		})
	}
}
