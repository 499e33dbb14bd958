package main

import (
	"os"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/config"
)

// TestMain keeps the tests off the machine's installed configuration:
// every command reads config.DefaultFile when it exists, unless
// AUDIT_SEALER_CONFIG names another file (here /dev/null: the built-in
// defaults).
func TestMain(m *testing.M) {
	os.Setenv(config.EnvFile, os.DevNull)
	os.Exit(m.Run())
}
