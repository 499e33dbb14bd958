package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/storage"
)

// sealLags is what the log says about sealing, read after the run.
type sealLags struct {
	// lag: for each client event, the time of the first checkpoint record
	// covering it minus the event record's time (the sealer's receive
	// time), sorted.
	lag []time.Duration
	// sendLag: the same checkpoint time minus the event's own timestamp,
	// which the benchmark sets to its send time, sorted.
	sendLag     []time.Duration
	events      int
	critical    int
	checkpoints int
	unsealed    int // client events after the last checkpoint
	types       map[string]int
}

// readSealLags walks every record of the log in dir. A checkpoint record
// covers every record before it (its tree size is its own sequence number),
// so each event's lag is measured against the next checkpoint record.
// Checkpoint record times are taken when the sealer starts to sign; signing
// and the fdatasync that follows are not in the figure (the seal_seconds
// metric has them).
func readSealLags(dir string, isCritical func(string) bool) (*sealLags, error) {
	segs, err := storage.ListSegments(dir)
	if err != nil {
		return nil, err
	}
	res := &sealLags{types: map[string]int{}}
	type pend struct {
		seq        uint64
		recv, sent int64
	}
	var pending []pend
	tsKey := []byte(`"timestamp":"`)
	for i, s := range segs {
		r, err := storage.OpenSegment(filepath.Join(dir, s.Name), i == len(segs)-1)
		if err != nil {
			return nil, err
		}
		for {
			payload, _, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				return nil, err
			}
			rec, err := chain.Decode(payload)
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("%s: %w", s.Name, err)
			}
			switch rec.Kind {
			case chain.KindEvent:
				res.events++
				typ := string(rec.Type)
				res.types[typ]++
				if isCritical(typ) {
					res.critical++
				}
				p := pend{seq: rec.Seq, recv: rec.TimeNano, sent: -1}
				if j := bytes.Index(rec.Event, tsKey); j >= 0 {
					v := rec.Event[j+len(tsKey):]
					if k := bytes.IndexByte(v, '"'); k > 0 {
						if t, err := time.Parse(time.RFC3339Nano, string(v[:k])); err == nil {
							p.sent = t.UnixNano()
						}
					}
				}
				pending = append(pending, p)
			case chain.KindCheckpoint:
				// It seals the records below its tree size, which may stop
				// at a commit a few records back (FORMAT.md §3.5).
				cp, _, _, err := chain.PeekCheckpoint(rec.Checkpoint)
				if err != nil {
					r.Close()
					return nil, fmt.Errorf("%s: checkpoint record %d: %w", s.Name, rec.Seq, err)
				}
				res.checkpoints++
				kept := pending[:0]
				for _, p := range pending {
					if p.seq >= cp.Size {
						kept = append(kept, p)
						continue
					}
					res.lag = append(res.lag, time.Duration(rec.TimeNano-p.recv))
					if p.sent >= 0 {
						res.sendLag = append(res.sendLag, time.Duration(rec.TimeNano-p.sent))
					}
				}
				pending = kept
			}
		}
		r.Close()
	}
	res.unsealed = len(pending)
	slices.Sort(res.lag)
	slices.Sort(res.sendLag)
	return res, nil
}
