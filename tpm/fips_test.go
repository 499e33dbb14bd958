package tpm_test

import (
	"crypto/fips140"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/tpm"
	"github.com/audit-sealer/audit-sealer/tpm/swtpmtest"
)

// fipsOnlyTests run again in FIPS 140-only mode by TestFIPSOnly: the
// sessions of provisioning (an empty owner auth, and a set one), of the
// counter, and of credential activation (the EK's policy session) use only
// what the Go Cryptographic Module approves.
var fipsOnlyTests = []string{"TestProvisionReadIncrement", "TestFirstIncrementRefreshesName", "TestOwnerAuth", "TestCertifyChallenge", "TestCertifyChallengeECC", "TestFIPSOnly"}

// TestFIPSOnly: under GODEBUG=fips140=only (the test runs itself again in
// that mode) provisioning, counting, certifying and answering a credential
// challenge work, where go-tpm's HMAC of an unsalted session keyed with an
// empty auth value panicked before; and an auth value too short to key an
// HMAC there is refused with ErrShortAuth, before anything is sent.
func TestFIPSOnly(t *testing.T) {
	if !fips140.Enforced() {
		cmd := exec.Command(os.Args[0], "-test.run=^("+strings.Join(fipsOnlyTests, "|")+")$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "GODEBUG=fips140=only")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("under GODEBUG=fips140=only: %v\n%s", err, out)
		}
		for _, name := range fipsOnlyTests {
			if !strings.Contains(string(out), "--- PASS: "+name+" ") {
				t.Errorf("under GODEBUG=fips140=only, %s did not pass:\n%s", name, out)
			}
		}
		return
	}
	tr, _ := swtpmtest.Start(t, "")
	for _, cfg := range []tpm.Config{
		{Auth: []byte("short")},
		{Auth: []byte("13 bytes long")},
		{Auth: append([]byte("twelve bytes"), 0, 0)}, // 14 bytes, 12 once its trailing zeros go
		{Auth: auth, OwnerAuth: []byte("owner")},
		{Auth: auth, EndorsementAuth: []byte("endorse")},
	} {
		_, err := tpm.ProvisionWithTransport(tr, cfg)
		if !errors.Is(err, tpm.ErrShortAuth) || !strings.Contains(err.Error(), "fips140=only") {
			t.Errorf("%v: %v, want ErrShortAuth naming fips140=only", cfg, err)
		}
	}
	if v, err := tpm.ProvisionWithTransport(tr, tpm.Config{Auth: []byte("14 bytes long!")}); err != nil || v != 1 {
		t.Errorf("a 14-byte auth value: %d, %v", v, err)
	}
}
