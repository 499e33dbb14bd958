package sealer_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/witness"
	sumdbnote "golang.org/x/mod/sumdb/note"
)

// The witness modes of testWitness.
const (
	modeHonest       = iota // a witness per c2sp.org/tlog-witness
	modeUnavailable         // 503
	modeGarbage             // 200 with a body that is not signature lines
	modeWrongKey            // cosigns with another key than the configured one
	modeHang                // answers nothing until the request is abandoned
	modeInconsistent        // 422 to every request
	modeLarger              // 409: it cosigned a larger tree of the log
)

// testWitness is an httptest witness: honest, it keeps the size and root it
// cosigned last, answers 409 to a request from another old size, 422 to a
// proof that does not lead from its tree, and cosigns otherwise.
type testWitness struct {
	t        *testing.T
	srv      *httptest.Server
	key      *witness.Signer
	mode     atomic.Int32
	requests atomic.Int32
	mu       sync.Mutex
	size     uint64
	root     chain.Hash
	// logKey, when set, is the only key the witness takes the log's
	// checkpoints from, under the checkpoint's origin (403 otherwise), as
	// litewitness does.
	logKey *signer.PublicKey
}

func newTestWitness(t *testing.T, label string, mode int32) *testWitness {
	tw := &testWitness{t: t, key: testkit.WitnessKey(label)}
	tw.mode.Store(mode)
	tw.srv = httptest.NewServer(http.HandlerFunc(tw.serve))
	t.Cleanup(tw.srv.Close)
	return tw
}

// config returns the [[witness]] entry for tw.
func (tw *testWitness) config(name string) config.Witness {
	return config.Witness{Name: name, URL: tw.srv.URL, VKey: tw.key.Verifier().String()}
}

func (tw *testWitness) cosigned() uint64 {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.size
}

func (tw *testWitness) serve(w http.ResponseWriter, r *http.Request) {
	tw.requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.URL.Path != "/add-checkpoint" {
		http.Error(w, "wrong method or path", http.StatusMethodNotAllowed)
		return
	}
	switch tw.mode.Load() {
	case modeUnavailable:
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	case modeGarbage:
		io.WriteString(w, "<html>hello</html>\n")
		return
	case modeHang:
		<-r.Context().Done()
		return
	case modeInconsistent:
		http.Error(w, "inconsistent", http.StatusUnprocessableEntity)
		return
	case modeLarger:
		w.Header().Set("Content-Type", "text/x.tlog.size")
		w.WriteHeader(http.StatusConflict)
		fmt.Fprintf(w, "%d\n", uint64(1)<<40)
		return
	}
	head, note, ok := bytes.Cut(body, []byte("\n\n"))
	sc := bufio.NewScanner(bytes.NewReader(head))
	var old uint64
	var proof []chain.Hash
	for i := 0; sc.Scan(); i++ {
		line := sc.Text()
		if i == 0 {
			n, err := strconv.ParseUint(strings.TrimPrefix(line, "old "), 10, 64)
			if err != nil || !strings.HasPrefix(line, "old ") {
				ok = false
			}
			old = n
			continue
		}
		b, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(b) != len(chain.Hash{}) {
			ok = false
			continue
		}
		proof = append(proof, chain.Hash(b))
	}
	cp, _, _, err := chain.PeekCheckpoint(note)
	if !ok || err != nil {
		http.Error(w, "malformed", http.StatusBadRequest)
		return
	}
	if tw.logKey != nil {
		if _, err := sumdbnote.Open(note, sumdbnote.VerifierList(tw.logKey.NoteVerifier(cp.Origin))); err != nil {
			http.Error(w, "no trusted log signature: "+err.Error(), http.StatusForbidden)
			return
		}
	}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if old != tw.size {
		w.Header().Set("Content-Type", "text/x.tlog.size")
		w.WriteHeader(http.StatusConflict)
		fmt.Fprintf(w, "%d\n", tw.size)
		return
	}
	if old > 0 && (cp.Size < old || (cp.Size == old && cp.Root != tw.root) ||
		(cp.Size > old && chain.VerifyConsistency(old, cp.Size, proof, tw.root, cp.Root) != nil)) {
		http.Error(w, "inconsistent", http.StatusUnprocessableEntity)
		return
	}
	key := tw.key
	if tw.mode.Load() == modeWrongKey {
		// The configured key's name and key ID, another key's signature.
		other := testkit.WitnessKey("impostor")
		c, _ := other.Cosign(note[:bytes.LastIndex(note, []byte("\n\n"))+1])
		c.Name, c.KeyHash = key.Name(), key.KeyHash()
		io.WriteString(w, c.Line())
		return
	}
	c, err := key.Cosign(note[:bytes.LastIndex(note, []byte("\n\n"))+1])
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	tw.size, tw.root = cp.Size, cp.Root
	io.WriteString(w, c.Line())
}

