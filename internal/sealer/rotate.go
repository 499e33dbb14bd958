package sealer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/wire"
	"github.com/audit-sealer/audit-sealer/signer"
)

// Online key rotation (the rotate_key op): an admin ([admin] uids and
// groups) asks the running sealer to hand checkpoint signing to another
// key, and the writer does what `audit-sealer keys rotate` does to a
// stopped sealer's log (ledger.IntroduceKey): it records
// audit.key_introduced with the new public key, seals that record with
// the current key (the endorsement an offline verifier follows, after
// which the current key signs nothing more), and seals once more with the
// new key. Emitters are not refused meanwhile: their events wait in the
// queue for the few signatures it takes.

// KeyOpener opens the signer of the key a rotation hands over to: the key
// labelled label on the sealer's token, or with --dev a new development
// key (label is then ""). When the log has introduced the key, commit (if
// not nil) makes the switch last beyond this run (with --dev: the new key
// file replaces the old one, which is wiped); if the rotation fails,
// abort (if not nil) undoes what the opener did. An error that wraps
// ErrBadKey is the asker's fault (no such key, a key that cannot sign for
// this log); any other means the token is unavailable now.
type KeyOpener func(label string) (next signer.Signer, commit func() error, abort func(), err error)

// WithKeyRotation lets admins rotate the signing key while the sealer runs
// (the rotate_key op), opening the new key with open. Without it the op
// is refused.
func WithKeyRotation(open KeyOpener) Option { return func(o *options) { o.openKey = open } }

// ErrBadKey is wrapped by a KeyOpener's error when the key asked for does
// not exist or cannot sign for this log: the reply is bad_request.
var ErrBadKey = errors.New("sealer: no usable key")

// rotation is a key rotation handed to the writer (Sealer.rotating).
type rotation struct {
	next   signer.Signer
	commit func() error
	abort  func()
	reason string
	label  string
	uid    uint32
	// out is the reply's key object: the writer fills it in before it
	// answers the request, which publishes it to the connection.
	out *wire.KeyRotation
}

// currentSigner returns the key that signs checkpoints now.
func (s *Sealer) currentSigner() signer.Signer {
	s.signerMu.Lock()
	defer s.signerMu.Unlock()
	return s.signer
}

// handleRotateKey answers rotate_key: only admins may ask; the new key is
// opened here, on the connection's goroutine (a token login may take a
// moment), and the writer hands over to it (rotateKey). One rotation runs
// at a time.
func (s *Sealer) handleRotateKey(peer *Peer, id string, w *wire.Request) pending {
	if !s.settings().admin.allows(peer.UID, peer.GID, peer.Groups) {
		s.m.rotations.WithLabelValues("refused").Inc()
		s.log.Warn("refused a key rotation: the peer is not an admin ([admin] uids and groups)", "uid", peer.UID, "gid", peer.GID, "pid", peer.PID)
		return s.reject(id, wire.CodeNotAuthorized, "sealer: this peer may not rotate the key (it is not in [admin] uids or groups)", nil)
	}
	fail := func(code, msg string) pending {
		s.m.rotations.WithLabelValues("error").Inc()
		return s.reject(id, code, msg, nil)
	}
	switch {
	case s.openKey == nil:
		return fail(wire.CodeUnavailable, "sealer: this sealer cannot rotate its key while it runs; stop it and run audit-sealer keys rotate")
	case !s.cfg.Dev && w.KeyLabel == "":
		return fail(wire.CodeBadRequest, "sealer: rotate_key needs key_label: the label of the new key on the token (audit-sealer keys generate)")
	case s.cfg.Dev && w.KeyLabel != "":
		return fail(wire.CodeBadRequest, "sealer: a --dev sealer generates its new key itself: send rotate_key without key_label")
	}
	reason := w.Reason
	if reason == "" {
		reason = "rotation"
	}
	rot := &rotation{reason: reason, label: w.KeyLabel, uid: peer.UID}
	if !s.rotating.CompareAndSwap(nil, rot) {
		return fail(wire.CodeUnavailable, "sealer: a key rotation is in progress")
	}
	next, commit, abort, err := s.openKey(w.KeyLabel)
	if err != nil {
		s.rotating.Store(nil)
		s.log.Error("key rotation: cannot open the new key", "key_label", w.KeyLabel, "error", err)
		code := wire.CodeUnavailable
		if errors.Is(err, ErrBadKey) {
			code = wire.CodeBadRequest
		}
		return fail(code, fmt.Sprintf("sealer: key rotation: %v", err))
	}
	rot.next, rot.commit, rot.abort = next, commit, abort
	cur := s.currentSigner().Public()
	if next.Public().Equal(cur) {
		s.rotating.Store(nil)
		if abort != nil {
			abort()
		}
		return fail(wire.CodeBadRequest, "sealer: key rotation: the new key is the key in use")
	}
	rot.out = &wire.KeyRotation{KeyID: next.Public().ID(), PreviousKeyID: cur.ID(), KeyLabel: w.KeyLabel}
	r := &request{kind: reqRotateKey, done: make(chan reply, 1)}
	if err := s.submit(r); err != nil {
		s.rotating.Store(nil)
		if abort != nil {
			abort()
		}
		s.m.rotations.WithLabelValues("error").Inc()
		return s.rejectErr(id, err)
	}
	return pending{req: r, id: id, result: &wire.Reply{ID: id, OK: true, Key: rot.out}}
}

