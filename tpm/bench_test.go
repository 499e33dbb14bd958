package tpm_test

import (
	"testing"

	"github.com/audit-sealer/audit-sealer/tpm"
	"github.com/audit-sealer/audit-sealer/tpm/swtpmtest"
)

// The benchmarks measure one operation's latency on swtpm over a
// socketpair (each index-authorized command is two TPM commands: the HMAC
// session's StartAuthSession, then the command). A discrete TPM is orders
// of magnitude slower; see the notes.

func BenchmarkIncrement(b *testing.B) {
	tr, _ := swtpmtest.Start(b, "")
	c, _ := swtpmtest.Counter(b, tr)
	for b.Loop() {
		if _, err := c.Increment(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	tr, _ := swtpmtest.Start(b, "")
	c, _ := swtpmtest.Counter(b, tr)
	for b.Loop() {
		if _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCertify(b *testing.B) {
	tr, _ := swtpmtest.Start(b, "")
	c, _ := swtpmtest.Counter(b, tr)
	for b.Loop() {
		if _, err := tpm.Certify(ctx, c, []byte("nonce")); err != nil {
			b.Fatal(err)
		}
	}
}
