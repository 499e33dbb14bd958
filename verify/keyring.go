package verify

import (
	"errors"
	"fmt"
	"strings"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/signer"
)

// Errors of KeyRing, by what failed.
var (
	// ErrEndorsement: an endorsement signed by a trusted key does not prove
	// what it claims (its record, proof or checkpoint is wrong).
	ErrEndorsement = errors.New("verify: invalid key endorsement")
	// ErrRetiredKey: a checkpoint is signed by a key after it endorsed its
	// successor (FORMAT.md §5.1, §5.5).
	ErrRetiredKey = errors.New("verify: checkpoint signed by a retired key")
)

// KeyRing is what an auditor trusts while following key endorsements
// offline (FORMAT.md §5.5): the keys they gave, the keys those endorsed,
// and, for each key that endorsed its successor, the checkpoint after which
// it signs nothing. A proof bundle made after key rotations carries the
// endorsements that lead from the log's first key to the key that signed
// it, so that it checks with any key of that history.
type KeyRing struct {
	trusted signer.Verifiers
	retired map[string]retirement
	// known are the keys the endorsements introduced, trusted or not: an
	// error names a checkpoint's signer by key id when one of them signed.
	known signer.Verifiers
}

// retirement is where a key stopped signing: the checkpoint (size and
// root) in which it endorsed next.
type retirement struct {
	size uint64
	root chain.Hash
	next string // the key id it endorsed
}

// NewKeyRing returns a ring that trusts keys.
func NewKeyRing(keys signer.Verifiers) *KeyRing {
	return &KeyRing{trusted: append(signer.Verifiers(nil), keys...), known: append(signer.Verifiers(nil), keys...)}
}

// Keys returns the keys the ring trusts (some of them perhaps retired).
func (r *KeyRing) Keys() signer.Verifiers { return append(signer.Verifiers(nil), r.trusted...) }

// clone returns a copy that can follow more endorsements without changing r.
func (r *KeyRing) clone() *KeyRing {
	c := &KeyRing{trusted: r.Keys(), known: append(signer.Verifiers(nil), r.known...), retired: make(map[string]retirement, len(r.retired))}
	for k, v := range r.retired {
		c.retired[k] = v
	}
	return c
}

// Follow checks endorsements of the log with the given origin, in log
// order, and trusts each key that a trusted key endorsed. An endorsement
// whose checkpoint no trusted key signed is skipped: the chain goes on
// from any key the auditor trusts. One that a trusted key signed must
// prove what it says: its record is an authentic audit.key_introduced
// sealer event whose key_id matches its public key, included at its seq
// in the checkpoint's tree (ErrEndorsement otherwise). The endorsing key
// is retired at that checkpoint; a key that signs its own introduction
// (one the operator accepted without endorsement, FORMAT.md §5.1) is
// trusted only if the auditor gave it, and retires every other key.
func (r *KeyRing) Follow(origin string, endorsements []chain.Endorsement) error {
	var prev *uint64
	for i, e := range endorsements {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%w %d: %s", ErrEndorsement, i, fmt.Sprintf(format, args...))
		}
		rec, err := chain.Decode(e.Record)
		if err != nil {
			return fail("record: %v", err)
		}
		if !chain.NewHasher().Check(e.Record) {
			return fail("record %d does not match its hash", rec.Seq)
		}
		if rec.Kind != chain.KindSealerEvent || string(rec.Type) != event.TypeKeyIntroduced {
			return fail("record %d is a %s %q, not an %s sealer event", rec.Seq, rec.Kind, rec.Type, event.TypeKeyIntroduced)
		}
		if prev != nil && rec.Seq <= *prev {
			return fail("record %d does not follow record %d (endorsements are in log order)", rec.Seq, *prev)
		}
		prev = &rec.Seq
		key, err := introducedKey(rec.Event)
		if err != nil {
			return fail("record %d: %v", rec.Seq, err)
		}
		if !r.known.Contains(key) {
			r.known = append(r.known, key)
		}
		cp, err := r.open(e.Checkpoint)
		if errors.Is(err, chain.ErrUnknownKey) {
			continue // not signed by a key trusted so far
		}
		if err != nil {
			return fmt.Errorf("%w %d: %w", ErrEndorsement, i, err)
		}
		if cp.Origin != origin {
			return fail("checkpoint of log %s, not %s", cp.Origin, origin)
		}
		if err := r.checkRetired(cp); err != nil {
			return fmt.Errorf("%w %d: %w", ErrEndorsement, i, err)
		}
		if rec.Seq >= cp.Size {
			return fail("record %d is not covered by the checkpoint of size %d", rec.Seq, cp.Size)
		}
		if err := chain.VerifyInclusion(rec.Seq, cp.Size, rec.Hash, e.Proof, cp.Root); err != nil {
			return fail("record %d of key %s is not in the tree of the checkpoint of size %d signed by key %s: %v", rec.Seq, key.ID(), cp.Size, cp.Key.ID(), err)
		}
		switch {
		case key.Equal(cp.Key):
			for _, k := range r.trusted {
				if !k.Equal(key) {
					r.retire(k, cp, key)
				}
			}
		case !r.trusted.Contains(key):
			r.trusted = append(r.trusted, key)
			r.retire(cp.Key, cp, key)
		}
	}
	return nil
}

