package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/storage"
)

// What Open does with the end of the log (FORMAT.md §2.3, §3.6).
//
// Anyone who can write the data directory can append records: a record's
// hash, chain link, audit_id and frame checksum are public computations.
// So Open trusts only what the sealer's own keys vouch for:
//
//   - the last checkpoint must verify with this sealer's log key; it
//     authenticates the records it covers and names the run key of the run
//     that wrote it;
//   - the last commit record after it, if it verifies with that run key,
//     authenticates every record before it;
//   - the genesis record, and a segment_start that continues the log right
//     after a trusted checkpoint closing the previous segment, state
//     nothing that needs more.
//
// Records after the last authenticated one (the remainder) are never
// sealed. The sealer acknowledges a record only once a commit or checkpoint
// after it is durable, so the remainder was never acknowledged: Open keeps
// its bytes aside, cuts it, and reports it (OpenInfo.Discarded) so that the
// sealer records its range and hash in the chain. It does so by itself only
// when the remainder is what a crash in the middle of a group commit
// leaves; anything else is refused (ErrUnauthenticatedTail) unless the
// operator accepts it (Config.AcceptUnauthenticatedTail). A record the
// sealer authenticated that no longer passes every check is corruption:
// refused (ErrTailInvalid), never repaired.

// Errors of Open's check of the end of the log.
var (
	// ErrTailInvalid: a record that the sealer authenticated (or the log's
	// structure around it) does not pass the format's checks: the log was
	// changed after it was written. The sealer never repairs that.
	ErrTailInvalid = errors.New("ledger: the log's tail does not verify")
	// ErrUnauthenticatedTail: records at the end of the log are not
	// authenticated by any key the sealer holds, and they are not what a
	// crash leaves.
	ErrUnauthenticatedTail = errors.New("ledger: the end of the log holds records the sealer did not authenticate")
)

// Discarded describes records cut from the end of the log because nothing
// the sealer signed authenticated them.
type Discarded struct {
	FirstSeq uint64
	Records  uint64 // complete records among the cut bytes
	Segment  string
	Offset   int64  // where the cut bytes started in Segment
	Bytes    int64  // how many bytes were cut
	SHA256   string // hex SHA-256 of the cut bytes
	KeptAs   string // the file in the data directory that holds them
	Reason   string // why they are not authenticated
	// Accepted: the operator accepted the discard
	// (Config.AcceptUnauthenticatedTail). Otherwise they were the remains
	// of a group commit that a crash interrupted.
	Accepted bool
}

// maxCrashRecords bounds the records a crash can leave unauthenticated: one
// group commit of the sealer and the few records the writer adds to it. A
// longer remainder is not the remains of a crash.
const maxCrashRecords = 1 << 16

// maxScannedCommits bounds the commits a scan keeps: the newest, which are
// the ones that can extend the authenticated part of the log.
const maxScannedCommits = 1 << 16

// scanned is where a record of the scan ends: the point a cut after it
// starts from.
type scanned struct {
	seq uint64
	seg int   // index into tailScan.segs
	end int64 // offset just past the record's frame
}

type scannedCheckpoint struct {
	scanned
	note []byte
	cp   chain.Checkpoint
}

type scannedCommit struct {
	scanned
	rec chain.Record // its Signature copied
}

// tailScan is what scanning the last segments of the log found.
type tailScan struct {
	segs  []storage.SegmentInfo
	total int            // segments in the log
	f     chain.Follower // positioned after the last record that passed
	// broke is why the first failing record failed (nil when all passed);
	// brokeAt is where it starts.
	broke   error
	brokeAt scanned
	// records counts the records that passed after each authentication
	// point candidate: see recordsAfter.
	records uint64

	genesis     *scanned // record 0, when scanned
	lastStart   *scanned // the last segment's segment_start, when a scanned segment precedes it
	checkpoints []scannedCheckpoint
	commits     []scannedCommit
	anchors     anchorFacts
	// introduced are the audit.key_introduced records scanned: the key each
	// hands signing to, by record.
	introduced []introduction
}

// introduction is an audit.key_introduced record: at seq, key keyID was
// introduced.
type introduction struct {
	seq   uint64
	keyID string
}

