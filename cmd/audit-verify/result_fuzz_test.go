package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/verify"
)

// FuzzParseProofInput: any input is a bundle, a result line or an error,
// never a panic; a result line accepted here is checked field by field
// without panicking against any record.
func FuzzParseProofInput(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "log")
	if _, err := testkit.BuildLargeLog(dir, 20, 1<<20); err != nil {
		f.Fatal(err)
	}
	{
		b, err := verify.Prove(dir, 12)
		if err != nil {
			f.Fatal(err)
		}
		bundle, _ := json.Marshal(b)
		f.Add(bundle)
		line := resultLine(f, b)
		f.Add(line)
		f.Add(bytes.Replace(line, []byte(`"service":`), []byte(`"SERVICE":"forged","service":`), 1))
		f.Add(bytes.Replace(line, []byte(`{"type":`), []byte(`{"type":"auth.failure","type":`), 1))
	}
	f.Add([]byte(`{"seq":1,"proof":{}}`))
	f.Add([]byte(`{"seq":null,"proof":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, r, err := parseProofInput(data)
		if err != nil {
			return
		}
		if b == nil {
			t.Fatal("no bundle and no error")
		}
		if r != nil {
			if rec, err := chain.Decode(b.Record); err == nil {
				checkResult(r, &rec)
			}
		}
	})
}
