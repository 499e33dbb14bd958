package evidence

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The NV indexes where a TPM holds its endorsement key certificates (TCG EK
// Credential Profile for TPM Family 2.0, §2.2.1.4, low range): the
// certificate of the EK created from template L-1 (RSA 2048) and L-2 (ECC
// NIST P-256).
const (
	EKCertIndexRSA uint32 = 0x01C00002
	EKCertIndexECC uint32 = 0x01C0000A
)

// MaxEKCertificateSize bounds an endorsement key certificate: real ones are
// 1 to 2 KiB.
const MaxEKCertificateSize = 8 << 10

var (
	// ErrBadEKCertificate is wrapped when an endorsement key certificate
	// does not parse, or certifies a key other than RSA 2048 or ECC NIST
	// P-256.
	ErrBadEKCertificate = errors.New("bad endorsement key certificate")
	// ErrUntrustedEK is wrapped when an endorsement key certificate does
	// not chain to a certificate authority the verifier pinned.
	ErrUntrustedEK = errors.New("endorsement key certificate does not chain to a pinned CA")
)

// ParseEKCertificate parses an endorsement key certificate: DER, as a TPM
// holds it in its NV index (some TPMs leave zero bytes after the
// certificate to fill the index: they are ignored, any other byte after it
// is an error), or one PEM CERTIFICATE block. The certified key must be RSA
// 2048 or ECC NIST P-256: the keys of the TCG default EK templates L-1 and
// L-2, the only ones MakeCredential supports. Every error wraps
// ErrBadEKCertificate.
func ParseEKCertificate(data []byte) (*x509.Certificate, error) {
	if len(data) > MaxEKCertificateSize {
		return nil, fmt.Errorf("evidence: EK certificate of %d bytes, more than %d: %w", len(data), MaxEKCertificateSize, ErrBadEKCertificate)
	}
	der, err := ekDER(data)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("evidence: EK certificate: %w: %w", ErrBadEKCertificate, err)
	}
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() != 2048 {
			return nil, fmt.Errorf("evidence: EK certificate: %w: RSA key of %d bits, want 2048", ErrBadEKCertificate, k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("evidence: EK certificate: %w: ECC curve %s, want P-256", ErrBadEKCertificate, k.Curve.Params().Name)
		}
	default:
		return nil, fmt.Errorf("evidence: EK certificate: %w: key type %T, want RSA 2048 or ECC P-256", ErrBadEKCertificate, cert.PublicKey)
	}
	return cert, nil
}

// ekDER returns the DER certificate in data: the PEM block's contents, or
// data without the zero bytes after the outer SEQUENCE.
func ekDER(data []byte) ([]byte, error) {
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN")) {
		block, rest := pem.Decode(data)
		if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
			return nil, fmt.Errorf("evidence: EK certificate: %w: want one PEM CERTIFICATE block", ErrBadEKCertificate)
		}
		return block.Bytes, nil
	}
	var outer asn1.RawValue
	rest, err := asn1.Unmarshal(data, &outer)
	if err != nil {
		return nil, fmt.Errorf("evidence: EK certificate: %w: %w", ErrBadEKCertificate, err)
	}
	if slices.ContainsFunc(rest, func(b byte) bool { return b != 0 }) {
		return nil, fmt.Errorf("evidence: EK certificate: %w: %d bytes after the certificate", ErrBadEKCertificate, len(rest))
	}
	return data[:len(data)-len(rest)], nil
}

// ParseCAFile parses the certificates an auditor pins for endorsement key
// certificates (audit-verify --ek-ca): one or more PEM CERTIFICATE blocks.
// The self-signed ones are the trust anchors (a TPM vendor's root CA, or
// the local CA swtpm_setup created); the others are intermediate CAs, which
// count only as links from an EK certificate to an anchor. At least one
// anchor is required.
func ParseCAFile(data []byte) (anchors, intermediates []*x509.Certificate, err error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, nil, fmt.Errorf("evidence: CA file: a PEM %q block, want CERTIFICATE", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("evidence: CA file: %w", err)
		}
		if bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil {
			anchors = append(anchors, c)
		} else {
			intermediates = append(intermediates, c)
		}
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, nil, errors.New("evidence: CA file: data that is not a PEM block")
	}
	if len(anchors) == 0 {
		return nil, nil, errors.New("evidence: CA file: no self-signed (root) certificate to trust")
	}
	return anchors, intermediates, nil
}

// oidSubjectAltName is the subjectAltName extension (RFC 5280 §4.2.1.6).
var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// VerifyEKCertificate checks that cert chains to one of anchors, through
// intermediates if needed, at time now, for any key usage. It returns the
// chain, from cert to the anchor. Every failure wraps ErrUntrustedEK.
//
// An EK certificate names the TPM (manufacturer, model, firmware version)
// in a critical subjectAltName holding a directoryName, and has an empty
// subject (TCG EK Credential Profile §3.2.9); crypto/x509 understands only
// the usual name forms and refuses the extension as unhandled. It is
// accepted here when it is a well-formed GeneralNames sequence.
func VerifyEKCertificate(cert *x509.Certificate, anchors, intermediates []*x509.Certificate, now time.Time) ([]*x509.Certificate, error) {
	c := *cert
	c.UnhandledCriticalExtensions = slices.DeleteFunc(slices.Clone(c.UnhandledCriticalExtensions), func(oid asn1.ObjectIdentifier) bool {
		return oid.Equal(oidSubjectAltName) && wellFormedSAN(&c)
	})
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, a := range anchors {
		roots.AddCert(a)
	}
	for _, i := range intermediates {
		inter.AddCert(i)
	}
	chains, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, fmt.Errorf("evidence: EK certificate (issuer %q): %w: %w", cert.Issuer.String(), ErrUntrustedEK, err)
	}
	return chains[0], nil
}

// wellFormedSAN reports whether c's subjectAltName extension is a DER
// SEQUENCE of GeneralName values and nothing else.
func wellFormedSAN(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if !e.Id.Equal(oidSubjectAltName) {
			continue
		}
		var names []asn1.RawValue
		rest, err := asn1.Unmarshal(e.Value, &names)
		if err != nil || len(rest) != 0 || len(names) == 0 {
			return false
		}
		for _, n := range names {
			if n.Class != asn1.ClassContextSpecific || n.Tag > 8 {
				return false
			}
		}
		return true
	}
	return false
}
