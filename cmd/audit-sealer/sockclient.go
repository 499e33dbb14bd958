package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"time"
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

func (rc *rawConn) send(req any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	rc.w.Write(b)
	return rc.w.WriteByte('\n')
}

func (rc *rawConn) flush() error { return rc.w.Flush() }

// recv reads one reply line.
func (rc *rawConn) recv() (map[string]any, []byte, error) {
	line, err := rc.r.ReadBytes('\n')
	if err != nil {
		return nil, nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, line, fmt.Errorf("bad reply from the sealer: %w", err)
	}
	return m, line, nil
}

func (rc *rawConn) Close() error { return rc.c.Close() }
