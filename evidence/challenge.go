package evidence

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/strictjson"
)

// ChallengeFormat is the value of the "format" member of a version 1
// credential challenge file.
const ChallengeFormat = "audit-sealer tpm credential challenge v1"

// MaxChallengeSize is the largest challenge file ParseChallenge reads. Real
// files are 2 to 3 KiB.
const MaxChallengeSize = 64 << 10

// SecretSize is the size of a challenge's secret, which the auditor keeps.
const SecretSize = 32

// ErrBadChallenge is wrapped by every error about a malformed challenge
// file.
var ErrBadChallenge = errors.New("bad credential challenge")

// Challenge is a credential challenge: an auditor's request that the TPM
// holding an endorsement key (EK) prove that it also holds an attestation
// key (AK), by recovering a credential only that TPM can recover with that
// AK loaded (TPM2_ActivateCredential), and using it as the nonce of its
// evidence. See the package documentation.
type Challenge struct {
	// AKName is the Name of the AK the credential is for.
	AKName []byte
	// EKCertificate is the DER certificate of the EK the credential is
	// encrypted to.
	EKCertificate []byte
	// CredentialBlob and EncryptedSecret are MakeCredential's results, the
	// parameters of TPM2_ActivateCredential.
	CredentialBlob  []byte
	EncryptedSecret []byte
	// CreatedAt is when the challenge was made (the auditor's clock).
	CreatedAt time.Time
}

// challengeFile is the JSON form of a challenge file, members in order.
type challengeFile struct {
	Format          string `json:"format"`
	AKName          string `json:"ak_name"`
	EKCertificate   string `json:"ek_certificate"`
	CredentialBlob  string `json:"credential_blob"`
	EncryptedSecret string `json:"encrypted_secret"`
	CreatedAt       string `json:"created_at"`
}

func badChallengef(format string, args ...any) error {
	return fmt.Errorf("evidence: challenge: "+format+": %w", append(args, ErrBadChallenge)...)
}

// NewChallenge makes a credential challenge for the AK named akName (as
// audit-verify prints it for a log's TPM identity) in the TPM whose EK the
// certificate ekCert (DER or PEM, see ParseEKCertificate) certifies. It
// returns the challenge, for the operator, and the secret, which the
// auditor keeps and passes to Verify's caller: the credential is
// Challenge.Nonce(secret), which binds the secret to the AK Name and the EK
// certificate, so that a challenge file altered on its way does not match
// the secret any more. random supplies the secret and MakeCredential's
// randomness.
func NewChallenge(random io.Reader, ekCert, akName []byte) (*Challenge, []byte, error) {
	cert, err := ParseEKCertificate(ekCert)
	if err != nil {
		return nil, nil, err
	}
	if err := checkAKName(akName); err != nil {
		return nil, nil, fmt.Errorf("evidence: challenge: %w", err)
	}
	c := &Challenge{AKName: bytes.Clone(akName), EKCertificate: cert.Raw, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	secret := make([]byte, SecretSize)
	if _, err := io.ReadFull(random, secret); err != nil {
		return nil, nil, fmt.Errorf("evidence: challenge: %w", err)
	}
	c.CredentialBlob, c.EncryptedSecret, err = MakeCredential(random, cert.PublicKey, c.AKName, c.Nonce(secret))
	if err != nil {
		return nil, nil, err
	}
	return c, secret, nil
}

// checkAKName checks that name is the Name of an object named with
// SHA-256, SHA-384 or SHA-512: the algorithm (2 bytes) and a digest of its
// size.
func checkAKName(name []byte) error {
	if len(name) < 2 {
		return fmt.Errorf("AK name of %d bytes: %w", len(name), ErrBadChallenge)
	}
	alg := binary.BigEndian.Uint16(name)
	if size := digestSize(alg); size == 0 || len(name) != 2+size {
		return fmt.Errorf("AK name %x is not a SHA-256, SHA-384 or SHA-512 Name: %w", name, ErrBadChallenge)
	}
	return nil
}

// challengeDomain separates the credential from every other HMAC.
const challengeDomain = "audit-sealer tpm credential v1\x00"

// Nonce returns the credential the challenge protects for the secret the
// auditor kept: HMAC-SHA256(secret, "audit-sealer tpm credential v1" ||
// 0x00 || uint16(len(AK Name)) || AK Name || EK certificate). The TPM that
// answers the challenge recovers it, and certifies the counter with it as
// the nonce; the auditor computes it again from the challenge file and
// the secret.
func (c *Challenge) Nonce(secret []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(challengeDomain))
	mac.Write(binary.BigEndian.AppendUint16(nil, uint16(len(c.AKName))))
	mac.Write(c.AKName)
	mac.Write(c.EKCertificate)
	return mac.Sum(nil)
}

