//go:build !cgo

package hsm_test

import (
	"errors"
	"testing"

	"github.com/audit-sealer/audit-sealer/hsm"
	"github.com/audit-sealer/audit-sealer/signer"
)

// TestNoCgo: without cgo the API compiles and every constructor says why it
// cannot work.
func TestNoCgo(t *testing.T) {
	cfg := hsm.Config{TokenLabel: "t", KeyLabel: "k", PIN: "1234"}
	if _, err := hsm.Open(cfg); !errors.Is(err, hsm.ErrNoCgo) {
		t.Errorf("Open: %v", err)
	}
	if _, err := hsm.GenerateKey(cfg, signer.Ed25519, "k"); !errors.Is(err, hsm.ErrNoCgo) {
		t.Errorf("GenerateKey: %v", err)
	}
	if _, err := hsm.ListKeys(cfg); !errors.Is(err, hsm.ErrNoCgo) {
		t.Errorf("ListKeys: %v", err)
	}
	var s *hsm.Signer
	if _, err := s.Sign(nil); !errors.Is(err, hsm.ErrNoCgo) {
		t.Errorf("Sign: %v", err)
	}
}
