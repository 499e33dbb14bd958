package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/query"
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
		switch v.Expect {
		case "":
		case "untrusted_key":
			want = 2 // cannot verify with the keys given: not tampered
		default:
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
	path := writeBundle(t, filepath.Join(root, "bundle.json"), b)
	code, out, stderr := runCLI("proof", "--key", v.KeyFile, "--json", path)
	if code != 0 || !bytes.Contains([]byte(out), []byte(`"verdict": "valid"`)) || !bytes.Contains([]byte(out), []byte(`"seq": 12`)) {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	b.Record[len(b.Record)-40] ^= 1
	writeBundle(t, path, b)
	if code, out, _ := runCLI("proof", "--key", v.KeyFile, path); code != 1 || !bytes.Contains([]byte(out), []byte("INVALID")) {
		t.Fatalf("tampered bundle: exit %d\n%s", code, out)
	}
}

func TestConsistencyCommand(t *testing.T) {
	root := t.TempDir()
	v := generatedVector(t, root, "intact_with_trusted")
	b := consistencyFromKept(t, v)
	data, _ := json.Marshal(b)
	path := writeBundle(t, filepath.Join(root, "consistency.json"), b)
	if code, out, stderr := runCLI("consistency", "--key", v.KeyFile, "--checkpoint", v.TrustedFile, path); code != 0 || !bytes.Contains([]byte(out), []byte("consistent")) {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	// Not well formed: exit 2, naming the problem.
	for _, tc := range []struct{ old, new, want string }{
		{`"old_size":`, `"OLD_SIZE":1,"old_size":`, `unknown member "OLD_SIZE"`},
		{`"old_size":`, `"old_size":1,"old_size":`, `duplicate member "old_size"`},
	} {
		os.WriteFile(path, bytes.Replace(data, []byte(tc.old), []byte(tc.new), 1), 0o600)
		if code, out, stderr := runCLI("consistency", "--key", v.KeyFile, "--checkpoint", v.TrustedFile, path); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, want 2\n%s%s", tc.new, code, out, stderr)
		}
	}
	b.Proof[len(b.Proof)-1][3] ^= 1
	writeBundle(t, path, b)
	if code, out, _ := runCLI("consistency", "--key", v.KeyFile, "--checkpoint", v.TrustedFile, path); code != 1 || !bytes.Contains([]byte(out), []byte("INCONSISTENT")) {
		t.Fatalf("tampered proof: exit %d\n%s", code, out)
	}
}

// resultLine returns the result line audit-sealer query --json --proofs
// prints for the record of bundle b: the members of query.Match in order,
// the record's canonical event bytes unchanged.
func resultLine(tb testing.TB, b *chain.InclusionBundle) []byte {
	tb.Helper()
	rec, err := chain.Decode(b.Record)
	if err != nil {
		tb.Fatal(err)
	}
	m := query.Match{Seq: rec.Seq, AuditID: string(rec.AuditID), Service: string(rec.Service), Type: string(rec.Type),
		Received: rec.Time(), Critical: event.IsCritical(string(rec.Type)), Event: rec.Event, Proof: b}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		tb.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), append([]byte(`"event":`), rec.Event...)) {
		tb.Fatalf("the line does not hold the canonical event:\n%s", buf.Bytes())
	}
	return buf.Bytes()
}

