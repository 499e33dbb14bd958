//go:build cgo

package hsm_test

import (
	"testing"

	"github.com/audit-sealer/audit-sealer/hsm"
	"github.com/audit-sealer/audit-sealer/signer"
)

// BenchmarkSign measures Sign through SoftHSM2 (which includes hashing for
// ECDSA, the DER conversion and the verification of every signature in Go),
// from one goroutine and from GOMAXPROCS goroutines over the default pool of
// 4 sessions, next to the software signer for scale.
//
//	go test -run '^$' -bench BenchmarkSign ./hsm
func BenchmarkSign(b *testing.B) {
	msg := []byte("sealer.example/log\n123456\nq7Kh6m0xOm4fCgmhC9rYvXhsuSVtAPYvDj0GTAyw7ho=\n")
	for _, a := range algorithms {
		var s *hsm.Signer
		b.Run("softhsm/"+string(a.alg), func(b *testing.B) {
			s, _ = newSigner(b, a.token, a.alg)
			for b.Loop() {
				if _, err := s.Sign(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("softhsm-parallel/"+string(a.alg), func(b *testing.B) {
			s, _ = newSigner(b, a.token, a.alg)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Sign(msg); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run("software/"+string(a.alg), func(b *testing.B) {
			sw, err := signer.NewSoftwareSigner(a.alg, "")
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := sw.Sign(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
