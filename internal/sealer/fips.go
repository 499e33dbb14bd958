package sealer

import (
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
)

// fipsStart states in ev, the run's audit.sealer_started, whether the
// sealer runs in FIPS 140-3 mode: the Go Cryptographic Module's mode and
// version, and what the PKCS#11 token reported (docs/fips.md), and logs
// it. A Go module in FIPS mode signing with a token that reports no
// validation is only possible with require_fips = false; it is logged as a
// warning every start, since that run is not FIPS 140-3 end to end.
func (s *Sealer) fipsStart(ev *event.SealerStarted) {
	b := buildinfo.Read()
	ev.FIPS140, ev.FIPS140Module = event.FIPSMode(b.FIPS140Mode), b.FIPS140Module
	args := []any{"fips140", b.FIPS140Mode, "fips140_module", b.FIPS140Module, "require_fips", s.cfg.RequireFIPSInForce()}
	f := s.hsmFIPS
	if f != nil {
		ev.HSMFIPS, ev.HSMValidation = f.State, f.Validation
		args = append(args, "hsm_fips", string(f.State))
		if f.Validation != "" {
			args = append(args, "hsm_validation", f.Validation)
		}
	}
	switch {
	case b.FIPS140Mode == buildinfo.FIPSOff:
		s.log.Info("FIPS 140-3 mode is off (build with GOFIPS140 to run the Go Cryptographic Module in it)", args...)
	case f != nil && f.State != event.HSMValidated:
		s.log.Warn("FIPS 140-3 mode WITHOUT A VALIDATED HSM: require_fips = false lets the sealer sign on a token that does not report a FIPS 140 validation of its key; "+
			"this run is not FIPS 140-3 end to end, its audit.sealer_started says so, and audit-verify --require-fips fails it (not_fips)",
			append(args, "hsm", f.Detail)...)
	case b.FIPS140Module == buildinfo.FIPSModuleLatest:
		s.log.Warn("FIPS 140-3 mode with the Go toolchain's own module (built without GOFIPS140): not a frozen, validated module version; audit-verify --require-fips fails this run (not_fips)", args...)
	default:
		s.log.Info("FIPS 140-3 mode", args...)
	}
}
