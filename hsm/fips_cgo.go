//go:build cgo

package hsm

import (
	"strings"

	"github.com/miekg/pkcs11"
)

// readTokenFIPS reads what the token in slot reports about FIPS 140: its
// flags and its NIST CMVP validation objects (PKCS#11 3.2). A module that
// does not know the object class (PKCS#11 before 3.2) reports none.
func readTokenFIPS(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, slot uint, cfg Config) (tokenReport, error) {
	ti, err := ctx.GetTokenInfo(slot)
	if err != nil {
		return tokenReport{}, tokenErr(cfg, "read token info", err)
	}
	r := tokenReport{token: cfg.token(), flags: ti.Flags,
		model: strings.TrimSpace(strings.TrimRight(ti.ManufacturerID, "\x00") + " " + strings.TrimRight(ti.Model, "\x00"))}
	hs, err := findObjects(ctx, sh, []*pkcs11.Attribute{attr(pkcs11.CKA_CLASS, ckoValidation)})
	if err != nil {
		if lost(err) {
			return tokenReport{}, tokenErr(cfg, "find validation objects", err)
		}
		// A module before PKCS#11 3.2 may refuse the class
		// (CKR_ATTRIBUTE_VALUE_INVALID): it lists no validation.
		return r, nil
	}
	for _, h := range hs {
		a, err := attrs(ctx, sh, h, ckaValidationAuthorityType, ckaValidationFlag, ckaValidationVersion, ckaValidationLevel,
			ckaValidationModuleID, ckaValidationCertificateIdentifier)
		if err != nil {
			return tokenReport{}, tokenErr(cfg, "read a validation object", err)
		}
		if authority, ok := ulong(a[ckaValidationAuthorityType]); !ok || authority != ckvAuthorityTypeNISTCMVP {
			continue // Common Criteria, or another authority: not FIPS 140
		}
		v := validation{moduleID: printable(a[ckaValidationModuleID]), certificate: printable(a[ckaValidationCertificateIdentifier])}
		v.flag, _ = ulong(a[ckaValidationFlag])
		v.level, _ = ulong(a[ckaValidationLevel])
		if ver := a[ckaValidationVersion]; len(ver) == 2 {
			v.major, v.minor = ver[0], ver[1]
		}
		r.validations = append(r.validations, v)
	}
	return r, nil
}

// readKeyFIPS adds to r the validation flags of the private key priv
// (CKA_OBJECT_VALIDATION_FLAGS), when the token answers them.
func readKeyFIPS(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, priv pkcs11.ObjectHandle, cfg Config, r *tokenReport) error {
	if len(r.validations) == 0 {
		return nil // nothing to meet
	}
	a, err := attrs(ctx, sh, priv, ckaObjectValidationFlags)
	if err != nil {
		return tokenErr(cfg, "read the key's validation flags", err)
	}
	if v, ok := a[ckaObjectValidationFlags]; ok {
		r.keyFlags, r.hasKeyFlags = ulong(v)
	}
	return nil
}

// keyFIPS says what the token in slot reports about the FIPS 140
// validation of the private key priv.
func keyFIPS(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, slot uint, priv pkcs11.ObjectHandle, cfg Config) (FIPSStatus, error) {
	r, err := readTokenFIPS(ctx, sh, slot, cfg)
	if err != nil {
		return FIPSStatus{}, err
	}
	if err := readKeyFIPS(ctx, sh, priv, cfg, &r); err != nil {
		return FIPSStatus{}, err
	}
	return judgeFIPS(r), nil
}

// printable returns a UTF-8 attribute value without padding or NULs, with
// anything but printable ASCII replaced, for logs and the start record.
func printable(b []byte) string {
	s := strings.TrimSpace(strings.TrimRight(string(b), "\x00 "))
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
