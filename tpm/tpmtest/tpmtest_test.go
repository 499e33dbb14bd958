package tpmtest_test

import (
	"context"
	"sync"
	"testing"

	"github.com/audit-sealer/audit-sealer/tpm/tpmtest"
)

// memCounter is the simplest counter that meets the contract: the suite
// must pass on it, which shows the suite asks for nothing TPM-specific.
type memCounter struct {
	mu sync.Mutex
	v  uint64
}

func (m *memCounter) Read(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v, nil
}

func (m *memCounter) Increment(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.v += 3 // steps need not be 1
	return m.v, nil
}

func TestRunCounterOnMemory(t *testing.T) {
	state := &memCounter{v: 41}
	tpmtest.RunCounter(t, func(*testing.T) tpmtest.Counter { return state })
}
