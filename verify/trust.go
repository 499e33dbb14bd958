package verify

import (
	"fmt"
	"strings"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/signer"
)

// untrusted judges a checkpoint (what names it: "checkpoint record N" or
// the checkpoint file) that no key trusted at its point of the log opens
// (FORMAT.md §7, "Keys you did not give"):
//
//   - signed by a key the log introduced (audit.key_introduced) that no
//     trusted key endorsed: the verifier cannot tell an operator's
//     replacement of a lost key from a forger's, so the log is
//     unverifiable with these keys (untrusted_key), not tampered;
//   - the log's first checkpoint, by a key not given: the auditor holds
//     the wrong key, or the whole log is someone else's; either way
//     nothing the auditor trusts speaks for it (untrusted_key);
//   - otherwise, after checkpoints of trusted keys, a key neither given
//     nor introduced: no rotation writes that, so it is tampering
//     (unknown_key).
//
// The key is named by its key ID (signer.PublicKey.ID), never by the
// signed-note key hash of its signature line.
func (v *run) untrusted(note []byte, segment string, offset int64, seq *uint64, what string) *Failure {
	fail := func(reason Reason, format string, args ...any) *Failure {
		return &Failure{Reason: reason, Segment: segment, Offset: offset, Seq: seq, Detail: fmt.Sprintf(format, args...)}
	}
	for _, p := range v.pending {
		if _, err := chain.OpenCheckpoint(note, signer.Verifiers{p.key}); err == nil {
			if u := v.ev.key(p.key); u.IntroducedSeq == nil {
				introduced := p.seq
				u.IntroducedSeq = &introduced
			}
			return fail(ReasonUntrustedKey, "%s is signed by key %s, which the log introduced at record %d without an endorsement by a key you gave: if the operator gave you that key (a lost key replaced), verify with it too (--key); otherwise nothing you trust vouches for the records after record %d",
				what, p.key.ID(), p.seq, p.seq)
		}
	}
	signedBy := describeSigner(note, v.started)
	if v.lastCP == nil {
		return fail(ReasonUntrustedKey, "%s, the log's first checkpoint, is signed by %s, not by a key you gave: give the key the log started with (or every key since)", what, signedBy)
	}
	return fail(ReasonUnknownKey, "%s is signed by %s, neither a key you gave nor one the log introduced, after checkpoints of keys you trust (the last at record %d): no key rotation writes that", what, signedBy, v.lastCPSeq)
}

// describeSigner names the key that signed a checkpoint no trusted key
// opens, by key ID as far as the log tells it: the key the latest
// audit.sealer_started before it names (for ECDSA P-256 only if the
// signature line's key hash, the first 4 bytes of that key's ID, agrees);
// else, for ECDSA P-256, the first 4 bytes of its key ID, which the
// signature line carries; else the key's algorithm and name.
func describeSigner(note []byte, started *keyEvent) string {
	text, name, hash, err := chain.PeekCheckpoint(note)
	if err != nil {
		return "a key the log does not identify"
	}
	prefix := fmt.Sprintf("%08x", hash)
	ecdsa := text.Algorithm == signer.ECDSAP256
	if st := started; st != nil {
		if ss, ok := st.sealer.(*event.SealerStarted); ok && string(ss.Algorithm) == string(text.Algorithm) && (!ecdsa || strings.HasPrefix(ss.KeyID, prefix)) {
			return fmt.Sprintf("key %s (the key the log's audit.sealer_started at record %d names)", ss.KeyID, st.seq)
		}
	}
	if ecdsa {
		return fmt.Sprintf("the %s key whose key ID starts %s", text.Algorithm, prefix)
	}
	return fmt.Sprintf("an %s key whose key ID nothing here carries (signature line name %q)", text.Algorithm, name)
}

// DescribeSigner names the key that signed a checkpoint note that no key
// given opens, by key ID as far as the note tells it (for ECDSA P-256, the
// first 4 bytes of the key ID are its signature line's key hash), for a
// "cannot verify" message.
func DescribeSigner(note []byte) string { return describeSigner(note, nil) }
