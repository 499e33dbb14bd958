package verify

import (
	"encoding/base64"

	"github.com/audit-sealer/audit-sealer/chain"
)

func b64(h chain.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }
