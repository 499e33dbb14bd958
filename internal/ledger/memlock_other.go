//go:build !unix

package ledger

import "errors"

func lockMemory([]byte) error {
	return errors.New("ledger: locking memory is not supported on this system")
}
