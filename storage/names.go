package storage

// The files of a data directory besides its segments (FORMAT.md §1). They
// are named here, in the package that owns the directory, and nowhere
// else.
const (
	// CheckpointFile holds the log's latest checkpoint, for operators and
	// auditors (the copy in the log is authoritative).
	CheckpointFile = "checkpoint"
	// DevKeyFile holds the development mode's software signing key
	// (serve --dev; never in production).
	DevKeyFile = "dev-signing.key"
	// LockFile is the lock a sealer holds on the directory while it runs.
	LockFile = lockFileName
	// SegmentHeaderSize is the size of a segment file's header, which the
	// first frame follows.
	SegmentHeaderSize = headerSize
)
