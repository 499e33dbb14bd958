package evidence_test

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/fips140"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"testing/cryptotest"

	"github.com/google/go-tpm/tpm2"

	"github.com/audit-sealer/audit-sealer/evidence"
)

// The tests check MakeCredential against go-tpm's CreateCredential (a
// second implementation, byte for byte), and against a software
// ActivateCredential written here from TPM 2.0 Part 1 §24 with go-tpm's KDFs.
// Package tpm's tests check it against a real TPM (swtpm).

var rsaEK, eccEK = mustRSA(), mustKey()

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// seeded is a deterministic stream of bytes.
type seeded struct{ next byte }

func (s *seeded) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = s.next
		s.next = s.next*31 + 7
	}
	return len(p), nil
}

// ekTemplate returns the TCG default EK template (L-1 or L-2) with pub as
// its unique field, as a TPM returns the EK's public area.
func ekTemplate(t *testing.T, pub crypto.PublicKey) *tpm2.TPMTPublic {
	t.Helper()
	switch k := pub.(type) {
	case *rsa.PublicKey:
		tmpl := tpm2.RSAEKTemplate
		tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.Bytes()})
		return &tmpl
	case *ecdsa.PublicKey:
		tmpl := tpm2.ECCEKTemplate
		tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: k.X.FillBytes(make([]byte, 32))},
			Y: tpm2.TPM2BECCParameter{Buffer: k.Y.FillBytes(make([]byte, 32))},
		})
		return &tmpl
	}
	t.Fatalf("no EK template for %T", pub)
	return nil
}

func akName(seed byte) []byte {
	d := sha256.Sum256([]byte{seed})
	return append([]byte{0x00, 0x0b}, d[:]...)
}

// TestMakeCredentialMatchesGoTPM: with the same randomness, MakeCredential
// and go-tpm's tpm2.CreateCredential produce the same bytes, for an RSA
// 2048 and an ECC P-256 endorsement key.
func TestMakeCredentialMatchesGoTPM(t *testing.T) {
	for _, tc := range []struct {
		name string
		pub  crypto.PublicKey
	}{
		{"rsa2048", &rsaEK.PublicKey},
		{"p256", &eccEK.PublicKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kem, err := tpm2.ImportEncapsulationKey(ekTemplate(t, tc.pub))
			if err != nil {
				t.Fatal(err)
			}
			name, cred := akName(1), []byte("the credential: 32 bytes long!!!")
			cryptotest.SetGlobalRandom(t, 42)
			wantBlob, wantSecret, err := tpm2.CreateCredential(&seeded{next: 3}, kem, name, cred)
			if err != nil {
				t.Fatal(err)
			}
			cryptotest.SetGlobalRandom(t, 42)
			blob, secret, err := evidence.MakeCredential(&seeded{next: 3}, tc.pub, name, cred)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(blob, wantBlob) || !bytes.Equal(secret, wantSecret) {
				t.Fatalf("MakeCredential differs from go-tpm:\nblob   %x\nwant   %x\nsecret %x\nwant   %x", blob, wantBlob, secret, wantSecret)
			}
			// And with real randomness, the software ActivateCredential
			// recovers the credential for the right name only.
			blob, secret, err = evidence.MakeCredential(rand.Reader, tc.pub, name, cred)
			if err != nil {
				t.Fatal(err)
			}
			got, err := softActivate(ekPrivate(tc.name), name, blob, secret)
			if err != nil || !bytes.Equal(got, cred) {
				t.Fatalf("activate: %q, %v", got, err)
			}
			if _, err := softActivate(ekPrivate(tc.name), akName(2), blob, secret); err == nil {
				t.Fatal("activated with another object's Name")
			}
		})
	}
}

func ekPrivate(name string) any {
	if name == "rsa2048" {
		return rsaEK
	}
	return eccEK
}

