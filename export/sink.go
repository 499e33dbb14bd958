package export

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Record is one formatted record on its way to a sink.
type Record struct {
	Seq      uint64
	AuditID  string
	Type     string
	Category string // the type's category (event.Category)
	Service  string // the service identity the sealer recorded
	Received time.Time
	// Severity is the record's OCSF severity_id (1 Informational to 5
	// Critical); the syslog sink derives the message's severity from it.
	Severity int
	// Line is the record in the export's format, without a line feed.
	Line []byte
	// Redelivered marks a record sent again after an unclean stop: it was
	// in the batch being delivered when the exporter stopped, so the sink
	// may have it already (syslog: redelivered="1" in the structured data;
	// HEC: the indexed field redelivered). A record not so marked was
	// never sent before by an exporter with the same cursor file.
	Redelivered bool
}

// A Sink delivers batches of records to a receiver.
type Sink interface {
	// Send delivers the records, in order, and returns nil only when the
	// receiver has confirmed all of them (what that means depends on the
	// sink: a flushed write to standard output, a completed TLS write
	// for syslog, an HTTP 200 with code 0 from a HEC endpoint). An error
	// means some may have been delivered and others not; one that wraps
	// ErrPermanent will not go away by retrying. Send is not called
	// concurrently.
	Send(ctx context.Context, batch []Record) error
	// Close releases the sink's connections.
	Close() error
	// String names the sink and its destination, for messages.
	String() string
}

// ErrPermanent is wrapped by sink errors that retrying cannot fix: the
// receiver refused the token, the data or the request.
var ErrPermanent = errors.New("export: the receiver refused the delivery")

// WriterSink writes each record's line and a line feed to a writer
// (standard output), flushing at the end of every batch. A failed write is
// permanent (ErrPermanent): part of the batch may have been written, and a
// stream cannot take it back.
type WriterSink struct {
	w    *bufio.Writer
	name string
}

// NewWriterSink returns a WriterSink on w; name names it in messages.
func NewWriterSink(w io.Writer, name string) *WriterSink {
	return &WriterSink{w: bufio.NewWriterSize(w, 64<<10), name: name}
}

// Send writes the lines and flushes them.
func (s *WriterSink) Send(_ context.Context, batch []Record) error {
	for i := range batch {
		s.w.Write(batch[i].Line)
		s.w.WriteByte('\n')
	}
	if err := s.w.Flush(); err != nil {
		// A stream cannot take back what part of the batch it wrote:
		// retrying would repeat lines. The export stops instead.
		return fmt.Errorf("%w: writing to %s: %w", ErrPermanent, s.name, err)
	}
	return nil
}

// Close flushes what is buffered.
func (s *WriterSink) Close() error { return s.w.Flush() }

func (s *WriterSink) String() string { return s.name }

// TLSFiles name what a network sink's TLS uses: the CA that signs the
// receiver's certificate (PEM; empty: the system's roots), and a client
// certificate and key (PEM, both or neither) for receivers that
// authenticate their clients (mutual TLS).
type TLSFiles struct {
	CA, Cert, Key string
	// ServerName is the name the receiver's certificate must hold; empty:
	// the host of the sink's address.
	ServerName string
}

// Config returns the TLS client configuration (TLS 1.2 or later).
func (t TLSFiles) Config() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("export: the sink's CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("export: the sink's CA %s holds no PEM certificate", t.CA)
		}
		c.RootCAs = pool
	}
	switch {
	case t.Cert != "" && t.Key != "":
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("export: the sink's client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	case t.Cert != "" || t.Key != "":
		return nil, errors.New("export: a client certificate needs both its certificate and its key")
	}
	return c, nil
}
