package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/export"
	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
	"github.com/audit-sealer/audit-sealer/internal/wire"
	"github.com/audit-sealer/audit-sealer/query"
)

// exportThroughSealer is export --socket: the sealer streams the matches
// (op export), which this writes to stdout in the format fm, flushing
// after each batch, until the export is done or, with follow, until
// SIGINT or SIGTERM.
func exportThroughSealer(cmd *cobra.Command, socket string, f query.Filter, fm export.Format, follow bool) error {
	out := bufio.NewWriter(cmd.OutOrStdout())
	defer out.Flush()
	x := export.NewWriter(out, fm, buildinfo.Version())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	_, err := streamFromSealer(ctx, socket, f, follow, x.Write, out.Flush)
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	return err
}

// streamFromSealer asks the sealer at socket to export the matches of f
// (op export; f.After resumes after a record already delivered) and hands
// each to fn in sequence order, calling batchDone after each reply's
// batch. It returns the last sequence number handed to fn (f.After when
// none was): the cursor to resume from. It ends when the export is done,
// or with follow when ctx ends (nil error); the sealer closing the
// connection before the end is an error, as is a refusal (sealerRefusal).
func streamFromSealer(ctx context.Context, socket string, f query.Filter, follow bool, fn func(*query.Match) error, batchDone func() error) (uint64, error) {
	last := f.After
	filter, err := json.Marshal(wire.Filter{User: f.UserID, Subject: f.Subject, Service: f.Service, Types: f.Types, Entity: f.Entity,
		From: f.From, To: f.To, Critical: f.CriticalOnly, Sealer: f.Sealer, After: f.After})
	if err != nil {
		return last, err
	}
	rc, err := dialSealer(socket)
	if err != nil {
		return last, &exitError{code: 2, err: err}
	}
	defer rc.Close()
	stopped := context.AfterFunc(ctx, func() { rc.Close() }) // a signal ends a read that waits for the sealer
	defer stopped()
	id := "x"
	rc.send(&wire.Request{Op: wire.OpExport, ID: &id, Filter: filter, Follow: follow})
	if err := rc.flush(); err != nil {
		return last, &exitError{code: 2, err: fmt.Errorf("export: %w", err)}
	}
	for {
		var matches []*query.Match
		rep := wire.Reply{Matches: &matches}
		if _, err := rc.recv(&rep); err != nil {
			if ctx.Err() != nil {
				return last, nil
			}
			return last, &exitError{code: 1, err: fmt.Errorf("export: the connection to the sealer ended before the export did (the sealer stopped?); resume with --after %d: %w", last, err)}
		}
		if !rep.OK {
			return last, sealerRefusal("export", &rep)
		}
		for _, m := range matches {
			if m.Seq <= last && last != 0 {
				return last, &exitError{code: 1, err: errors.New("export: the sealer sent records out of order")}
			}
			if err := fn(m); err != nil {
				return last, err
			}
			last = m.Seq
		}
		if err := batchDone(); err != nil {
			return last, err
		}
		if rep.Done {
			return last, nil
		}
	}
}