// softActivate is TPM2_ActivateCredential's cryptography (Part 1 §24,
// Part 3 §12.5) with the EK's private key: it recovers the seed, checks the
// outer HMAC over the encrypted credential and the object's Name, and
// decrypts the credential.
func softActivate(ek any, name, blob, encSecret []byte) ([]byte, error) {
	var seed []byte
	switch k := ek.(type) {
	case *rsa.PrivateKey:
		var err error
		seed, err = rsa.DecryptOAEP(sha256.New(), nil, k, encSecret, []byte("IDENTITY\x00"))
		if err != nil {
			return nil, err
		}
	case *ecdsa.PrivateKey:
		if len(encSecret) != 2+32+2+32 {
			return nil, errors.New("bad ECC point")
		}
		pt := append([]byte{4}, encSecret[2:34]...)
		pt = append(pt, encSecret[36:]...)
		eph, err := ecdh.P256().NewPublicKey(pt)
		if err != nil {
			return nil, err
		}
		priv, err := k.ECDH()
		if err != nil {
			return nil, err
		}
		z, err := priv.ECDH(eph)
		if err != nil {
			return nil, err
		}
		seed = tpm2.KDFe(crypto.SHA256, z, "IDENTITY", encSecret[2:34], k.X.FillBytes(make([]byte, 32)), 256)
	}
	if len(blob) < 2+32 || binary.BigEndian.Uint16(blob) != 32 {
		return nil, errors.New("bad blob")
	}
	outer, encIdentity := blob[2:34], blob[34:]
	mac := hmac.New(sha256.New, tpm2.KDFa(crypto.SHA256, seed, "INTEGRITY", nil, nil, 256))
	mac.Write(encIdentity)
	mac.Write(name)
	if !hmac.Equal(mac.Sum(nil), outer) {
		return nil, errors.New("integrity check failed")
	}
	block, err := aes.NewCipher(tpm2.KDFa(crypto.SHA256, seed, "STORAGE", name, nil, 128))
	if err != nil {
		return nil, err
	}
	plain := make([]byte, len(encIdentity))
	cipher.NewCFBDecrypter(block, make([]byte, 16)).XORKeyStream(plain, encIdentity)
	if len(plain) < 2 || int(binary.BigEndian.Uint16(plain)) != len(plain)-2 {
		return nil, fmt.Errorf("bad credential size in %x", plain)
	}
	return plain[2:], nil
}

func TestMakeCredentialRefuses(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		ek         any
		akName     []byte
		credential []byte
		want       error
	}{
		{"p384", &p384.PublicKey, akName(1), []byte("c"), evidence.ErrUnsupportedEK},
		{"rsa1024", &small.PublicKey, akName(1), []byte("c"), evidence.ErrUnsupportedEK},
		{"ed25519 or other", "a string", akName(1), []byte("c"), evidence.ErrUnsupportedEK},
		{"empty credential", &rsaEK.PublicKey, akName(1), nil, nil},
		{"long credential", &rsaEK.PublicKey, akName(1), make([]byte, 33), nil},
		{"no name", &eccEK.PublicKey, nil, []byte("c"), nil},
	} {
		_, _, err := evidence.MakeCredential(rand.Reader, tc.ek, tc.akName, tc.credential)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want an error (%v)", tc.name, err, tc.want)
		}
	}
	if _, _, err := evidence.MakeCredential(io.LimitReader(rand.Reader, 3), &rsaEK.PublicKey, akName(1), []byte("c")); err == nil {
		t.Error("a short random source gave no error")
	}
}

// TestMakeCredentialFIPSOnly: in FIPS 140-only mode MakeCredential refuses,
// with ErrFIPSOnly, instead of letting crypto/cipher panic on AES-CFB. The
// test runs itself again with GODEBUG=fips140=only when the process is not
// in that mode already.
func TestMakeCredentialFIPSOnly(t *testing.T) {
	if !fips140.Enforced() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMakeCredentialFIPSOnly$", "-test.v")
		cmd.Env = append(os.Environ(), "GODEBUG=fips140=only")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestMakeCredentialFIPSOnly") {
			t.Fatalf("under GODEBUG=fips140=only: %v\n%s", err, out)
		}
		return
	}
	for _, ek := range []any{&rsaEK.PublicKey, &eccEK.PublicKey} {
		blob, secret, err := evidence.MakeCredential(rand.Reader, ek, akName(1), []byte("credential"))
		if !errors.Is(err, evidence.ErrFIPSOnly) || blob != nil || secret != nil {
			t.Errorf("%T: %v (blob %d bytes), want ErrFIPSOnly and nothing", ek, err, len(blob))
		}
		if err != nil && !strings.Contains(err.Error(), "fips140=only") {
			t.Errorf("the error does not say how to make the challenge: %v", err)
		}
	}
}
