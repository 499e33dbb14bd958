package tpm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/audit-sealer/audit-sealer/evidence"
)

// akTemplate is the attestation key: a primary ECC NIST P-256 key of the
// endorsement hierarchy that signs with ECDSA/SHA-256 and only signs what
// the TPM produced (restricted), never leaves the TPM (fixedTPM,
// fixedParent) and was generated inside it (sensitiveDataOrigin). It has
// an empty auth (userWithAuth, noDA). A primary key is derived from the
// hierarchy's seed, so the same TPM gives the same AK, with the same Name,
// every time, until the endorsement seed changes (which TPM2_Clear does not
// do). The endorsement hierarchy, not the owner's, because an owner-
// hierarchy AK makes the TPM obfuscate resetCount, restartCount and
// firmwareVersion in what it signs (notes pitfall 23).
var akTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
		Restricted:          true,
		SignEncrypt:         true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		Scheme: tpm2.TPMTECCScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
		},
		CurveID: tpm2.TPMECCNistP256,
		KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	}),
	Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
}

// Certify makes evidence of the counter's current value: it creates the
// attestation key (see the evidence package) in the endorsement hierarchy,
// authorized with Config.EndorsementAuth, has the TPM certify the counter's
// 8 bytes at offset 0 with TPM2_NV_Certify, with nonce (at most
// evidence.MaxNonceSize bytes; it may be empty) as qualifying data, flushes
// the key, and returns the evidence file: the JSON format of package
// evidence. The file is checked with evidence.Verify before it is returned.
// Transient TPM conditions are retried as in Read.
func Certify(ctx context.Context, c *Counter, nonce []byte) ([]byte, error) {
	if len(nonce) > evidence.MaxNonceSize {
		return nil, fmt.Errorf("tpm: certify: nonce is %d bytes, at most %d allowed", len(nonce), evidence.MaxNonceSize)
	}
	return c.certify(ctx, func(*tpm2.CreatePrimaryResponse) ([]byte, error) { return nonce, nil })
}

// CertifyChallenge answers an auditor's credential challenge (package
// evidence, NewChallenge): it creates the attestation key as Certify does
// and checks that it is the AK the challenge names (ErrWrongAK otherwise);
// creates the endorsement key from the TCG default template for the type of
// the key the challenge's EK certificate certifies (RSA 2048 or ECC P-256)
// and checks that it is that key (ErrEKMismatch otherwise); recovers the
// credential with TPM2_ActivateCredential, which the TPM performs only for
// the EK it holds and the object whose Name the credential was made for,
// loaded beside it; and certifies the counter with the credential as the
// nonce. The EK's policy is TPM2_PolicySecret on the endorsement hierarchy,
// authorized with Config.EndorsementAuth. Both keys are flushed. It returns
// the evidence file, which the auditor checks with the secret it kept.
func CertifyChallenge(ctx context.Context, c *Counter, ch *evidence.Challenge) ([]byte, error) {
	cert, err := ch.Certificate()
	if err != nil {
		return nil, fmt.Errorf("tpm: challenge: %w", err)
	}
	return c.certify(ctx, func(ak *tpm2.CreatePrimaryResponse) ([]byte, error) {
		if !bytes.Equal(ak.Name.Buffer, ch.AKName) {
			return nil, fmt.Errorf("tpm: %w: the challenge is for AK %x, this TPM's attestation key is %x", ErrWrongAK, ch.AKName, ak.Name.Buffer)
		}
		return c.activate(ctx, ak, cert.PublicKey, ch)
	})
}

// certify runs TPM2_NV_Certify of the counter by the attestation key with
// the nonce that nonceFor returns for that key.
func (c *Counter) certify(ctx context.Context, nonceFor func(ak *tpm2.CreatePrimaryResponse) ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("tpm: certify: %w", ErrClosed)
	}
	// Read the public area now, so that nv_public is the one certified.
	if err := c.refresh(ctx); err != nil {
		return nil, err
	}
	if !c.written {
		return nil, fmt.Errorf("tpm: certify counter 0x%08x: %w", uint32(c.index), ErrUninitialized)
	}
	ak, flush, err := c.createPrimary(ctx, "attestation key", akTemplate)
	if err != nil {
		return nil, err
	}
	defer flush()
	nonce, err := nonceFor(ak)
	if err != nil {
		return nil, err
	}

	var rsp *tpm2.NVCertifyResponse
	err = c.withAuth(ctx, "certify counter", func() error {
		var err error
		rsp, err = tpm2.NVCertify{
			SignHandle:     tpm2.AuthHandle{Handle: ak.ObjectHandle, Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
			AuthHandle:     c.authHandle(),
			NVIndex:        tpm2.NamedHandle{Handle: c.index, Name: c.name},
			QualifyingData: tpm2.TPM2BData{Buffer: nonce},
			InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
			Size:           8,
			Offset:         0,
		}.Execute(c.tpm)
		return err
	})
	if err != nil {
		return nil, err
	}
	ev := &evidence.Evidence{
		Nonce:     append([]byte{}, nonce...),
		AKPublic:  ak.OutPublic.Bytes(),
		NVPublic:  c.nvPublic,
		Attest:    rsp.CertifyInfo.Bytes(),
		Signature: tpm2.Marshal(&rsp.Signature),
		CreatedAt: time.Now().UTC().Truncate(time.Second),
	}
	if _, err := ev.Verify(nonce); err != nil {
		return nil, fmt.Errorf("tpm: certify counter 0x%08x: the TPM's quote does not verify: %w", uint32(c.index), err)
	}
	b, err := ev.Marshal()
	if err != nil {
		return nil, fmt.Errorf("tpm: certify: %w", err)
	}
	return b, nil
}

