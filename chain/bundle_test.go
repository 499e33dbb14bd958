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

// bundleEdits are the ways to make a well-formed bundle ambiguous or
// malformed: each must be refused with ErrBadBundle and the strictjson
// sentinel named.
func bundleEdits(t *testing.T, good []byte) []struct {
	name string
	data []byte
	want error
} {
	edit := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%q is not in %s", old, good)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
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
	if _, err := chain.ParseInclusionBundle(bytes.Replace(good, []byte(chain.InclusionBundleFormat), []byte("audit-sealer inclusion proof v2"), 1)); !errors.Is(err, chain.ErrBadBundle) {
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
