// Package buildinfo says what a binary was built from and with: its version,
// the VCS revision and commit time the go command stamped into it, the Go
// version, whether cgo was on, which hardware support the binary links, and
// the FIPS 140-3 state of the Go Cryptographic Module (the frozen module
// version GOFIPS140 selected at build, and the mode GODEBUG=fips140 set at
// run time; docs/fips.md).
// Operators and auditors read it with --version; the sealer records the
// version in audit.sealer_started, in CEF and OCSF exports and in its
// audit_sealer_build_info metric, so a log says which build wrote it.
//
// It imports neither hsm nor tpm, and builds with CGO_ENABLED=0: each main
// says which hardware support it links (Hardware).
package buildinfo

import (
	"crypto/fips140"
	"runtime"
	"runtime/debug"
	"sync"
)

// version is a release version stamped at build time with
//
//	-ldflags "-X github.com/audit-sealer/audit-sealer/internal/buildinfo.version=v1.2.0"
//
// When it is empty the version is the one the go command derived from VCS.
var version string

// Devel is the version of a binary with no release version and no VCS
// stamp: built by go run or go test, with -buildvcs=false, or outside a git
// checkout (from a tarball, say).
const Devel = "devel"

// Hardware is the hardware support built into a binary.
type Hardware struct {
	// PKCS11: the binary can sign with a key on a PKCS#11 token (needs cgo).
	PKCS11 bool `json:"pkcs11"`
	// TPM: the binary can anchor checkpoints in a TPM counter.
	TPM bool `json:"tpm"`
}

// Info is what a binary was built from and with.
type Info struct {
	// Version is the release version from -ldflags -X if one was stamped,
	// else the main module's version the go command derived from VCS (a
	// tag such as v1.2.0, or a pseudo-version such as
	// v0.0.0-20261207211823-abcdef123456+dirty), else Devel.
	Version string `json:"version"`
	// Revision is the VCS revision (vcs.revision), empty when not stamped.
	Revision string `json:"revision,omitempty"`
	// CommitTime is the revision's commit time (vcs.time, RFC 3339),
	// empty when not stamped.
	CommitTime string `json:"commit_time,omitempty"`
	// Modified is vcs.modified: the work tree had uncommitted changes.
	Modified bool `json:"modified"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"go_version"`
	// CGO reports whether the binary was built with cgo.
	CGO bool `json:"cgo"`
	// FIPS140 is crypto/fips140.Enabled(): the Go Cryptographic Module
	// runs in FIPS 140-3 mode.
	FIPS140 bool `json:"fips140"`
	// FIPS140Mode is the module's mode at run time: FIPSOff, FIPSOn
	// (GODEBUG=fips140=on, the default of a build with GOFIPS140 set) or
	// FIPSOnly (GODEBUG=fips140=only: non-approved algorithms fail).
	FIPS140Mode string `json:"fips140_mode"`
	// FIPS140Module is the Go Cryptographic Module the binary was built
	// with: the frozen module GOFIPS140 selected (such as
	// "v1.0.0-c2097c7c"), or FIPSModuleLatest, the module of the Go
	// toolchain's own tree, which is not a frozen, validated version.
	FIPS140Module string `json:"fips140_module"`
	// Hardware is the hardware support built in; Read leaves it zero and
	// each main fills it in.
	Hardware Hardware `json:"hardware"`
}

// The modes of the Go Cryptographic Module (Info.FIPS140Mode), as
// GODEBUG=fips140 names them.
const (
	FIPSOff  = "off"
	FIPSOn   = "on"
	FIPSOnly = "only"
)

// FIPSModuleLatest is Info.FIPS140Module of a binary built without
// GOFIPS140 (or with GOFIPS140=latest): the Go toolchain's own copy of the
// module, not a frozen version submitted for validation.
const FIPSModuleLatest = "latest"

// FIPSMode returns the Go Cryptographic Module's mode in this process:
// FIPSOnly when fips140.Enforced, else FIPSOn when fips140.Enabled, else
// FIPSOff. GODEBUG fixes it at start; it never changes while the process
// runs (except inside fips140.WithoutEnforcement, which this project never
// calls).
func FIPSMode() string {
	switch {
	case fips140.Enforced():
		return FIPSOnly
	case fips140.Enabled():
		return FIPSOn
	}
	return FIPSOff
}

// read runs debug.ReadBuildInfo once: the answer never changes.
var read = sync.OnceValue(func() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi, version)
})

// Read returns what this binary was built from and with, with Hardware zero.
func Read() Info { return read() }

// Version returns Read().Version.
func Version() string { return read().Version }

// fromBuildInfo derives Info from the build information bi (nil when the
// binary has none) and a release version stamped with -ldflags (or "").
func fromBuildInfo(bi *debug.BuildInfo, release string) Info {
	info := Info{Version: release, GoVersion: runtime.Version(), CGO: cgoEnabled, FIPS140: fips140.Enabled(),
		FIPS140Mode: FIPSMode(), FIPS140Module: moduleVersion(fips140.Version())}
	if bi == nil {
		if info.Version == "" {
			info.Version = Devel
		}
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	if info.Version == "" {
		info.Version = Devel
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.CommitTime = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		case "CGO_ENABLED":
			info.CGO = s.Value == "1"
		case "GOFIPS140":
			// The unique name of the frozen module (fips140.Version says
			// only "v1.0.0"); "off" is no GOFIPS140 at all.
			if s.Value != "" && s.Value != "off" {
				info.FIPS140Module = s.Value
			}
		}
	}
	return info
}

// moduleVersion is the module version fips140.Version reports, v, or
// FIPSModuleLatest when it reports none.
func moduleVersion(v string) string {
	if v == "" {
		return FIPSModuleLatest
	}
	return v
}

// RevisionText is the revision as --version and the build_info metric show
// it: the revision, with "+dirty" when the work tree had uncommitted
// changes, or "unknown" when the build has no VCS stamp.
func (i Info) RevisionText() string {
	switch {
	case i.Revision == "":
		return "unknown"
	case i.Modified:
		return i.Revision + "+dirty"
	}
	return i.Revision
}
