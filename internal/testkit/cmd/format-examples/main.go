// Command format-examples prints the worked examples of FORMAT.md, made by
// the real code from a fixed key and clock. TestFormatExamples checks that
// FORMAT.md holds exactly this output.
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

func main() {
	ex, err := testkit.FormatExamples()
	if err != nil {
		fmt.Fprintln(os.Stderr, "format-examples:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(ex))
	for n := range ex {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("== %s\n%s\n", n, ex[n])
	}
}
