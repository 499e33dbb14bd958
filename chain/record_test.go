package chain_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
)

func sampleRecords() []chain.Record {
	h := func(s string) chain.Hash { return chain.Hash(sha256.Sum256([]byte(s))) }
	return []chain.Record{
		{Kind: chain.KindSegmentStart, Seq: 0, TimeNano: 1, LogID: chain.LogID{1, 2, 3}},
		{Kind: chain.KindSegmentStart, Seq: 5, TimeNano: 2, PrevHash: h("p"), LogID: chain.LogID{9}, TreeState: []chain.Hash{h("a"), h("b")}},
		{Kind: chain.KindEvent, Seq: 6, TimeNano: 3, PrevHash: h("q"), Service: []byte("svc"), AuditID: []byte("0102-6"),
			Type: []byte("seal.verified"), Event: []byte(`{"type":"seal.verified"}`)},
		{Kind: chain.KindSealerEvent, Seq: 7, TimeNano: 4, PrevHash: h("r"), Service: []byte(chain.SealerService),
			AuditID: []byte("0102-7"), Type: []byte("audit.sealer_stopped"), Event: []byte(`{}`)},
		{Kind: chain.KindCheckpoint, Seq: 8, TimeNano: 5, PrevHash: h("s"), Checkpoint: []byte("note\n\n— k AAAA\n")},
		{Kind: chain.KindCommit, Seq: 9, TimeNano: 6, PrevHash: h("t"), Flags: chain.FlagSealRequested, Signature: make([]byte, chain.CommitSignatureSize)},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	hasher := chain.NewHasher()
	seen := map[string]bool{}
	for _, r := range sampleRecords() {
		enc, err := r.Encode(nil)
		if err != nil {
			t.Fatalf("%v: %v", r.Kind, err)
		}
		if seen[string(enc)] {
			t.Fatalf("%v: two records share an encoding", r.Kind)
		}
		seen[string(enc)] = true
		if !hasher.Check(enc) {
			t.Fatalf("%v: stored hash does not check", r.Kind)
		}
		got, err := chain.Decode(enc)
		if err != nil {
			t.Fatalf("%v: decode: %v", r.Kind, err)
		}
		again, _ := got.Encode(nil)
		if !bytes.Equal(enc, again) {
			t.Fatalf("%v: decode then encode changed the bytes", r.Kind)
		}
		if got.Hash != r.Hash || got.Seq != r.Seq || got.PrevHash != r.PrevHash || got.Kind != r.Kind {
			t.Fatalf("%v: fields changed in the round trip", r.Kind)
		}
		// Any single flipped byte is caught by the hash check.
		for i := range enc {
			bad := bytes.Clone(enc)
			bad[i] ^= 0x40
			if hasher.Check(bad) {
				t.Fatalf("%v: flipping byte %d is not detected", r.Kind, i)
			}
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := (&sampleRecords()[2]).Encode(nil)
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := map[string][]byte{
		"empty":         nil,
		"short":         good[:40],
		"version":       mut(func(b []byte) []byte { b[0] = 2; return b }),
		"kind zero":     mut(func(b []byte) []byte { b[1] = 0; return b }),
		"kind unknown":  mut(func(b []byte) []byte { b[1] = 9; return b }),
		"trailing byte": mut(func(b []byte) []byte { return append(b[:len(b)-32], append([]byte{0}, b[len(b)-32:]...)...) }),
		"missing bytes": mut(func(b []byte) []byte { return append(b[:len(b)-33], b[len(b)-32:]...) }),
		"zero service":  mut(func(b []byte) []byte { b[50], b[51] = 0, 0; return b }),
		"huge service":  mut(func(b []byte) []byte { b[50], b[51] = 0xff, 0xff; return b }),
	}
	for name, in := range cases {
		if _, err := chain.Decode(in); !errors.Is(err, chain.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestEncodeRefusesBadRecords(t *testing.T) {
	bad := []chain.Record{
		{Kind: 0},
		{Kind: chain.KindEvent, Service: nil, AuditID: []byte("a"), Type: []byte("t"), Event: []byte("{}")},
		{Kind: chain.KindCheckpoint},
		{Kind: chain.KindSegmentStart, TreeState: make([]chain.Hash, chain.MaxTreeHashes+1)},
	}
	for _, r := range bad {
		if _, err := r.Encode(nil); err == nil {
			t.Errorf("%v: encoded a record that breaks the limits", r.Kind)
		}
	}
}

func TestAuditID(t *testing.T) {
	id := chain.LogID{0xab, 0xcd, 0, 0, 0, 0, 0, 1, 0xff}
	if got := chain.AuditID(id, 42); got != "abcd000000000001-42" {
		t.Fatalf("AuditID = %q", got)
	}
	r := chain.Record{Seq: 42, AuditID: []byte("abcd000000000001-42")}
	if !r.CheckAuditID(id) {
		t.Fatal("CheckAuditID rejects the right id")
	}
	r.Seq = 43
	if r.CheckAuditID(id) {
		t.Fatal("CheckAuditID accepts a wrong id")
	}
}

// FuzzDecode checks that Decode never panics and that every accepted input
// is the one canonical encoding of what it decodes to (non-malleable).
func FuzzDecode(f *testing.F) {
	for _, r := range sampleRecords() {
		enc, _ := r.Encode(nil)
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := chain.Decode(b)
		if err != nil {
			return
		}
		enc, err := r.Encode(nil)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		if !bytes.Equal(enc[:len(enc)-32], b[:len(b)-32]) {
			t.Fatalf("decode then encode changed the bytes")
		}
	})
}

func TestHasherAllocs(t *testing.T) {
	r := chain.Record{Kind: chain.KindEvent, Seq: 6, TimeNano: 3, Service: []byte("queen-rbee"), AuditID: []byte("0102030405060708-6"),
		Type: []byte("data.inference_executed"), Event: make([]byte, 450)}
	enc, _ := r.Encode(nil)
	hasher := chain.NewHasher()
	if n := testing.AllocsPerRun(100, func() {
		if !hasher.Check(enc) {
			t.Fatal("hash mismatch")
		}
	}); n != 0 {
		t.Fatalf("Check allocates %v times", n)
	}
}
