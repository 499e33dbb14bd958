package export

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Retry is how a failed delivery is retried: after Initial, then twice as
// long each time up to Max (each wait drawn between half and all of it,
// so that exporters that failed together do not retry together), until a
// delivery succeeds, forever, or until GiveUp has passed since the first
// failure of the batch when GiveUp is not 0.
type Retry struct {
	Initial, Max, GiveUp time.Duration
}

// DefaultRetry starts at half a second and waits at most 30 s between
// attempts, and never gives up.
var DefaultRetry = Retry{Initial: 500 * time.Millisecond, Max: 30 * time.Second}

// GiveUpError is the error of a delivery abandoned after Retry.GiveUp.
type GiveUpError struct {
	Sink        string
	First, Last uint64 // the batch's first and last sequence numbers
	Attempts    int
	After       time.Duration
	Err         error // the last attempt's
}

func (e *GiveUpError) Error() string {
	return fmt.Sprintf("export: gave up delivering records %d to %d to %s after %d attempts in %s: %v",
		e.First, e.Last, e.Sink, e.Attempts, e.After.Round(time.Millisecond), e.Err)
}

func (e *GiveUpError) Unwrap() error { return e.Err }

// deliver sends batch to sink, retrying as r says. Once an attempt has
// failed, every record of the batch is marked Redelivered for the next
// attempts: the receiver may have taken it before the failure. It returns
// nil once the sink confirmed the batch, the error of a permanent
// failure, a *GiveUpError, or ctx's error.
func deliver(ctx context.Context, sink Sink, batch []Record, r Retry, logf func(string, ...any)) error {
	if r.Initial <= 0 {
		r.Initial = DefaultRetry.Initial
	}
	if r.Max < r.Initial {
		r.Max = max(r.Initial, DefaultRetry.Max)
	}
	wait := r.Initial
	var first time.Time
	for attempt := 1; ; attempt++ {
		err := sink.Send(ctx, batch)
		if err == nil {
			if attempt > 1 {
				logf("delivered records %d to %d to %s at attempt %d", batch[0].Seq, batch[len(batch)-1].Seq, sink, attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrPermanent) {
			return err
		}
		if attempt == 1 {
			first = time.Now()
		}
		if r.GiveUp > 0 && time.Since(first) >= r.GiveUp {
			return &GiveUpError{Sink: sink.String(), First: batch[0].Seq, Last: batch[len(batch)-1].Seq, Attempts: attempt, After: time.Since(first), Err: err}
		}
		for i := range batch {
			batch[i].Redelivered = true
		}
		d := wait/2 + rand.N(wait/2+1)
		logf("delivering records %d to %d to %s failed (attempt %d): %v; retrying in %s", batch[0].Seq, batch[len(batch)-1].Seq, sink, attempt, err, d.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		wait = min(wait*2, r.Max)
	}
}
