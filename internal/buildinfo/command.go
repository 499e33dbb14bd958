package buildinfo

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// versionAnnotation holds, on the root command, the text --version prints.
const versionAnnotation = "buildinfo.version"

// Text is the information as --version and the version command print it:
// the binary's name and version, then one fact a line.
func (i Info) Text(name string) string {
	var b strings.Builder
	onOff := func(on bool, yes, no string) string {
		if on {
			return yes
		}
		return no
	}
	commit := i.CommitTime
	if commit == "" {
		commit = "unknown"
	}
	fmt.Fprintf(&b, "%s %s\n", name, i.Version)
	fmt.Fprintf(&b, "  revision:    %s\n", i.RevisionText())
	fmt.Fprintf(&b, "  commit time: %s\n", commit)
	fmt.Fprintf(&b, "  go:          %s\n", i.GoVersion)
	fmt.Fprintf(&b, "  cgo:         %s\n", onOff(i.CGO, "on", "off"))
	fmt.Fprintf(&b, "  pkcs11:      %s\n", onOff(i.Hardware.PKCS11, "built in", "not built in"))
	fmt.Fprintf(&b, "  tpm:         %s\n", onOff(i.Hardware.TPM, "built in", "not built in"))
	fmt.Fprintf(&b, "  fips140:     %s\n", i.FIPSText())
	fmt.Fprintf(&b, "  fips module: %s\n", i.FIPSModuleText())
	return b.String()
}

// FIPSText says the Go Cryptographic Module's mode as --version prints it.
func (i Info) FIPSText() string {
	switch i.FIPS140Mode {
	case FIPSOnly:
		return "only (FIPS 140-3 mode, enforced: GODEBUG=fips140=only refuses non-approved algorithms)"
	case FIPSOn:
		return "on (FIPS 140-3 mode)"
	case "":
		if i.FIPS140 {
			return "on (FIPS 140-3 mode)"
		}
	}
	return "off (not in FIPS 140-3 mode)"
}

// FIPSModuleText says which Go Cryptographic Module the binary was built
// with, as --version prints it.
func (i Info) FIPSModuleText() string {
	if i.FIPS140Module == "" || i.FIPS140Module == FIPSModuleLatest {
		return FIPSModuleLatest + " (built without GOFIPS140: not a frozen module version)"
	}
	return i.FIPS140Module + " (GOFIPS140)"
}

// AddVersion gives root a --version flag and a version subcommand (with
// --json) that print Read() with the hardware support hw the binary links.
func AddVersion(root *cobra.Command, hw Hardware) {
	info := Read()
	info.Hardware = hw
	root.Version = info.Version
	if root.Annotations == nil {
		root.Annotations = map[string]string{}
	}
	root.Annotations[versionAnnotation] = info.Text(root.Name())
	// The template only copies the text: a version stamped with -ldflags
	// is never parsed as a template.
	root.SetVersionTemplate(`{{index .Annotations "` + versionAnnotation + `"}}`)

	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version [--json]",
		Short: "Print the version, VCS revision, Go version, the hardware support built in and the FIPS 140-3 module and mode",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return writeInfo(cmd.OutOrStdout(), info, root.Name(), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	root.AddCommand(cmd)
}

// writeInfo prints info as text or as one JSON document.
func writeInfo(w io.Writer, info Info, name string, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(info); err != nil {
			return fmt.Errorf("buildinfo: %w", err)
		}
		return nil
	}
	if _, err := io.WriteString(w, info.Text(name)); err != nil {
		return fmt.Errorf("buildinfo: %w", err)
	}
	return nil
}
