package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/verify"
)

// witnessVectors generates the vectors and returns those verified with a
// witness policy, by name.
func witnessVectors(t *testing.T) map[string]testkit.Vector {
	t.Helper()
	vs, err := testkit.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]testkit.Vector{}
	for _, v := range vs {
		if v.Witnesses != nil {
			out[v.Name] = v
		}
	}
	if len(out) < 5 {
		t.Fatalf("%d witness vectors", len(out))
	}
	return out
}

// TestWitnessPolicyCLI: audit-verify --witness enforces the policy of each
// witness vector (exit 0 or 1, the reason code), with the witnesses given
// as keys, as @FILE and as FILE; the JSON report carries the witnessing
// and the inputs, the text and HTML reports say who cosigned what.
func TestWitnessPolicyCLI(t *testing.T) {
	vs := witnessVectors(t)
	for name, v := range vs {
		keys := []string{"--witness", v.Witnesses[0], "--witness", v.Witnesses[1]}
		for _, ws := range [][]string{keys, {"--witness", "@" + v.WitnessesFile}, {"--witness", v.WitnessesFile, "--witness-quorum", "2"}} {
			args := append([]string{"--key", v.KeyFile, "--json"}, ws...)
			code, out, stderr := runCLI(append(args, v.Dir)...)
			want := 0
			if v.WitnessExpect != "" {
				want = 1
			}
			var rep struct {
				Verdict      string `json:"verdict"`
				FirstFailure *struct {
					Reason string `json:"reason"`
				} `json:"first_failure"`
				Witnessing *verify.WitnessReport `json:"witnessing"`
				Inputs     struct {
					Witnesses     []string `json:"witnesses"`
					WitnessQuorum int      `json:"witness_quorum"`
					WitnessMaxAge string   `json:"witness_max_age"`
				} `json:"inputs"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%s %v: %v\n%s%s", name, ws, err, out, stderr)
			}
			if code != want || (want == 1) != (rep.FirstFailure != nil) || want == 1 && rep.FirstFailure.Reason != v.WitnessExpect {
				t.Fatalf("%s %v: exit %d, want %d (%s)\n%s%s", name, ws, code, want, v.WitnessExpect, out, stderr)
			}
			if rep.Witnessing == nil || len(rep.Witnessing.Witnesses) != 2 || rep.Witnessing.Quorum != 2 || rep.Witnessing.MaxAge != "1h0m0s" ||
				rep.Inputs.WitnessQuorum != 2 || rep.Inputs.WitnessMaxAge != "1h0m0s" || len(rep.Inputs.Witnesses) != len(ws)/2-strings.Count(strings.Join(ws, " "), "--witness-quorum") {
				t.Fatalf("%s %v: witnessing %+v, inputs %+v", name, ws, rep.Witnessing, rep.Inputs)
			}
		}
	}
	// Without --witness, every one is intact: the cosignatures are not
	// counted, and the report has no witnessing.
	for name, v := range vs {
		code, out, _ := runCLI("--key", v.KeyFile, "--json", v.Dir)
		if code != 0 || strings.Contains(out, `"witnessing"`) {
			t.Fatalf("%s without a policy: exit %d\n%s", name, code, out)
		}
	}
	// The text report.
	v := vs["witnessed"]
	code, out, _ := runCLI("--key", v.KeyFile, "--witness", "@"+v.WitnessesFile, v.Dir)
	for _, want := range []string{"audit-verify: intact", "witnesses: size 88 of 96 witnessed by the quorum of 2 (8 records after it)",
		"witness witness.test/w1: cosigned size 88 at 2026-11-02T09:00:08Z (record 89; fresh)", "witness witness.test/w2: cosigned size 88"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("text report lacks %q: exit %d\n%s", want, code, out)
		}
	}
	if strings.Contains(out, "holds an older checkpoint") {
		t.Fatalf("a warning about the cosigned checkpoint file:\n%s", out)
	}
	v = vs["witness_stale"]
	code, out, _ = runCLI("--key", v.KeyFile, "--witness", "@"+v.WitnessesFile, v.Dir)
	if code != 1 || !strings.Contains(out, "TAMPERED: unwitnessed") || !strings.Contains(out, "too old") {
		t.Fatalf("stale, text: exit %d\n%s", code, out)
	}
	// No freshness bound, or a larger one: the stale log is witnessed.
	for _, age := range []string{"0", "3h"} {
		if code, out, _ := runCLI("--key", v.KeyFile, "--witness", "@"+v.WitnessesFile, "--witness-max-age", age, v.Dir); code != 0 {
			t.Fatalf("stale with --witness-max-age %s: exit %d\n%s", age, code, out)
		}
	}
	// HTML.
	v = vs["witnessed"]
	code, out, _ = runCLI("--key", v.KeyFile, "--witness", "@"+v.WitnessesFile, "--format", "html", v.Dir)
	for _, want := range []string{`<h2>Witnesses</h2>`, `<table id="witnesses">`, "<td>witness.test/w1</td>", "tree size 88 of 96 by a quorum of 2",
		"Witness cosignatures (--witness", " --witness @" + v.WitnessesFile} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("HTML lacks %q: exit %d", want, code)
		}
	}
}

// TestWitnessFlagsRefused: bad witness arguments exit 2 naming the
// problem, before anything is verified.
func TestWitnessFlagsRefused(t *testing.T) {
	v := witnessVectors(t)["witnessed"]
	dir := t.TempDir()
	badFile := filepath.Join(dir, "bad.txt")
	os.WriteFile(badFile, []byte("# witnesses\n"+v.Witnesses[0]+"\nwitness.test/w2+00000000+BA==\n"), 0o600)
	emptyFile := filepath.Join(dir, "empty.txt")
	os.WriteFile(emptyFile, []byte("# none\n\n"), 0o600)
	logKey := testkit.Key("main").Public().VerifierKey()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--witness", "witness.test/w1+90ad70a9+BCgj"}, "--witness witness.test/w1+90ad70a9+BCgj: witness: bad verifier key"},
		{[]string{"--witness", logKey}, "signature type 0x01"},
		{[]string{"--witness-quorum", "1"}, "--witness-quorum needs --witness"},
		{[]string{"--witness-max-age", "2h"}, "--witness-max-age needs --witness"},
		{[]string{"--witness", v.Witnesses[0], "--witness-quorum", "2"}, "quorum 2, want 1 to 1"},
		{[]string{"--witness", v.Witnesses[0], "--witness", v.Witnesses[0]}, "is listed twice"},
		{[]string{"--witness", "@" + badFile}, "line 3: witness: bad verifier key"},
		{[]string{"--witness", "@" + emptyFile}, "holds no witness verifier key"},
		{[]string{"--witness", "@" + filepath.Join(dir, "absent")}, "absent"},
		{[]string{"--witness", v.Witnesses[0], "--witness-max-age", "-1h"}, "--witness-max-age -1h0m0s"},
	} {
		code, out, stderr := runCLI(append(append([]string{"--key", v.KeyFile}, tc.args...), v.Dir)...)
		if code != 2 || !strings.Contains(stderr, tc.want) || out != "" {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q\n%s", tc.args, code, stderr, tc.want, out)
		}
	}
}

// TestProofWitnessed: audit-sealer prove's bundle of a record that a
// cosigned checkpoint covers carries the cosignatures; audit-verify proof
// --witness checks them (exit 0), fails a policy they do not meet or a
// bundle of a record no cosigned checkpoint covers yet (exit 1,
// unwitnessed), and checks a query result line the same way.
func TestProofWitnessed(t *testing.T) {
	vs := witnessVectors(t)
	v := vs["witnessed"]
	root := t.TempDir()
	covered, err := verify.Prove(v.Dir, 40)
	if err != nil {
		t.Fatal(err)
	}
	late, err := verify.Prove(v.Dir, 92)
	if err != nil {
		t.Fatal(err)
	}
	if covered.TreeSize != 88 || late.TreeSize != 95 {
		t.Fatalf("tree sizes %d and %d", covered.TreeSize, late.TreeSize)
	}
	cpath := writeBundle(t, filepath.Join(root, "covered.json"), covered)
	lpath := writeBundle(t, filepath.Join(root, "late.json"), late)
	line := filepath.Join(root, "line.json")
	os.WriteFile(line, resultLine(t, covered), 0o600)
	w := []string{"--witness", v.Witnesses[0], "--witness", v.Witnesses[1]}
	for _, path := range []string{cpath, line} {
		code, out, stderr := runCLI(append(append([]string{"proof", "--key", v.KeyFile, "--json"}, w...), path)...)
		var res struct {
			Verdict   string                      `json:"verdict"`
			Witnesses []verify.WitnessCosignature `json:"witnesses"`
			Quorum    int                         `json:"witness_quorum"`
		}
		json.Unmarshal([]byte(out), &res)
		if code != 0 || res.Verdict != "valid" || len(res.Witnesses) != 2 || res.Quorum != 2 || res.Witnesses[0].Witness != "witness.test/w1" {
			t.Fatalf("%s: exit %d\n%s%s", path, code, out, stderr)
		}
	}
	code, out, _ := runCLI(append(append([]string{"proof", "--key", v.KeyFile}, w...), cpath)...)
	if code != 0 || !strings.Contains(out, "witnessed: the checkpoint of size 88 is cosigned by 2 of the witnesses you listed (quorum 2)") {
		t.Fatalf("text: exit %d\n%s", code, out)
	}
	// The bundle checks without a policy as before.
	if code, out, _ := runCLI("proof", "--key", v.KeyFile, cpath); code != 0 || strings.Contains(out, "witnessed") {
		t.Fatalf("without a policy: exit %d\n%s", code, out)
	}
	// A third witness that did not cosign, all three required; and the
	// record no cosigned checkpoint covers yet.
	w3 := testkit.WitnessKey("w3").Verifier().String()
	for _, tc := range []struct {
		args []string
		path string
	}{
		{append(w, "--witness", w3), cpath},
		{w, lpath},
	} {
		code, out, _ := runCLI(append(append([]string{"proof", "--key", v.KeyFile, "--json"}, tc.args...), tc.path)...)
		if code != 1 || !strings.Contains(out, `"verdict":"unwitnessed"`) || !strings.Contains(out, `"reason":"unwitnessed"`) {
			t.Fatalf("%v %s: exit %d\n%s", tc.args, tc.path, code, out)
		}
	}
	if code, out, _ := runCLI(append(append([]string{"proof", "--key", v.KeyFile}, w...), lpath)...); code != 1 || !strings.Contains(out, "proof UNWITNESSED") {
		t.Fatalf("late record, text: exit %d\n%s", code, out)
	}
	// A quorum of 2 of the three: met.
	if code, out, _ := runCLI(append(append([]string{"proof", "--key", v.KeyFile, "--witness-quorum", "2", "--witness", w3}, w...), cpath)...); code != 0 {
		t.Fatalf("2 of 3: exit %d\n%s", code, out)
	}
}
