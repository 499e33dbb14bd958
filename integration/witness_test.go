package integration

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/verify"
	"github.com/audit-sealer/audit-sealer/witness"
)

// litewitness is a witness started by scripts/witness/start.sh (or an
// omniwitness started by scripts/witness/omniwitness.sh).
type litewitness struct {
	name     string
	client   *witness.Client
	stderr   string // what start.sh and witnessctl said
	exchange *exchangeLog
}

// startWitness starts a litewitness named name with scripts/witness/start.sh
// in a directory of its own, registering the log origin with the log key
// vkey, and stops it at cleanup.
func startWitness(t *testing.T, name, origin, vkey string) *litewitness {
	t.Helper()
	requireTool(t, "ssh-agent")
	return startWitnessScript(t, "start.sh", name, origin, vkey)
}

// startOmniwitness starts an omniwitness named name with
// scripts/witness/omniwitness.sh, as startWitness does a litewitness.
func startOmniwitness(t *testing.T, name, origin, vkey string) *litewitness {
	t.Helper()
	return startWitnessScript(t, "omniwitness.sh", name, origin, vkey)
}

// startWitnessScript starts a witness with scripts/witness/SCRIPT, which
// prints the WITNESS_* exports, and stops it at cleanup with stop.sh.
func startWitnessScript(t *testing.T, script, name, origin, vkey string) *litewitness {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "witness")
	cmd := exec.Command("bash", "../scripts/witness/"+script, dir, name, "--log", origin, vkey)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 && os.Getenv("CI") != "true" {
		t.Skipf("%s could not install the witness (go install from the module proxy); skipping:\n%s", script, stderr.String())
	}
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	t.Cleanup(func() { exec.Command("bash", "../scripts/witness/stop.sh", dir).Run() })
	env := map[string]string{}
	for _, kv := range parseExports(t, string(out)) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	v, err := witness.ParseVerifierKey(env["WITNESS_VKEY"])
	if err != nil {
		t.Fatalf("the witness's verifier key %q: %v", env["WITNESS_VKEY"], err)
	}
	if v.Name() != name || env["WITNESS_NAME"] != name || !strings.HasPrefix(env["WITNESS_URL"], "http://127.0.0.1:") {
		t.Fatalf("%s printed %v", script, env)
	}
	x := &exchangeLog{t: t, name: name}
	return &litewitness{name: name, stderr: stderr.String(), exchange: x, client: &witness.Client{
		URL: env["WITNESS_URL"], Verifier: v, Timeout: 10 * time.Second,
		HTTPClient: &http.Client{Transport: x},
	}}
}

// exchangeLog logs each add-checkpoint request's old size and proof length
// and the witness's answer, so that the test's output shows what the
// witness said.
type exchangeLog struct {
	t    *testing.T
	name string
}

func (x *exchangeLog) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	head, cp, _ := bytes.Cut(body, []byte("\n\n"))
	lines := strings.Split(string(head), "\n")
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(answer))
	size := strings.SplitN(string(cp), "\n", 3)[1]
	x.t.Logf("%s: POST %s: %q, %d proof lines, checkpoint of size %s -> %s (Content-Type %q) %q",
		x.name, r.URL.Path, lines[0], len(lines)-1, size, resp.Status, resp.Header.Get("Content-Type"), answer)
	return resp, nil
}

