//go:build gendocs

// Package clidoc writes the manual pages of a cobra command tree from the
// commands themselves: the pages the .deb ships for audit-sealer and
// audit-verify (scripts/package-deb.sh). Each main gives its root command
// the hidden generator with Add.
//
// The generator exists only in a build with the gendocs tag (this file);
// in any other build Add registers nothing (stub.go), so the binaries
// that are shipped carry neither the generator nor cobra/doc's Markdown
// and YAML dependencies. It is pure Go and imports no hardware code.
package clidoc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// CommandName is the name of the hidden command Add registers.
const CommandName = "gendocs"

// ErrNoOutput: gendocs was not given --man.
var ErrNoOutput = errors.New("clidoc: nothing to write: give --man DIR")

// Add gives root a hidden command that writes its manual pages:
//
//	NAME gendocs --man DIR
//
// writes one section 1 page per command that --help lists (NAME.1,
// NAME-SUB.1, NAME-SUB-SUB.1, ...) into DIR, creating DIR if needed. The
// pages are dated SOURCE_DATE_EPOCH when it is set (a reproducible build),
// else today, and name root's version as their source. The command itself
// appears in no page, completion or help.
func Add(root *cobra.Command) {
	var manDir string
	cmd := &cobra.Command{
		Use:    CommandName + " --man DIR",
		Short:  "Write the manual pages (for packaging)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if manDir == "" {
				return ErrNoOutput
			}
			date, err := sourceDate(os.Getenv("SOURCE_DATE_EPOCH"), time.Now)
			if err != nil {
				return err
			}
			return WriteManPages(root, manDir, date)
		},
	}
	cmd.Flags().StringVar(&manDir, "man", "", "write the manual pages (section 1) into this directory")
	root.AddCommand(cmd)
}

// WriteManPages writes a section 1 page for root and for every command
// under it that --help lists, into dir, dated date.
func WriteManPages(root *cobra.Command, dir string, date time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("clidoc: %w", err)
	}
	// The pages say which build they describe, and nothing about cobra.
	root.DisableAutoGenTag = true
	source := root.Name()
	if root.Version != "" {
		source += " " + root.Version
	}
	header := &doc.GenManHeader{Section: "1", Date: &date, Source: source, Manual: root.Name() + " manual"}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("clidoc: manual pages: %w", err)
	}
	return nil
}

// sourceDate is the date of the pages: SOURCE_DATE_EPOCH (seconds since
// 1970; reproducible-builds.org) when set, else now, in UTC.
func sourceDate(epoch string, now func() time.Time) (time.Time, error) {
	if epoch == "" {
		return now().UTC(), nil
	}
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("clidoc: SOURCE_DATE_EPOCH %q: want seconds since 1970", epoch)
	}
	return time.Unix(sec, 0).UTC(), nil
}
