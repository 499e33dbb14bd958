package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
)

// TestKeysRotateAsksTheRunningSealer: with a sealer running on the data
// directory, keys rotate asks it over the socket (rotate_key) instead of
// opening the log: the sealer hands over to a new development key without
// a restart, replaces dev-signing.key, and status names the new key.
func TestKeysRotateAsksTheRunningSealer(t *testing.T) {
	cfg := startDevSealer(t, nil, func(c config.Config) []sealer.Option {
		return []sealer.Option{sealer.WithKeyRotation(devKeyOpener(c))}
	})
	if !sealerRunning(cfg.DataDir) {
		t.Fatal("sealerRunning: false while a sealer runs")
	}
	before := keyFileID(t, cfg.DataDir)
	code, out := runCommand(t, "keys", "rotate", "--dev", "--data-dir", cfg.DataDir, "--socket", cfg.Socket, "--reason", "test")
	if code != 0 || !strings.Contains(out, "rotated its key without a restart") {
		t.Fatalf("keys rotate: exit %d:\n%s", code, out)
	}
	after := keyFileID(t, cfg.DataDir)
	if after == before {
		t.Fatal("dev-signing.key was not replaced")
	}
	if !strings.Contains(out, "introduced key "+after) || !strings.Contains(out, "endorsed by key "+before) {
		t.Fatalf("keys rotate output does not name the keys %s and %s:\n%s", after, before, out)
	}
	if code, out := runCommand(t, "status", "--socket", cfg.Socket, "--json"); code != 0 || !strings.Contains(out, `"key_id": "`+after+`"`) {
		t.Fatalf("status after the rotation: exit %d:\n%s", code, out)
	}
}

// TestSealerRunningFalseWhenStopped: without a sealer, the lock is free
// (or absent) and keys rotate works on the files.
func TestSealerRunningFalseWhenStopped(t *testing.T) {
	if sealerRunning(t.TempDir()) || sealerRunning(filepath.Join(t.TempDir(), "absent")) {
		t.Fatal("sealerRunning: true without a sealer")
	}
}

// keyFileID returns the key id of the development key in dir.
func keyFileID(t *testing.T, dir string) string {
	t.Helper()
	s, err := signer.LoadSoftwareSigner(filepath.Join(dir, storage.DevKeyFile), "audit-sealer")
	if err != nil {
		t.Fatal(err)
	}
	return s.Public().ID()
}
