//go:build !cgo

package hsm

import "github.com/audit-sealer/audit-sealer/signer"

// Supported reports whether this build can use PKCS#11 tokens: it needs cgo,
// and this build has none.
const Supported = false

// Signer signs with a private key on a PKCS#11 token. In a build without cgo
// it cannot be created: Open returns an error wrapping ErrNoCgo.
type Signer struct{}

var _ signer.Signer = (*Signer)(nil)

func noCgo(what string) error {
	return errorf(kinds(ErrNoCgo), "hsm: %s: PKCS#11 needs a build with cgo (CGO_ENABLED=1 and a C compiler)", what)
}

// Open returns an error wrapping ErrNoCgo.
func Open(cfg Config) (*Signer, error) { return nil, noCgo("open") }

// GenerateKey returns an error wrapping ErrNoCgo.
func GenerateKey(cfg Config, alg signer.Algorithm, label string) (signer.PublicKey, error) {
	return signer.PublicKey{}, noCgo("generate key")
}

// ListKeys returns an error wrapping ErrNoCgo.
func ListKeys(cfg Config) ([]KeyInfo, error) { return nil, noCgo("list keys") }

// Public returns the zero PublicKey.
func (s *Signer) Public() signer.PublicKey { return signer.PublicKey{} }

// Kind returns signer.PKCS11.
func (s *Signer) Kind() signer.Kind { return signer.PKCS11 }

// FIPS returns the zero FIPSStatus.
func (s *Signer) FIPS() FIPSStatus { return FIPSStatus{} }

// Sign returns an error wrapping ErrNoCgo.
func (s *Signer) Sign(msg []byte) ([]byte, error) { return nil, noCgo("sign") }

// Reopen returns an error wrapping ErrNoCgo.
func (s *Signer) Reopen() error { return noCgo("reopen") }

// Close does nothing.
func (s *Signer) Close() error { return nil }
