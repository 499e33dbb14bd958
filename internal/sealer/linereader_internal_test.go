package sealer

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// TestLineReaderChargesSkippedBytes: an over-long line is reported once
// (errLineTooLong) and the bytes discarded after it call onSkip once per
// max bytes, so that a flood of huge lines is charged by its size; the
// line after it is read intact.
func TestLineReaderChargesSkippedBytes(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	const max = 1 << 10
	lr := newLineReader(server, max, 5*time.Second, 5*time.Second, nil)
	skips := 0
	lr.onSkip = func() { skips++ }
	go func() {
		client.Write([]byte(strings.Repeat("x", 16*max) + "\n" + `{"op":"ping"}` + "\n"))
	}()
	if _, err := lr.next(); !errors.Is(err, errLineTooLong) {
		t.Fatalf("a line of 16 KiB with a 1 KiB limit: %v, want errLineTooLong", err)
	}
	line, err := lr.next()
	if err != nil || string(line) != `{"op":"ping"}` {
		t.Fatalf("the line after the over-long one: %q, %v", line, err)
	}
	// 15 KiB were discarded after the first KiB, the line reported.
	if skips != 15 {
		t.Fatalf("onSkip called %d times for 15 KiB discarded with a 1 KiB limit, want 15", skips)
	}
}