// witnessConfig returns a test configuration with the given witnesses,
// submitting often.
func witnessConfig(t *testing.T, ws ...config.Witness) config.Config {
	cfg := testConfig(t)
	cfg.Witnesses = ws
	cfg.Witnessing.Interval = config.Duration{Duration: 100 * time.Millisecond}
	cfg.Witnessing.MaxRequestsPerSecond = 100
	cfg.Witnessing.Timeout = config.Duration{Duration: 300 * time.Millisecond}
	cfg.Seal.Interval = config.Duration{Duration: 20 * time.Millisecond}
	return cfg
}

// checkWitnessed checks every audit.checkpoint_witnessed record of dir:
// its cosignature verifies with the key of the witness it names over the
// checkpoint text it carries, that text is the text of a checkpoint record
// of the log of the size it says. It returns the records by witness.
func checkWitnessed(t *testing.T, dir string, keys map[string]*witness.Verifier) map[string][]*event.CheckpointWitnessed {
	t.Helper()
	recs := readRecords(t, dir)
	texts := map[string]uint64{}
	for _, r := range recs {
		if r.Kind == chain.KindCheckpoint {
			cp, _, _, err := chain.PeekCheckpoint(r.Checkpoint)
			if err != nil {
				t.Fatal(err)
			}
			texts[string(r.Checkpoint[:bytes.LastIndex(r.Checkpoint, []byte("\n\n"))+1])] = cp.Size
		}
	}
	out := map[string][]*event.CheckpointWitnessed{}
	for _, ev := range sealerEvents(t, recs, event.TypeCheckpointWitnessed) {
		e := ev.(*event.CheckpointWitnessed)
		size, ok := texts[e.Checkpoint]
		if !ok || size != e.Size {
			t.Fatalf("%s: checkpoint text of size %d is not a checkpoint of the log (%v, %d)", e.Witness, e.Size, ok, size)
		}
		c, err := witness.ParseCosignature(e.Cosignature)
		if err != nil {
			t.Fatal(err)
		}
		v := keys[e.Witness]
		if v == nil {
			t.Fatalf("a cosignature by unknown witness %q", e.Witness)
		}
		if err := v.VerifyCosignature([]byte(e.Checkpoint), c); err != nil {
			t.Fatalf("%s: recorded cosignature does not verify: %v", e.Witness, err)
		}
		out[e.Witness] = append(out[e.Witness], e)
	}
	return out
}