// scanTail reads the last n segments of the log (fewer if it has fewer)
// with a chain.Follower and the event checks of FORMAT.md §7, and notes
// what authentication needs. It stops at the first record that fails.
func (l *Ledger) scanTail(n int) (*tailScan, error) {
	all, err := storage.ListSegments(l.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	n = min(n, len(all))
	t := &tailScan{segs: all[len(all)-n:], total: len(all)}
	h := chain.NewHasher()
	for i, s := range t.segs {
		last := i == len(t.segs)-1
		r, err := storage.OpenSegment(filepath.Join(l.cfg.Dir, s.Name), last)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTailInvalid, err)
		}
		first := true
		for {
			payload, off, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("%w: %v", ErrTailInvalid, err)
			}
			at := scanned{seg: i, end: r.Offset()}
			if first {
				// A segment holds the records from the one its name says: a
				// copy of another segment under a later name would fork the
				// chain if the sealer appended to it.
				if rec, err := chain.Decode(payload); err == nil && rec.Seq != s.FirstSeq {
					r.Close()
					return nil, fmt.Errorf("%w: segment %s starts with record %d", ErrTailInvalid, s.Name, rec.Seq)
				}
			}
			if err := t.record(payload, h, first, &at); err != nil {
				t.broke, t.brokeAt = err, scanned{seq: t.f.NextSeq(), seg: i, end: off}
				r.Close()
				return t, nil
			}
			first = false
		}
		r.Close()
		if first {
			return nil, fmt.Errorf("%w: segment %s holds no record", ErrTailInvalid, s.Name)
		}
	}
	return t, nil
}

// record checks one record and notes what authentication needs.
func (t *tailScan) record(payload []byte, h *chain.Hasher, first bool, at *scanned) error {
	rec, err := chain.Decode(payload)
	if err != nil {
		return err
	}
	at.seq = rec.Seq
	if !h.Check(payload) {
		return fmt.Errorf("record %d does not match its hash", rec.Seq)
	}
	if first != (rec.Kind == chain.KindSegmentStart) {
		if first {
			return fmt.Errorf("record %d: a segment starts with a %v record", rec.Seq, rec.Kind)
		}
		return fmt.Errorf("record %d: segment_start record inside a segment", rec.Seq)
	}
	var cp *chain.Checkpoint
	switch rec.Kind {
	case chain.KindCheckpoint:
		text, _, _, err := chain.PeekCheckpoint(rec.Checkpoint)
		if err != nil {
			return fmt.Errorf("record %d: %w", rec.Seq, err)
		}
		cp = &text
	case chain.KindEvent, chain.KindSealerEvent:
		// Re-validate what this run did not write: the schema, and that
		// only the sealer's own records carry audit.* types.
		typ, err := event.CheckCanonical(rec.Event, event.DecodeOptions{Now: rec.Time(), AllowSealerEvents: rec.Kind == chain.KindSealerEvent})
		if err != nil {
			return fmt.Errorf("record %d: %w", rec.Seq, err)
		}
		if typ != string(rec.Type) {
			return fmt.Errorf("record %d: type field says %q, event is %q", rec.Seq, rec.Type, typ)
		}
	}
	if err := t.f.Next(&rec, chain.LeafHash(rec.Hash), cp); err != nil {
		return err
	}
	t.records++
	switch rec.Kind {
	case chain.KindSegmentStart:
		if rec.Seq == 0 {
			t.genesis = at
		} else if at.seg > 0 {
			t.lastStart = at
		}
	case chain.KindCheckpoint:
		t.checkpoints = append(t.checkpoints, scannedCheckpoint{scanned: *at, note: bytes.Clone(rec.Checkpoint), cp: *cp})
		t.anchors.checkpoint(rec.Seq, cp)
	case chain.KindCommit:
		c := rec
		c.Signature = bytes.Clone(rec.Signature)
		if len(t.commits) == maxScannedCommits {
			t.commits = t.commits[1:]
		}
		t.commits = append(t.commits, scannedCommit{scanned: *at, rec: c})
	case chain.KindSealerEvent:
		switch string(rec.Type) {
		case event.TypeAnchorState:
			t.anchors.state(rec.Seq, rec.Event)
		case event.TypeKeyIntroduced:
			ev, err := event.Decode(rec.Event, event.DecodeOptions{Now: rec.Time(), AllowSealerEvents: true})
			if ki, ok := ev.(*event.KeyIntroduced); err == nil && ok {
				t.introduced = append(t.introduced, introduction{seq: rec.Seq, keyID: ki.KeyID})
			}
		}
	}
	return nil
}

// authentication is how far the keys the sealer holds vouch for a scan.
type authentication struct {
	trusted *scannedCheckpoint // the last checkpoint that verifies with the log key
	// newKey: no checkpoint verifies with the log key and the operator
	// accepted the key (Config.AcceptNewKey); trusted is the last one.
	newKey bool
	// Records before end.seq are authenticated; the remainder starts at
	// end.seq, at offset end.end of segment end.seg.
	end scanned
	// notCrash says why the remainder cannot be what a crash leaves, or is
	// "" when it can be.
	notCrash string
	// foreignAfter is the last checkpoint after trusted that is well formed
	// but not signed by the log key (another key's, or a forgery), or nil.
	foreignAfter *scannedCheckpoint
}

