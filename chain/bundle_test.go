package chain_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/strictjson"
)

// replaceOnce returns data with the first old replaced by new; old must be
// there.
func replaceOnce(t *testing.T, data []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%q is not in %s", old, data)
	}
	return bytes.Replace(data, []byte(old), []byte(new), 1)
}

// bundleEdits are the ways to make a well-formed bundle ambiguous or
// malformed: each must be refused with ErrBadBundle and the strictjson
// sentinel named.
func bundleEdits(t *testing.T, good []byte) []struct {
	name string
	data []byte
	want error
} {
	edit := func(old, new string) []byte { return replaceOnce(t, good, old, new) }
	return []struct {
		name string
		data []byte
		want error
	}{
		{"duplicate tree_size", edit(`"tree_size":`, `"tree_size":1,"tree_size":`), strictjson.ErrDuplicate},
		{"duplicate format", edit(`"format":`, `"format":"x","format":`), strictjson.ErrDuplicate},
		{"duplicate escaped", edit(`"proof":`, `"proof":[],"\u0070roof":`), strictjson.ErrDuplicate},
		{"case variant beside", edit(`"tree_size":`, `"TREE_SIZE":1,"tree_size":`), strictjson.ErrUnknown},
		{"case variant instead", edit(`"checkpoint":`, `"Checkpoint":`), strictjson.ErrUnknown},
		{"format in capitals beside", edit(`"format":`, `"FORMAT":"x","format":`), strictjson.ErrUnknown},
		{"unknown member", edit(`"format":`, `"comment":"hi","format":`), strictjson.ErrUnknown},
		{"empty", nil, strictjson.ErrSyntax},
		{"null size", edit(`"tree_size":3`, `"tree_size":null`), strictjson.ErrNull},
		{"trailing garbage", append(bytes.Clone(good), " x"...), strictjson.ErrSyntax},
		{"trailing bracket", append(bytes.Clone(good), ']'), strictjson.ErrSyntax},
		{"second object", append(bytes.Clone(good), "{}"...), strictjson.ErrSyntax},
		{"invalid utf-8", edit(`"format":`, "\"\xff\":1,\"format\":"), strictjson.ErrSyntax},
	}
}

