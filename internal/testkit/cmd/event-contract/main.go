// Command event-contract writes the event contract generated from package
// event (schema/*.schema.json and EVENTS.md) under the repository root
// given by -root. go generate ./event runs it; TestContractFiles fails when
// the committed files differ from its output.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

func main() {
	root := flag.String("root", ".", "the repository root")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "event-contract:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	files, err := testkit.ContractFiles()
	if err != nil {
		return err
	}
	for _, f := range files {
		path := filepath.Join(root, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