// authenticate finds how far the scanned records are authenticated.
func (l *Ledger) authenticate(t *tailScan) (*authentication, error) {
	a := &authentication{}
	own := l.ownKey()
	for i := len(t.checkpoints) - 1; i >= 0; i-- {
		c := &t.checkpoints[i]
		if n, err := chain.SignatureLines(c.note); err != nil || n != 1 {
			a.notCrash = fmt.Sprintf("checkpoint record %d holds a signature block the format does not allow", c.seq)
			continue
		}
		if _, err := chain.OpenCheckpoint(c.note, own); err != nil {
			a.notCrash = fmt.Sprintf("checkpoint record %d does not verify with this sealer's key: %v", c.seq, err)
			if a.foreignAfter == nil {
				a.foreignAfter = c
			}
			continue
		}
		a.trusted = c
		break
	}
	if succ := t.successorOf(l.cfg.Signer.Public().ID(), a); succ != nil {
		// This key endorsed a successor, whose checkpoints follow: it was
		// rotated out and signs nothing more (FORMAT.md §5.1). The records
		// after its last checkpoint are the successor's, not a crash's
		// remains to cut.
		return nil, fmt.Errorf("%w: key %s was rotated out: it endorsed key %s (introduced at record %d) in checkpoint record %d, and checkpoint record %d is signed by another key; start the sealer with the key in force",
			ErrKeyNotIntroduced, l.cfg.Signer.Public().ID(), succ.keyID, succ.seq, a.trusted.seq, a.foreignAfter.seq)
	}
	if a.trusted == nil && len(t.checkpoints) > 0 {
		last := &t.checkpoints[len(t.checkpoints)-1]
		if !l.cfg.AcceptNewKey {
			return nil, fmt.Errorf("%w: key %s did not sign any checkpoint at the end of the log (the last is record %d): either the configured key is not the one that signs this log (rotate keys with the previous key, audit-sealer keys rotate, or accept the new key explicitly), or the checkpoints were forged",
				ErrKeyNotIntroduced, l.cfg.Signer.Public().ID(), last.seq)
		}
		// The operator vouches for a log whose key is lost: its last
		// checkpoint is taken as it is, and the new key is recorded.
		a.trusted, a.newKey, a.notCrash = last, true, ""
	}
	cover := func(at scanned) {
		if at.seq > a.end.seq {
			a.end = at
		}
	}
	if t.genesis != nil {
		g := *t.genesis
		g.seq = 1
		cover(g)
	}
	var runKey []byte
	if c := a.trusted; c != nil {
		runKey = c.cp.RunKey
		if c.cp.Size == c.seq {
			at := c.scanned
			at.seq = c.seq + 1
			cover(at)
			if s := t.lastStart; s != nil && s.seq == c.seq+1 {
				at := *s
				at.seq = s.seq + 1
				cover(at)
			}
		} else if cm := t.commitAt(c.cp.Size - 1); cm != nil {
			at := cm.scanned
			at.seq = c.cp.Size
			cover(at)
		}
	}
	// The last commit since the trusted checkpoint's coverage that
	// verifies with the run key authenticates everything before it.
	if runKey != nil {
		for i := len(t.commits) - 1; i >= 0 && t.commits[i].rec.Seq >= a.trusted.cp.Size; i-- {
			c := &t.commits[i]
			if chain.VerifyCommit(&c.rec, runKey) {
				at := c.scanned
				at.seq = c.rec.Seq + 1
				cover(at)
				break
			}
			if a.notCrash == "" {
				a.notCrash = fmt.Sprintf("commit record %d does not verify with the run key", c.rec.Seq)
			}
		}
	}
	if a.end.seq == 0 {
		return nil, fmt.Errorf("%w: nothing at the end of the log verifies with this sealer's keys (no checkpoint in its last segments)", ErrTailInvalid)
	}
	return a, nil
}

// commitAt returns the scanned commit with sequence number seq, or nil.
func (t *tailScan) commitAt(seq uint64) *scannedCommit {
	for i := len(t.commits) - 1; i >= 0 && t.commits[i].rec.Seq >= seq; i-- {
		if t.commits[i].rec.Seq == seq {
			return &t.commits[i]
		}
	}
	return nil
}