func TestParseInclusionBundleStrict(t *testing.T) {
	good, err := json.Marshal(chain.InclusionBundle{Format: chain.InclusionBundleFormat, Record: []byte{1, 2}, TreeSize: 3,
		Proof: []chain.Hash{{1}, {2}}, Checkpoint: []byte("note")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.ParseInclusionBundle(append([]byte("\n"), append(good, " \n"...)...)); err != nil {
		t.Fatalf("good bundle: %v", err)
	}
	cases := bundleEdits(t, good)
	var noRecord map[string]json.RawMessage
	json.Unmarshal(good, &noRecord)
	delete(noRecord, "record")
	missing, _ := json.Marshal(noRecord)
	cases = append(cases, struct {
		name string
		data []byte
		want error
	}{"missing record", missing, strictjson.ErrMissing})
	for _, tc := range cases {
		_, err := chain.ParseInclusionBundle(tc.data)
		if !errors.Is(err, chain.ErrBadBundle) || !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "chain: ") {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := chain.ParseInclusionBundle(bytes.Replace(good, []byte(chain.InclusionBundleFormat), []byte("audit-sealer inclusion proof v3"), 1)); !errors.Is(err, chain.ErrBadBundle) {
		t.Errorf("other format: %v", err)
	}
	if _, err := chain.ParseInclusionBundle(append(bytes.Clone(good), bytes.Repeat([]byte(" "), chain.MaxBundleSize)...)); !errors.Is(err, chain.ErrBadBundle) {
		t.Errorf("too large: %v", err)
	}
}

func TestParseConsistencyBundleStrict(t *testing.T) {
	good, err := json.Marshal(chain.ConsistencyBundle{Format: chain.ConsistencyBundleFormat, OldSize: 2, TreeSize: 3,
		Proof: []chain.Hash{{1}, {2}}, Checkpoint: []byte("note")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.ParseConsistencyBundle(good); err != nil {
		t.Fatalf("good bundle: %v", err)
	}
	edit := func(old, new string) []byte { return bytes.Replace(good, []byte(old), []byte(new), 1) }
	cases := append(bundleEdits(t, good), []struct {
		name string
		data []byte
		want error
	}{
		{"duplicate old_size", edit(`"old_size":`, `"old_size":1,"old_size":`), strictjson.ErrDuplicate},
		{"old_size in capitals", edit(`"old_size":`, `"OLD_SIZE":1,"old_size":`), strictjson.ErrUnknown},
		{"missing old_size", edit(`"old_size":2,`, ``), strictjson.ErrMissing},
	}...)
	for _, tc := range cases {
		_, err := chain.ParseConsistencyBundle(tc.data)
		if !errors.Is(err, chain.ErrBadBundle) || !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestParseBundleVersions: a v2 bundle must carry endorsements (an empty
// list is fine), a v1 bundle must not, and v1 bundles still parse; an
// endorsement is parsed as strictly as the bundle around it.
func TestParseBundleVersions(t *testing.T) {
	e := chain.Endorsement{Record: []byte{7}, Proof: []chain.Hash{{3}}, Checkpoint: []byte("cp")}
	v2, _ := json.Marshal(chain.InclusionBundle{Format: chain.InclusionBundleFormat, Record: []byte{1}, TreeSize: 3,
		Proof: []chain.Hash{{1}}, Checkpoint: []byte("note"), Endorsements: []chain.Endorsement{e}})
	b, err := chain.ParseInclusionBundle(v2)
	if err != nil || len(b.Endorsements) != 1 || string(b.Endorsements[0].Checkpoint) != "cp" {
		t.Fatalf("v2 bundle: %v %+v", err, b)
	}
	empty, _ := json.Marshal(chain.InclusionBundle{Format: chain.InclusionBundleFormat, Record: []byte{1}, TreeSize: 3})
	if !bytes.Contains(empty, []byte(`"endorsements":[]`)) {
		t.Fatalf("no endorsements are not written as an empty list: %s", empty)
	}
	v1 := []byte(`{"format":"audit-sealer inclusion proof v1","record":"AQ==","tree_size":3,"proof":[],"checkpoint":"bm90ZQ=="}`)
	if b, err := chain.ParseInclusionBundle(v1); err != nil || b.Format != chain.InclusionBundleFormatV1 || b.Endorsements != nil {
		t.Fatalf("v1 bundle: %v %+v", err, b)
	} else if again, _ := json.Marshal(b); !bytes.Equal(again, v1) {
		t.Fatalf("v1 bundle written back as %s", again)
	}
	cons1 := []byte(`{"format":"audit-sealer consistency proof v1","old_size":2,"tree_size":3,"proof":[],"checkpoint":"bm90ZQ=="}`)
	if b, err := chain.ParseConsistencyBundle(cons1); err != nil || b.Format != chain.ConsistencyBundleFormatV1 {
		t.Fatalf("v1 consistency bundle: %v %+v", err, b)
	}
	edit := func(data []byte, old, new string) []byte { return replaceOnce(t, data, old, new) }
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"v2 without endorsements", edit(empty, `,"endorsements":[]`, ``), strictjson.ErrMissing},
		{"v1 with endorsements", edit(v1, `"proof":[]`, `"proof":[],"endorsements":[]`), strictjson.ErrUnknown},
		{"unknown member in an endorsement", edit(v2, `"record":"Bw=="`, `"record":"Bw==","seq":1`), strictjson.ErrUnknown},
		{"duplicate member in an endorsement", edit(v2, `"record":"Bw=="`, `"record":"Bw==","record":"Bw=="`), strictjson.ErrDuplicate},
		{"endorsement without checkpoint", edit(v2, `,"checkpoint":"Y3A="`, ``), strictjson.ErrMissing},
		{"null endorsement", edit(v2, `"endorsements":[{`, `"endorsements":[null,{`), strictjson.ErrNull},
		{"v1 format duplicated over v2", edit(v2, `"format":`, `"format":"audit-sealer inclusion proof v2","format":`), strictjson.ErrDuplicate},
	} {
		if _, err := chain.ParseInclusionBundle(tc.data); !errors.Is(err, chain.ErrBadBundle) || !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	long := chain.InclusionBundle{Format: chain.InclusionBundleFormat, Endorsements: []chain.Endorsement{{Proof: make([]chain.Hash, 65)}}}
	data, _ := json.Marshal(long)
	if _, err := chain.ParseInclusionBundle(data); !errors.Is(err, chain.ErrBadBundle) {
		t.Errorf("endorsement proof of 65 hashes: %v", err)
	}
}

// testRootPEM is a valid Ed25519 public key in PEM.
const testRootPEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAzswVB9wd3XKVlRwpCIjwla25BE0bc9aW5t8GXWg71Pw=\n-----END PUBLIC KEY-----\n"

// TestParseKeyHistoryStrict: the key history bundle is parsed by the
// rules of every bundle, and needs an origin and a root key that parses.
func TestParseKeyHistoryStrict(t *testing.T) {
	good, err := json.Marshal(chain.KeyHistory{Format: chain.KeyHistoryFormat, Origin: "audit-sealer/00112233445566778899aabbccddeeff",
		Root: testRootPEM, Endorsements: []chain.Endorsement{{Record: []byte{7}, Proof: []chain.Hash{{3}}, Checkpoint: []byte("cp")}}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := chain.ParseKeyHistory(good)
	if err != nil || len(h.Endorsements) != 1 {
		t.Fatalf("good key history: %v", err)
	}
	if k, err := h.RootKey(); err != nil || k.Algorithm != "ed25519" {
		t.Fatalf("root key: %v %+v", err, k)
	}
	edit := func(old, new string) []byte { return replaceOnce(t, good, old, new) }
	for _, tc := range []struct {
		name string
		data []byte
		want error // nil: only ErrBadBundle
	}{
		{"duplicate root", edit(`"root":`, `"root":"x","root":`), strictjson.ErrDuplicate},
		{"escaped duplicate origin", edit(`"origin":`, `"origin":"x","\u006frigin":`), strictjson.ErrDuplicate},
		{"case variant", edit(`"root":`, `"Root":`), strictjson.ErrUnknown},
		{"unknown member", edit(`"format":`, `"keys":[],"format":`), strictjson.ErrUnknown},
		{"missing endorsements", edit(`,"endorsements":[{"record":"Bw==","proof":["AwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="],"checkpoint":"Y3A="}]`, ``), strictjson.ErrMissing},
		{"unknown member in an endorsement", edit(`"record":"Bw=="`, `"record":"Bw==","key":"x"`), strictjson.ErrUnknown},
		{"null origin", edit(`"origin":"audit-sealer/00112233445566778899aabbccddeeff"`, `"origin":null`), strictjson.ErrNull},
		{"trailing data", append(bytes.Clone(good), "{}"...), strictjson.ErrSyntax},
		{"wrong format", edit(chain.KeyHistoryFormat, "audit-sealer key history v2"), nil},
		{"empty origin", edit(`"origin":"audit-sealer/00112233445566778899aabbccddeeff"`, `"origin":""`), nil},
		{"root not a key", edit(`"root":"-----BEGIN`, `"root":"x-----BEGIN`), nil},
		{"short hash", edit(`"proof":["AwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]`, `"proof":["AwA="]`), nil},
	} {
		_, err := chain.ParseKeyHistory(tc.data)
		if !errors.Is(err, chain.ErrBadBundle) || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.HasPrefix(err.Error(), "chain: ") {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