// checkpointsOf returns the signed checkpoints of the log in dir, in log
// order.
func checkpointsOf(t *testing.T, dir string) [][]byte {
	t.Helper()
	var cps [][]byte
	err := testkit.Records(dir, func(rec chain.Record) bool {
		if rec.Kind == chain.KindCheckpoint {
			cps = append(cps, rec.Checkpoint)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return cps
}

func sizeOf(t *testing.T, cp []byte) uint64 {
	t.Helper()
	c, _, _, err := chain.PeekCheckpoint(cp)
	if err != nil {
		t.Fatal(err)
	}
	return c.Size
}

// checkCosigned checks the cosignatures a witness returned: by its key,
// over cp's text, and verifiable with golang.org/x/mod/sumdb/note given
// the witness's Verifier, once appended to the checkpoint.
func checkCosigned(t *testing.T, w *litewitness, cp []byte, cs []witness.Cosignature) {
	t.Helper()
	if len(cs) != 1 {
		t.Fatalf("%s returned %d cosignatures, want 1", w.name, len(cs))
	}
	text := cp[:bytes.LastIndex(cp, []byte("\n\n"))+1]
	if err := w.client.Verifier.VerifyCosignature(text, cs[0]); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(cs[0].Time()); d < -time.Minute || d > time.Minute {
		t.Fatalf("%s cosigned at %v, not now", w.name, cs[0].Time())
	}
	n, err := note.Open(append(bytes.Clone(cp), cs[0].Line()...), note.VerifierList(w.client.Verifier))
	if err != nil || len(n.Sigs) != 1 || n.Sigs[0].Name != w.name || n.Text != string(text) {
		t.Fatalf("note.Open of the cosigned checkpoint: %v", err)
	}
}

// TestWitnesses submits the checkpoints of a real log (written by the
// ledger with the development key) to two litewitness instances: the
// first with old size 0, a later one first with a stale old size (409
// Conflict naming the witness's size) and then with the consistency proof
// from that size; every cosignature verifies. Then the checkpoints of a
// forked history of the same log (same origin, same key, other records) are
// refused with witness.ErrInconsistent, at a larger size and at the same
// size, and a checkpoint signed by a key the witness was not given, or of
// an origin it does not know, with witness.ErrNotTrusted.
func TestWitnesses(t *testing.T) {
	root := t.TempDir()
	logDir := filepath.Join(root, "log")
	if _, err := testkit.BuildLogOf(logDir, 250, testkit.EventJSON); err != nil {
		t.Fatal(err)
	}
	cps := checkpointsOf(t, logDir)
	if len(cps) < 3 {
		t.Fatalf("the log holds %d checkpoints, want at least 3", len(cps))
	}
	first, last := cps[0], cps[len(cps)-1]
	s1, sN := sizeOf(t, first), sizeOf(t, last)
	c, keyName, _, err := chain.PeekCheckpoint(first)
	if err != nil {
		t.Fatal(err)
	}
	// The log key as the checkpoints' signature lines name it: the
	// witness looks keys up by that name and key ID.
	logKey := testkit.Key("main").Public()
	if keyName != logKey.Name {
		t.Fatalf("checkpoints signed as %q, key named %q", keyName, logKey.Name)
	}
	vkey := logKey.VerifierKey()

	ws := []*litewitness{
		startWitness(t, "witness.test/w1", c.Origin, vkey),
		startWitness(t, "witness.test/w2", c.Origin, vkey),
	}
	// witnessctl warns that the key is not named after the origin (C2SP
	// names a log's key after its origin; ours are named by the operator),
	// and registers it all the same.
	if !strings.Contains(ws[0].stderr, "does not match origin") {
		t.Errorf("witnessctl did not warn about the key name; it said:\n%s", ws[0].stderr)
	}
	ctx := context.Background()
	proof := func(old, size uint64) ([]chain.Hash, error) { return verify.ConsistencyProof(logDir, old, size) }

	for _, w := range ws {
		// The first checkpoint: the witness knows size 0.
		cs, err := w.client.AddCheckpoint(ctx, 0, nil, first)
		if err != nil {
			t.Fatalf("%s: first checkpoint (size %d): %v", w.name, s1, err)
		}
		checkCosigned(t, w, first, cs)
	}

	// w1: the last checkpoint with a stale old size answers 409 with the
	// size the witness cosigned; resent with the proof from it, cosigned.
	w1, w2 := ws[0], ws[1]
	_, err = w1.client.AddCheckpoint(ctx, 0, nil, last)
	var conflict *witness.ConflictError
	if !errors.As(err, &conflict) || conflict.Known != s1 {
		t.Fatalf("%s: last checkpoint with old size 0: %v, want a conflict naming size %d", w1.name, err, s1)
	}
	p, err := verify.ConsistencyProof(logDir, conflict.Known, sN)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := w1.client.AddCheckpoint(ctx, conflict.Known, p, last)
	if err != nil {
		t.Fatalf("%s: last checkpoint (size %d) from size %d with %d proof hashes: %v", w1.name, sN, s1, len(p), err)
	}
	checkCosigned(t, w1, last, cs)
	// The same checkpoint again, from its own size: a fresh cosignature.
	if cs, err = w1.client.AddCheckpoint(ctx, sN, nil, last); err != nil {
		t.Fatalf("%s: the same checkpoint again: %v", w1.name, err)
	}
	checkCosigned(t, w1, last, cs)

	// w2: Submit does the same, from a stale guess.
	cs, err = w2.client.Submit(ctx, 0, last, proof)
	if err != nil {
		t.Fatalf("%s: Submit: %v", w2.name, err)
	}
	checkCosigned(t, w2, last, cs)

	// A forked history: the same log ID, key and clock, other events. Its
	// checkpoints carry the same origin and verify with the same key.
	forkDir := filepath.Join(root, "fork")
	other := func(i int, now time.Time) (string, []byte) { return testkit.EventJSON((i+1)%240, now) } // IPs stay below .256
	if _, err := testkit.BuildLogOf(forkDir, 400, other); err != nil {
		t.Fatal(err)
	}
	forks := checkpointsOf(t, forkDir)
	fork := forks[len(forks)-1]
	fc, _, _, err := chain.PeekCheckpoint(fork)
	if err != nil {
		t.Fatal(err)
	}
	if fc.Origin != c.Origin || fc.Size <= sN {
		t.Fatalf("fork: origin %s size %d, want origin %s and a size above %d", fc.Origin, fc.Size, c.Origin, sN)
	}
	for _, w := range ws {
		// From the witness's size with the fork's own consistency proof:
		// the proof does not lead from the tree the witness cosigned.
		cs, err := w.client.Submit(ctx, sN, fork, func(old, size uint64) ([]chain.Hash, error) {
			return verify.ConsistencyProof(forkDir, old, size)
		})
		var se *witness.StatusError
		if !errors.Is(err, witness.ErrInconsistent) || cs != nil || !errors.As(err, &se) || se.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("%s: forked checkpoint (size %d): %v, %v; want ErrInconsistent (422)", w.name, fc.Size, cs, err)
		}
		t.Logf("%s: %v", w.name, err)
	}
	// A fork at the size the witness holds: as many events as the real log
	// (so the same size), other ones (so another root).
	sameDir := filepath.Join(root, "fork-same-size")
	if _, err := testkit.BuildLogOf(sameDir, 250, other); err != nil {
		t.Fatal(err)
	}
	same := checkpointsOf(t, sameDir)
	if sizeOf(t, same[len(same)-1]) != sN {
		t.Fatalf("the same-size fork ends at size %d, want %d", sizeOf(t, same[len(same)-1]), sN)
	}
	for _, w := range ws {
		_, err := w.client.AddCheckpoint(ctx, sN, nil, same[len(same)-1])
		if !errors.Is(err, witness.ErrInconsistent) {
			t.Fatalf("%s: forked checkpoint of the same size %d: %v, want ErrInconsistent", w.name, sN, err)
		}
		t.Logf("%s: same size: %v", w.name, err)
	}

	// The witnesses still hold the real log's last checkpoint: a later
	// honest request from there is answered (here: the same size again).
	if _, err := w2.client.AddCheckpoint(ctx, sN, nil, last); err != nil {
		t.Fatalf("%s after the fork was refused: %v", w2.name, err)
	}

	// The last checkpoint signed by a key the witness was not given.
	forged, err := chain.SignCheckpoint(&c, testkit.Key("second"), testkit.Key("second").Public().Name)
	if err != nil {
		t.Fatal(err)
	}
	// (litewitness checks the signature before the old size: no 409.)
	if _, err := w1.client.AddCheckpoint(ctx, s1, nil, forged); !errors.Is(err, witness.ErrNotTrusted) {
		t.Fatalf("%s: checkpoint by another key: %v, want ErrNotTrusted", w1.name, err)
	}
	// A log the witness does not know: litewitness answers 403 where the
	// spec says 404.
	unknownDir := filepath.Join(root, "unknown")
	if _, err := testkit.BuildLargeLog(unknownDir, 3, 0); err != nil {
		t.Fatal(err)
	}
	unknown := checkpointsOf(t, unknownDir)
	_, err = w1.client.AddCheckpoint(ctx, 0, nil, unknown[len(unknown)-1])
	if !errors.Is(err, witness.ErrNotTrusted) && !errors.Is(err, witness.ErrUnknownLog) {
		t.Fatalf("%s: checkpoint of an unknown origin: %v, want ErrNotTrusted or ErrUnknownLog", w1.name, err)
	}
	t.Logf("%s: unknown origin: %v", w1.name, err)
}
