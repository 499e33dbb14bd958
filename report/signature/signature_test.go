package signature_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/report/signature"
	"github.com/audit-sealer/audit-sealer/verify"
)

// fakeChecker "proves" rec, or fails with err.
type fakeChecker struct {
	rec chain.Record
	err error
}

func (f fakeChecker) CheckInclusion(*chain.InclusionBundle) (*verify.Disclosed, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &verify.Disclosed{Record: f.rec, Checkpoint: &chain.SignedCheckpoint{}}, nil
}

func bundle() *chain.InclusionBundle {
	return &chain.InclusionBundle{Format: chain.InclusionBundleFormat, Record: []byte{1}, TreeSize: 1, Proof: []chain.Hash{}, Checkpoint: []byte("x"), Endorsements: []chain.Endorsement{}}
}

// logRead returns an audit.log_read record of operation op holding sum.
func logRead(op, sum, kind, format string) chain.Record {
	ev := `{"type":"audit.log_read","timestamp":"2026-12-08T01:48:22Z","uid":1001,"gid":1001,"operation":"` + op +
		`","filters":{"format":"` + format + `","report":"` + kind + `"},"results":3,"report_sha256":"` + sum + `"}`
	return chain.Record{Kind: chain.KindSealerEvent, Seq: 8, Type: []byte("audit.log_read"), AuditID: []byte("x-8"),
		TimeNano: time.Date(2026, 12, 8, 1, 48, 22, 0, time.UTC).UnixNano(), Event: []byte(ev)}
}

// TestSignature: a signature file round-trips through New and Parse, and
// Check accepts the report it names; a changed report, a record of
// another report, of another operation or kind, and a failed proof are
// refused, each with its error.
func TestSignature(t *testing.T) {
	body := []byte("<html>report</html>")
	sum := sha256.Sum256(body)
	hexSum := hex.EncodeToString(sum[:])
	sig, err := signature.New("soc2", "html", body, bundle())
	if err != nil {
		t.Fatal(err)
	}
	f, b, err := signature.Parse(sig)
	if err != nil || f.SHA256 != hexSum || f.Report != "soc2" || f.ReportFormat != "html" || b.TreeSize != 1 {
		t.Fatalf("parse: %+v %v", f, err)
	}
	res, err := signature.Check(body, f, b, fakeChecker{rec: logRead("report", hexSum, "soc2", "html")})
	if err != nil || res.Seq != 8 || res.UID != 1001 || res.Records != 3 || res.AuditID != "x-8" {
		t.Fatalf("check: %+v %v", res, err)
	}
	other := strings.Repeat("ab", 32)
	for name, c := range map[string]struct {
		body []byte
		rec  chain.Record
		err  error
	}{
		"changed report":   {[]byte("<html>forged</html>"), logRead("report", hexSum, "soc2", "html"), signature.ErrMismatch},
		"another report":   {body, logRead("report", other, "soc2", "html"), signature.ErrMismatch},
		"a query's read":   {body, logRead("query", hexSum, "soc2", "html"), signature.ErrMismatch},
		"another kind":     {body, logRead("report", hexSum, "pci", "html"), signature.ErrMismatch},
		"another format":   {body, logRead("report", hexSum, "soc2", "json"), signature.ErrMismatch},
		"not a sealer one": {body, chain.Record{Kind: chain.KindEvent, Type: []byte("auth.success")}, signature.ErrMismatch},
	} {
		if _, err := signature.Check(c.body, f, b, fakeChecker{rec: c.rec}); !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", name, err, c.err)
		}
	}
	proofErr := errors.New("bad proof")
	if _, err := signature.Check(body, f, b, fakeChecker{err: proofErr}); !errors.Is(err, proofErr) {
		t.Errorf("a failed proof: %v", err)
	}
}

// TestParseIsStrict: a signature file that is not exactly the format
// (unknown or repeated member, another format line, a bad SHA-256, a bad
// bundle, trailing data, too large) is malformed.
func TestParseIsStrict(t *testing.T) {
	good, _ := signature.New("soc2", "html", []byte("x"), bundle())
	var m map[string]json.RawMessage
	json.Unmarshal(good, &m)
	with := func(k string, v string) []byte {
		c := map[string]json.RawMessage{}
		for kk, vv := range m {
			c[kk] = vv
		}
		if v == "" {
			delete(c, k)
		} else {
			c[k] = json.RawMessage(v)
		}
		b, _ := json.Marshal(c)
		return b
	}
	for name, data := range map[string][]byte{
		"unknown member":  with("extra", `1`),
		"missing sha256":  with("sha256", ""),
		"another format":  with("format", `"audit-sealer report signature v2"`),
		"upper-case hex":  with("sha256", `"`+strings.Repeat("AB", 32)+`"`),
		"short sha256":    with("sha256", `"abcd"`),
		"bad bundle":      with("proof", `{"format":"nope"}`),
		"repeated member": append([]byte(`{"format":"x",`), good[1:]...),
		"trailing data":   append(append([]byte{}, good...), []byte(`{}`)...),
		"too large":       append(append([]byte{}, good...), make([]byte, signature.MaxSize)...),
		"not json":        []byte("-----BEGIN SIGNATURE-----"),
	} {
		if _, _, err := signature.Parse(data); !errors.Is(err, signature.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := signature.Parse(good); err != nil {
		t.Fatal(err)
	}
}
