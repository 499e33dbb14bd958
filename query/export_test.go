package query

// SetMaxPending sets how many matches a full read holds while they wait
// for a checkpoint, and returns a function that restores it.
func SetMaxPending(n int) (restore func()) {
	old := maxPending
	maxPending = n
	return func() { maxPending = old }
}
