//go:build !gendocs

package clidoc

import "github.com/spf13/cobra"

// Add registers nothing: this build has no gendocs tag, so the binary
// carries no documentation generator (scripts/package-deb.sh builds one
// with -tags gendocs to write the manual pages).
func Add(*cobra.Command) {}
