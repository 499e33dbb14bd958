package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/signer"
)

// TestDevRotationLeavesNoRetiredKey: keys rotate --dev replaces the
// development key and leaves nothing in the data directory that can sign
// for the retired key (it signs nothing after its successor's endorsement,
// FORMAT.md §5.1); the sealer then opens the log with the new key.
func TestDevRotationLeavesNoRetiredKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	old, err := signer.NewSoftwareSigner(signer.Ed25519, "audit-sealer")
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := ledger.Open(ledger.Config{Dir: dir, Signer: old, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, config.DevKeyFile)
	if err := old.WriteKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	oldPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	cmd := keysCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"rotate", "--dev", "--data-dir", dir})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("keys rotate --dev: %v\n%s", err, out.String())
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
	l, _, err = ledger.Open(ledger.Config{Dir: dir, Signer: next, Dev: true})
	if err != nil {
		t.Fatalf("the sealer cannot open the log with the new key: %v", err)
	}
	l.Close()
}
