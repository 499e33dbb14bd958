package tpm

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-tpm/tpm2"

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

	var ak *tpm2.CreatePrimaryResponse
	create := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: session(c.endorse)},
		InPublic:      tpm2.New2B(akTemplate),
	}
	err := c.retry.do(ctx, func() error {
		var err error
		ak, err = create.Execute(c.tpm)
		return err
	})
	if err != nil {
		if isAuthFailure(err) {
			return nil, fmt.Errorf("tpm: create attestation key: %w (the endorsement auth was rejected): %w", ErrAuthFailed, err)
		}
		return nil, fmt.Errorf("tpm: create attestation key: %w", err)
	}
	defer func() {
		// Errors are ignored: a resource manager flushes on close anyway.
		tpm2.FlushContext{FlushHandle: ak.ObjectHandle}.Execute(c.tpm)
	}()

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
