package hsm

import (
	"fmt"
	"strings"
)

// What a token says about FIPS 140 (FIPSStatus.State). The values are those
// of the hsm_fips field of audit.sealer_started (EVENTS.md).
const (
	// FIPSValidated: the token reports a NIST CMVP (FIPS 140) validation,
	// with a PKCS#11 3.2 validation object, and the signing key's
	// CKA_OBJECT_VALIDATION_FLAGS say the key meets it.
	FIPSValidated = "validated"
	// FIPSNotValidated: the token reports a NIST CMVP validation but says
	// the signing key does not meet it, or the token is in its error state
	// (CKF_ERROR_STATE: it failed a self-test).
	FIPSNotValidated = "not_validated"
	// FIPSUnreported: the token reports no NIST CMVP validation through
	// PKCS#11 (a module older than PKCS#11 3.2, one that reports its FIPS
	// mode only through vendor tools, or one that is not validated, such
	// as SoftHSM2), or does not say whether the signing key meets it.
	FIPSUnreported = "unreported"
)

// FIPSStatus is what a PKCS#11 token reports about the FIPS 140 validation
// of its signing key, read at each connection (Signer.FIPS). Only the
// token's own report counts: nothing here knows a token's validation from
// its name or model, and no vendor-specific interface is read.
type FIPSStatus struct {
	// State is FIPSValidated, FIPSNotValidated or FIPSUnreported.
	State string
	// Validation describes the NIST CMVP validation the token reports
	// (certificate, FIPS 140 version and level, module), "" when it
	// reports none.
	Validation string
	// Detail says why State is what it is, for logs and errors.
	Detail string
}

// PKCS#11 3.2 validation objects (OASIS PKCS #11 Specification Version
// 3.2, "Validation objects"), which github.com/miekg/pkcs11 v1.1.2 (a
// v2.40 binding) does not define. A token that holds a validation lists it
// as a CKO_VALIDATION object with a bit of its own (CKA_VALIDATION_FLAG);
// each key says in CKA_OBJECT_VALIDATION_FLAGS which validations it meets.
const (
	ckoValidation                      = 0x0000000a // CKO_VALIDATION
	ckaObjectValidationFlags           = 0x0000061e // CKA_OBJECT_VALIDATION_FLAGS
	ckaValidationType                  = 0x0000061f // CKA_VALIDATION_TYPE
	ckaValidationVersion               = 0x00000620 // CKA_VALIDATION_VERSION: CK_VERSION of the standard (3.0: FIPS 140-3)
	ckaValidationLevel                 = 0x00000621 // CKA_VALIDATION_LEVEL
	ckaValidationModuleID              = 0x00000622 // CKA_VALIDATION_MODULE_ID
	ckaValidationFlag                  = 0x00000623 // CKA_VALIDATION_FLAG
	ckaValidationAuthorityType         = 0x00000624 // CKA_VALIDATION_AUTHORITY_TYPE
	ckaValidationCertificateIdentifier = 0x00000626 // CKA_VALIDATION_CERTIFICATE_IDENTIFIER
	ckvAuthorityTypeNISTCMVP           = 0x00000001 // CKV_AUTHORITY_TYPE_NIST_CMVP
	ckfErrorState                      = 0x01000000 // CKF_ERROR_STATE (CK_TOKEN_INFO flags, PKCS#11 2.40)
)

// validation is one CKO_VALIDATION object of authority NIST CMVP, as read
// from the token.
type validation struct {
	flag        uint   // CKA_VALIDATION_FLAG
	major       byte   // CKA_VALIDATION_VERSION: 3 for FIPS 140-3
	minor       byte   //
	level       uint   // CKA_VALIDATION_LEVEL
	moduleID    string // CKA_VALIDATION_MODULE_ID
	certificate string // CKA_VALIDATION_CERTIFICATE_IDENTIFIER
}

// String describes v for the start record and messages.
func (v validation) String() string {
	s := "NIST CMVP"
	if c := strings.TrimSpace(v.certificate); c != "" {
		s += " certificate " + c
	}
	if v.major != 0 {
		s += fmt.Sprintf(", FIPS 140-%d", v.major)
	}
	if v.level != 0 {
		s += fmt.Sprintf(" level %d", v.level)
	}
	if m := strings.TrimSpace(v.moduleID); m != "" {
		s += ", module " + m
	}
	return s
}

// tokenReport is what judgeFIPS decides from: the token's flags, its NIST
// CMVP validation objects, and the signing key's validation flags.
type tokenReport struct {
	token       string // the token, for messages (Config.token)
	model       string // CK_TOKEN_INFO manufacturerID and model, for messages
	flags       uint   // CK_TOKEN_INFO flags
	validations []validation
	keyFlags    uint // CKA_OBJECT_VALIDATION_FLAGS of the private key
	hasKeyFlags bool // the token answered CKA_OBJECT_VALIDATION_FLAGS
}

// judgeFIPS says what r shows about the FIPS 140 validation of the signing
// key. The rule is the one package documentation and docs/fips.md state: a
// key is validated only when the token itself says so, both for the module
// (a NIST CMVP validation object) and for the key (its validation flag).
func judgeFIPS(r tokenReport) FIPSStatus {
	if r.flags&ckfErrorState != 0 {
		return FIPSStatus{State: FIPSNotValidated,
			Detail: fmt.Sprintf("token %s (%s) is in its error state (CKF_ERROR_STATE): it failed a FIPS 140 self-test", r.token, r.model)}
	}
	if len(r.validations) == 0 {
		return FIPSStatus{State: FIPSUnreported,
			Detail: fmt.Sprintf("token %s (%s) reports no FIPS 140 validation: its PKCS#11 module lists no validation object of authority NIST CMVP (PKCS#11 3.2 CKO_VALIDATION); SoftHSM2 is not validated and reports none", r.token, r.model)}
	}
	var all []string
	for _, v := range r.validations {
		all = append(all, v.String())
	}
	listed := strings.Join(all, "; ")
	if !r.hasKeyFlags {
		return FIPSStatus{State: FIPSUnreported, Validation: listed,
			Detail: fmt.Sprintf("token %s (%s) reports %s, but not whether the signing key meets it (no CKA_OBJECT_VALIDATION_FLAGS)", r.token, r.model, listed)}
	}
	for _, v := range r.validations {
		if v.flag != 0 && r.keyFlags&v.flag == v.flag {
			return FIPSStatus{State: FIPSValidated, Validation: v.String(),
				Detail: fmt.Sprintf("token %s (%s) reports %s, and the signing key meets it", r.token, r.model, v)}
		}
	}
	return FIPSStatus{State: FIPSNotValidated, Validation: listed,
		Detail: fmt.Sprintf("token %s (%s) reports %s, but its CKA_OBJECT_VALIDATION_FLAGS (0x%x) say the signing key does not meet it (a key made outside the validated mode)", r.token, r.model, listed, r.keyFlags)}
}

// notFIPS is the error of a token that Config.RequireFIPS refuses.
func notFIPS(st FIPSStatus) error {
	return errorf(kinds(ErrNotFIPS), "hsm: FIPS 140 required (require_fips), and %s; refused (to run on a token that is not FIPS-validated, such as SoftHSM2 in tests, set require_fips = false: the start record then says hsm_fips %s)", st.Detail, st.State)
}
