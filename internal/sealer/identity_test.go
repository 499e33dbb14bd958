package sealer_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/evidence"
	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/tpm"
	"github.com/audit-sealer/audit-sealer/tpm/swtpmtest"
	"github.com/audit-sealer/audit-sealer/verify"
)

// TestTPMIdentityRecordedAtEveryStart: a sealer anchored in a real swtpm
// records the TPM identity at every start, after audit.sealer_started and
// before the checkpoint that seals the start; the verifier reports it, and
// accepts evidence by its attestation key and no other.
func TestTPMIdentityRecordedAtEveryStart(t *testing.T) {
	tr, _ := swtpmtest.Start(t, "")
	ctr, _ := swtpmtest.Counter(t, tr)
	id, err := tpm.ReadIdentity(context.Background(), ctr)
	if err != nil {
		t.Fatal(err)
	}
	ident := event.TPMIdentity{AKName: hex.EncodeToString(id.AKName), AKPublic: base64.StdEncoding.EncodeToString(id.AKPublic),
		NVIndex: id.NVIndex, NVName: hex.EncodeToString(id.NVName)}
	cfg := testConfig(t)
	cfg.TPM.Index = ctr.Index()
	for range 2 {
		sl, err := sealer.New(cfg, testkit.Key("main"), hclog.NewNullLogger(), sealer.WithCounter(ctr), sealer.WithTPMIdentity(ident))
		if err != nil {
			t.Fatal(err)
		}
		h := &harness{t: t, cfg: cfg, sl: sl}
		h.run()
		c := dial(t, cfg.Socket)
		c.emitDurable(sealVerified(1))
		c.close()
		h.stopAndVerify()
	}

	recs := readRecords(t, cfg.DataDir)
	var starts, identities []uint64
	for i, r := range recs {
		if r.Kind != chain.KindSealerEvent {
			continue
		}
		switch string(r.Type) {
		case event.TypeSealerStarted:
			starts = append(starts, r.Seq)
		case event.TypeTPMIdentity:
			identities = append(identities, r.Seq)
			// The next checkpoint after it seals it, before any event.
			for _, n := range recs[i+1:] {
				if n.Kind == chain.KindCheckpoint {
					break
				}
				if n.Kind == chain.KindEvent {
					t.Fatalf("event %d before the checkpoint that seals the identity at %d", n.Seq, r.Seq)
				}
			}
		}
	}
	if len(starts) != 2 || len(identities) != 2 || identities[0] < starts[0] || identities[1] < starts[1] || identities[0] > starts[1] {
		t.Fatalf("sealer_started at %v, tpm_identity at %v: want one identity after each start", starts, identities)
	}
	for _, ev := range sealerEvents(t, recs, event.TypeTPMIdentity) {
		got := ev.(*event.TPMIdentity)
		if got.AKName != ident.AKName || got.AKPublic != ident.AKPublic || got.NVIndex != ident.NVIndex || got.NVName != ident.NVName || got.Timestamp.IsZero() {
			t.Fatalf("recorded %+v, want %+v", got, ident)
		}
	}

	opts := verify.Options{Keys: signer.Verifiers{testkit.Key("main").Public()}}
	nonce := []byte("the auditor's nonce")
	data, err := tpm.Certify(context.Background(), ctr, nonce)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := evidence.Parse(data)
	opts.Evidence, err = e.Verify(nonce)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Dir(context.Background(), cfg.DataDir, opts)
	if err != nil || rep.Verdict != verify.Intact || rep.TPMIdentity == nil || rep.TPMIdentity.Seq != identities[1] || rep.TPMIdentity.AKName != ident.AKName {
		t.Fatalf("evidence by the recorded AK: %v %+v %+v", err, rep.FirstFailure, rep.TPMIdentity)
	}
	other, _ := swtpmtest.Start(t, "")
	octr, _ := swtpmtest.Counter(t, other)
	data, err = tpm.Certify(context.Background(), octr, nonce)
	if err != nil {
		t.Fatal(err)
	}
	e, _ = evidence.Parse(data)
	opts.Evidence, _ = e.Verify(nonce)
	rep, err = verify.Dir(context.Background(), cfg.DataDir, opts)
	if err != nil || rep.FirstFailure == nil || rep.FirstFailure.Reason != verify.ReasonUnknownAK {
		t.Fatalf("evidence by another TPM's AK: %v %+v", err, rep.FirstFailure)
	}
}
