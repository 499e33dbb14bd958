package verify

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/evidence"
)

// The TPM identity a log records (audit.tpm_identity) and the attestation
// key whose evidence counts for it (FORMAT.md §5.4).

// EKChallenge is an auditor's credential challenge (package evidence) and
// what the auditor pins for it.
type EKChallenge struct {
	// Challenge is the challenge file the operator's TPM answered.
	Challenge *evidence.Challenge
	// Secret is the secret the auditor kept when it made the challenge.
	Secret []byte
	// Anchors are the CA certificates the auditor trusts for endorsement
	// key certificates (a TPM vendor's roots); Intermediates may link an
	// EK certificate to them (evidence.ParseCAFile).
	Anchors, Intermediates []*x509.Certificate
	// Now is the time certificates are checked at; zero means now.
	Now time.Time
}

// noteIdentity keeps an audit.tpm_identity record, and the ones that may
// still be the last authenticated one: records before authEnd are
// authenticated, so only the latest of those can matter. An identity whose
// AK differs from the one before it is an exception.
func (v *run) noteIdentity(ke keyEvent) {
	if n := len(v.identities); n > 0 {
		prev := v.identities[n-1].identity
		if prev.AKName != ke.identity.AKName {
			v.exception(ke, "tpm_identity_changed", fmt.Sprintf("the TPM identity changed: attestation key %s (counter index 0x%08x) after %s (0x%08x) at record %d; evidence from the old TPM no longer counts",
				ke.identity.AKName, ke.identity.NVIndex, prev.AKName, prev.NVIndex, v.identities[n-1].seq))
		}
	}
	kept := v.identities[:0]
	for i, id := range v.identities {
		if id.seq >= v.authEnd || i+1 == len(v.identities) || v.identities[i+1].seq >= v.authEnd {
			kept = append(kept, id)
		}
	}
	v.identities = append(kept, ke)
}

// lastIdentity returns the last authenticated audit.tpm_identity record
// (once authEnd is final), or nil.
func (v *run) lastIdentity() *keyEvent {
	for i := len(v.identities) - 1; i >= 0; i-- {
		if v.identities[i].seq < v.authEnd {
			return &v.identities[i]
		}
	}
	return nil
}

// checkAKPin checks the AK Name the auditor pinned against the TPM identity
// the log last recorded.
func (v *run) checkAKPin(id *keyEvent) *Failure {
	pin := v.opts.AKName
	if len(pin) == 0 {
		return nil
	}
	if id == nil {
		return &Failure{Reason: ReasonUnknownAK, Segment: v.segs[len(v.segs)-1].Name, Offset: -1,
			Detail: fmt.Sprintf("you pinned the attestation key %x, but the log records no TPM identity (audit.tpm_identity) that its keys authenticate", pin)}
	}
	if got := id.identity.AKName; got != hex.EncodeToString(pin) {
		seq := id.seq
		return &Failure{Reason: ReasonUnknownAK, Segment: id.segment, Offset: id.offset, Seq: &seq,
			Detail: fmt.Sprintf("the log's TPM identity (record %d) names the attestation key %s, not the one you pinned, %x", seq, got, pin)}
	}
	return nil
}

// checkEKChallenge checks that the evidence answers the auditor's
// credential challenge (FORMAT.md §5.4): its AK is the one the challenge
// was made for, its nonce the challenge's credential (which only the TPM
// holding the EK could recover, with that AK loaded), and the EK
// certificate chains to a CA the auditor pinned. Then the AK lives in the
// TPM the CA certified.
func (v *run) checkEKChallenge(e *evidence.Result, c *EKChallenge, sum *EvidenceSummary) *Failure {
	last := v.segs[len(v.segs)-1].Name
	fail := func(format string, args ...any) *Failure {
		return &Failure{Reason: ReasonUnknownAK, Segment: last, Offset: -1, Detail: fmt.Sprintf(format, args...)}
	}
	ch := c.Challenge
	if !bytes.Equal(ch.AKName, e.AKName) {
		return fail("the credential challenge was made for the attestation key %x, the evidence is by %x", ch.AKName, e.AKName)
	}
	if !bytes.Equal(e.Nonce, ch.Nonce(c.Secret)) {
		return fail("the evidence's nonce is not the credential of your challenge: the TPM holding the challenge's endorsement key did not answer it with that attestation key (or the challenge file was altered)")
	}
	cert, err := ch.Certificate()
	if err != nil {
		return fail("the challenge's EK certificate: %v", err)
	}
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	chain, err := evidence.VerifyEKCertificate(cert, c.Anchors, c.Intermediates, now)
	if err != nil {
		return fail("the attestation key is bound to the endorsement key of a certificate that no CA you pinned certifies: %v", err)
	}
	sum.EKCA = chain[len(chain)-1].Subject.String()
	return nil
}

// checkIdentity checks an audit.tpm_identity record: its ak_public must be
// an attestation key's public area (evidence.AKName) whose Name is ak_name.
func checkIdentity(e *event.TPMIdentity) error {
	pub, err := base64.StdEncoding.DecodeString(e.AKPublic)
	if err != nil {
		return fmt.Errorf("tpm_identity ak_public: %w", err)
	}
	name, err := evidence.AKName(pub)
	if err != nil {
		return fmt.Errorf("tpm_identity: %w", err)
	}
	if hex.EncodeToString(name) != e.AKName {
		return fmt.Errorf("tpm_identity ak_name %s is not the Name of its ak_public (%x)", e.AKName, name)
	}
	return nil
}