func verifierOf(t *testing.T, tw *testWitness) *witness.Verifier {
	v, err := witness.ParseVerifierKey(tw.key.Verifier().String())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func witnessStatus(st sealer.Status, name string) sealer.WitnessStatus {
	for _, w := range st.Witnesses {
		if w.Name == name {
			return w
		}
	}
	return sealer.WitnessStatus{}
}

// TestWitnessCosignaturesRecorded: two honest witnesses cosign the sealer's
// checkpoints; each verified cosignature is recorded in the chain with the
// checkpoint text it covers; status and metrics show the witnessed size.
// After a restart the sealer does not know the witnesses' sizes: the 409
// answer tells it, Submit resends with the proof from that size, and
// cosignatures keep coming.
func TestWitnessCosignaturesRecorded(t *testing.T) {
	w1, w2 := newTestWitness(t, "w1", modeHonest), newTestWitness(t, "w2", modeHonest)
	cfg := witnessConfig(t, w1.config("w1"), w2.config("w2"))
	keys := map[string]*witness.Verifier{"w1": verifierOf(t, w1), "w2": verifierOf(t, w2)}
	recorded := 0
	for run := range 2 {
		h := startSealer(t, cfg)
		c := dial(t, cfg.Socket)
		var last uint64
		for i := range 20 {
			last = c.emitDurable(sealVerified(i))
		}
		mustOK(t, c.do(`{"op":"flush","id":"f"}`))
		eventually(t, "both witnesses cosign past the emits", func() bool {
			return w1.cosigned() > last && w2.cosigned() > last
		})
		eventually(t, "the status shows it", func() bool {
			st := c.status()
			return st.WitnessedSize != nil && *st.WitnessedSize > last && witnessStatus(st, "w1").WitnessedSize > last &&
				witnessStatus(st, "w2").Error == "" && st.WitnessQuorum == 2
		})
		if v, ok := sealer.MetricValue(h.sl, "audit_sealer_witness_size", "witness", "w2"); !ok || v <= float64(last) {
			t.Errorf("witness_size{w2} = %v, %v", v, ok)
		}
		if v, _ := sealer.MetricValue(h.sl, "audit_sealer_witness_errors_total", "witness", "w1"); v != 0 {
			t.Errorf("witness_errors_total{w1} = %v", v)
		}
		c.close()
		h.stopAndVerify()
		got := checkWitnessed(t, cfg.DataDir, keys)
		if len(got["w1"]) <= recorded || len(got["w2"]) == 0 {
			t.Fatalf("run %d: cosignatures recorded: w1 %d (%d before), w2 %d", run, len(got["w1"]), recorded, len(got["w2"]))
		}
		recorded = len(got["w1"])
		checkCosignedFile(t, cfg.DataDir, keys, got)
	}
}

// checkCosignedFile checks <dir>/checkpoint against the cosignatures
// recorded in the chain (got): it holds the largest checkpoint a witness
// cosigned, its log signature line first, then one cosignature line for
// each witness whose cosignature of that size was recorded, each verifying
// with that witness's key through golang.org/x/mod/sumdb/note.
func checkCosignedFile(t *testing.T, dir string, keys map[string]*witness.Verifier, got map[string][]*event.CheckpointWitnessed) {
	t.Helper()
	var size uint64
	for _, es := range got {
		for _, e := range es {
			size = max(size, e.Size)
		}
	}
	var want []string
	for name, es := range got {
		for _, e := range es {
			if e.Size == size {
				want = append(want, name)
				break
			}
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, storage.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	cp, _, _, err := chain.PeekCheckpoint(data)
	if err != nil || cp.Size != size {
		t.Fatalf("the checkpoint file holds size %d (%v), the largest cosigned is %d:\n%s", cp.Size, err, size, data)
	}
	if n, err := chain.SignatureLines(data); err != nil || n != 1+len(want) {
		t.Fatalf("the checkpoint file has %d signature lines (%v), want the log's and %v:\n%s", n, err, want, data)
	}
	var vs []sumdbnote.Verifier
	for _, v := range keys {
		vs = append(vs, v)
	}
	n, err := sumdbnote.Open(data, sumdbnote.VerifierList(vs...))
	if err != nil {
		t.Fatalf("note.Open of the checkpoint file with the witness keys: %v\n%s", err, data)
	}
	var signed []string
	for _, sig := range n.Sigs {
		for name, v := range keys {
			if sig.Name == v.Name() && sig.Hash == v.KeyHash() {
				signed = append(signed, name)
			}
		}
	}
	slices.Sort(signed)
	slices.Sort(want)
	if !slices.Equal(signed, want) || len(n.UnverifiedSigs) != 1 {
		t.Fatalf("the checkpoint file is cosigned by %v (and %d other lines), want %v", signed, len(n.UnverifiedSigs), want)
	}
}

// TestWitnessFaultsNeverBlockOrRecord: witnesses that are down, hang,
// answer garbage or cosign with another key: emits are acknowledged as
// usual, nothing is recorded for them, the failures are counted and shown,
// and the log verifies.
func TestWitnessFaultsNeverBlockOrRecord(t *testing.T) {
	down := newTestWitness(t, "down", modeHonest)
	down.srv.Close()
	hang := newTestWitness(t, "hang", modeHang)
	garbage := newTestWitness(t, "garbage", modeGarbage)
	wrong := newTestWitness(t, "wrong", modeWrongKey)
	cfg := witnessConfig(t, down.config("down"), hang.config("hang"), garbage.config("garbage"), wrong.config("wrong"))
	cfg.Witnessing.Timeout = config.Duration{Duration: time.Second} // the hanging witness holds each request that long
	h := startSealer(t, cfg)
	c := dial(t, cfg.Socket)
	eventually(t, "the hanging witness holds a request", func() bool { return hang.requests.Load() > 0 })
	start := time.Now()
	for i := range 50 {
		c.emitDurable(sealVerified(i))
	}
	mustOK(t, c.do(`{"op":"flush","id":"f"}`))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("50 durable emits and a flush took %v while a witness hangs", d)
	}
	for _, name := range []string{"down", "hang", "garbage", "wrong"} {
		eventually(t, name+" is counted and shown as failing", func() bool {
			v, _ := sealer.MetricValue(h.sl, "audit_sealer_witness_errors_total", "witness", name)
			return v > 0 && witnessStatus(c.status(), name).Error != ""
		})
	}
	st := c.status()
	for _, w := range st.Witnesses {
		if w.WitnessedSize != 0 || w.SplitView || w.LagRecords == 0 {
			t.Errorf("status of %s: %+v", w.Name, w)
		}
	}
	for name, want := range map[string]string{"wrong": "does not verify", "hang": "unavailable", "down": "unavailable", "garbage": "bad answer"} {
		if e := witnessStatus(st, name).Error; !strings.Contains(e, want) {
			t.Errorf("%s: status error %q, want %q", name, e, want)
		}
	}
	c.close()
	h.stopAndVerify()
	if got := checkWitnessed(t, cfg.DataDir, nil); len(got) != 0 {
		t.Fatalf("cosignatures recorded from faulty witnesses: %v", got)
	}
	// No cosignature: the checkpoint file is refreshed as without witnesses.
	data, err := os.ReadFile(filepath.Join(cfg.DataDir, storage.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := chain.SignatureLines(data); err != nil || n != 1 {
		t.Fatalf("the checkpoint file has %d signature lines (%v) with no cosignature", n, err)
	}
}

// startWitnessed starts a sealer with one honest witness, w1, emits an
// event and waits for the witness's first cosignature.
func startWitnessed(t *testing.T) (*testWitness, config.Config, *harness, *client) {
	w := newTestWitness(t, "w1", modeHonest)
	cfg := witnessConfig(t, w.config("w1"))
	h := startSealer(t, cfg)
	c := dial(t, cfg.Socket)
	c.emitDurable(sealVerified(0))
	eventually(t, "a first cosignature", func() bool { return w.cosigned() > 0 })
	return w, cfg, h, c
}

// TestWitnessCatchesUp: a witness that is down while the sealer seals
// cosigns the latest checkpoint once it is back, from its old size.
func TestWitnessCatchesUp(t *testing.T) {
	w, cfg, h, c := startWitnessed(t)
	w.mode.Store(modeUnavailable)
	var last uint64
	for i := range 30 {
		last = c.emitDurable(sealVerified(1 + i))
	}
	mustOK(t, c.do(`{"op":"flush","id":"f"}`))
	eventually(t, "the outage is shown", func() bool { return witnessStatus(c.status(), "w1").Error != "" })
	before := w.cosigned()
	w.mode.Store(modeHonest)
	eventually(t, "the witness catches up", func() bool {
		st := witnessStatus(c.status(), "w1")
		return w.cosigned() > last && st.Error == "" && st.WitnessedSize > last
	})
	if before > last {
		t.Fatalf("the witness cosigned %d during its outage", before)
	}
	c.close()
	h.stopAndVerify()
	if got := checkWitnessed(t, cfg.DataDir, map[string]*witness.Verifier{"w1": verifierOf(t, w)}); len(got["w1"]) < 2 {
		t.Fatalf("%d cosignatures recorded", len(got["w1"]))
	}
}

// TestWitnessSplitViewAlarm: a witness that refuses the sealer's checkpoint
// as inconsistent (422), although the sealer's own proof checks out, or
// that cosigned a larger tree of the log (409 above the checkpoint's size),
// raises the alarm once: a critical audit.witness_alarm record, the
// split-view counter, the status; and the sealer stops submitting to it.
func TestWitnessSplitViewAlarm(t *testing.T) {
	for _, mode := range []int32{modeInconsistent, modeLarger} {
		t.Run(strconv.Itoa(int(mode)), func(t *testing.T) {
			w, cfg, h, c := startWitnessed(t)
			w.mode.Store(mode)
			c.emitDurable(sealVerified(1))
			eventually(t, "the alarm", func() bool { return witnessStatus(c.status(), "w1").SplitView })
			n := w.requests.Load()
			for i := range 10 {
				c.emitDurable(sealVerified(2 + i))
			}
			time.Sleep(5 * cfg.Witnessing.Interval.Duration)
			if m := w.requests.Load(); m != n {
				t.Errorf("%d more requests after the alarm", m-n)
			}
			if v, _ := sealer.MetricValue(h.sl, "audit_sealer_witness_split_view_total", "witness", "w1"); v != 1 {
				t.Errorf("witness_split_view_total = %v", v)
			}
			c.close()
			h.stopAndVerify()
			alarms := sealerEvents(t, readRecords(t, cfg.DataDir), event.TypeWitnessAlarm)
			if len(alarms) != 1 {
				t.Fatalf("%d alarms recorded", len(alarms))
			}
			a := alarms[0].(*event.WitnessAlarm)
			if a.Witness != "w1" || a.Size <= a.OldSize || a.OldSize == 0 || (mode == modeLarger) != (a.KnownSize != nil) {
				t.Fatalf("alarm %+v", a)
			}
		})
	}
}

// TestWitnessOwnFaultIsNoAlarm: when the proof the sealer sent is wrong (a
// bug on its side, injected here), the witness's refusal is not a split
// view: the sealer's own check of the proof it sent fails, so it counts
// and shows an error, raises no alarm, records nothing, and goes on once
// its proofs are right again.
func TestWitnessOwnFaultIsNoAlarm(t *testing.T) {
	w := newTestWitness(t, "w1", modeHonest)
	cfg := witnessConfig(t, w.config("w1"))
	h := newSealer(t, cfg)
	var broken atomic.Bool
	sealer.SetWitnessProofHook(h.sl, func(p []chain.Hash) []chain.Hash {
		if broken.Load() && len(p) > 0 {
			p = append([]chain.Hash(nil), p...)
			p[0][0] ^= 1
		}
		return p
	})
	h.run()
	c := dial(t, cfg.Socket)
	c.emitDurable(sealVerified(0))
	eventually(t, "a first cosignature", func() bool { return w.cosigned() > 0 })
	broken.Store(true)
	c.emitDurable(sealVerified(1))
	eventually(t, "the refusal is shown as the sealer's own fault", func() bool {
		return strings.Contains(witnessStatus(c.status(), "w1").Error, "no split-view alarm")
	})
	st := witnessStatus(c.status(), "w1")
	if st.SplitView {
		t.Fatalf("a split view raised for the sealer's own bad proof: %+v", st)
	}
	broken.Store(false)
	last := c.emitDurable(sealVerified(2))
	eventually(t, "cosigning again", func() bool { return w.cosigned() > last && witnessStatus(c.status(), "w1").Error == "" })
	if v, _ := sealer.MetricValue(h.sl, "audit_sealer_witness_split_view_total", "witness", "w1"); v != 0 {
		t.Errorf("witness_split_view_total = %v", v)
	}
	if v, _ := sealer.MetricValue(h.sl, "audit_sealer_witness_errors_total", "witness", "w1"); v == 0 {
		t.Error("the failure was not counted")
	}
	c.close()
	h.stopAndVerify()
	if alarms := sealerEvents(t, readRecords(t, cfg.DataDir), event.TypeWitnessAlarm); len(alarms) != 0 {
		t.Fatalf("%d alarms recorded", len(alarms))
	}
}

// TestWitnessAtRotation: with a witnessing interval far away, a segment
// rotation has the checkpoint submitted at once.
func TestWitnessAtRotation(t *testing.T) {
	w := newTestWitness(t, "w1", modeHonest)
	cfg := witnessConfig(t, w.config("w1"))
	cfg.Witnessing.Interval = config.Duration{Duration: time.Minute}
	// Large enough that the start's records (a few KiB of settings) and
	// the first event fit in the first segment, small enough that the
	// emits below rotate it.
	cfg.SegmentSize = 16384
	h := startSealer(t, cfg)
	c := dial(t, cfg.Socket)
	c.emitDurable(sealVerified(0))
	eventually(t, "a first cosignature", func() bool { return w.cosigned() > 0 })
	first, n := w.cosigned(), w.requests.Load()
	time.Sleep(300 * time.Millisecond)
	if w.requests.Load() != n {
		t.Fatalf("%d requests within the interval without a rotation", w.requests.Load()-n)
	}
	for i := range 120 { // well over 16384 bytes: at least one rotation
		c.emitDurable(sealVerified(1 + i))
	}
	eventually(t, "a cosignature after the rotation, long before the interval", func() bool { return w.cosigned() > first })
	c.close()
	h.stopAndVerify()
	if segs, err := storage.ListSegments(cfg.DataDir); err != nil || len(segs) < 2 {
		t.Fatalf("%d segments, %v: no rotation", len(segs), err)
	}
}

// TestWitnessKeyForECDSALog: witnesses verify Ed25519 log signatures only.
// A sealer whose log key is ECDSA P-256 and that lists witnesses is refused
// without a witnessing key; with one (WithWitnessKey, an Ed25519 key), the
// witness, which takes only that key under the log's origin, cosigns the
// checkpoints, and the cosignatures recorded verify over the text of the
// ECDSA-signed checkpoint records.
func TestWitnessKeyForECDSALog(t *testing.T) {
	logKey, err := signer.NewSoftwareSigner(signer.ECDSAP256, testkit.Key("main").Public().Name)
	if err != nil {
		t.Fatal(err)
	}
	w1 := newTestWitness(t, "w1", modeHonest)
	cfg := witnessConfig(t, w1.config("w1"))
	if _, err := sealer.New(cfg, logKey, hclog.NewNullLogger()); !errors.Is(err, sealer.ErrWitnessNeedsEd25519) || !strings.Contains(err.Error(), "key_label") {
		t.Fatalf("sealer.New with an ECDSA log key, witnesses and no witnessing key: %v", err)
	}
	ecdsaWitnessKey, _ := signer.NewSoftwareSigner(signer.ECDSAP256, "w")
	if _, err := sealer.New(cfg, logKey, hclog.NewNullLogger(), sealer.WithWitnessKey(ecdsaWitnessKey)); !errors.Is(err, sealer.ErrWitnessNeedsEd25519) {
		t.Fatalf("sealer.New with an ECDSA witnessing key: %v", err)
	}

	witnessKey := testkit.Key("witness-facing")
	pub := witnessKey.Public()
	w1.logKey = &pub
	sl, err := sealer.New(cfg, logKey, hclog.NewNullLogger(), sealer.WithWitnessKey(witnessKey))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, sl: sl}
	h.run()
	c := dial(t, cfg.Socket)
	var last uint64
	for i := range 10 {
		last = c.emitDurable(sealVerified(i))
	}
	mustOK(t, c.do(`{"op":"flush","id":"f"}`))
	eventually(t, "the witness cosigns past the emits", func() bool { return w1.cosigned() > last })
	c.close()
	if err := h.stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	got := checkWitnessed(t, cfg.DataDir, map[string]*witness.Verifier{"w1": verifierOf(t, w1)})
	if len(got["w1"]) == 0 {
		t.Fatal("no cosignature recorded")
	}
	for _, e := range got["w1"] {
		if !strings.Contains(e.Checkpoint, "ecdsa-p256") {
			t.Fatalf("the cosigned checkpoint text does not name the ECDSA log key:\n%s", e.Checkpoint)
		}
	}
	checkCosignedFile(t, cfg.DataDir, map[string]*witness.Verifier{"w1": verifierOf(t, w1)}, got)
}
