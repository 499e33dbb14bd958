// Command vectors writes the test vectors into a directory, one folder per
// vector with its data directory, the trusted key, a trusted checkpoint
// where the vector has one, and vector.txt saying what the verifier must
// report. Use it to look at tampered logs or to test another verifier:
//
//	go run ./internal/testkit/cmd/vectors /tmp/vectors
package main

import (
	"fmt"
	"os"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: vectors DIR")
		os.Exit(2)
	}
	if err := os.MkdirAll(os.Args[1], 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "vectors:", err)
		os.Exit(1)
	}
	vs, err := testkit.Generate(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "vectors:", err)
		os.Exit(1)
	}
	for _, v := range vs {
		expect := v.Expect
		if expect == "" {
			expect = "intact"
		}
		fmt.Printf("%-28s expect %-30s %s\n", v.Name, expect, v.Comment)
	}
}
