package witness

import (
	"errors"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
)

// FuzzAnswer feeds arbitrary answers (status, Content-Type, body) to the
// reader of add-checkpoint answers. It must never panic, must return either
// cosignatures or an error of the package's kinds, and every cosignature it
// returns must verify by the configured key over the submitted checkpoint.
func FuzzAnswer(f *testing.F) {
	w1 := testSigner(f, "witness.test/w1", "w1")
	other := testSigner(f, "witness.test/w2", "w2")
	signed, text := testCheckpoint(f, 5)
	good, _ := w1.Cosign(text)
	bad, _ := other.Cosign(text)
	for _, seed := range []struct {
		status int
		ctype  string
		body   string
		old    uint64
	}{
		{200, "", good.Line(), 0},
		{200, "", bad.Line() + good.Line(), 3},
		{200, "text/plain", good.Line() + "\n", 0},
		{200, "", strings.TrimSuffix(good.Line(), "\n"), 0},
		{409, "text/x.tlog.size", "3\n", 0},
		{409, "text/x.tlog.size; charset=utf-8", "5\n", 5},
		{409, "", "", 5},
		{422, "text/plain", "bad consistency proof\n", 2},
		{403, "", "", 0},
		{500, "", "", 0},
		{302, "", "", 0},
	} {
		f.Add(seed.status, seed.ctype, []byte(seed.body), seed.old)
	}
	c := &Client{Verifier: w1.Verifier()}
	kinds := []error{ErrBadResponse, ErrNoCosignature, ErrBadCosignature, ErrConflict, ErrInconsistent,
		ErrUnknownLog, ErrNotTrusted, ErrBadRequest, ErrUnavailable}
	f.Fuzz(func(t *testing.T, status int, ctype string, body []byte, old uint64) {
		old %= 6
		var proof []chain.Hash
		if old > 0 && old < 5 {
			proof = []chain.Hash{{1}}
		}
		req, err := newRequest(old, proof, signed)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := c.interpret(req, status, ctype, body)
		if err != nil {
			if cs != nil {
				t.Fatalf("cosignatures with an error: %v", err)
			}
			for _, k := range kinds {
				if errors.Is(err, k) {
					return
				}
			}
			t.Fatalf("error of no known kind: %v", err)
		}
		if status != 200 || len(cs) == 0 {
			t.Fatalf("status %d gave %d cosignatures and no error", status, len(cs))
		}
		for _, c := range cs {
			if err := w1.Verifier().VerifyCosignature(text, c); err != nil {
				t.Fatalf("returned a cosignature that does not verify: %v", err)
			}
		}
	})
}

// FuzzParseVerifierKey checks that a verifier key that parses is in its one
// canonical form: printing it back gives the same text.
func FuzzParseVerifierKey(f *testing.F) {
	f.Add(testSigner(f, "witness.test/w1", "w1").Verifier().String())
	f.Add("witness.test/w1+00000000+BA==")
	f.Add("a+01234567+AWAt1bTvWbelYG/RMrojnz19+jUc7m/VslIH5GrvjBL/")
	f.Fuzz(func(t *testing.T, vkey string) {
		v, err := ParseVerifierKey(vkey)
		if err != nil {
			if !errors.Is(err, ErrBadVerifierKey) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		if v.String() != vkey {
			t.Fatalf("parsed %q, prints %q", vkey, v.String())
		}
	})
}

// FuzzParseCosignature checks that a cosignature line that parses is in its
// one canonical form.
func FuzzParseCosignature(f *testing.F) {
	_, text := testCheckpoint(f, 5)
	c, _ := testSigner(f, "witness.test/w1", "w1").Cosign(text)
	f.Add(c.Line())
	f.Add("\u2014 x AAAA")
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseCosignature(line)
		if err != nil {
			if !errors.Is(err, ErrMalformedCosignature) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		if c.Line() != line && c.Line() != line+"\n" {
			t.Fatalf("parsed %q, prints %q", line, c.Line())
		}
	})
}
