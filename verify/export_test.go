package verify

// SetBatchRecords makes batches hold at most n records, so that tests cut
// small segments into many batches, and returns a function that restores
// the default. Tests that call it must not run in parallel.
func SetBatchRecords(n int) (restore func()) {
	old := batchRecords
	batchRecords = n
	return func() { batchRecords = old }
}
