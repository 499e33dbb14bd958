package testkit

import (
	"context"
	"sync"
)

// Counter is an in-memory monotonic counter standing in for the TPM in
// vectors and tests. Stuck makes Increment return the same value without
// moving: a broken counter, for the vector that must fail.
type Counter struct {
	mu    sync.Mutex
	Value uint64
	Stuck bool
}

// Read returns the counter's value.
func (c *Counter) Read(context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Value, nil
}

// Increment advances the counter (unless Stuck) and returns its value.
func (c *Counter) Increment(context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.Stuck {
		c.Value++
	}
	return c.Value, nil
}
