package evidence

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// FuzzStructures feeds arbitrary bytes to each TPM structure parser (Verify
// reaches most of them only with a valid signature): they must never panic,
// must fail with ErrBadEvidence, and must accept only inputs they consume
// exactly.
func FuzzStructures(f *testing.F) {
	// A real TPMT_PUBLIC (the AK), TPMS_NV_PUBLIC, TPMS_ATTEST and
	// TPMT_SIGNATURE from swtpm, as seeds.
	for _, seed := range []string{
		"0023000b00050472000000100018000b000300100020abb28a779a355f72cdc449a8b7b52ad1034c431e68854376e9061b9db4f3f777" +
			"0020264ad6f167756136b3c0516c519f78f60b9daca9ab47dd3d9bc653b8c00c7a38",
		"01500100000b2206001400000008",
		"ff54434780140022000bc4631030003ed796ca4e5c6c30ae6a8b4c4e7ad49afdd7c6cae11ddb805bd23200056e6f6e6365000000000000000b" +
			"00000001000000000120191023001636360022000b78f68d916622cf478814a4b29d1e44072d46e66e86b96140ba03f82af2a4d75b000000080000000000000002",
		"0018000b0020e793066c451395427e0c6f7e9970a21c31264263fa903482888dfa86f61ffca20020110081f268bc1b58219947069f0d60dce6608b" +
			"25f54d84028adbdc1c78a59e13",
	} {
		b, err := hex.DecodeString(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(name string, ok bool, err error) {
			if err != nil && !errors.Is(err, ErrBadEvidence) {
				t.Fatalf("%s: error %v does not wrap ErrBadEvidence", name, err)
			}
			if ok != (err == nil) {
				t.Fatalf("%s: result and error disagree: %v", name, err)
			}
		}
		ak, err := parseECCPublic(b)
		check("parseECCPublic", ak != nil, err)
		nv, err := parseNVPublic(b)
		check("parseNVPublic", nv != nil, err)
		att, err := parseAttestNV(b)
		check("parseAttestNV", att != nil, err)
		sig, err := parseECDSASignature(b)
		check("parseECDSASignature", sig != nil, err)
		if nv != nil {
			// Re-encode: an accepted TPMS_NV_PUBLIC has one encoding.
			var e []byte
			e = append(e, byte(nv.index>>24), byte(nv.index>>16), byte(nv.index>>8), byte(nv.index))
			e = append(e, byte(nv.nameAlg>>8), byte(nv.nameAlg))
			e = append(e, byte(nv.attributes>>24), byte(nv.attributes>>16), byte(nv.attributes>>8), byte(nv.attributes))
			e = append(e, byte(len(nv.authPolicy)>>8), byte(len(nv.authPolicy)))
			e = append(e, nv.authPolicy...)
			e = append(e, byte(nv.dataSize>>8), byte(nv.dataSize))
			if !bytes.Equal(e, b) {
				t.Fatalf("parseNVPublic accepted %x, which re-encodes as %x", b, e)
			}
		}
	})
}

// TestSeedsParse makes sure the swtpm seeds of FuzzStructures are what they
// claim to be.
func TestSeedsParse(t *testing.T) {
	ak, _ := hex.DecodeString("0023000b00050472000000100018000b000300100020abb28a779a355f72cdc449a8b7b52ad1034c431e68854376e9061b9db4f3f777" +
		"0020264ad6f167756136b3c0516c519f78f60b9daca9ab47dd3d9bc653b8c00c7a38")
	nv, _ := hex.DecodeString("01500100000b2206001400000008")
	if _, err := parseECCPublic(ak); err != nil {
		t.Error(err)
	}
	if p, err := parseNVPublic(nv); err != nil || p.attributes != 0x22060014 || p.dataSize != 8 {
		t.Errorf("parseNVPublic = %+v, %v", p, err)
	}
}
