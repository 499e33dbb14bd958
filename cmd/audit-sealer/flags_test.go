package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/internal/config"
)

// commandFlags lists, for every command, the flags its --help may show
// besides --help: the flags it uses. Setting flags that only serve uses
// (--heartbeat, --accept-rollback, ...) must not show up in an admin
// command, where they would be ignored. A command missing here fails the
// test, so that a new one is checked too.
var commandFlags = map[string][]string{
	"audit-sealer":          {"version"},
	"serve":                 append([]string{"config"}, serveFlags...),
	"config":                nil,
	"config check":          append([]string{"config"}, serveFlags...),
	"emit":                  {"config", "socket", "durable", "service"},
	"status":                {"config", "socket", "json"},
	"keys":                  nil,
	"keys export-public":    {"config", "data-dir", "dev", "format", "current", "root", "witness-key"},
	"keys generate":         {"config", "algorithm", "label"},
	"keys list":             {"config", "json"},
	"keys rotate":           {"config", "data-dir", "dev", "socket", "to-label", "reason"},
	"prove":                 {"config", "data-dir", "seq", "from-size", "out"},
	"tpm":                   nil,
	"tpm provision":         {"config", "tpm"},
	"tpm read":              {"config", "tpm"},
	"tpm identity":          {"config", "tpm", "ek-cert"},
	"tpm certify":           {"config", "tpm", "nonce", "challenge", "out"},
	"query":                 append(filterFlagNames(), "limit", "after", "json", "proofs", "socket"),
	"export":                append(filterFlagNames(), exportFlagNames()...),
	"index":                 nil,
	"index build":           {"config", "data-dir", "json", "all"},
	"index check":           {"config", "data-dir", "json"},
	"report":                {"data-dir", "key", "config", "dev", "socket", "customer", "from", "to", "format", "out", "sig"},
	"schema":                {"list"},
	"version":               {"json"},
	"help":                  nil,
	"completion":            nil,
	"completion bash":       {"no-descriptions"},
	"completion zsh":        {"no-descriptions"},
	"completion fish":       {"no-descriptions"},
	"completion powershell": {"no-descriptions"},
}

// filterFlagNames are the flags query and export share (filterFlags).
func filterFlagNames() []string {
	return []string{"data-dir", "key", "config", "dev", "user", "subject", "service", "type", "entity", "from", "to", "critical", "sealer"}
}

// exportFlagNames are export's own flags (exportFlags).
func exportFlagNames() []string {
	return []string{"format", "follow", "poll", "cursor-file", "sink", "sink-address", "sink-ca", "sink-cert", "sink-key",
		"sink-server-name", "sink-timeout", "hec-token-file", "hec-index", "hec-source", "hec-sourcetype", "syslog-facility", "host",
		"batch", "batch-bytes", "retry-max", "give-up-after", "socket"}
}

// helpFlag matches a flag line of --help: "  -h, --help   help for ...".
var helpFlag = regexp.MustCompile(`(?m)^\s+(?:-[a-zA-Z], )?--([a-z0-9-]+)`)

// TestHelpShowsOnlyUsedFlags runs --help for every command and checks that
// it lists exactly the command's own flags (commandFlags): no persistent
// or inherited flag leaks into a subcommand, and no admin command shows
// serve's settings.
func TestHelpShowsOnlyUsedFlags(t *testing.T) {
	root := newRoot()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.TrimPrefix(c.CommandPath(), "audit-sealer ")
		seen[path] = true
		want, ok := commandFlags[path]
		if !ok {
			t.Errorf("command %q is not in commandFlags: list the flags it uses", path)
		}
		r := newRoot()
		var out bytes.Buffer
		r.SetOut(&out)
		r.SetErr(&out)
		args := append(strings.Fields(path), "--help")
		if path == "audit-sealer" {
			args = []string{"--help"}
		}
		r.SetArgs(args)
		if err := r.Execute(); err != nil {
			t.Errorf("%s --help: %v", path, err)
		}
		var got []string
		for _, m := range helpFlag.FindAllStringSubmatch(flagSections(out.String()), -1) {
			if m[1] != "help" {
				got = append(got, m[1])
			}
		}
		slices.Sort(got)
		exp := slices.Clone(want)
		slices.Sort(exp)
		if !slices.Equal(got, exp) {
			t.Errorf("%s --help lists %q, want %q:\n%s", path, got, exp, out.String())
		}
		if strings.Contains(out.String(), "Global Flags") {
			t.Errorf("%s --help shows global flags:\n%s", path, out.String())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for path := range commandFlags {
		if !seen[path] {
			t.Errorf("commandFlags lists %q, which is no command", path)
		}
	}
}

// flagSections returns the "Flags:" and "Global Flags:" sections of a
// --help text (each up to its blank line).
func flagSections(help string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(help, "\n") {
		switch {
		case line == "Flags:" || line == "Global Flags:":
			in = true
		case strings.TrimSpace(line) == "":
			in = false
		case in:
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestCommandsReadTheConfiguration: without a flag, admin commands take
// the socket and the data directory from the configuration file
// (AUDIT_SEALER_CONFIG here, /etc/audit-sealer/audit-sealer.toml on an
// installed host); a flag given wins over the file.
func TestCommandsReadTheConfiguration(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.toml")
	fromFile := filepath.Join(dir, "from-file")
	if err := os.WriteFile(file, []byte(fmt.Sprintf("data_dir = %q\nsocket = %q\n", fromFile, fromFile+".sock")), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(config.EnvFile, file)
	fromFlag := filepath.Join(dir, "from-flag")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status"}, fromFile + ".sock"},
		{[]string{"status", "--socket", fromFlag + ".sock"}, fromFlag + ".sock"},
		{[]string{"emit"}, fromFile + ".sock"},
		{[]string{"prove", "--seq", "0"}, fromFile},
		{[]string{"prove", "--seq", "0", "--data-dir", fromFlag}, fromFlag},
		{[]string{"index", "check"}, fromFile},
		{[]string{"status", "--config", filepath.Join(dir, "absent.toml")}, "absent.toml"},
	} {
		root := newRoot()
		root.SetArgs(tc.args)
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetIn(strings.NewReader(""))
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.args, err, tc.want)
		}
		if strings.Contains(tc.want, "from-file") && err != nil && strings.Contains(err.Error(), "from-flag") {
			t.Errorf("%v used the flag's value", tc.args)
		}
	}
}
