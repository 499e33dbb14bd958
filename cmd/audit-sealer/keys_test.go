package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// devLog creates a development log in a new data directory, signed by a
// new development key that it leaves in the directory's key file.
func devLog(t *testing.T) (string, *signer.SoftwareSigner) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	key, err := signer.NewSoftwareSigner(signer.Ed25519, "audit-sealer")
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: key, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := key.WriteKeyFile(filepath.Join(dir, storage.DevKeyFile)); err != nil {
		t.Fatal(err)
	}
	return dir, key
}

// runKeys runs audit-sealer keys with args and returns its standard
// output, and its standard error after it.
func runKeys(args ...string) (string, error) {
	cmd := keysCommand()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String() + errb.String(), err
}

// TestDevRotationLeavesNoRetiredKey: keys rotate --dev replaces the
// development key and leaves nothing in the data directory that can sign
// for the retired key (it signs nothing after its successor's endorsement,
// FORMAT.md §5.1); the sealer then opens the log with the new key.
func TestDevRotationLeavesNoRetiredKey(t *testing.T) {
	dir, old := devLog(t)
	keyFile := filepath.Join(dir, storage.DevKeyFile)
	oldPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := runKeys("rotate", "--dev", "--data-dir", dir); err != nil {
		t.Fatalf("keys rotate --dev: %v\n%s", err, out)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(e.Name(), "retired") || bytes.Contains(data, oldPEM[40:80]) {
			t.Errorf("%s holds the retired key", e.Name())
		}
	}
	next, err := signer.LoadSoftwareSigner(keyFile, "audit-sealer")
	if err != nil {
		t.Fatal(err)
	}
	if next.Public().Equal(old.Public()) {
		t.Fatal("the key file still holds the old key")
	}
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: next, Dev: true})
	if err != nil {
		t.Fatalf("the sealer cannot open the log with the new key: %v", err)
	}
	l.Close()
}

// TestExportKeyHistory: after two rotations, keys export-public prints the
// key history bundle, rooted at the first key (given with --root: the dev
// rotation wiped it); the log verifies from that root, and a proof made
// after both rotations verifies with the first key alone. --current prints
// only the active key.
func TestExportKeyHistory(t *testing.T) {
	dir, first := devLog(t)
	for i := 0; i < 2; i++ {
		if out, err := runKeys("rotate", "--dev", "--data-dir", dir); err != nil {
			t.Fatalf("rotation %d: %v\n%s", i+1, err, out)
		}
	}
	if out, err := runKeys("export-public", "--dev", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "--root") {
		t.Fatalf("without the first key: %v\n%s", err, out)
	}
	rootFile := filepath.Join(t.TempDir(), "first.pem")
	if err := os.WriteFile(rootFile, first.Public().MarshalPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := keysCommand()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs([]string{"export-public", "--dev", "--data-dir", dir, "--root", rootFile})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("export-public: %v\n%s", err, errb.String())
	}
	h, err := chain.ParseKeyHistory(out.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	root, _ := h.RootKey()
	if !root.Equal(first.Public()) || len(h.Endorsements) != 2 || strings.Contains(errb.String(), "warning") {
		t.Fatalf("root %s, %d endorsements\n%s", root.ID(), len(h.Endorsements), errb.String())
	}
	rep, err := verify.Dir(context.Background(), dir, verify.Options{Keys: signer.Verifiers{root}})
	if err != nil || rep.Verdict != verify.Intact {
		t.Fatalf("the log from the bundle's root: %v %+v", err, rep.FirstFailure)
	}
	b, err := verify.Prove(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.CheckInclusion(b, verify.Options{Keys: signer.Verifiers{first.Public()}}); err != nil {
		t.Fatalf("proof after two rotations, first key alone: %v", err)
	}

	cur, err := runKeys("export-public", "--dev", "--data-dir", dir, "--current")
	if err != nil {
		t.Fatal(err)
	}
	active, err := signer.ParsePublicKey([]byte(cur))
	last, lerr := signer.LoadSoftwareSigner(filepath.Join(dir, storage.DevKeyFile), "audit-sealer")
	if err != nil || lerr != nil || !active.Equal(last.Public()) {
		t.Fatalf("--current: %v %v %q", err, lerr, cur)
	}
	if _, err := runKeys("export-public", "--dev", "--data-dir", dir, "--current", "--format", "bundle"); err == nil {
		t.Fatal("--current --format bundle accepted")
	}
}

// TestConfigCheck: config check accepts the shipped example and a
// configuration serve would accept, refuses a bad one with exit status 2
// naming the problem, and starts nothing (no data directory is made).
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("segment_size = -1\n"), 0o600)
	data := filepath.Join(dir, "data")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"config", "check", "--config", "../../deploy/audit-sealer.toml"}, 0, "configuration OK"},
		{[]string{"config", "check", "--dev", "--data-dir", data}, 0, "configuration OK"},
		{[]string{"config", "check", "--config", bad}, 2, "segment"},
		{[]string{"config", "check", "--config", filepath.Join(dir, "absent.toml")}, 2, "absent.toml"},
	} {
		root := newRoot()
		root.SetArgs(tc.args)
		var buf bytes.Buffer
		root.SetOut(&buf)
		root.SetErr(&buf)
		code, out := 0, buf.String()
		if err := root.Execute(); err != nil {
			var ee *exitError
			if code = 1; errors.As(err, &ee) {
				code = ee.code
			}
			out = buf.String() + err.Error()
		} else {
			out = buf.String()
		}
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", tc.args, code, tc.code, tc.want, out)
		}
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("config check made the data directory")
	}
}
