// Package tpmtest is a conformance suite for monotonic counters: the
// contract that the anchoring code relies on, checked the same way against
// the TPM counter of package tpm and against any fake a test uses instead.
package tpmtest

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
)

// Counter is what the suite needs of a counter. A value returned by
// Increment or Read is the counter's value at that moment.
type Counter interface {
	// Read returns the current value.
	Read(ctx context.Context) (uint64, error)
	// Increment increases the value and returns the new value.
	Increment(ctx context.Context) (uint64, error)
}

// RunCounter runs the suite. open must return a new handle to the same
// counter each time it is called, with its value kept, and already
// initialised (Read works before the first Increment). If a handle
// implements io.Closer, the suite closes it when it is done with it, before
// it opens the next one. The suite increments the counter about 40 times.
//
// The contract checked:
//   - Increment returns values that strictly increase, and Read returns the
//     value the last Increment returned;
//   - the value survives closing and reopening the counter;
//   - concurrent Increments each return a different value, and Read
//     afterwards returns the highest;
//   - a call with a context already cancelled fails with an error wrapping
//     context.Canceled, and leaves the counter unchanged.
func RunCounter(t *testing.T, open func(t *testing.T) Counter) {
	ctx := context.Background()
	use := func(t *testing.T) Counter {
		t.Helper()
		c := open(t)
		if cl, ok := c.(io.Closer); ok {
			t.Cleanup(func() {
				if err := cl.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
		}
		return c
	}
	read := func(t *testing.T, c Counter) uint64 {
		t.Helper()
		v, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		return v
	}
	increment := func(t *testing.T, c Counter) uint64 {
		t.Helper()
		v, err := c.Increment(ctx)
		if err != nil {
			t.Fatalf("Increment: %v", err)
		}
		return v
	}

	t.Run("IncrementIncreases", func(t *testing.T) {
		c := use(t)
		last := read(t, c)
		for range 5 {
			v := increment(t, c)
			if v <= last {
				t.Fatalf("Increment returned %d after %d", v, last)
			}
			if r := read(t, c); r != v {
				t.Fatalf("Read returned %d after Increment returned %d", r, v)
			}
			last = v
		}
		if r := read(t, c); r != last {
			t.Fatalf("a second Read returned %d, want %d", r, last)
		}
	})

	t.Run("PersistsAcrossReopen", func(t *testing.T) {
		var last uint64
		for i := range 3 {
			t.Run("", func(t *testing.T) {
				c := use(t)
				if r := read(t, c); i > 0 && r != last {
					t.Fatalf("reopened counter reads %d, want %d", r, last)
				}
				last = increment(t, c)
			})
			if t.Failed() {
				return
			}
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		c := use(t)
		start := read(t, c)
		const goroutines, each = 4, 5
		values := make(chan uint64, goroutines*each)
		errs := make(chan error, goroutines*each)
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range each {
					v, err := c.Increment(ctx)
					if err != nil {
						errs <- err
						return
					}
					values <- v
				}
			})
		}
		wg.Wait()
		close(values)
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent Increment: %v", err)
		}
		seen := make(map[uint64]bool)
		var highest uint64
		for v := range values {
			if v <= start {
				t.Errorf("concurrent Increment returned %d, not above the start value %d", v, start)
			}
			if seen[v] {
				t.Errorf("two concurrent Increments returned %d", v)
			}
			seen[v] = true
			highest = max(highest, v)
		}
		if r := read(t, c); r != highest {
			t.Errorf("Read after concurrent Increments returned %d, want the highest, %d", r, highest)
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		c := use(t)
		before := read(t, c)
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if v, err := c.Increment(cancelled); !errors.Is(err, context.Canceled) {
			t.Errorf("Increment with a cancelled context = %d, %v; want an error wrapping context.Canceled", v, err)
		}
		if v, err := c.Read(cancelled); !errors.Is(err, context.Canceled) {
			t.Errorf("Read with a cancelled context = %d, %v; want an error wrapping context.Canceled", v, err)
		}
		if r := read(t, c); r != before {
			t.Errorf("after a cancelled Increment the counter reads %d, want %d", r, before)
		}
	})
}
