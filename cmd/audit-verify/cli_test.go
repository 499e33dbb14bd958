package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/verify"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// generatedVector generates the test vectors under root and returns the
// one named name.
func generatedVector(t *testing.T, root, name string) testkit.Vector {
	t.Helper()
	vs, err := testkit.Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no vector %s", name)
	return testkit.Vector{}
}

func TestExitCodesAndJSON(t *testing.T) {
	root := t.TempDir()
	vs, err := testkit.Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		args := []string{"--key", v.KeyFile, "--json"}
		if v.TrustedFile != "" {
			args = append(args, "--checkpoint", v.TrustedFile)
		}
		code, out, stderr := runCLI(append(args, v.Dir)...)
		want := 0
		if v.Expect != "" {
			want = 1
		}
		if code != want {
			t.Fatalf("%s: exit %d, want %d\n%s%s", v.Name, code, want, out, stderr)
		}
		var rep struct {
			Verdict      string `json:"verdict"`
			Records      uint64 `json:"records"`
			Checkpoints  int    `json:"checkpoints"`
			FirstFailure *struct {
				Reason  string  `json:"reason"`
				Segment string  `json:"segment"`
				Offset  int64   `json:"offset"`
				Seq     *uint64 `json:"seq"`
			} `json:"first_failure"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%s: output is not one JSON document: %v\n%s", v.Name, err, out)
		}
		if v.Expect == "" && (rep.Verdict != "intact" || rep.FirstFailure != nil) {
			t.Fatalf("%s: %s", v.Name, out)
		}
		if v.Expect != "" && (rep.FirstFailure == nil || rep.FirstFailure.Reason != v.Expect) {
			t.Fatalf("%s: %s", v.Name, out)
		}
	}
	// Text output names the verdict.
	tampered := filepath.Join(root, "modified_event")
	code, out, _ := runCLI("--key", filepath.Join(tampered, "key.pem"), filepath.Join(tampered, "data"))
	if code != 1 || !bytes.Contains([]byte(out), []byte("TAMPERED: modified")) {
		t.Fatalf("text output: exit %d\n%s", code, out)
	}
}

func TestCannotCheckExits2(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key.pem")
	os.WriteFile(key, testkit.Key("main").Public().MarshalPEM(), 0o600)
	cases := [][]string{
		{"--key", key, filepath.Join(dir, "absent")},
		{"--key", filepath.Join(dir, "no-key.pem"), dir},
		{dir},
		{"--key", key, "--checkpoint", filepath.Join(dir, "none"), dir},
	}
	for _, args := range cases {
		if code, out, stderr := runCLI(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s%s", args, code, out, stderr)
		} else if !bytes.Contains([]byte(stderr), []byte("audit-verify: error: ")) {
			t.Errorf("%v: stderr %q lacks the error prefix", args, stderr)
		}
	}
}

func TestProofCommand(t *testing.T) {
	root := t.TempDir()
	v := generatedVector(t, root, "intact_multi")
	b, err := verify.Prove(v.Dir, 12)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(b)
	path := filepath.Join(root, "bundle.json")
	os.WriteFile(path, data, 0o600)
	code, out, stderr := runCLI("proof", "--key", v.KeyFile, "--json", path)
	if code != 0 || !bytes.Contains([]byte(out), []byte(`"verdict": "valid"`)) || !bytes.Contains([]byte(out), []byte(`"seq": 12`)) {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	b.Record[len(b.Record)-40] ^= 1
	data, _ = json.Marshal(b)
	os.WriteFile(path, data, 0o600)
	if code, out, _ := runCLI("proof", "--key", v.KeyFile, path); code != 1 || !bytes.Contains([]byte(out), []byte("INVALID")) {
		t.Fatalf("tampered bundle: exit %d\n%s", code, out)
	}
}

func TestConsistencyCommand(t *testing.T) {
	root := t.TempDir()
	v := generatedVector(t, root, "intact_with_trusted")
	old, _ := os.ReadFile(v.TrustedFile)
	cp, _, _, err := chain.PeekCheckpoint(old)
	if err != nil {
		t.Fatal(err)
	}
	b, err := verify.ProveConsistency(v.Dir, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(b)
	path := filepath.Join(root, "consistency.json")
	os.WriteFile(path, data, 0o600)
	if code, out, stderr := runCLI("consistency", "--key", v.KeyFile, "--checkpoint", v.TrustedFile, path); code != 0 || !bytes.Contains([]byte(out), []byte("consistent")) {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	b.Proof[len(b.Proof)-1][3] ^= 1
	data, _ = json.Marshal(b)
	os.WriteFile(path, data, 0o600)
	if code, out, _ := runCLI("consistency", "--key", v.KeyFile, "--checkpoint", v.TrustedFile, path); code != 1 || !bytes.Contains([]byte(out), []byte("INCONSISTENT")) {
		t.Fatalf("tampered proof: exit %d\n%s", code, out)
	}
}