// crashLike says why the remainder after a is not what a crash of the
// sealer leaves, or returns "" when it is: the previous run did not stop
// cleanly, it named a run key (so it committed its groups), and the
// remainder is a part of one group commit that passes every check and
// holds no commit (one that verified would have authenticated it) and no
// checkpoint but the log key's.
func (l *Ledger) crashLike(t *tailScan, a *authentication) string {
	switch {
	case a.notCrash != "":
		return a.notCrash
	case t.broke != nil:
		return fmt.Sprintf("record %d does not pass the format's checks: %v", t.brokeAt.seq, t.broke)
	case a.trusted == nil && t.genesis == nil:
		return "no checkpoint verifies"
	case a.trusted != nil && a.trusted.cp.RunKey == nil:
		return "they follow a checkpoint of format 1, whose sealer did not authenticate its records before sealing them (start the previous version once to seal them, or discard them)"
	case a.trusted != nil && a.trusted.cp.Closed && a.end.seq == a.trusted.seq+1:
		return "they follow the checkpoint with which the sealer closed the log cleanly"
	case t.f.NextSeq()-a.end.seq > maxCrashRecords:
		return fmt.Sprintf("they are %d records, more than one group commit", t.f.NextSeq()-a.end.seq)
	}
	for _, c := range t.commits {
		if c.rec.Seq >= a.end.seq {
			return fmt.Sprintf("commit record %d among them does not verify with the run key", c.rec.Seq)
		}
	}
	for _, c := range t.checkpoints {
		if c.seq >= a.end.seq {
			if _, err := chain.OpenCheckpoint(c.note, l.ownKey()); err != nil {
				return fmt.Sprintf("checkpoint record %d among them does not verify with this sealer's key", c.seq)
			}
		}
	}
	if a.trusted == nil {
		// A log that was never sealed: only what the sealer writes when
		// it starts may follow the genesis.
		for _, c := range t.commits {
			return fmt.Sprintf("commit record %d in a log that was never sealed", c.rec.Seq)
		}
	}
	return ""
}

// loadTail authenticates the end of the log, cuts an unauthenticated
// remainder when that is allowed, and positions the ledger after the last
// authenticated record, with the anchor state the authenticated records
// hold.
func (l *Ledger) loadTail(info *OpenInfo) (*authentication, error) {
	for n := 1; ; {
		t, err := l.scanTail(n)
		if err != nil {
			return nil, err
		}
		// The last segment alone may hold no trusted checkpoint yet (it
		// was opened since the last one, or its checkpoints are forged):
		// read the segment before it too. The anchor state may lie further
		// back when the counter failed for a while: read twice as many
		// segments until an anchored checkpoint is among them, or the
		// whole log (a log never anchored), so that an old copy is never
		// taken for a log that was never anchored.
		a, err := l.authenticate(t)
		switch {
		case n < 2 && n < t.total && (a == nil || a.trusted == nil || a.newKey):
			n = 2
			continue
		case n < t.total && l.cfg.Counter != nil && t.anchors.last == nil && err == nil:
			n *= 2
			continue
		}
		if err != nil {
			return nil, err
		}
		if a.end.seq == t.f.NextSeq() && t.broke == nil {
			l.takeTail(t, a)
			return a, nil
		}
		if info.Discarded != nil {
			return nil, fmt.Errorf("%w: records after %d are still not authenticated after the cut", ErrTailInvalid, a.end.seq)
		}
		d, err := l.discardRemainder(t, a)
		if err != nil {
			return nil, err
		}
		info.Discarded = d
	}
}

