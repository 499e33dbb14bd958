package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/export"
	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
)

// envHECToken names the environment variable that may hold the HEC token.
const envHECToken = "AUDIT_SEALER_HEC_TOKEN"

// exportFlags are export's settings besides the record filters.
type exportFlags struct {
	format, sink, address     string
	cursorFile, socket        string
	follow                    bool
	poll                      time.Duration
	host                      string
	tls                       export.TLSFiles
	tokenFile                 string
	hecIndex, hecSource       string
	hecSourceType             string
	facility                  int
	batch, batchBytes         int
	retryMax, giveUp, timeout time.Duration
}

func exportCommand() *cobra.Command {
	var ff filterFlags
	var xf exportFlags
	cmd := &cobra.Command{
		Use:   "export --format jsonl|cef|ocsf|ecs [filters] [--follow] [--cursor-file F] [--sink stdout|syslog|hec --sink-address A ...]",
		Short: "Deliver sealed records to a SIEM: JSON lines, CEF, OCSF or ECS, to stdout, syslog over TLS or a Splunk HEC endpoint",
		Long: `export delivers the sealed records that match the filters (as for query), in
flat memory, in one of four formats: jsonl (the record as JSON), cef
(ArcSight CEF:0), ocsf (OCSF 1.3.0 event objects) or ecs (Elastic Common
Schema 8.11 field names); docs/export-mappings.md says how each event type
maps. With --follow it keeps running and delivers each new record once a
signed checkpoint covers it; each poll reads only what was appended after
the last checkpoint the previous poll read.

Sinks (--sink):
  stdout  one line per record (the default)
  syslog  RFC 5424 messages over TLS (RFC 5425, octet counting) to
          --sink-address HOST:PORT, facility 13 (log audit) by default
  hec     batches of events POSTed to a Splunk HTTP Event Collector, or
          an endpoint of the same shape: --sink-address https://HOST:PORT
          (path /services/collector/event unless the URL has one), the
          token from --hec-token-file or $` + envHECToken + `
Both network sinks verify the receiver's certificate (--sink-ca, else the
system's roots) and present --sink-cert/--sink-key to receivers that ask
for a client certificate. A slow sink slows the reading: nothing is
dropped. A failed delivery is logged and retried with exponential backoff
(up to --retry-max between attempts), forever unless --give-up-after is
set; giving up, or a permanent refusal (a bad token, a refused request),
exits 1 with the records undelivered and the cursor before them.

--cursor-file F makes the export resumable, like journalctl --cursor-file:
the file holds the position delivered so far (the last sequence number
delivered, the checkpoint that covers it and the log's origin), replaced
atomically before each batch is sent and after the sink confirms it. On
start the export resumes after it, and refuses (exit 2) a cursor of
another log, one that points beyond the log, and one whose checkpoint the
log does not hold. A batch that was being delivered when the export was
stopped (even by SIGKILL) is sent again first, marked redelivered (the
syslog structured data's redelivered="1", the HEC field redelivered), so
a receiver can drop the copies it already has: no record is lost, and none
is sent twice unmarked. Two exports cannot share a cursor file.

` + exportSocketHelp + ` Through the sealer (--socket), records go to
standard output, without --cursor-file: the network sinks and the cursor
read the files.

` + trustHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExport(cmd, &ff, &xf)
		},
	}
	ff.register(cmd.Flags())
	fl := cmd.Flags()
	fl.StringVar(&xf.format, "format", "jsonl", "jsonl, cef, ocsf or ecs")
	fl.BoolVar(&xf.follow, "follow", false, "keep delivering new records as they are sealed")
	fl.DurationVar(&xf.poll, "poll", time.Second, "with --follow: how often to look for newly sealed records")
	fl.StringVar(&xf.cursorFile, "cursor-file", "", "resume after the position in this file and keep it up to date (created if missing)")
	fl.StringVar(&xf.sink, "sink", "stdout", "where records go: stdout, syslog or hec")
	fl.StringVar(&xf.address, "sink-address", "", "syslog: HOST:PORT; hec: https://HOST:PORT[/PATH]")
	fl.StringVar(&xf.tls.CA, "sink-ca", "", "PEM CA certificate(s) the receiver's certificate must chain to (default: the system's roots)")
	fl.StringVar(&xf.tls.Cert, "sink-cert", "", "PEM client certificate for mutual TLS (with --sink-key)")
	fl.StringVar(&xf.tls.Key, "sink-key", "", "PEM private key of --sink-cert")
	fl.StringVar(&xf.tls.ServerName, "sink-server-name", "", "name the receiver's certificate must hold (default: the address's host)")
	fl.StringVar(&xf.tokenFile, "hec-token-file", "", "file holding the HEC token (default: $"+envHECToken+")")
	fl.StringVar(&xf.hecIndex, "hec-index", "", "HEC index (default: the token's)")
	fl.StringVar(&xf.hecSource, "hec-source", "audit-sealer", "HEC source")
	fl.StringVar(&xf.hecSourceType, "hec-sourcetype", "", "HEC sourcetype (default audit-sealer:FORMAT)")
	fl.IntVar(&xf.facility, "syslog-facility", 13, "syslog facility, 0 to 23 (13: log audit)")
	fl.StringVar(&xf.host, "host", "", "the host name records are attributed to: CEF dvchost, ECS host.name, syslog HOSTNAME, HEC host (default: this host's name)")
	fl.IntVar(&xf.batch, "batch", 500, "at most this many records per delivery")
	fl.IntVar(&xf.batchBytes, "batch-bytes", 1<<20, "at most about this many bytes per delivery")
	fl.DurationVar(&xf.retryMax, "retry-max", 30*time.Second, "longest wait between two attempts of a failed delivery")
	fl.DurationVar(&xf.giveUp, "give-up-after", 0, "exit 1 when a delivery has failed for this long (0: retry forever)")
	fl.DurationVar(&xf.timeout, "sink-timeout", 30*time.Second, "bound on connecting to the receiver and on each delivery")
	fl.StringVar(&xf.socket, "socket", "", "export through the sealer at this socket (recorded in the chain; needs [query] access) instead of reading the files; standard output only")
	return cmd
}

