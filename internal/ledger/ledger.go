// Package ledger writes an audit-sealer log: it numbers records, links them
// into the hash chain, keeps the Merkle tree, appends them to storage
// segments, and seals the head with signed checkpoints. It is the only
// writer of a data directory (storage's lock enforces that) and is not safe
// for concurrent use: the sealer's pipeline owns it from one goroutine.
package ledger

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
)

// CheckpointFile is the name of the file in the data directory that holds the
// latest signed checkpoint.
const CheckpointFile = "checkpoint"

// Config says where and how to write. The zero value of every field but Dir
// and Signer means its default.
type Config struct {
	Dir     string
	Signer  signer.Signer
	KeyName string // signed-note key name; "" = the signer's public key name or signer.DefaultKeyName
	Dev     bool   // mark checkpoints "mode dev"
	// SegmentSize is the size at which a segment is closed; 0 = storage's default (100 MB).
	SegmentSize int64
	Now         func() time.Time // nil = time.Now
	Rand        io.Reader        // source of the log ID; nil = crypto/rand
	// Counter anchors checkpoints in a monotonic counter outside the disk
	// (the TPM NV counter); nil = no anchoring. AnchorIndex names it in
	// checkpoints.
	Counter     Counter
	AnchorIndex uint32
	// AcceptRollback lets Open continue when the counter is ahead of the
	// log's last anchor with no crash to explain it (an old copy of the log
	// was restored); AcceptAnchorReset when the counter is behind it (TPM
	// cleared, index redefined). Both are recorded in the chain.
	AcceptRollback    bool
	AcceptAnchorReset bool
	// AcceptNewKey lets Open continue with a signing key that the log never
	// introduced (the previous key is lost); Open records that in the chain.
	AcceptNewKey bool
	// CheckpointFileInterval: <dir>/checkpoint is refreshed at most this
	// often (and always at rotation and Close); 0 = one second.
	CheckpointFileInterval time.Duration
}

// Ledger is an open log being written.
type Ledger struct {
	cfg     Config
	store   *storage.Log
	logID   chain.LogID
	origin  string
	nextSeq uint64
	head    chain.Hash
	tree    *chain.Tree
	lastNs  int64
	buf     []byte

	lastCheckpoint *chain.Checkpoint
	pendingFile    []byte // signed checkpoint not yet written to <dir>/checkpoint
	tailNote       []byte // the last checkpoint of the segment Open read
	tailIntroduced []introduction
	fileWritten    time.Time // when <dir>/checkpoint was last written

	// Anchoring (FORMAT.md §5.3).
	lastAnchor     *uint64   // counter value of the last anchored checkpoint
	lastAnchorSeq  uint64    // its sequence number
	pendingIntent  *uint64   // expected value of an increment_intent after it
	lastAnchorTime time.Time // when this process last anchored
	anchorsMade    uint64    // anchored checkpoints written by this process
	sealedTo       uint64    // records [0, sealedTo) are covered by a checkpoint (the checkpoint record itself included)
	failed         error
}

// OpenInfo says what Open found.
type OpenInfo struct {
	Created  bool              // a new log was created
	Recovery *storage.Recovery // a torn tail that was kept aside and cut, or nil
	NextSeq  uint64
	Unsealed uint64 // records not covered by a checkpoint when the log was opened
	// Anchor is the startup anchor check, when a counter is configured.
	Anchor *AnchorCheck
}

// ErrShorterThanCheckpoint is returned by Open when <dir>/checkpoint covers
// more records than the log holds: sealed records are gone (cut by a repair
// that should not have happened, or removed by someone). The sealer refuses
// to append rather than continue a log that lost sealed records.
var ErrShorterThanCheckpoint = errors.New("ledger: the log holds fewer records than its checkpoint file covers")

// ErrTailInvalid is returned by Open when the last segment does not verify:
// the sealer refuses to append to a log whose tail it cannot vouch for.
var ErrTailInvalid = errors.New("ledger: the log's tail does not verify")