// Certificate parses the challenge's EK certificate.
func (c *Challenge) Certificate() (*x509.Certificate, error) {
	return ParseEKCertificate(c.EKCertificate)
}

// ParseChallenge parses a challenge file, as strictly as Parse parses an
// evidence file: the "format" member must be ChallengeFormat, every member
// must be present exactly once under its exact name and no other member is
// allowed, base64 must be canonical standard encoding with padding, hex
// lowercase, the AK name a SHA-2 Name, the EK certificate one that
// ParseEKCertificate accepts (DER, nothing after it), and nothing but white
// space may follow the object. Every error wraps ErrBadChallenge.
func ParseChallenge(data []byte) (*Challenge, error) {
	if len(data) > MaxChallengeSize {
		return nil, badChallengef("file is %d bytes, more than %d", len(data), MaxChallengeSize)
	}
	var f challengeFile
	if err := strictjson.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("evidence: challenge: %w: %w", err, ErrBadChallenge)
	}
	if f.Format != ChallengeFormat {
		return nil, badChallengef("format %q, want %q", f.Format, ChallengeFormat)
	}
	c := new(Challenge)
	name, err := hex.DecodeString(f.AKName)
	if err != nil || hex.EncodeToString(name) != f.AKName {
		return nil, badChallengef("ak_name is not lowercase hex")
	}
	if err := checkAKName(name); err != nil {
		return nil, fmt.Errorf("evidence: challenge: %w", err)
	}
	c.AKName = name
	for _, m := range []struct {
		name string
		in   string
		out  *[]byte
		max  int
	}{
		{"ek_certificate", f.EKCertificate, &c.EKCertificate, MaxEKCertificateSize},
		{"credential_blob", f.CredentialBlob, &c.CredentialBlob, 1024},
		{"encrypted_secret", f.EncryptedSecret, &c.EncryptedSecret, 1024},
	} {
		b, err := base64.StdEncoding.Strict().DecodeString(m.in)
		if err != nil {
			return nil, badChallengef("%s: %v", m.name, err)
		}
		if base64.StdEncoding.EncodeToString(b) != m.in {
			return nil, badChallengef("%s: not canonical base64", m.name)
		}
		if len(b) == 0 || len(b) > m.max {
			return nil, badChallengef("%s: %d bytes, want 1 to %d", m.name, len(b), m.max)
		}
		*m.out = b
	}
	cert, err := c.Certificate()
	if err != nil {
		return nil, fmt.Errorf("evidence: challenge: %w: %w", err, ErrBadChallenge)
	}
	if !bytes.Equal(cert.Raw, c.EKCertificate) {
		return nil, badChallengef("ek_certificate: bytes after the certificate")
	}
	t, err := time.Parse(time.RFC3339Nano, f.CreatedAt)
	if err != nil {
		return nil, badChallengef("created_at: %v", err)
	}
	c.CreatedAt = t
	return c, nil
}

// Marshal returns the challenge file for c: the JSON object of format v1,
// indented, members in the documented order, with a final newline.
func (c *Challenge) Marshal() ([]byte, error) {
	if c.CreatedAt.IsZero() {
		return nil, errors.New("evidence: challenge: CreatedAt is not set")
	}
	for name, b := range map[string][]byte{"ak_name": c.AKName, "ek_certificate": c.EKCertificate,
		"credential_blob": c.CredentialBlob, "encrypted_secret": c.EncryptedSecret} {
		if len(b) == 0 {
			return nil, fmt.Errorf("evidence: challenge: %s is empty", name)
		}
	}
	enc := base64.StdEncoding.EncodeToString
	b, err := json.MarshalIndent(challengeFile{
		Format:          ChallengeFormat,
		AKName:          hex.EncodeToString(c.AKName),
		EKCertificate:   enc(c.EKCertificate),
		CredentialBlob:  enc(c.CredentialBlob),
		EncryptedSecret: enc(c.EncryptedSecret),
		CreatedAt:       c.CreatedAt.UTC().Format(time.RFC3339Nano),
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("evidence: challenge: %w", err)
	}
	return append(b, '\n'), nil
}