// usage is an error in the command line: exit 2.
func usage(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func runExport(cmd *cobra.Command, ff *filterFlags, xf *exportFlags) error {
	f, err := ff.filter()
	if err != nil {
		return err
	}
	fm, err := export.ParseFormat(xf.format)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	fl := cmd.Flags()
	network := xf.sink == "syslog" || xf.sink == "hec"
	switch {
	case xf.sink != "stdout" && !network:
		return usage("--sink %q: want stdout, syslog or hec", xf.sink)
	case network && xf.address == "":
		return usage("--sink %s needs --sink-address", xf.sink)
	case !network && (xf.address != "" || xf.tls != (export.TLSFiles{})):
		return usage("--sink-address and the TLS flags go with --sink syslog or hec")
	case xf.sink != "hec" && (xf.tokenFile != "" || fl.Changed("hec-index") || fl.Changed("hec-source") || fl.Changed("hec-sourcetype")):
		return usage("the --hec-* flags go with --sink hec")
	case xf.sink != "syslog" && fl.Changed("syslog-facility"):
		return usage("--syslog-facility goes with --sink syslog")
	case xf.facility < 0 || xf.facility > 23:
		return usage("--syslog-facility %d: want 0 to 23", xf.facility)
	case xf.batch < 1 || xf.batchBytes < 1:
		return usage("--batch and --batch-bytes must be positive")
	case xf.poll <= 0 || xf.retryMax <= 0 || xf.giveUp < 0 || xf.timeout <= 0:
		return usage("--poll, --retry-max and --sink-timeout must be positive, --give-up-after not negative")
	case (xf.tls.Cert == "") != (xf.tls.Key == ""):
		return usage("--sink-cert and --sink-key go together")
	case xf.socket != "" && (xf.sink != "stdout" || xf.cursorFile != ""):
		return usage("--socket delivers to standard output only: --sink and --cursor-file read the files")
	}
	if xf.socket != "" {
		return exportThroughSealer(cmd, xf.socket, f, fm, xf.follow)
	}
	host := xf.host
	if host == "" {
		if host, err = os.Hostname(); err != nil {
			host = ""
		}
	}
	sink, err := newSink(cmd, xf, fm, host)
	if err != nil {
		return err
	}
	defer sink.Close()
	trust, dir, err := ff.trusted(fl)
	if err != nil {
		return err
	}
	noteDirectRead(cmd, "export", dir)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	logf := func(format string, args ...any) {
		fmt.Fprintf(cmd.ErrOrStderr(), "audit-sealer: export: "+format+"\n", args...)
	}
	st, err := export.Run(ctx, export.Config{Dir: dir, Trust: trust, Filter: f,
		Formatter:  export.NewFormatter(fm, export.Options{Version: buildinfo.Version(), Host: host}),
		Sink:       sink,
		CursorFile: xf.cursorFile, Follow: xf.follow, Poll: xf.poll,
		BatchRecords: xf.batch, BatchBytes: xf.batchBytes,
		Retry: export.Retry{Initial: min(500*time.Millisecond, xf.retryMax), Max: xf.retryMax, GiveUp: xf.giveUp},
		Logf:  logf})
	if st != nil && xf.sink != "stdout" {
		logf("delivered %d records in %d batches to %s (%d of them again, marked redelivered)", st.Delivered, st.Batches, sink, st.Redelivered)
	}
	var ce *export.CursorError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return &exitError{code: 2, err: err}
	}
	return readError(err)
}

// newSink returns the sink the flags name.
func newSink(cmd *cobra.Command, xf *exportFlags, fm export.Format, host string) (export.Sink, error) {
	switch xf.sink {
	case "stdout":
		return export.NewWriterSink(cmd.OutOrStdout(), "standard output"), nil
	case "syslog":
		tc, err := xf.tls.Config()
		if err != nil {
			return nil, &exitError{code: 2, err: err}
		}
		s, err := export.NewSyslogSink(export.SyslogOptions{Addr: xf.address, TLS: tc, Facility: xf.facility, Hostname: host, Timeout: xf.timeout})
		if err != nil {
			return nil, &exitError{code: 2, err: err}
		}
		return s, nil
	}
	token := os.Getenv(envHECToken)
	if xf.tokenFile != "" {
		b, err := os.ReadFile(xf.tokenFile)
		if err != nil {
			return nil, &exitError{code: 2, err: fmt.Errorf("--hec-token-file: %w", err)}
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return nil, usage("--sink hec needs a token: --hec-token-file FILE or $%s", envHECToken)
	}
	tc, err := xf.tls.Config()
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	st := xf.hecSourceType
	if st == "" {
		st = "audit-sealer:" + string(fm)
	}
	s, err := export.NewHECSink(export.HECOptions{URL: xf.address, Token: token, TLS: tc, Host: host, Source: xf.hecSource,
		SourceType: st, Index: xf.hecIndex, Format: fm, Timeout: xf.timeout})
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return s, nil
}
