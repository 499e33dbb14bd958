package buildinfo

import (
	"bytes"
	"crypto/fips140"
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func stamped(version string, settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/audit-sealer/audit-sealer", Version: version}}
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

// TestFromBuildInfo: the version is the -ldflags one, else the module
// version the go command derived from VCS, else Devel; the vcs.* and
// CGO_ENABLED settings are read when stamped and left empty when not.
func TestFromBuildInfo(t *testing.T) {
	const rev = "abcdef0123456789abcdef0123456789abcdef01"
	pseudo := "v0.0.0-20261207211823-abcdef012345+dirty"
	vcs := []string{"vcs", "git", "vcs.revision", rev, "vcs.time", "2026-12-07T21:18:23Z", "vcs.modified", "true", "CGO_ENABLED", "0"}
	for _, tc := range []struct {
		name    string
		bi      *debug.BuildInfo
		release string
		want    Info
	}{
		{"no build info", nil, "", Info{Version: Devel, GoVersion: runtime.Version(), CGO: cgoEnabled}},
		{"no build info, release", nil, "v1.2.0", Info{Version: "v1.2.0", GoVersion: runtime.Version(), CGO: cgoEnabled}},
		{"go run or go test", stamped("(devel)"), "", Info{Version: Devel, GoVersion: "go1.26.8", CGO: cgoEnabled}},
		{"empty module version", stamped(""), "", Info{Version: Devel, GoVersion: "go1.26.8", CGO: cgoEnabled}},
		{"go build in a dirty checkout", stamped(pseudo, vcs...), "",
			Info{Version: pseudo, Revision: rev, CommitTime: "2026-12-07T21:18:23Z", Modified: true, GoVersion: "go1.26.8"}},
		{"release over the pseudo-version", stamped(pseudo, vcs...), "v1.2.0",
			Info{Version: "v1.2.0", Revision: rev, CommitTime: "2026-12-07T21:18:23Z", Modified: true, GoVersion: "go1.26.8"}},
		{"tagged, clean, cgo", stamped("v1.2.0", "vcs.revision", rev, "vcs.modified", "false", "CGO_ENABLED", "1"), "",
			Info{Version: "v1.2.0", Revision: rev, GoVersion: "go1.26.8", CGO: true}},
		{"frozen FIPS module", stamped("v1.2.0", "GOFIPS140", "v1.0.0-c2097c7c", "DefaultGODEBUG", "fips140=on"), "",
			Info{Version: "v1.2.0", GoVersion: "go1.26.8", CGO: cgoEnabled, FIPS140Module: "v1.0.0-c2097c7c"}},
		{"GOFIPS140=off", stamped("v1.2.0", "GOFIPS140", "off"), "",
			Info{Version: "v1.2.0", GoVersion: "go1.26.8", CGO: cgoEnabled}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fromBuildInfo(tc.bi, tc.release)
			// The mode is the running process's, not the build's.
			tc.want.FIPS140, tc.want.FIPS140Mode = fips140.Enabled(), FIPSMode()
			if tc.want.FIPS140Module == "" {
				// Without a GOFIPS140 setting: what the linked module says.
				tc.want.FIPS140Module = moduleVersion(fips140.Version())
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestRevisionText: "+dirty" marks a modified work tree, "unknown" a build
// without a VCS stamp.
func TestRevisionText(t *testing.T) {
	for _, tc := range []struct {
		info Info
		want string
	}{
		{Info{}, "unknown"},
		{Info{Modified: true}, "unknown"},
		{Info{Revision: "abc"}, "abc"},
		{Info{Revision: "abc", Modified: true}, "abc+dirty"},
	} {
		if got := tc.info.RevisionText(); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.info, got, tc.want)
		}
	}
}

// TestRead: this test binary (go test stamps no VCS) reads as Devel, with
// the running toolchain's Go version, and reads the same twice.
func TestRead(t *testing.T) {
	info := Read()
	if info.Version != Devel || Version() != Devel {
		t.Errorf("Version %q, want %q under go test", info.Version, Devel)
	}
	if info.GoVersion != runtime.Version() {
		t.Errorf("GoVersion %q, want %q", info.GoVersion, runtime.Version())
	}
	if info.CGO != cgoEnabled {
		t.Errorf("CGO %v, but this package was compiled with cgo %v", info.CGO, cgoEnabled)
	}
	if Read() != info {
		t.Error("Read changed between calls")
	}
}

func newTestRoot(stdout *bytes.Buffer, hw Hardware) *cobra.Command {
	root := &cobra.Command{Use: "tool", Args: cobra.ExactArgs(1), RunE: func(*cobra.Command, []string) error { return nil }}
	root.PersistentFlags().Bool("json", false, "a root flag of the same name")
	AddVersion(root, hw)
	root.SetOut(stdout)
	root.SetErr(stdout)
	return root
}

// TestAddVersion: --version (with no argument, though the root wants one)
// and the version command print Text; version --json prints the Info with
// the hardware support the caller named.
func TestAddVersion(t *testing.T) {
	hw := Hardware{PKCS11: true, TPM: true}
	want := Read()
	want.Hardware = hw
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var out bytes.Buffer
		root := newTestRoot(&out, hw)
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if out.String() != want.Text("tool") {
			t.Errorf("%v printed\n%s\nwant\n%s", args, out.String(), want.Text("tool"))
		}
		for _, line := range []string{"tool " + want.Version + "\n", "revision:    unknown\n", "pkcs11:      built in\n", "tpm:         built in\n", "go:          " + runtime.Version() + "\n"} {
			if !strings.Contains(out.String(), line) {
				t.Errorf("%v: no %q in\n%s", args, line, out.String())
			}
		}
	}
	var out bytes.Buffer
	root := newTestRoot(&out, hw)
	root.SetArgs([]string{"version", "--json"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	var got Info
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out.String())
	}
	if got != want {
		t.Errorf("version --json: got %+v, want %+v", got, want)
	}
}

// TestTextNoHardware: a binary without hardware support says so.
func TestTextNoHardware(t *testing.T) {
	info := Info{Version: "v1.0.0", GoVersion: "go1.26.8"}
	text := info.Text("audit-verify")
	for _, line := range []string{"audit-verify v1.0.0\n", "cgo:         off\n", "pkcs11:      not built in\n", "tpm:         not built in\n", "commit time: unknown\n",
		"fips140:     off (not in FIPS 140-3 mode)\n", "fips module: latest (built without GOFIPS140: not a frozen module version)\n"} {
		if !strings.Contains(text, line) {
			t.Errorf("no %q in\n%s", line, text)
		}
	}
}

// TestVersionNotATemplate: --version copies the text; a version that looks
// like a template (stamped with -ldflags) is printed as it is.
func TestVersionNotATemplate(t *testing.T) {
	var out bytes.Buffer
	root := newTestRoot(&out, Hardware{})
	root.Annotations[versionAnnotation] = "tool v1.0.0-{{.Name}}\n"
	root.SetArgs([]string{"--version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "tool v1.0.0-{{.Name}}\n" {
		t.Errorf("--version printed %q", got)
	}
}

// TestFIPSMode: the mode follows crypto/fips140 (off, on, or only when
// enforced), and Read reports it with the module the binary links.
func TestFIPSMode(t *testing.T) {
	want := FIPSOff
	if fips140.Enabled() {
		want = FIPSOn
	}
	if fips140.Enforced() {
		want = FIPSOnly
	}
	if got := FIPSMode(); got != want {
		t.Errorf("FIPSMode() = %q, want %q (Enabled %v, Enforced %v)", got, want, fips140.Enabled(), fips140.Enforced())
	}
	info := Read()
	if info.FIPS140Mode != want || info.FIPS140 != fips140.Enabled() {
		t.Errorf("Read: mode %q, enabled %v; want %q, %v", info.FIPS140Mode, info.FIPS140, want, fips140.Enabled())
	}
	if info.FIPS140Module == "" {
		t.Error("Read: no FIPS module version")
	}
	if v := fips140.Version(); v != FIPSModuleLatest && !strings.HasPrefix(info.FIPS140Module, v) {
		t.Errorf("Read: module %q, but the linked module is %q", info.FIPS140Module, v)
	}
}

// TestFIPSText: each mode and module reads as --version prints it.
func TestFIPSText(t *testing.T) {
	for _, tc := range []struct {
		info         Info
		mode, module string
	}{
		{Info{}, "off (not in FIPS 140-3 mode)", "latest (built without GOFIPS140: not a frozen module version)"},
		{Info{FIPS140: true, FIPS140Mode: FIPSOn, FIPS140Module: "v1.0.0-c2097c7c"}, "on (FIPS 140-3 mode)", "v1.0.0-c2097c7c (GOFIPS140)"},
		{Info{FIPS140: true, FIPS140Mode: FIPSOnly, FIPS140Module: FIPSModuleLatest},
			"only (FIPS 140-3 mode, enforced: GODEBUG=fips140=only refuses non-approved algorithms)", "latest (built without GOFIPS140: not a frozen module version)"},
	} {
		if got := tc.info.FIPSText(); got != tc.mode {
			t.Errorf("%+v: FIPSText %q, want %q", tc.info, got, tc.mode)
		}
		if got := tc.info.FIPSModuleText(); got != tc.module {
			t.Errorf("%+v: FIPSModuleText %q, want %q", tc.info, got, tc.module)
		}
	}
}
