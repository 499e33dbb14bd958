//go:build gendocs

package clidoc

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// tree is a small command tree: root, a group with a leaf, a hidden
// command, and the generator.
func tree() *cobra.Command {
	root := &cobra.Command{Use: "tool", Short: "A tool", Version: "v1.2.3", SilenceUsage: true, SilenceErrors: true}
	group := &cobra.Command{Use: "keys", Short: "Manage keys"}
	leaf := &cobra.Command{Use: "list", Short: "List the keys", Long: "list prints every key.", RunE: func(*cobra.Command, []string) error { return nil }}
	leaf.Flags().Bool("json", false, "print JSON")
	group.AddCommand(leaf)
	secret := &cobra.Command{Use: "internal", Hidden: true, RunE: func(*cobra.Command, []string) error { return nil }}
	root.AddCommand(group, secret)
	Add(root)
	return root
}

func run(t *testing.T, root *cobra.Command, args ...string) error {
	t.Helper()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	return root.Execute()
}

// TestGendocsWritesAPagePerListedCommand: one page per command --help
// lists, none for hidden commands or the generator, each dated
// SOURCE_DATE_EPOCH and naming the version; two runs write the same bytes.
func TestGendocsWritesAPagePerListedCommand(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1765000000") // 2025-12-06
	var runs [2]map[string][]byte
	for i := range runs {
		dir := filepath.Join(t.TempDir(), "man1")
		if err := run(t, tree(), CommandName, "--man", dir); err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = map[string][]byte{}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			runs[i][e.Name()] = b
		}
	}
	var names []string
	for n := range runs[0] {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, want := range []string{"tool.1", "tool-keys.1", "tool-keys-list.1", "tool-completion.1"} {
		if runs[0][want] == nil {
			t.Errorf("no page %s; pages: %v", want, names)
		}
	}
	for _, n := range names {
		if strings.Contains(n, "internal") || strings.Contains(n, CommandName) {
			t.Errorf("page %s for a hidden command", n)
		}
		if !bytes.Equal(runs[0][n], runs[1][n]) {
			t.Errorf("page %s differs between two runs", n)
		}
	}
	list := string(runs[0]["tool-keys-list.1"])
	for _, want := range []string{`.TH "TOOL-KEYS-LIST" "1" "Dec 2025" "tool v1.2.3" "tool manual"`, "list prints every key.", "json"} {
		if !strings.Contains(list, want) {
			t.Errorf("tool-keys-list.1 lacks %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, "cobra") {
		t.Errorf("tool-keys-list.1 names cobra (auto-generated tag):\n%s", list)
	}
}

func TestGendocsRefusesNoOutputAndABadEpoch(t *testing.T) {
	if err := run(t, tree(), CommandName); !errors.Is(err, ErrNoOutput) {
		t.Errorf("gendocs without --man: %v, want ErrNoOutput", err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	dir := filepath.Join(t.TempDir(), "man1")
	err := run(t, tree(), CommandName, "--man", dir)
	if err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("gendocs with SOURCE_DATE_EPOCH=yesterday: %v, want an error naming it", err)
	}
	if _, statErr := os.Stat(dir); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("a refused run created %s (%v)", dir, statErr)
	}
}

func TestSourceDate(t *testing.T) {
	now := func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600)) }
	if got, err := sourceDate("", now); err != nil || !got.Equal(now()) || got.Location() != time.UTC {
		t.Errorf("no epoch: %v %v, want now in UTC", got, err)
	}
	if got, err := sourceDate("0", now); err != nil || !got.Equal(time.Unix(0, 0)) {
		t.Errorf("epoch 0: %v %v", got, err)
	}
	for _, bad := range []string{"-1", "1.5", "abc"} {
		if _, err := sourceDate(bad, now); err == nil {
			t.Errorf("epoch %q accepted", bad)
		}
	}
}
