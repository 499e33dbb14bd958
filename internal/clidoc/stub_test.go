//go:build !gendocs

package clidoc

import (
	"testing"

	"github.com/spf13/cobra"
)

// TestShippedBuildHasNoGenerator: without the gendocs tag (the binaries
// the package ships), Add registers no command.
func TestShippedBuildHasNoGenerator(t *testing.T) {
	root := &cobra.Command{Use: "tool"}
	Add(root)
	if n := len(root.Commands()); n != 0 {
		t.Fatalf("Add registered %d commands in a build without the gendocs tag", n)
	}
	if c, _, err := root.Find([]string{"gendocs"}); err == nil && c != root {
		t.Fatalf("gendocs is reachable in a build without the gendocs tag")
	}
}
