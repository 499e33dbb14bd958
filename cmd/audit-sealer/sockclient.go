package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/wire"
)

// rawConn speaks PROTOCOL.md directly: the admin commands need nothing more
// than request lines out and in-order reply lines back.
type rawConn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

func dialSealer(path string) (*rawConn, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the sealer at %s: %w", path, err)
	}
	return &rawConn{c: c, r: bufio.NewReaderSize(c, 256<<10), w: bufio.NewWriterSize(c, 256<<10)}, nil
}

// send buffers the line of req; flush sends it.
func (rc *rawConn) send(req *wire.Request) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	rc.w.Write(b)
	return rc.w.WriteByte('\n')
}

func (rc *rawConn) flush() error { return rc.w.Flush() }

// recv reads one reply line into rep (whose Status or Matches may point to
// where to decode them) and returns the line.
func (rc *rawConn) recv(rep *wire.Reply) ([]byte, error) {
	line, err := rc.r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(line, rep); err != nil {
		return line, fmt.Errorf("bad reply from the sealer: %w", err)
	}
	return line, nil
}

func (rc *rawConn) Close() error { return rc.c.Close() }
