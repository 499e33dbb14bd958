package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/event"
)

// schemaCommand prints the event contract as JSON Schema, generated from
// package event like schema/*.schema.json, so that a service team can check
// its events without reading the sealer's code.
func schemaCommand() *cobra.Command {
	var list bool
	cmd := &cobra.Command{
		Use:   "schema [TYPE | request | reply] | --list",
		Short: "Print the JSON Schema of the events, of one event type, or of a request or reply line",
		Long: `schema prints JSON Schema (draft 2020-12) generated from the sealer's own
validation rules: without an argument, the catalogue of every event type
(schema/events.schema.json); with an event type, that type's schema alone;
with "request" or "reply", the socket protocol's envelopes (PROTOCOL.md).
--list prints the event types, their category and C for the critical ones.
EVENTS.md describes the same types in prose. A schema cannot state every
rule (byte lengths, credential-shaped words, the clock): the sealer may
still refuse an event its schema accepts, never the reverse.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if list {
				if len(args) > 0 {
					return &exitError{code: 2, err: fmt.Errorf("schema: --list takes no argument")}
				}
				for _, t := range append(event.Types(), event.SealerTypes()...) {
					critical := ""
					if event.IsCritical(t) {
						critical = "\tC"
					}
					fmt.Fprintf(out, "%s\t%s%s\n", t, event.Category(t), critical)
				}
				return nil
			}
			var data []byte
			var err error
			switch {
			case len(args) == 0:
				data, err = event.CatalogueSchema()
			case args[0] == "request":
				data, err = event.RequestSchema()
			case args[0] == "reply":
				data, err = event.ReplySchema()
			case event.Category(args[0]) == "":
				return &exitError{code: 2, err: fmt.Errorf("schema: unknown event type %q; audit-sealer schema --list lists the types (EVENTS.md describes them)", args[0])}
			default:
				data, err = event.JSONSchema(args[0])
			}
			if err != nil {
				return err
			}
			_, err = out.Write(data)
			return err
		},
	}
	cmd.Flags().BoolVar(&list, "list", false, "list the event types instead")
	return cmd
}
