package signer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// softwareKeyPEMType is the PEM block type of a software signing key file.
// The block holds a PKCS#8 private key; the file is mode 0600.
const softwareKeyPEMType = "PRIVATE KEY"

// ErrInsecureKeyFile is returned when a software key file can be read by
// anyone but its owner.
var ErrInsecureKeyFile = errors.New("signer: software key file is readable by group or others")

// SoftwareSigner is a signing key held in process memory, read from a file.
// It exists for development (--dev) and tests: every checkpoint it signs says
// "software", and a verifier can refuse those.
type SoftwareSigner struct {
	pub  PublicKey
	ed   ed25519.PrivateKey
	ecd  *ecdsa.PrivateKey
	rand io.Reader
}

var _ Signer = (*SoftwareSigner)(nil)

// NewSoftwareSigner returns a SoftwareSigner for a freshly generated key.
func NewSoftwareSigner(alg Algorithm, name string) (*SoftwareSigner, error) {
	switch alg {
	case Ed25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("signer: generate ed25519 key: %w", err)
		}
		return softwareFromPrivate(name, priv)
	case ECDSAP256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("signer: generate ecdsa key: %w", err)
		}
		return softwareFromPrivate(name, priv)
	}
	return nil, fmt.Errorf("signer: unknown algorithm %q", alg)
}

// NewSoftwareSignerFromKey wraps an existing private key (ed25519.PrivateKey
// or *ecdsa.PrivateKey on P-256); tests use it to produce fixed vectors.
func NewSoftwareSignerFromKey(name string, priv any) (*SoftwareSigner, error) {
	return softwareFromPrivate(name, priv)
}

func softwareFromPrivate(name string, priv any) (*SoftwareSigner, error) {
	if name == "" {
		name = DefaultKeyName
	}
	if !validKeyName(name) {
		return nil, fmt.Errorf("signer: invalid key name %q", name)
	}
	switch p := priv.(type) {
	case ed25519.PrivateKey:
		return &SoftwareSigner{pub: NewEd25519PublicKey(name, p.Public().(ed25519.PublicKey)), ed: p}, nil
	case *ecdsa.PrivateKey:
		pub, err := NewECDSAPublicKey(name, &p.PublicKey)
		if err != nil {
			return nil, err
		}
		return &SoftwareSigner{pub: pub, ecd: p, rand: rand.Reader}, nil
	}
	return nil, fmt.Errorf("signer: unsupported private key type %T", priv)
}

// Public returns the public half of the key.
func (s *SoftwareSigner) Public() PublicKey { return s.pub }

// Kind returns Software.
func (s *SoftwareSigner) Kind() Kind { return Software }

// Sign signs msg (Ed25519 over msg; ECDSA P-256 over SHA-256(msg), DER).
func (s *SoftwareSigner) Sign(msg []byte) ([]byte, error) {
	if s.ed != nil {
		return ed25519.Sign(s.ed, msg), nil
	}
	d := sha256.Sum256(msg)
	return ecdsa.SignASN1(s.rand, s.ecd, d[:])
}

// WriteKeyFile stores the private key at path as a PKCS#8 PEM block with
// mode 0600. It refuses to overwrite an existing file, and fsyncs the file and
// its directory.
func (s *SoftwareSigner) WriteKeyFile(path string) error {
	var priv any = s.ed
	if s.ecd != nil {
		priv = s.ecd
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("signer: encode key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: softwareKeyPEMType, Bytes: der})
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("signer: create key file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("signer: write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("signer: sync key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("signer: close key file: %w", err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("signer: sync key directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("signer: sync key directory: %w", err)
	}
	return nil
}

// maxKeyFile bounds a software key file: a PKCS#8 PEM key of either
// algorithm is a few hundred bytes.
const maxKeyFile = 16 << 10

// LoadSoftwareSigner reads a key file written by WriteKeyFile. The file must
// not be readable by group or others. It lives in the data directory, which
// someone hostile may write: a symbolic link, anything that is not a
// regular file, or a file larger than 16 KiB is refused before it is read.
func LoadSoftwareSigner(path, name string) (*SoftwareSigner, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != softwareKeyPEMType || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("signer: %s is not a PEM %s file", path, softwareKeyPEMType)
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signer: parse %s: %w", path, err)
	}
	return softwareFromPrivate(name, priv)
}

// readKeyFile reads the key file at path if it is a regular file (not a
// symbolic link, which is not followed) of mode 0600 or less and of at most
// maxKeyFile bytes.
func readKeyFile(path string) ([]byte, error) {
	lfi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	if !lfi.Mode().IsRegular() {
		return nil, fmt.Errorf("signer: key file %s is not a regular file (%s)", path, lfi.Mode().Type())
	}
	if lfi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o, want 0600", ErrInsecureKeyFile, path, lfi.Mode().Perm())
	}
	if lfi.Size() > maxKeyFile {
		return nil, fmt.Errorf("signer: key file %s has %d bytes, at most %d are allowed", path, lfi.Size(), maxKeyFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	defer f.Close()
	// The name may have been replaced between the Lstat and the open.
	if fi, err := f.Stat(); err != nil || !os.SameFile(lfi, fi) {
		return nil, fmt.Errorf("signer: key file %s changed while it was opened", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("signer: read %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("signer: key file %s grew past %d bytes while it was read", path, maxKeyFile)
	}
	return data, nil
}
