package tpm

import "time"

// SetBackoff sets c's retry schedule, so that tests need not wait seconds.
func SetBackoff(c *Counter, first, max, budget time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.retry = backoff{first: first, max: max, budget: budget}
}