// createPrimary creates a primary key of the endorsement hierarchy,
// authorized with the endorsement auth, and returns it with a function that
// flushes it.
func (c *Counter) createPrimary(ctx context.Context, what string, tmpl tpm2.TPMTPublic) (*tpm2.CreatePrimaryResponse, func(), error) {
	var key *tpm2.CreatePrimaryResponse
	create := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: session(c.endorse)},
		InPublic:      tpm2.New2B(tmpl),
	}
	err := c.retry.do(ctx, func() error {
		var err error
		key, err = create.Execute(c.tpm)
		return err
	})
	if err != nil {
		if isAuthFailure(err) {
			return nil, nil, fmt.Errorf("tpm: create %s: %w (the endorsement auth was rejected): %w", what, ErrAuthFailed, err)
		}
		return nil, nil, fmt.Errorf("tpm: create %s: %w", what, err)
	}
	return key, func() {
		// Errors are ignored: a resource manager flushes on close anyway.
		tpm2.FlushContext{FlushHandle: key.ObjectHandle}.Execute(c.tpm)
	}, nil
}

// activate creates the endorsement key that certified certifies, checks that it
// is that key, and recovers the challenge's credential with
// TPM2_ActivateCredential for the attestation key ak.
func (c *Counter) activate(ctx context.Context, ak *tpm2.CreatePrimaryResponse, certified any, ch *evidence.Challenge) ([]byte, error) {
	var tmpl tpm2.TPMTPublic
	switch certified.(type) {
	case *rsa.PublicKey:
		tmpl = tpm2.RSAEKTemplate
	case *ecdsa.PublicKey:
		tmpl = tpm2.ECCEKTemplate
	default:
		return nil, fmt.Errorf("tpm: challenge: %w: EK certificate key %T", evidence.ErrUnsupportedEK, certified)
	}
	ek, flush, err := c.createPrimary(ctx, "endorsement key", tmpl)
	if err != nil {
		return nil, err
	}
	defer flush()
	pub, err := ek.OutPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("tpm: endorsement key: %w", err)
	}
	key, err := tpm2.Pub(*pub)
	if err != nil {
		return nil, fmt.Errorf("tpm: endorsement key: %w", err)
	}
	if k, ok := key.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(certified) {
		return nil, fmt.Errorf("tpm: %w: the TPM's endorsement key (template %s) is not the key of the challenge's EK certificate", ErrEKMismatch, tmplName(tmpl))
	}
	// The EK's authPolicy is TPM2_PolicySecret(TPM_RH_ENDORSEMENT): the
	// endorsement hierarchy's auth, proven in a policy session. The session
	// is salted with the EK itself (RSA-OAEP or ECDH P-256, TPM 2.0 Part 1,
	// 19.6.13): its HMAC key is then a session key derived from the salt,
	// never empty, which crypto/hmac requires in FIPS 140-only mode, where
	// an unsalted policy session's empty key panics.
	policy := tpm2.Policy(tpm2.TPMAlgSHA256, 16, func(t transport.TPM, handle tpm2.TPMISHPolicy, nonceTPM tpm2.TPM2BNonce) error {
		_, err := tpm2.PolicySecret{
			AuthHandle:    tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: session(c.endorse)},
			PolicySession: handle,
			NonceTPM:      nonceTPM,
		}.Execute(t)
		return err
	}, tpm2.Salted(ek.ObjectHandle, *pub))
	var rsp *tpm2.ActivateCredentialResponse
	err = c.retry.do(ctx, func() error {
		var err error
		rsp, err = tpm2.ActivateCredential{
			ActivateHandle: tpm2.AuthHandle{Handle: ak.ObjectHandle, Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
			KeyHandle:      tpm2.AuthHandle{Handle: ek.ObjectHandle, Name: ek.Name, Auth: policy},
			CredentialBlob: tpm2.TPM2BIDObject{Buffer: ch.CredentialBlob},
			Secret:         tpm2.TPM2BEncryptedSecret{Buffer: ch.EncryptedSecret},
		}.Execute(c.tpm)
		return err
	})
	switch {
	case isAuthFailure(err):
		return nil, fmt.Errorf("tpm: activate credential: %w (the endorsement auth was rejected): %w", ErrAuthFailed, err)
	case err != nil:
		// TPM_RC_INTEGRITY (or a bad value or size): the credential was not
		// made for this EK and this AK, or the file was altered.
		return nil, fmt.Errorf("tpm: activate credential: %w: %w", ErrActivation, err)
	}
	cred := rsp.CertInfo.Buffer
	if len(cred) == 0 || len(cred) > evidence.MaxNonceSize {
		return nil, fmt.Errorf("tpm: activate credential: a credential of %d bytes cannot be a nonce", len(cred))
	}
	return cred, nil
}

func tmplName(t tpm2.TPMTPublic) string {
	if t.Type == tpm2.TPMAlgRSA {
		return "L-1, RSA 2048"
	}
	return "L-2, ECC P-256"
}
