//go:build cgo

package hsm

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/miekg/pkcs11"

	"github.com/audit-sealer/audit-sealer/signer"
)

// keyPair is a private key object on a token and what is known of it.
type keyPair struct {
	priv pkcs11.ObjectHandle
	sign bool // CKA_SIGN
	info KeyInfo
}

// describeKey reads the private key object priv and its public half.
func describeKey(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, priv pkcs11.ObjectHandle, name string) (keyPair, error) {
	a, err := attrs(ctx, sh, priv, pkcs11.CKA_LABEL, pkcs11.CKA_ID, pkcs11.CKA_KEY_TYPE,
		pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_NEVER_EXTRACTABLE,
		pkcs11.CKA_SIGN)
	if err != nil {
		return keyPair{}, err
	}
	kp := keyPair{priv: priv, sign: boolAttr(a[pkcs11.CKA_SIGN]), info: KeyInfo{
		Label:            string(a[pkcs11.CKA_LABEL]),
		ID:               hex.EncodeToString(a[pkcs11.CKA_ID]),
		Sensitive:        boolAttr(a[pkcs11.CKA_SENSITIVE]),
		Extractable:      boolAttr(a[pkcs11.CKA_EXTRACTABLE]),
		AlwaysSensitive:  boolAttr(a[pkcs11.CKA_ALWAYS_SENSITIVE]),
		NeverExtractable: boolAttr(a[pkcs11.CKA_NEVER_EXTRACTABLE]),
	}}
	keyType, ok := ulong(a[pkcs11.CKA_KEY_TYPE])
	if !ok || (keyType != pkcs11.CKK_EC && keyType != ckkECEdwards) {
		return kp, nil // not an EC or EdDSA key: Algorithm stays empty
	}
	// The public half: same CKA_ID and key type; the label too when the
	// id alone is not enough (or there is no id).
	tmpl := []*pkcs11.Attribute{
		attr(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		attr(pkcs11.CKA_KEY_TYPE, keyType),
		attr(pkcs11.CKA_ID, a[pkcs11.CKA_ID]),
	}
	pubs, err := findObjects(ctx, sh, tmpl)
	if err != nil {
		return keyPair{}, err
	}
	if len(pubs) != 1 {
		pubs, err = findObjects(ctx, sh, append(tmpl, attr(pkcs11.CKA_LABEL, a[pkcs11.CKA_LABEL])))
		if err != nil {
			return keyPair{}, err
		}
	}
	if len(pubs) != 1 {
		return kp, nil // no unique public key object: KeyID stays empty
	}
	pa, err := attrs(ctx, sh, pubs[0], pkcs11.CKA_EC_PARAMS, pkcs11.CKA_EC_POINT)
	if err != nil {
		return keyPair{}, err
	}
	pub, err := publicFromToken(name, pa[pkcs11.CKA_EC_PARAMS], pa[pkcs11.CKA_EC_POINT])
	if err != nil {
		return kp, nil // a curve we cannot use
	}
	if (keyType == ckkECEdwards) != (pub.Algorithm == signer.Ed25519) {
		return kp, nil
	}
	kp.info.Algorithm = pub.Algorithm
	kp.info.Public = pub
	kp.info.KeyID = pub.ID()
	return kp, nil
}

// findKey finds the private key that cfg selects, with its public half, and
// checks that it can sign and cannot leave the token.
func findKey(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, cfg Config) (keyPair, error) {
	tmpl := []*pkcs11.Attribute{attr(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY)}
	if cfg.KeyLabel != "" {
		tmpl = append(tmpl, attr(pkcs11.CKA_LABEL, cfg.KeyLabel))
	}
	if len(cfg.KeyID) > 0 {
		tmpl = append(tmpl, attr(pkcs11.CKA_ID, cfg.KeyID))
	}
	hs, err := findObjects(ctx, sh, tmpl)
	if err != nil {
		return keyPair{}, tokenErr(cfg, "find key", err)
	}
	switch len(hs) {
	case 0:
		return keyPair{}, errorf(kinds(ErrKeyNotFound), "hsm: no private key %s on token %s", cfg.key(), cfg.token())
	case 1:
	default:
		return keyPair{}, errorf(kinds(ErrAmbiguousKey), "hsm: %d private keys %s on token %s; select one by id as well", len(hs), cfg.key(), cfg.token())
	}
	kp, err := describeKey(ctx, sh, hs[0], cfg.KeyName)
	if err != nil {
		return keyPair{}, tokenErr(cfg, "read key", err)
	}
	switch {
	case kp.info.Algorithm == "":
		return keyPair{}, errorf(kinds(ErrUnsupportedKey), "hsm: key %s on token %s is not an Ed25519 or ECDSA P-256 key with a public key object of the same CKA_ID "+
			"(the only signature schemes this package uses, both approved by FIPS 186-5: Ed25519 with CKM_EDDSA, and ECDSA P-256 with CKM_ECDSA over a SHA-256 digest made in Go)", cfg.key(), cfg.token())
	case !kp.sign:
		return keyPair{}, errorf(kinds(ErrUnsupportedKey), "hsm: key %s on token %s may not sign (CKA_SIGN is false)", cfg.key(), cfg.token())
	case !kp.info.Sensitive || kp.info.Extractable:
		return keyPair{}, errorf(kinds(ErrWeakKey), "hsm: key %s on token %s has CKA_SENSITIVE=%t, CKA_EXTRACTABLE=%t; a checkpoint key must be sensitive and not extractable",
			cfg.key(), cfg.token(), kp.info.Sensitive, kp.info.Extractable)
	}
	return kp, nil
}

// tokenErr wraps a PKCS#11 error of operation op; lost sessions and tokens
// wrap signer.ErrUnavailable.
func tokenErr(cfg Config, op string, err error) error {
	if errors.Is(err, pkcs11.Error(pkcs11.CKR_MECHANISM_INVALID)) {
		return errorf(kinds(ErrMechanism), "hsm: %s on token %s: %w", op, cfg.token(), err)
	}
	if lost(err) {
		return errorf(kinds(signer.ErrUnavailable), "hsm: %s on token %s: %w", op, cfg.token(), err)
	}
	return fmt.Errorf("hsm: %s on token %s: %w", op, cfg.token(), err)
}

// signMechanism returns the signing mechanism of alg.
func signMechanism(alg signer.Algorithm) uint {
	if alg == signer.Ed25519 {
		return ckmEdDSA
	}
	return pkcs11.CKM_ECDSA
}

// signRaw signs msg with the private key priv on session sh and returns the
// signature in signer.Signer form (Ed25519: 64 bytes; ECDSA P-256: DER over
// SHA-256(msg)). It does not verify it.
func signRaw(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, priv pkcs11.ObjectHandle, alg signer.Algorithm, msg []byte) ([]byte, error) {
	in := msg
	if alg == signer.ECDSAP256 {
		d := sha256.Sum256(msg)
		in = d[:]
	}
	if err := ctx.SignInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(signMechanism(alg), nil)}, priv); err != nil {
		return nil, err
	}
	sig, err := ctx.Sign(sh, in)
	if err != nil {
		return nil, err
	}
	if alg == signer.Ed25519 {
		if len(sig) != 64 {
			return nil, errorf(kinds(ErrBadSignature), "hsm: token returned a %d-byte Ed25519 signature", len(sig))
		}
		return sig, nil
	}
	der, ok := ecdsaDER(sig)
	if !ok {
		return nil, errorf(kinds(ErrBadSignature), "hsm: token returned a %d-byte ECDSA signature, want 64 (r||s)", len(sig))
	}
	return der, nil
}

