package hsm

import (
	"errors"
	"strings"
	"testing"
)

// TestJudgeFIPS: a key is validated only when the token reports a NIST
// CMVP validation and the key's flags carry that validation's bit; a token
// in its error state never is; no validation, or no key flags, is
// unreported.
func TestJudgeFIPS(t *testing.T) {
	cmvp := validation{flag: 0x4, major: 3, level: 3, moduleID: "Example HSM v7", certificate: "4711"}
	cc := validation{flag: 0x2, major: 3, level: 2, moduleID: "Other"}
	for _, tc := range []struct {
		name   string
		r      tokenReport
		state  string
		detail string // in Detail
	}{
		{"SoftHSM2: nothing reported", tokenReport{token: `"t"`, model: "SoftHSM project SoftHSM v2"}, FIPSUnreported, "reports no FIPS 140 validation"},
		{"no key flags", tokenReport{token: `"t"`, validations: []validation{cmvp}}, FIPSUnreported, "not whether the signing key meets it"},
		{"key meets it", tokenReport{token: `"t"`, validations: []validation{cmvp}, keyFlags: 0x4 | 0x1, hasKeyFlags: true}, FIPSValidated, "the signing key meets it"},
		{"key meets the second", tokenReport{token: `"t"`, validations: []validation{cc, cmvp}, keyFlags: 0x4, hasKeyFlags: true}, FIPSValidated, "certificate 4711"},
		{"key meets another", tokenReport{token: `"t"`, validations: []validation{cmvp}, keyFlags: 0x2, hasKeyFlags: true}, FIPSNotValidated, "does not meet it"},
		{"key meets none", tokenReport{token: `"t"`, validations: []validation{cmvp}, hasKeyFlags: true}, FIPSNotValidated, "(0x0)"},
		{"a zero validation flag proves nothing", tokenReport{token: `"t"`, validations: []validation{{major: 3}}, keyFlags: 0xff, hasKeyFlags: true}, FIPSNotValidated, "does not meet it"},
		{"error state", tokenReport{token: `"t"`, flags: ckfErrorState, validations: []validation{cmvp}, keyFlags: 0x4, hasKeyFlags: true}, FIPSNotValidated, "CKF_ERROR_STATE"},
	} {
		st := judgeFIPS(tc.r)
		if st.State != tc.state || !strings.Contains(st.Detail, tc.detail) || !strings.Contains(st.Detail, `token "t"`) {
			t.Errorf("%s: %+v, want %s with %q", tc.name, st, tc.state, tc.detail)
		}
		if (st.Validation != "") != (len(tc.r.validations) > 0 && tc.r.flags&ckfErrorState == 0) {
			t.Errorf("%s: validation %q", tc.name, st.Validation)
		}
		err := notFIPS(st)
		if !errors.Is(err, ErrNotFIPS) || !strings.Contains(err.Error(), st.Detail) || !strings.Contains(err.Error(), "require_fips = false") {
			t.Errorf("%s: notFIPS: %v", tc.name, err)
		}
	}
}

// TestValidationString: the description names the certificate, the FIPS
// 140 version and level and the module, leaving out what the token left
// empty.
func TestValidationString(t *testing.T) {
	for _, tc := range []struct {
		v    validation
		want string
	}{
		{validation{major: 3, level: 3, moduleID: "Example HSM v7", certificate: "4711"}, "NIST CMVP certificate 4711, FIPS 140-3 level 3, module Example HSM v7"},
		{validation{major: 2, level: 2}, "NIST CMVP, FIPS 140-2 level 2"},
		{validation{certificate: " Pending "}, "NIST CMVP certificate Pending"},
		{validation{}, "NIST CMVP"},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.v, got, tc.want)
		}
	}
}