// Open opens the log in cfg.Dir for appending, creating it if the directory
// holds no segment. It recovers a torn tail (storage keeps the torn bytes
// aside) and verifies the last segment before anything is appended.
func Open(cfg Config) (*Ledger, *OpenInfo, error) {
	if cfg.Signer == nil {
		return nil, nil, errors.New("ledger: no signer configured")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.CheckpointFileInterval <= 0 {
		cfg.CheckpointFileInterval = time.Second
	}
	if cfg.KeyName == "" {
		cfg.KeyName = cfg.Signer.Public().Name
		if cfg.KeyName == "" {
			cfg.KeyName = signer.DefaultKeyName
		}
	}
	segs, err := storage.ListSegments(cfg.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("ledger: %w", err)
	}
	if len(segs) == 0 {
		return create(cfg)
	}
	opts := storage.Options{SegmentSize: cfg.SegmentSize, Now: cfg.Now}
	store, rec, err := storage.Open(cfg.Dir, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: %w", err)
	}
	l := &Ledger{cfg: cfg, store: store}
	if err := l.loadTail(); err != nil {
		store.Close()
		return nil, nil, err
	}
	if err := l.checkAgainstCheckpointFile(); err != nil {
		store.Close()
		return nil, nil, err
	}
	if err := l.checkSigningKey(); err != nil {
		store.Close()
		return nil, nil, err
	}
	info := &OpenInfo{Recovery: rec, NextSeq: l.nextSeq, Unsealed: l.Unsealed()}
	if cfg.Counter != nil {
		chk, err := l.checkAnchor(context.Background(), false)
		if err != nil {
			store.Close()
			return nil, nil, err
		}
		info.Anchor = chk
	}
	return l, info, nil
}

func create(cfg Config) (*Ledger, *OpenInfo, error) {
	var id chain.LogID
	if _, err := io.ReadFull(cfg.Rand, id[:]); err != nil {
		return nil, nil, fmt.Errorf("ledger: log id: %w", err)
	}
	l := &Ledger{cfg: cfg, logID: id, origin: chain.Origin(id), tree: chain.NewTree()}
	genesis := chain.Record{Kind: chain.KindSegmentStart, Seq: 0, TimeNano: l.stamp(cfg.Now()), LogID: id}
	enc, err := genesis.Encode(nil)
	if err != nil {
		return nil, nil, err
	}
	store, err := storage.Create(cfg.Dir, storage.Options{SegmentSize: cfg.SegmentSize, Now: cfg.Now}, 0, enc)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: %w", err)
	}
	l.store = store
	l.advance(&genesis)
	info := &OpenInfo{Created: true, NextSeq: l.nextSeq}
	if cfg.Counter != nil {
		chk, err := l.checkAnchor(context.Background(), true)
		if err != nil {
			store.Close()
			return nil, nil, err
		}
		info.Anchor = chk
	}
	return l, info, nil
}

