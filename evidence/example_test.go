package evidence_test

import (
	"fmt"
	"log"

	"github.com/audit-sealer/audit-sealer/evidence"
)

// An auditor checks evidence that `audit-sealer tpm certify` wrote with the
// nonce the auditor chose, and compares the certified counter with the
// log's last anchor. (The evidence here is built by the tests with a
// software key standing in for the TPM's attestation key; package tpm's
// tests check evidence from a real swtpm.)
func Example() {
	s := goodSpec()
	data, err := s.build().Marshal()
	if err != nil {
		log.Fatal(err)
	}
	e, err := evidence.Parse(data)
	if err != nil {
		log.Fatal(err)
	}
	res, err := e.Verify(s.extraData) // the auditor's own nonce
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("index 0x%08x holds %d (nonce checked: %v)\n", res.Index, res.Counter, res.NonceChecked)
	// Output:
	// index 0x01500100 holds 300 (nonce checked: true)
}
