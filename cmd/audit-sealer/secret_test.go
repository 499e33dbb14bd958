package main

import (
	"os"
	"strings"
	"testing"
)

// TestSecretFrom: the environment wins and is unset once read; else the
// file; neither is an error that says what to set.
func TestSecretFrom(t *testing.T) {
	const env = "AUDIT_SEALER_TEST_SECRET"
	fromEnv := func(name string) (string, error) { return "env:" + os.Getenv(name), nil }
	fromFile := func(path string) (string, error) { return "file:" + path, nil }

	t.Setenv(env, "s3cret")
	v, err := secretFrom(env, "/etc/x", fromEnv, fromFile, "set it")
	if err != nil || v != "env:s3cret" {
		t.Fatalf("from the environment: %q, %v", v, err)
	}
	if _, set := os.LookupEnv(env); set {
		t.Fatal("the variable is still set after it was read")
	}
	if v, err = secretFrom(env, "/etc/x", fromEnv, fromFile, "set it"); err != nil || v != "file:/etc/x" {
		t.Fatalf("from the file: %q, %v", v, err)
	}
	if _, err = secretFrom(env, "", fromEnv, fromFile, "no PIN: set pin_file"); err == nil || !strings.Contains(err.Error(), "set pin_file") {
		t.Fatalf("neither: %v", err)
	}
}