// loadTail reads and verifies the current segment: its segment_start record,
// every record's hash, chain link and sequence number, and every checkpoint's
// tree size, head and root. It leaves the ledger positioned after the last
// record.
func (l *Ledger) loadTail() error {
	name := l.store.Segment()
	r, err := storage.OpenSegment(filepath.Join(l.cfg.Dir, name), true)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer r.Close()
	hasher := chain.NewHasher()
	first := true
	for {
		payload, off, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrTailInvalid, err)
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%w: segment %s offset %d: %s", ErrTailInvalid, name, off, fmt.Sprintf(format, args...))
		}
		rec, err := chain.Decode(payload)
		if err != nil {
			return fail("%v", err)
		}
		if !hasher.Check(payload) {
			return fail("record %d: hash mismatch", rec.Seq)
		}
		isFirst := first
		if first {
			if rec.Kind != chain.KindSegmentStart {
				return fail("first record is a %v, want segment_start", rec.Kind)
			}
			tree, err := chain.TreeFromState(rec.Seq, rec.TreeState)
			if err != nil {
				return fail("%v", err)
			}
			l.logID, l.origin, l.tree = rec.LogID, chain.Origin(rec.LogID), tree
			l.nextSeq, l.head = rec.Seq, rec.PrevHash
			l.sealedTo = rec.Seq // what came before is sealed by the previous segment's last checkpoint
			first = false
		}
		if rec.Seq != l.nextSeq {
			return fail("sequence %d, want %d", rec.Seq, l.nextSeq)
		}
		if rec.PrevHash != l.head {
			return fail("record %d: prev_hash does not link to record %d", rec.Seq, rec.Seq-1)
		}
		switch rec.Kind {
		case chain.KindSegmentStart:
			if !isFirst {
				return fail("record %d: segment_start record inside a segment", rec.Seq)
			}
		case chain.KindCheckpoint:
			cp, err := parseNoteText(rec.Checkpoint)
			if err != nil {
				return fail("record %d: %v", rec.Seq, err)
			}
			if cp.Size != rec.Seq || cp.Head != l.head || cp.Root != l.tree.Root() || cp.Origin != l.origin {
				return fail("record %d: checkpoint does not match the records before it", rec.Seq)
			}
			l.lastCheckpoint = cp
			l.sealedTo = rec.Seq + 1
			l.tailNote = bytes.Clone(rec.Checkpoint)
			l.noteAnchorRecord(&rec, cp)
			for i := range l.tailIntroduced {
				l.tailIntroduced[i].endorsed = true // covered by this checkpoint
			}
		case chain.KindEvent, chain.KindSealerEvent:
			if !rec.CheckAuditID(l.logID) {
				return fail("record %d: audit_id does not match", rec.Seq)
			}
			if string(rec.Type) == event.TypeAnchorState {
				l.noteAnchorRecord(&rec, nil)
			}
			if string(rec.Type) == event.TypeKeyIntroduced {
				if id, ok := introducedKeyID(rec.Event); ok {
					l.tailIntroduced = append(l.tailIntroduced, introduction{keyID: id})
				}
			}
		}
		l.advance(&rec)
	}
	if first {
		return fmt.Errorf("%w: segment %s holds no record", ErrTailInvalid, name)
	}
	return nil
}

// introduction is an audit.key_introduced record seen in the tail.
type introduction struct {
	keyID    string
	endorsed bool // a later checkpoint covers it
}

// ErrKeyNotIntroduced is returned by Open when the configured signing key
// did not sign the log's last checkpoint and no checkpoint-covered
// audit.key_introduced record introduced it: an auditor following the key
// history would reject every checkpoint it signs. Rotate with IntroduceKey
// (audit-sealer keys rotate), or set Config.AcceptNewKey: Open then records
// an unendorsed audit.key_introduced, and auditors must be given the new key
// out of band.
var ErrKeyNotIntroduced = errors.New("ledger: the signing key was never introduced in this log")

// checkSigningKey makes sure checkpoints signed with the configured key will
// verify for an auditor who follows the log's key history.
func (l *Ledger) checkSigningKey() error {
	if l.tailNote == nil {
		return nil // no checkpoint in the last segment: nothing to compare with
	}
	pub := l.cfg.Signer.Public()
	anyName := pub
	anyName.Name = "" // the key decides, whatever name it signed under
	if _, err := chain.OpenCheckpoint(l.tailNote, signer.Verifiers{anyName}); err == nil {
		return nil
	}
	for _, in := range l.tailIntroduced {
		if in.keyID == pub.ID() && in.endorsed {
			return nil
		}
	}
	if !l.cfg.AcceptNewKey {
		return fmt.Errorf("%w: key %s did not sign the last checkpoint; rotate keys with the previous key (audit-sealer keys rotate), or accept the new key explicitly", ErrKeyNotIntroduced, pub.ID())
	}
	// The operator accepts a key the previous key cannot endorse (it is
	// lost). Say so in the chain; auditors must get this key out of band.
	ev := &event.KeyIntroduced{Timestamp: l.cfg.Now().UTC(), KeyID: pub.ID(), KeyName: l.cfg.KeyName,
		Algorithm: event.Algorithm(pub.Algorithm), KeyKind: event.KeyKind(l.cfg.Signer.Kind()),
		PublicKey: base64.StdEncoding.EncodeToString(pub.Raw()), Reason: "accepted by the operator without endorsement by the previous key"}
	_, err := l.AppendSealerEvent(ev)
	return err
}