// keygenParams returns the key generation mechanism, the PKCS#11 key type and
// the CKA_EC_PARAMS values to try, in order, for alg.
func keygenParams(alg signer.Algorithm) (mech, keyType uint, params [][]byte, err error) {
	switch alg {
	case signer.Ed25519:
		return ckmECEdwardsKeyPairGen, ckkECEdwards, [][]byte{paramsEd25519OID, paramsEd25519String}, nil
	case signer.ECDSAP256:
		return pkcs11.CKM_EC_KEY_PAIR_GEN, pkcs11.CKK_EC, [][]byte{paramsP256}, nil
	}
	return 0, 0, nil, errorf(kinds(ErrConfig), "hsm: unknown algorithm %q (want ed25519 or ecdsa-p256)", alg)
}

// GenerateKey generates a key pair for alg on the token that cfg selects,
// labelled label, and returns its public key (named cfg.KeyName). Both halves
// are token objects with the same random 16-byte CKA_ID; the private key is
// private, sensitive, not extractable and may only sign. GenerateKey refuses
// a label that any object on the token already has. cfg.KeyLabel and
// cfg.KeyID are ignored.
//
// For Ed25519 it tries CKA_EC_PARAMS as the OID 1.3.101.112 first and then
// as the PrintableString "edwards25519", since tokens differ.
func GenerateKey(cfg Config, alg signer.Algorithm, label string) (signer.PublicKey, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(anyKey); err != nil {
		return signer.PublicKey{}, err
	}
	if label == "" {
		return signer.PublicKey{}, errorf(kinds(ErrConfig), "hsm: empty key label")
	}
	mech, keyType, paramsList, err := keygenParams(alg)
	if err != nil {
		return signer.PublicKey{}, err
	}
	m, err := loadModule(cfg.Module)
	if err != nil {
		return signer.PublicKey{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	ctx := m.ctx
	slot, err := findSlot(ctx, cfg)
	if err != nil {
		return signer.PublicKey{}, err
	}
	if err := probe(ctx, slot, cfg, mech, pkcs11.CKF_GENERATE_KEY_PAIR); err != nil {
		return signer.PublicKey{}, err
	}
	if err := probe(ctx, slot, cfg, signMechanism(alg), pkcs11.CKF_SIGN); err != nil {
		return signer.PublicKey{}, err
	}
	sh, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return signer.PublicKey{}, tokenErr(cfg, "open session", err)
	}
	defer ctx.CloseSession(sh)
	if err := login(ctx, sh, cfg); err != nil {
		return signer.PublicKey{}, err
	}
	existing, err := findObjects(ctx, sh, []*pkcs11.Attribute{attr(pkcs11.CKA_LABEL, label)})
	if err != nil {
		return signer.PublicKey{}, tokenErr(cfg, "find objects", err)
	}
	if len(existing) > 0 {
		return signer.PublicKey{}, errorf(kinds(ErrKeyExists), "hsm: token %s already has %d object(s) labelled %q", cfg.token(), len(existing), label)
	}
	var fips tokenReport
	if cfg.RequireFIPS {
		// Refuse a token that reports no validation before making a key
		// there; whether the new key meets it is checked once it exists.
		if fips, err = readTokenFIPS(ctx, sh, slot, cfg); err != nil {
			return signer.PublicKey{}, err
		}
		if st := judgeFIPS(fips); st.State != FIPSValidated && (len(fips.validations) == 0 || fips.flags&ckfErrorState != 0) {
			return signer.PublicKey{}, notFIPS(st)
		}
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return signer.PublicKey{}, fmt.Errorf("hsm: random key id: %w", err)
	}

	var pubH, privH pkcs11.ObjectHandle
	var errs []error
	for _, params := range paramsList {
		pubT := []*pkcs11.Attribute{
			attr(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
			attr(pkcs11.CKA_KEY_TYPE, keyType),
			attr(pkcs11.CKA_TOKEN, true),
			attr(pkcs11.CKA_PRIVATE, false),
			attr(pkcs11.CKA_VERIFY, true),
			attr(pkcs11.CKA_ENCRYPT, false),
			attr(pkcs11.CKA_WRAP, false),
			attr(pkcs11.CKA_DERIVE, false),
			attr(pkcs11.CKA_EC_PARAMS, params),
			attr(pkcs11.CKA_LABEL, label),
			attr(pkcs11.CKA_ID, id),
		}
		privT := []*pkcs11.Attribute{
			attr(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			attr(pkcs11.CKA_KEY_TYPE, keyType),
			attr(pkcs11.CKA_TOKEN, true),
			attr(pkcs11.CKA_PRIVATE, true),
			attr(pkcs11.CKA_SENSITIVE, true),
			attr(pkcs11.CKA_EXTRACTABLE, false),
			attr(pkcs11.CKA_SIGN, true),
			attr(pkcs11.CKA_DECRYPT, false),
			attr(pkcs11.CKA_UNWRAP, false),
			attr(pkcs11.CKA_DERIVE, false),
			attr(pkcs11.CKA_LABEL, label),
			attr(pkcs11.CKA_ID, id),
		}
		pubH, privH, err = ctx.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, pubT, privT)
		if err == nil {
			errs = nil
			break
		}
		errs = append(errs, fmt.Errorf("CKA_EC_PARAMS %x: %w", params, err))
		if lost(err) && !errors.Is(err, pkcs11.Error(pkcs11.CKR_GENERAL_ERROR)) {
			break // SoftHSM2 says CKR_GENERAL_ERROR for parameters it does not like
		}
	}
	if errs != nil {
		return signer.PublicKey{}, tokenErr(cfg, fmt.Sprintf("generate %s key %q", alg, label), errors.Join(errs...))
	}
	destroy := func() {
		ctx.DestroyObject(sh, privH)
		ctx.DestroyObject(sh, pubH)
	}
	kp, err := describeKey(ctx, sh, privH, cfg.KeyName)
	if err != nil {
		destroy()
		return signer.PublicKey{}, tokenErr(cfg, "read the new key", err)
	}
	if kp.info.Algorithm != alg {
		destroy()
		return signer.PublicKey{}, errorf(kinds(ErrUnsupportedKey), "hsm: token %s generated a key this package cannot read back as %s", cfg.token(), alg)
	}
	if cfg.RequireFIPS {
		if err := readKeyFIPS(ctx, sh, privH, cfg, &fips); err != nil {
			destroy()
			return signer.PublicKey{}, err
		}
		if st := judgeFIPS(fips); st.State != FIPSValidated {
			destroy()
			return signer.PublicKey{}, notFIPS(st)
		}
	}
	// Self-test: the new pair signs, and the signature verifies.
	msg := []byte("audit-sealer hsm key generation self-test\n")
	sig, err := signRaw(ctx, sh, privH, alg, msg)
	if err == nil && !kp.info.Public.Verify(msg, sig) {
		err = errorf(kinds(ErrBadSignature), "hsm: self-test signature does not verify")
	}
	if err != nil {
		destroy()
		return signer.PublicKey{}, tokenErr(cfg, fmt.Sprintf("self-test of the new key %q", label), err)
	}
	return kp.info.Public, nil
}

// ListKeys lists the private keys on the token that cfg selects (logging in
// with cfg.PIN), sorted by label and id. Keys this package cannot use are
// listed with an empty Algorithm. cfg.KeyLabel and cfg.KeyID are ignored.
func ListKeys(cfg Config) ([]KeyInfo, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(anyKey); err != nil {
		return nil, err
	}
	m, err := loadModule(cfg.Module)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	ctx := m.ctx
	slot, err := findSlot(ctx, cfg)
	if err != nil {
		return nil, err
	}
	sh, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil, tokenErr(cfg, "open session", err)
	}
	defer ctx.CloseSession(sh)
	if err := login(ctx, sh, cfg); err != nil {
		return nil, err
	}
	hs, err := findObjects(ctx, sh, []*pkcs11.Attribute{attr(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY)})
	if err != nil {
		return nil, tokenErr(cfg, "find keys", err)
	}
	keys := make([]KeyInfo, 0, len(hs))
	for _, h := range hs {
		kp, err := describeKey(ctx, sh, h, cfg.KeyName)
		if err != nil {
			return nil, tokenErr(cfg, "read key", err)
		}
		keys = append(keys, kp.info)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Label != keys[j].Label {
			return keys[i].Label < keys[j].Label
		}
		return keys[i].ID < keys[j].ID
	})
	return keys, nil
}