// TestProofResultLineStrict: audit-verify proof accepts the result lines of
// events full of characters encoders rewrite, and refuses with exit 2 a
// line that is not well formed (a duplicate member, in event too, a case
// variant, an unknown member, trailing data) and with exit 1 one whose
// event is not the record's canonical bytes, even if it means the same.
func TestProofResultLineStrict(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	key, err := testkit.BuildLogOf(dir, 12, testkit.EscapeEvent)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "result.json")
	check := func(line []byte) (int, string, string) {
		t.Helper()
		if err := os.WriteFile(path, line, 0o600); err != nil {
			t.Fatal(err)
		}
		return runCLI("proof", "--key", key, "--json", path)
	}
	lines := map[uint64][]byte{}
	for seq := uint64(1); seq <= 3; seq++ { // one of each escape template
		b, err := verify.Prove(dir, seq)
		if err != nil {
			t.Fatal(err)
		}
		lines[seq] = resultLine(t, b)
		if code, out, stderr := check(lines[seq]); code != 0 || !strings.Contains(out, "every field of the result line is the proven record's") {
			t.Fatalf("result line of record %d: exit %d\n%s%s\n%s", seq, code, out, stderr, lines[seq])
		}
	}
	reasonLine, poolLine := lines[1], lines[2]
	edit := func(line []byte, old, new string) []byte {
		t.Helper()
		if bytes.Count(line, []byte(old)) == 0 {
			t.Fatalf("%q is not in %s", old, line)
		}
		return bytes.Replace(line, []byte(old), []byte(new), 1)
	}
	for _, tc := range []struct {
		name string
		line []byte
		want string
	}{
		{"duplicate in event", edit(reasonLine, `"reason":"`, `"reason":"forged","reason":"`), `duplicate member "reason" in event`},
		{"duplicate in event, forged last", edit(reasonLine, `"action":"delete",`, `"action":"delete","action":"read",`), `duplicate member "action" in event`},
		{"duplicate deep in event", edit(reasonLine, `"actor":{`, `"actor":{"user_id":"mallory@example.com",`), `duplicate member "user_id" in event.actor`},
		{"duplicate in a free-form object", edit(poolLine, `"z":{`, `"z":{"old":9,`), `duplicate member "old" in event.changes.z`},
		{"duplicate service", edit(reasonLine, `"service":`, `"service":"forged","service":`), `duplicate member "service" at the top level`},
		{"case variant beside", edit(reasonLine, `"service":`, `"SERVICE":"forged","service":`), `unknown member "SERVICE" at the top level`},
		{"case variant after", edit(reasonLine, `"event":`, `"Service":"forged","event":`), `unknown member "Service" at the top level`},
		{"Seq", edit(reasonLine, `{"seq":`, `{"Seq":`), `unknown member "Seq" at the top level`},
		{"case variant in proof", edit(reasonLine, `"proof":{"format":`, `"proof":{"FORMAT":"x","format":`), `unknown member "FORMAT" at the top level`},
		{"unknown member", edit(reasonLine, `"event":`, `"comment":"x","event":`), `unknown member "comment" at the top level`},
		{"missing member", edit(reasonLine, `"critical":false,`, ``), `missing member "critical" at the top level`},
		{"null seq", edit(reasonLine, `{"seq":1,`, `{"seq":null,`), `null not allowed in seq`},
		{"trailing garbage", append(bytes.Clone(reasonLine), "x"...), `data after the value`},
		{"two lines", append(bytes.Clone(reasonLine), poolLine...), `data after the value`},
		{"invalid utf-8 in event", edit(reasonLine, "é", "\xe9"), `invalid utf-8`},
	} {
		code, out, stderr := check(tc.line)
		if code != 2 || !strings.HasPrefix(stderr, "audit-verify: error: malformed input: ") || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, want 2 naming %s\n%s%s", tc.name, code, tc.want, out, stderr)
		}
	}
	// An event that means the same but is not the canonical bytes fails
	// (exit 1): a reader cannot tell which bytes were sealed.
	var m map[string]json.RawMessage
	json.Unmarshal(reasonLine, &m)
	var ev map[string]any
	json.Unmarshal(m["event"], &ev)
	reencoded, _ := json.Marshal(ev) // keys sorted, <, > and & escaped
	for _, tc := range []struct {
		name string
		line []byte
	}{
		{"html escaped", edit(reasonLine, `"reason":"<script>`, `"reason":"\u003cscript>`)},
		{"line separator escaped", edit(reasonLine, "\u2028", `\u2028`)},
		{"white space", edit(reasonLine, `"action":"delete"`, `"action": "delete"`)},
		{"re-encoded", edit(reasonLine, string(m["event"]), string(reencoded))},
		{"numbers rewritten", edit(poolLine, `"old":1.50`, `"old":1.5`)},
		{"edited", edit(reasonLine, `"action":"delete"`, `"action":"read"`)},
	} {
		code, out, stderr := check(tc.line)
		if code != 1 || !strings.Contains(out, `"verdict":"invalid"`) || !strings.Contains(out, "the result's event is not the proven record's canonical event") {
			t.Errorf("%s: exit %d, want 1\n%s%s", tc.name, code, out, stderr)
		}
	}
	// A bundle is parsed as strictly.
	b, _ := verify.Prove(dir, 1)
	bundle, _ := json.Marshal(b)
	if code, _, stderr := check(edit(bundle, `"tree_size":`, `"TREE_SIZE":1,"tree_size":`)); code != 2 || !strings.Contains(stderr, `unknown member "TREE_SIZE"`) {
		t.Errorf("bundle with a case variant: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := check(edit(bundle, `"tree_size":`, `"tree_size":1,"tree_size":`)); code != 2 || !strings.Contains(stderr, `duplicate member "tree_size"`) {
		t.Errorf("bundle with a duplicate: exit %d\n%s", code, stderr)
	}
}

// TestInputsAreSizeChecked: every file audit-verify reads is refused
// (exit 2) when it is larger than its kind can be, before it is read: a
// sparse file of a gigabyte costs nothing.
func TestInputsAreSizeChecked(t *testing.T) {
	root := t.TempDir()
	v := generatedVector(t, root, "intact_with_trusted")
	huge := filepath.Join(root, "huge")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, args := range [][]string{
		{"--key", huge, v.Dir},
		{"--key", v.KeyFile, "--checkpoint", huge, v.Dir},
		{"--key", v.KeyFile, "--tpm-evidence", huge, v.Dir},
		{"proof", "--key", v.KeyFile, huge},
		{"consistency", "--key", v.KeyFile, "--checkpoint", huge, v.TrustedFile},
		{"consistency", "--key", v.KeyFile, "--checkpoint", v.TrustedFile, huge},
	} {
		code, out, stderr := runCLI(args...)
		if code != 2 || !strings.Contains(stderr, "file too large") {
			t.Errorf("%v: exit %d, want 2 (file too large)\n%s%s", args, code, out, stderr)
		}
	}
	// At the limit is not too large: the parser decides.
	atLimit := filepath.Join(root, "at-limit")
	os.WriteFile(atLimit, bytes.Repeat([]byte(" "), maxResultFile), 0o600)
	if code, _, stderr := runCLI("proof", "--key", v.KeyFile, atLimit); code != 2 || strings.Contains(stderr, "too large") {
		t.Errorf("a file at the limit: exit %d\n%s", code, stderr)
	}
}