// rotateKey is the writer's part of a rotation: it runs between group
// commits, with no checkpoint being signed, and answers r.
func (w *writer) rotateKey(r *request) {
	s := w.s
	rot := s.rotating.Load()
	err := w.handOver(rot)
	if err != nil {
		if rot.abort != nil {
			rot.abort()
		}
		s.m.rotations.WithLabelValues("error").Inc()
		s.log.Error("key rotation failed: the current key keeps signing", "key_label", rot.label, "error", err)
	} else {
		s.m.rotations.WithLabelValues("ok").Inc()
	}
	s.rotating.Store(nil)
	r.finish(reply{err: err})
}

// handOver introduces rot.next in the log and makes it the signer.
func (w *writer) handOver(rot *rotation) error {
	s := w.s
	if err := w.refusal(); err != nil {
		return err
	}
	// Nothing in flight: the group commit is synced, the signatures asked
	// for are back (appended if still wanted).
	w.settle()
	for w.inFlight > 0 {
		w.appendSigned(<-w.signed)
	}
	w.signing = nil
	l := s.ledger
	prev := s.currentSigner()
	// Before anything is introduced: a checkpoint by the current key
	// (which makes every record so far durable and shows that key signs
	// now), and a signature by the new one. A failure then changes
	// nothing.
	if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
		if l.Err() != nil {
			w.storageErr = s.noteStorageError(err)
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		s.noteSealError(err)
		return fmt.Errorf("%w: the current key cannot sign now: %v", ErrUnavailable, err)
	}
	w.durableSize, w.lastSeal, w.unsealedAt = w.checkpointSize(), time.Now(), time.Time{}
	probe := make([]byte, 32)
	rand.Read(probe)
	if _, err := rot.next.Sign(probe); err != nil {
		return fmt.Errorf("%w: the new key cannot sign: %v", ErrUnavailable, err)
	}
	introduced := l.NextSeq()
	cp, err := l.IntroduceKey(rot.next, rot.reason+fmt.Sprintf(" (online, asked for by uid %d)", rot.uid))
	endorsed := l.LastCheckpoint() != nil && l.LastCheckpoint().Size > introduced
	switch {
	case err != nil && !endorsed && l.Err() == nil && l.NextSeq() == introduced:
		return err // refused before anything was appended
	case err != nil && !endorsed && l.Err() == nil:
		// The current key failed to sign the endorsement: the
		// introduction is appended but not durable (everything before it
		// was synced above). Were it left, the current key's next
		// checkpoint would endorse it and then go on signing as a retired
		// key. So the log is failed: the storage recovery cuts what is
		// not durable, the introduction with it, and the current key goes
		// on as if nothing happened.
		w.storageErr = s.noteStorageError(l.Fail(fmt.Errorf("key rotation: the endorsement of the new key could not be signed: %w", err)))
		return fmt.Errorf("%w: the current key could not sign the endorsement: %v", ErrUnavailable, err)
	case err != nil && !endorsed:
		w.storageErr = s.noteStorageError(err)
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	// Endorsed: the new key signs from here on, even if its own first
	// checkpoint failed (sealing retries it).
	s.signerMu.Lock()
	s.signer = rot.next
	s.signerMu.Unlock()
	s.ledgerCfg.Signer = rot.next
	live := *s.settings()
	live.cfg.Signer.KeyLabel = rot.label
	s.live.Store(&live)
	s.setIdentity()
	w.durableSize, w.lastSeal = w.checkpointSize(), time.Now()
	rot.out.IntroducedSeq = introduced
	if cp != nil {
		rot.out.CheckpointSize = cp.Size
	}
	var warnings []string
	if err != nil {
		s.noteSealError(err)
		warnings = append(warnings, "the new key's first checkpoint failed and is retried: "+err.Error())
	} else {
		s.noteSealOK()
	}
	if rot.commit != nil {
		if cerr := rot.commit(); cerr != nil {
			warnings = append(warnings, "the log introduced the new key, but its key file could not be put in place: "+cerr.Error())
		}
	}
	if rot.label != "" {
		warnings = append(warnings, fmt.Sprintf("set key_label = %q in the configuration (AUDIT_SEALER_PKCS11_KEY_LABEL) before the next start: the sealer signs with it now", rot.label))
	}
	rot.out.Warning = strings.Join(warnings, "; ")
	s.log.Warn("signing key rotated while running: the new key signs from now on", "key_id", rot.out.KeyID, "previous_key_id", prev.Public().ID(),
		"key_label", rot.label, "introduced_seq", introduced, "checkpoint_size", rot.out.CheckpointSize, "asked_by_uid", rot.uid, "note", rot.out.Warning)
	return nil
}