// retire notes that k signs no checkpoint after cp, in which it endorsed
// next; a key retires once, at its first endorsement.
func (r *KeyRing) retire(k signer.PublicKey, cp *chain.SignedCheckpoint, next signer.PublicKey) {
	if r.retired == nil {
		r.retired = map[string]retirement{}
	}
	if _, ok := r.retired[k.ID()]; !ok {
		r.retired[k.ID()] = retirement{size: cp.Size, root: cp.Root, next: next.ID()}
	}
}

// checkRetired fails a checkpoint by a retired key that goes beyond the
// checkpoint in which the key endorsed its successor: larger, or of the
// same size with another root.
func (r *KeyRing) checkRetired(cp *chain.SignedCheckpoint) error {
	ret, ok := r.retired[cp.Key.ID()]
	if !ok || cp.Size < ret.size || (cp.Size == ret.size && cp.Root == ret.root) {
		return nil
	}
	return fmt.Errorf("%w: the checkpoint of size %d is signed by key %s, which endorsed key %s in the checkpoint of size %d and may sign nothing after it",
		ErrRetiredKey, cp.Size, cp.Key.ID(), ret.next, ret.size)
}

// Open verifies a signed checkpoint with the ring: signed by a trusted key
// that it does not retire. A checkpoint no trusted key signed fails with
// chain.ErrUnknownKey, naming its signer by key id when an endorsement
// introduced that key.
func (r *KeyRing) Open(note []byte) (*chain.SignedCheckpoint, error) {
	cp, err := r.open(note)
	if errors.Is(err, chain.ErrUnknownKey) {
		return nil, r.unknownSigner(note)
	}
	if err != nil {
		return nil, err
	}
	if err := r.checkRetired(cp); err != nil {
		return nil, err
	}
	return cp, nil
}

// open verifies a signed checkpoint with the trusted keys, naming the key
// of a signature that does not verify by its key id.
func (r *KeyRing) open(note []byte) (*chain.SignedCheckpoint, error) {
	cp, err := chain.OpenCheckpoint(note, r.trusted)
	if errors.Is(err, chain.ErrBadSignature) {
		if _, name, hash, perr := chain.PeekCheckpoint(note); perr == nil {
			if k, ok := r.trusted.Lookup(name, hash); ok {
				return nil, fmt.Errorf("%w: the signature of key %s", chain.ErrBadSignature, k.ID())
			}
		}
	}
	return cp, err
}

// unknownSigner describes a checkpoint that no trusted key signed, by key
// ids, never by signed-note key hash.
func (r *KeyRing) unknownSigner(note []byte) error {
	ids := make([]string, len(r.trusted))
	for i, k := range r.trusted {
		ids[i] = k.ID()
	}
	trusted := "you trust key " + strings.Join(ids, ", ")
	if _, name, hash, err := chain.PeekCheckpoint(note); err == nil {
		if k, ok := r.known.Lookup(name, hash); ok {
			return fmt.Errorf("%w: signed by key %s, which no key you trust endorsed (%s)", chain.ErrUnknownKey, k.ID(), trusted)
		}
	}
	return fmt.Errorf("%w: signed by %s, which neither you nor the bundle's endorsements name (%s)", chain.ErrUnknownKey, DescribeSigner(note), trusted)
}

// extended returns a copy of r extended with the endorsements that travel
// with a proof bundle whose checkpoint is note (they must be of its log).
func (r *KeyRing) extended(note []byte, endorsements []chain.Endorsement) (*KeyRing, error) {
	origin, err := originOf(note)
	if err != nil {
		return nil, err
	}
	ring := r.clone()
	if err := ring.Follow(origin, endorsements); err != nil {
		return nil, err
	}
	return ring, nil
}

// originOf returns the origin a signed checkpoint note names, unverified:
// the endorsements that lead to it must be of the same log.
func originOf(note []byte) (string, error) {
	c, _, _, err := chain.PeekCheckpoint(note)
	if err != nil {
		return "", err
	}
	return c.Origin, nil
}