// introducedKeyID returns the key_id of an audit.key_introduced event body.
func introducedKeyID(body []byte) (string, bool) {
	ev, err := event.Decode(body, event.DecodeOptions{AllowSealerEvents: true, Now: time.Now().Add(100 * 365 * 24 * time.Hour)})
	if err != nil {
		return "", false
	}
	ki, ok := ev.(*event.KeyIntroduced)
	if !ok {
		return "", false
	}
	return ki.KeyID, true
}

// checkAgainstCheckpointFile compares the log with <dir>/checkpoint, which
// the ledger writes only after the records it covers are durable: the file
// can lag the log but never lead it. The file's signature is not checked
// here (the offline verifier does); only its claim of size and origin is.
func (l *Ledger) checkAgainstCheckpointFile() error {
	data, err := os.ReadFile(filepath.Join(l.cfg.Dir, CheckpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	cp, err := parseNoteText(data)
	if err != nil {
		return fmt.Errorf("ledger: %s: %w", CheckpointFile, err)
	}
	if cp.Origin != l.origin {
		return fmt.Errorf("ledger: %s belongs to log %q, not %q", CheckpointFile, cp.Origin, l.origin)
	}
	if cp.Size > l.nextSeq {
		return fmt.Errorf("%w: the checkpoint file covers %d records, the log holds %d; refusing to continue (inspect the *.broken files and the segments)",
			ErrShorterThanCheckpoint, cp.Size, l.nextSeq)
	}
	return nil
}

// advance moves the chain state past rec, whose Hash is set.
func (l *Ledger) advance(rec *chain.Record) {
	l.head = rec.Hash
	l.tree.Append(rec.Hash)
	l.nextSeq = rec.Seq + 1
	if rec.TimeNano > l.lastNs {
		l.lastNs = rec.TimeNano
	}
}

// stamp returns t as record time, never earlier than the previous record's
// time, so that record times never go backwards even if the clock does.
func (l *Ledger) stamp(t time.Time) int64 {
	ns := t.UnixNano()
	if ns < l.lastNs {
		ns = l.lastNs
	}
	return ns
}

// LogID returns the log's ID.
func (l *Ledger) LogID() chain.LogID { return l.logID }

// NextSeq returns the sequence number the next record will get.
func (l *Ledger) NextSeq() uint64 { return l.nextSeq }

// Head returns the hash of the last record.
func (l *Ledger) Head() chain.Hash { return l.head }

// Unsealed returns how many records no checkpoint covers yet.
func (l *Ledger) Unsealed() uint64 { return l.nextSeq - l.sealedTo }

// LastCheckpoint returns the last checkpoint in the log, or nil.
func (l *Ledger) LastCheckpoint() *chain.Checkpoint { return l.lastCheckpoint }

// Err returns the error that stopped the ledger, if any. After a failed
// write or sync nothing more is appended (fail closed).
func (l *Ledger) Err() error { return l.failed }

func (l *Ledger) fail(err error) error {
	if l.failed == nil {
		l.failed = err
	}
	return err
}

// Append adds an event record with the given service identity, event type
// and canonical event JSON (package event's Encode), received at t. It is
// buffered: it is durable only after Sync. It returns the record's sequence
// number and audit_id.
func (l *Ledger) Append(kind chain.Kind, service, eventType string, body []byte, t time.Time) (uint64, string, error) {
	if l.failed != nil {
		return 0, "", l.failed
	}
	if kind != chain.KindEvent && kind != chain.KindSealerEvent {
		return 0, "", fmt.Errorf("ledger: cannot append a %v record", kind)
	}
	auditID := chain.AuditID(l.logID, l.nextSeq)
	rec := chain.Record{Kind: kind, Seq: l.nextSeq, TimeNano: l.stamp(t), PrevHash: l.head,
		Service: []byte(service), AuditID: []byte(auditID), Type: []byte(eventType), Event: body}
	if err := l.appendRecord(&rec); err != nil {
		return 0, "", err
	}
	return rec.Seq, auditID, nil
}

// AppendSealerEvent records one of the sealer's own events (an audit.* type).
func (l *Ledger) AppendSealerEvent(ev event.Event) (uint64, error) {
	body, err := event.Encode(ev)
	if err != nil {
		return 0, fmt.Errorf("ledger: sealer event: %w", err)
	}
	seq, _, err := l.Append(chain.KindSealerEvent, chain.SealerService, ev.EventType(), body, l.cfg.Now())
	return seq, err
}

func (l *Ledger) appendRecord(rec *chain.Record) error {
	var err error
	l.buf, err = rec.Encode(l.buf[:0])
	if err != nil {
		return err
	}
	if err := l.store.Append(l.buf); err != nil {
		return l.fail(fmt.Errorf("ledger: %w", err))
	}
	l.advance(rec)
	return nil
}

// Sync makes every appended record durable (one write and one fdatasync for
// all of them).
func (l *Ledger) Sync() error {
	if l.failed != nil {
		return l.failed
	}
	if err := l.store.Sync(); err != nil {
		return l.fail(fmt.Errorf("ledger: %w", err))
	}
	return nil
}

// Seal signs a checkpoint of every record so far, appends it as a record and
// syncs: one fdatasync makes the checkpoint and every record appended before
// it durable. It then refreshes <dir>/checkpoint, at most once per
// CheckpointFileInterval (the copy in the log is authoritative; the file is
// for operators and auditors, and Close and rotation always refresh it). If
// signing fails (for example the HSM is unavailable) nothing is appended and
// the records stay as they were; the caller syncs them and retries later.
func (l *Ledger) Seal() (*chain.Checkpoint, error) { return l.seal(false) }

// SealThen is Seal, but once the checkpoint is signed and appended, and
// before the fdatasync that makes it durable, it calls more, which may
// Append records that arrived while the signer worked. That one fdatasync
// makes them durable too, so their writer need not wait for a round of its
// own; the checkpoint does not cover them (it covers what came before it),
// and Unsealed counts them. more is not called if signing fails; a nil
// more makes SealThen Seal.
func (l *Ledger) SealThen(more func()) (*chain.Checkpoint, error) {
	return l.sealWith(false, nil, more)
}

func (l *Ledger) seal(forceFile bool) (*chain.Checkpoint, error) {
	return l.sealWith(forceFile, nil, nil)
}

// sealWith seals, putting anchor (when not nil) into the checkpoint's
// anchor line and calling more (when not nil) between appending the
// checkpoint and syncing.
func (l *Ledger) sealWith(forceFile bool, anchor *uint64, more func()) (*chain.Checkpoint, error) {
	if l.failed != nil {
		return nil, l.failed
	}
	now := l.stamp(l.cfg.Now())
	pub := l.cfg.Signer.Public()
	cp := &chain.Checkpoint{Origin: l.origin, Size: l.nextSeq, Root: l.tree.Root(), Head: l.head,
		Time: time.Unix(0, now).UTC(), SignerKind: l.cfg.Signer.Kind(), Algorithm: pub.Algorithm, Dev: l.cfg.Dev}
	if anchor != nil {
		v := *anchor
		cp.Anchor, cp.AnchorIndex = &v, l.cfg.AnchorIndex
	}
	signed, err := chain.SignCheckpoint(cp, l.cfg.Signer, l.cfg.KeyName)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	rec := chain.Record{Kind: chain.KindCheckpoint, Seq: l.nextSeq, TimeNano: now, PrevHash: l.head, Checkpoint: signed}
	if err := l.appendRecord(&rec); err != nil {
		return nil, err
	}
	if more != nil {
		more()
	}
	if err := l.Sync(); err != nil {
		return nil, err
	}
	l.lastCheckpoint = cp
	l.sealedTo = rec.Seq + 1
	l.pendingFile = signed
	if anchor != nil {
		v := *anchor
		l.lastAnchor, l.pendingIntent, l.lastAnchorTime = &v, nil, time.Now()
		l.anchorsMade++
	}
	if forceFile || time.Since(l.fileWritten) >= l.cfg.CheckpointFileInterval {
		if err := l.writeCheckpointFile(); err != nil {
			return nil, err
		}
	}
	return cp, nil
}

// writeCheckpointFile replaces <dir>/checkpoint with the last checkpoint.
func (l *Ledger) writeCheckpointFile() error {
	if l.pendingFile == nil {
		return nil
	}
	if err := writeFileAtomic(filepath.Join(l.cfg.Dir, CheckpointFile), l.pendingFile); err != nil {
		return l.fail(fmt.Errorf("ledger: %w", err))
	}
	l.pendingFile, l.fileWritten = nil, time.Now()
	return nil
}

// IntroduceKey hands checkpoint signing over to next, in a way an offline
// verifier can follow from the first key it trusts: it records
// audit.key_introduced with next's public key, seals that record with the
// current key (the endorsement), and from then on signs with next.
func (l *Ledger) IntroduceKey(next signer.Signer, reason string) (*chain.Checkpoint, error) {
	if l.failed != nil {
		return nil, l.failed
	}
	pub := next.Public()
	if pub.Equal(l.cfg.Signer.Public()) {
		return nil, errors.New("ledger: the new key is the key in use")
	}
	ev := &event.KeyIntroduced{Timestamp: l.cfg.Now().UTC(), KeyID: pub.ID(), KeyName: l.cfg.KeyName,
		Algorithm: event.Algorithm(pub.Algorithm), KeyKind: event.KeyKind(next.Kind()),
		PublicKey: base64.StdEncoding.EncodeToString(pub.Raw()), Reason: reason}
	if _, err := l.AppendSealerEvent(ev); err != nil {
		return nil, err
	}
	cp, err := l.seal(true)
	if err != nil {
		return nil, err
	}
	l.cfg.Signer = next
	return cp, nil
}

// RotateIfDue closes the current segment when it is full or from an earlier
// UTC day: it seals the head (so every closed segment ends with a
// checkpoint), then starts the next segment with a segment_start record that
// carries the tree state. It reports whether it rotated.
func (l *Ledger) RotateIfDue() (bool, error) {
	if l.failed != nil {
		return false, l.failed
	}
	if !l.store.NeedsRotation(l.cfg.Now()) {
		return false, nil
	}
	// Every closed segment ends in a checkpoint, anchored when a counter is
	// configured (an anchor failure still closes the segment, sealed).
	if _, err := l.sealForClose(context.Background()); err != nil {
		return false, err
	}
	start := chain.Record{Kind: chain.KindSegmentStart, Seq: l.nextSeq, TimeNano: l.stamp(l.cfg.Now()),
		PrevHash: l.head, LogID: l.logID, TreeState: l.tree.State()}
	enc, err := start.Encode(nil)
	if err != nil {
		return false, err
	}
	if err := l.store.Rotate(start.Seq, enc); err != nil {
		return false, l.fail(fmt.Errorf("ledger: %w", err))
	}
	l.advance(&start)
	return true, nil
}

// Durable returns the current segment and the offset up to which it is on
// disk (see storage.Log.Durable).
func (l *Ledger) Durable() (segment string, offset int64) { return l.store.Durable() }

// Abandon releases the data directory without sealing or syncing: for a
// ledger whose storage failed (Err is set), before storage.DiscardUndurable
// and a new Open.
func (l *Ledger) Abandon() error { return l.store.Close() }

// Close seals what is unsealed, syncs and releases the data directory.
func (l *Ledger) Close() error {
	var err error
	if l.failed == nil && (l.Unsealed() > 0 || l.anchorDue()) {
		_, err = l.sealForClose(context.Background())
	} else if l.failed == nil {
		err = l.writeCheckpointFile()
	}
	return errors.Join(err, l.store.Close())
}

// parseNoteText parses the text part of a stored signed checkpoint without
// verifying its signature (the offline verifier does that; the writer only
// needs the head it committed to).
func parseNoteText(signed []byte) (*chain.Checkpoint, error) {
	text, _, ok := cutNote(signed)
	if !ok {
		return nil, fmt.Errorf("%w: no signature block", chain.ErrBadCheckpoint)
	}
	cp, err := chain.ParseCheckpointText(text)
	if err != nil {
		return nil, err
	}
	return &cp, nil
}

// cutNote splits a signed note at its last blank line.
func cutNote(msg []byte) (text string, sigs string, ok bool) {
	s := string(msg)
	for i := len(s) - 2; i >= 0; i-- {
		if s[i] == '\n' && s[i+1] == '\n' {
			return s[:i+1], s[i+2:], true
		}
	}
	return "", "", false
}
