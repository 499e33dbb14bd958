package tpm

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"

	"github.com/audit-sealer/audit-sealer/evidence"
)

// Identity is what names the TPM that anchors a log: the attestation key
// (AK) that certifies its counter, and the counter index. The sealer
// records it in the chain at every start (audit.tpm_identity), so that an
// auditor accepts counter evidence from this AK only (FORMAT.md §5.4).
type Identity struct {
	// AKName is the AK's Name: nameAlg || SHA-256(AKPublic).
	AKName []byte
	// AKPublic is the AK's public area, a marshalled TPMT_PUBLIC.
	AKPublic []byte
	// NVIndex and NVName are the counter index's handle and Name.
	NVIndex uint32
	NVName  []byte
}

// ReadIdentity creates the attestation key exactly as Certify does (a
// primary key of the endorsement hierarchy: the same TPM gives the same AK
// every time), flushes it, and returns its Name and public area with the
// counter's index and Name as the TPM reports them now.
func ReadIdentity(ctx context.Context, c *Counter) (*Identity, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("tpm: read identity: %w", ErrClosed)
	}
	if err := c.refresh(ctx); err != nil {
		return nil, err
	}
	ak, flush, err := c.createPrimary(ctx, "attestation key", akTemplate)
	if err != nil {
		return nil, err
	}
	defer flush()
	return &Identity{
		AKName:   append([]byte(nil), ak.Name.Buffer...),
		AKPublic: ak.OutPublic.Bytes(),
		NVIndex:  uint32(c.index),
		NVName:   append([]byte(nil), c.name.Buffer...),
	}, nil
}

// ekChunk is how much of an EK certificate one TPM2_NV_Read reads: below
// every TPM's MAX_NV_BUFFER_SIZE.
const ekChunk = 512

// ReadEKCertificate returns the endorsement key certificate the TPM holds
// at the TCG NV index of the RSA 2048 EK (evidence.EKCertIndexRSA) or,
// failing that, of the ECC P-256 EK (evidence.EKCertIndexECC): DER, without
// the zero bytes some TPMs fill the index with. It reads with the index's
// own, empty, authorization, as the TCG EK Credential Profile defines these
// indexes. A TPM with neither index wraps ErrNoEKCertificate; a certificate
// that does not parse, or certifies another kind of key, wraps
// evidence.ErrBadEKCertificate. The manufacturer (or swtpm_setup) writes
// these certificates; they are public.
func ReadEKCertificate(ctx context.Context, c *Counter) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("tpm: read EK certificate: %w", ErrClosed)
	}
	for _, index := range []uint32{evidence.EKCertIndexRSA, evidence.EKCertIndexECC} {
		der, err := c.readNV(ctx, tpm2.TPMHandle(index))
		if errors.Is(err, tpm2.TPMRCHandle) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tpm: read EK certificate at 0x%08x: %w", index, err)
		}
		cert, err := evidence.ParseEKCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("tpm: EK certificate at 0x%08x: %w", index, err)
		}
		return cert.Raw, nil
	}
	return nil, fmt.Errorf("tpm: %w at 0x%08x or 0x%08x", ErrNoEKCertificate, evidence.EKCertIndexRSA, evidence.EKCertIndexECC)
}

// readNV reads a whole NV index authorized by its own empty auth value.
func (c *Counter) readNV(ctx context.Context, index tpm2.TPMHandle) ([]byte, error) {
	var rp *tpm2.NVReadPublicResponse
	err := c.retry.do(ctx, func() error {
		var err error
		rp, err = tpm2.NVReadPublic{NVIndex: index}.Execute(c.tpm)
		return err
	})
	if err != nil {
		return nil, err
	}
	pub, err := rp.NVPublic.Contents()
	if err != nil {
		return nil, err
	}
	if int(pub.DataSize) > evidence.MaxEKCertificateSize {
		return nil, fmt.Errorf("the index holds %d bytes, more than an EK certificate (%d)", pub.DataSize, evidence.MaxEKCertificateSize)
	}
	var data []byte
	for off := 0; off < int(pub.DataSize); {
		n := min(ekChunk, int(pub.DataSize)-off)
		var rsp *tpm2.NVReadResponse
		err := c.retry.do(ctx, func() error {
			var err error
			rsp, err = tpm2.NVRead{
				AuthHandle: tpm2.AuthHandle{Handle: index, Name: rp.NVName, Auth: tpm2.PasswordAuth(nil)},
				NVIndex:    tpm2.NamedHandle{Handle: index, Name: rp.NVName},
				Size:       uint16(n),
				Offset:     uint16(off),
			}.Execute(c.tpm)
			return err
		})
		if err != nil {
			return nil, err
		}
		if len(rsp.Data.Buffer) != n {
			return nil, fmt.Errorf("read %d bytes at offset %d, want %d", len(rsp.Data.Buffer), off, n)
		}
		data = append(data, rsp.Data.Buffer...)
		off += n
	}
	return data, nil
}
