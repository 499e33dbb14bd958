package evidence_test

import (
	"testing"

	"github.com/audit-sealer/audit-sealer/evidence"
)

// FuzzParseVerify feeds arbitrary files and nonces to Parse and Verify: they
// must never panic, and whatever verifies must parse again from its own
// Marshal output to the same result.
func FuzzParseVerify(f *testing.F) {
	s := goodSpec()
	good, err := s.build().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, s.extraData)
	f.Add(good, []byte("other"))
	f.Add([]byte(`{"format":"audit-sealer tpm evidence v1"}`), []byte(nil))
	f.Fuzz(func(t *testing.T, data, nonce []byte) {
		e, err := evidence.Parse(data)
		if err != nil {
			return
		}
		res, err := e.Verify(nonce)
		if err != nil {
			return
		}
		again, err := e.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a verified file: %v", err)
		}
		e2, err := evidence.Parse(again)
		if err != nil {
			t.Fatalf("Parse(Marshal(e)): %v", err)
		}
		res2, err := e2.Verify(nonce)
		if err != nil || !equalResult(*res, *res2) {
			t.Fatalf("round trip: %+v, %v; want %+v", res2, err, res)
		}
	})
}
