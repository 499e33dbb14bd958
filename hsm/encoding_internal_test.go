package hsm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/audit-sealer/audit-sealer/signer"
)

func der(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPublicFromToken: both Ed25519 CKA_EC_PARAMS encodings and both
// CKA_EC_POINT forms (DER OCTET STRING and raw) give the same key.
func TestPublicFromToken(t *testing.T) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	want := signer.NewEd25519PublicKey("n", edPub)
	if !bytes.Equal(paramsEd25519OID, der(t, asn1.ObjectIdentifier{1, 3, 101, 112})) ||
		!bytes.Equal(paramsEd25519String, der(t, asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte("edwards25519")})) ||
		!bytes.Equal(paramsP256, der(t, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})) {
		t.Fatal("a CKA_EC_PARAMS constant is wrong")
	}
	for _, params := range [][]byte{paramsEd25519OID, paramsEd25519String} {
		for _, point := range [][]byte{der(t, []byte(edPub)), edPub} {
			got, err := publicFromToken("n", params, point)
			if err != nil || !got.Equal(want) || got.Name != "n" {
				t.Errorf("params %x point %x: %v", params, point, err)
			}
		}
	}
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := ecPriv.PublicKey.Bytes()
	wantEC, _ := signer.NewECDSAPublicKey("n", &ecPriv.PublicKey)
	for _, point := range [][]byte{der(t, raw), raw} {
		got, err := publicFromToken("n", paramsP256, point)
		if err != nil || !got.Equal(wantEC) {
			t.Errorf("P-256 point %x: %v", point, err)
		}
	}
	bad := []struct{ params, point []byte }{
		{der(t, asn1.ObjectIdentifier{1, 3, 101, 113}), make([]byte, 57)}, // Ed448
		{der(t, asn1.ObjectIdentifier{1, 3, 132, 0, 34}), raw},            // P-384 OID
		{paramsEd25519OID, edPub[:31]},
		{paramsEd25519OID, append([]byte{0x04, 0x21}, edPub...)},
		{paramsP256, raw[1:]},
		{paramsP256, append([]byte{0x04, 0x41}, make([]byte, 65)...)}, // not on the curve
	}
	for _, b := range bad {
		if _, err := publicFromToken("n", b.params, b.point); !errors.Is(err, ErrUnsupportedKey) {
			t.Errorf("params %x point %x: %v, want ErrUnsupportedKey", b.params, b.point, err)
		}
	}
}

// TestECDSADER: raw r||s from CKM_ECDSA becomes a DER signature that
// ecdsa.VerifyASN1 accepts, including when r or s has leading zero bytes.
func TestECDSADER(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for i := 0; i < 200; i++ {
		d := sha256.Sum256([]byte{byte(i)})
		r, s, err := ecdsa.Sign(rand.Reader, priv, d[:])
		if err != nil {
			t.Fatal(err)
		}
		rs := make([]byte, 64)
		r.FillBytes(rs[:32])
		s.FillBytes(rs[32:])
		sig, ok := ecdsaDER(rs)
		if !ok || !ecdsa.VerifyASN1(&priv.PublicKey, d[:], sig) {
			t.Fatalf("r||s %x -> %x does not verify", rs, sig)
		}
	}
	if _, ok := ecdsaDER(make([]byte, 63)); ok {
		t.Error("a 63-byte r||s was accepted")
	}
}

// TestErrorKinds: package errors keep their own message and match their
// sentinels and their cause.
func TestErrorKinds(t *testing.T) {
	cause := errors.New("cause")
	err := errorf(kinds(ErrPINIncorrect, ErrConfig), "hsm: something about %q: %w", "x", cause)
	if err.Error() != `hsm: something about "x": cause` {
		t.Errorf("message %q", err)
	}
	for _, target := range []error{ErrPINIncorrect, ErrConfig, cause} {
		if !errors.Is(err, target) {
			t.Errorf("error does not match %v", target)
		}
	}
	if errors.Is(err, ErrKeyNotFound) {
		t.Error("error matches a sentinel it was not given")
	}
}

// FuzzPublicFromToken: the parser of what a token reports as a public key
// never panics, and what it accepts is a usable key of the right size.
func FuzzPublicFromToken(f *testing.F) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := ecPriv.PublicKey.Bytes()
	f.Add(paramsEd25519OID, append([]byte{0x04, 0x20}, edPub...))
	f.Add(paramsEd25519String, []byte(edPub))
	f.Add(paramsP256, append([]byte{0x04, 0x41}, raw...))
	f.Add(paramsP256, raw)
	f.Fuzz(func(t *testing.T, params, point []byte) {
		k, err := publicFromToken("n", params, point)
		if err != nil {
			return
		}
		switch k.Algorithm {
		case signer.Ed25519:
			if len(k.Raw()) != 32 {
				t.Fatalf("accepted an Ed25519 key of %d bytes", len(k.Raw()))
			}
		case signer.ECDSAP256:
			if len(k.Raw()) != 65 {
				t.Fatalf("accepted a P-256 key of %d bytes", len(k.Raw()))
			}
		default:
			t.Fatalf("accepted algorithm %q", k.Algorithm)
		}
		_ = k.ID()
	})
}
