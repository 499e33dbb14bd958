// Package index keeps one immutable sidecar file per closed segment of an
// audit-sealer log, listing which records hold which user, entity, service
// and event type, so that a query reads only the records that can match
// instead of the whole log. FORMAT.md §8 is the normative description of
// the file; this is a summary.
//
// # Never trusted over the log
//
// An index is a hint. A reader uses one only when it is consistent with
// its segment: same name, first sequence number and byte size, and the
// segment's last frame, at the offset the index names, is a good frame
// whose record has the sequence number and the hash the index names (that
// hash commits, through the chain, to every record of the segment). It
// then reads each listed record from the segment and applies its filter to
// the record itself, so an index can never add a record that does not
// match. An index that hides a record is found by Check, which rebuilds
// the index from the segment and compares. An index that is missing,
// unreadable, malformed or stale is ignored and the segment is read end to
// end; one larger than any index of its segment can be (4 × the segment's
// size + 4096 bytes) is refused before it is read, and a symbolic link is
// never followed. An index of an earlier version (1) is outdated and
// treated as missing. Any index can be rebuilt from its segment at any
// time (Build).
//
// The index also holds the Merkle leaf hash of every record of its
// segment, so that a reader can authenticate the segment without reading
// it: package query recomputes the segment's root from its tree state and
// these leaves and compares it with the segment's final checkpoint (or
// with the next segment's tree state), and checks every record it reads
// against its leaf (package verify judges both). Leaves that do not give
// the signed root make the reader read the segment in full.
//
// # File
//
//	header   "ASEALIDX" | u32 version = 2 | u16 len | segment file name
//	         u64 first_seq | u64 records | u64 segment size
//	         u64 offset of the last frame | [32] hash of the last record
//	         i64 first record time | i64 last record time | u32 key count
//	keys     sorted by their bytes, no duplicates, each:
//	         u16 len | key | u32 postings | u32 bytes | postings
//	posting  uvarint seq delta | uvarint offset delta
//	leaves   records × [32] SHA-256(0x00 | record hash), in record order
//	trailer  u32 CRC-32C of every byte before it
//
// Keys are "user:<id>", "entity:<id>", "service:<name>" and "type:<name>",
// taken from every event and sealer event record of the segment exactly as
// the query filters read them (Keys). Integers are big-endian; uvarints are
// encoding/binary's, in their shortest form.
//
// # Why files and not an embedded store
//
// Segments are immutable once closed and are deleted whole by retention.
// One immutable file per segment shares that life cycle: it is written
// once, atomically (temporary file, fsync, rename, directory fsync), is
// deleted with its segment, is rebuilt or checked one segment at a time,
// needs no transaction across files, no compaction and no dependency, and
// a reader needs no write access (an embedded store such as bbolt or
// pebble takes a lock and writes even to read, keeps one mutable file for
// the whole log, and would have to be kept in step with segment deletion).
package index
