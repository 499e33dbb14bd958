// Package storage keeps an append-only log of opaque payloads in segment
// files: it frames and checksums them, makes them durable, rotates
// segments and repairs a torn tail after a crash. It knows nothing of what
// the payloads mean; package chain gives them meaning. FORMAT.md at the root
// of the repository is the normative description; this is a summary.
//
// # Data directory
//
// The directory has mode 0700 and its files 0600: Create and Open refuse
// one that grants group or others any access, or that the effective uid of
// the process (root included) does not own (ErrInsecurePermissions).
// <dir>/LOCK is held with an exclusive flock(2) by the one Log writing the
// directory and holds its PID, written only once the lock is held. LOCK is
// opened without following a symbolic link and refused (ErrNotRegular) if
// it is a symbolic link, has more than one hard link or is not a regular
// file.
// Segment files are named %016x.seg after the sequence number of their first
// payload, which the caller chooses, so that names sort in log order:
// 0000000000000001.seg, 00000000000186a1.seg. ListSegments ignores all
// other files. No file of the directory is opened through a symbolic link:
// a segment that is one, or that is not a regular file, is refused
// (ErrNotRegular) by ListSegments, OpenSegment, OpenFrames, Open and
// DiscardUndurable, and a FIFO does not block them. Closed segments are read-only (0400); only the last segment
// is appended to. Creating, removing or renaming a file is followed by an
// fsync of the directory.
//
// # Segment file
//
// A segment is a 16-byte file header followed by frames, with no padding.
// Integers are big-endian; the CRC-32C (Castagnoli) covers the 4 length
// bytes followed by the payload; 1 <= L <= MaxPayload (1 MiB).
//
//	header: "ASEALSEG" | u32 version = 1 | u32 reserved = 0
//	frame:  u32 length L | u32 CRC-32C(length || payload) | L payload bytes
//
// The payload "hello" is framed as 00000005 3923f9b4 68656c6c6f.
//
// # Torn tails and corruption
//
// Only the last segment can end in a torn tail, the remains of a write
// interrupted by a crash. Scanning from the header, the first bad frame, at
// offset o, is torn if its header or payload extends past the end of the
// file, if its checksum fails and only zeros (or nothing) follow it, or if
// every byte from o to the end is zero. A last segment shorter than the
// header whose bytes are a prefix of a valid header, or one that is all
// zeros, has a torn header. Anything else is corruption, reported as a
// *CorruptError with the segment and offset: a bad frame followed by bytes
// that are not all zero, a length outside 1..MaxPayload that is not part of
// a zero tail, any bad frame in another segment, a bad file header.
//
// Open repairs a torn tail: it copies the bytes from o to the end into
// <segment>.broken (or <segment>.<n>.broken, n from 1 to 63), fsyncs that
// file and the directory, then truncates the segment to o and fsyncs it. A
// last segment left without a complete frame is removed once its bytes are
// kept aside (an empty one with no file kept), and the segment before it
// becomes the last one. Open changes nothing on disk when it finds
// corruption. A copy that fails (a full disk) is removed and nothing is
// cut; with all 64 names taken for the segment, Open and DiscardUndurable
// cut nothing and return ErrTooManyBroken, so that a failure that repeats
// cannot fill the directory.
//
// # Writing and reading
//
// Append only buffers. Sync writes the buffer with one write(2) and calls
// fdatasync(2); a failure poisons the Log. Rotate seals the current segment
// (write, chmod 0400, fsync, close) and creates the next one with O_EXCL.
// ListSegments and Reader take no lock and write nothing, so the offline
// verifier can read a copy of the directory on any operating system.
// FrameReader reads single frames at offsets known in advance (from a
// query index, package index), with the same checks.
package storage