// discardRemainder decides about the records after a.end and, when they may
// go, keeps their bytes aside and cuts them.
func (l *Ledger) discardRemainder(t *tailScan, a *authentication) (*Discarded, error) {
	last := len(t.segs) - 1
	seg := t.segs[last]
	if a.end.seg != last {
		return nil, fmt.Errorf("%w: segment %s does not continue the authenticated log (it ends at record %d, in segment %s)",
			ErrTailInvalid, seg.Name, a.end.seq-1, t.segs[a.end.seg].Name)
	}
	if t.broke != nil && l.authenticatedAfter(t, a) {
		return nil, fmt.Errorf("%w: record %d at offset %d of segment %s: %v (the records after it hold a signature of this sealer: they were changed after they were written)",
			ErrTailInvalid, t.brokeAt.seq, t.brokeAt.end, t.segs[t.brokeAt.seg].Name, t.broke)
	}
	path := filepath.Join(l.cfg.Dir, seg.Name)
	size, sum, err := tailHash(path, a.end.end)
	if err != nil {
		return nil, err
	}
	d := &Discarded{FirstSeq: a.end.seq, Segment: seg.Name, Offset: a.end.end, Bytes: size - a.end.end, SHA256: sum}
	if t.f.NextSeq() > a.end.seq {
		d.Records = t.f.NextSeq() - a.end.seq
	}
	why := l.crashLike(t, a)
	if why != "" {
		d.Reason = "not authenticated: " + why
		if !l.cfg.AcceptUnauthenticatedTail {
			return nil, fmt.Errorf("%w: %d bytes from offset %d of segment %s (records from %d on) are not authenticated by any key of this sealer, and %s; the sealer never acknowledged them. Refusing to start: inspect them, then start with --accept-unauthenticated-tail to keep them aside and cut them (recorded in the chain)",
				ErrUnauthenticatedTail, d.Bytes, d.Offset, d.Segment, d.FirstSeq, why)
		}
		d.Accepted = true
	} else {
		d.Reason = "not authenticated: the remains of a group commit that a crash interrupted (never acknowledged)"
	}
	rec, err := l.store.CutTail(a.end.end)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	d.KeptAs = rec.KeptAs
	return d, nil
}

// authenticatedAfter reports whether a record after the first broken one
// in the last segment holds a signature that this sealer made: a
// checkpoint that verifies with the log key, or a commit that verifies with
// the trusted checkpoint's run key. Then the broken record is inside what
// the sealer authenticated.
func (l *Ledger) authenticatedAfter(t *tailScan, a *authentication) bool {
	r, err := storage.OpenSegmentAt(filepath.Join(l.cfg.Dir, t.segs[t.brokeAt.seg].Name), true, t.brokeAt.end)
	if err != nil {
		return true // unreadable: treat as corruption, never cut
	}
	defer r.Close()
	var runKey []byte
	if a.trusted != nil {
		runKey = a.trusted.cp.RunKey
	}
	for {
		payload, _, err := r.Next()
		if err != nil {
			return err != io.EOF
		}
		rec, err := chain.Decode(payload)
		if err != nil {
			continue
		}
		if rec.Seq <= t.brokeAt.seq {
			continue // a copy of an earlier record: its signature vouches for nothing here
		}
		switch rec.Kind {
		case chain.KindCheckpoint:
			if _, err := chain.OpenCheckpoint(rec.Checkpoint, l.ownKey()); err == nil {
				return true
			}
		case chain.KindCommit:
			if runKey != nil && chain.VerifyCommit(&rec, runKey) {
				return true
			}
		}
	}
}

// tailHash returns the size of the file at path and the hex SHA-256 of its
// bytes from off to its end.
func tailHash(path string, off int64) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", fmt.Errorf("ledger: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, "", fmt.Errorf("ledger: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, off, fi.Size()-off)); err != nil {
		return 0, "", fmt.Errorf("ledger: %w", err)
	}
	return fi.Size(), hex.EncodeToString(h.Sum(nil)), nil
}

// takeTail positions the ledger after the scanned records, all of them
// authenticated.
func (l *Ledger) takeTail(t *tailScan, a *authentication) {
	f := &t.f
	l.logID, l.origin = f.LogID(), chain.Origin(f.LogID())
	l.tree = f.Tree().Clone()
	l.nextSeq, l.head, l.lastNs = f.NextSeq(), f.Head(), f.LastTime()
	l.authTo = l.nextSeq
	l.sealedTo = t.segs[0].FirstSeq // what came before is sealed by the checkpoint closing the previous segment
	if c := a.trusted; c != nil {
		cp := c.cp
		l.lastCheckpoint, l.lastSigned = &cp, c.note
		l.sealedTo = cp.Size
		if cp.Size == c.seq {
			l.sealedTo = c.seq + 1
		}
	}
	l.lastAnchor, l.lastAnchorSeq, l.pendingIntent = t.anchors.last, t.anchors.lastSeq, t.anchors.intent
}

// successorOf returns the key introduction that the log key endorsed, when
// the log key's last checkpoint (a.trusted) covers an introduction of
// another key and a well-formed checkpoint not signed by the log key
// follows it: the log key was rotated out. It returns nil otherwise.
func (t *tailScan) successorOf(ownID string, a *authentication) *introduction {
	if a.trusted == nil || a.foreignAfter == nil || a.foreignAfter.seq < a.trusted.seq {
		return nil
	}
	for i := len(t.introduced) - 1; i >= 0; i-- {
		in := &t.introduced[i]
		if in.seq < a.trusted.seq && in.keyID != ownID {
			return in
		}
	}
	return nil
}
