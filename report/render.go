package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// The kinds of report.
const (
	KindSOC2     = "soc2"
	KindPCI      = "pci"
	KindISO27001 = "iso27001"
	KindGDPR     = "gdpr"
)

// Kinds lists the kinds of report, in --help order.
func Kinds() []string { return []string{KindSOC2, KindPCI, KindISO27001, KindGDPR} }

// ParseKind returns the kind s names ("pci-dss" and "iso" are accepted
// for pci and iso27001), or an error wrapping ErrUsage.
func ParseKind(s string) (string, error) {
	switch k := strings.ToLower(s); k {
	case KindSOC2, KindPCI, KindISO27001, KindGDPR:
		return k, nil
	case "pci-dss", "pcidss":
		return KindPCI, nil
	case "iso", "iso27001:2022", "iso-27001":
		return KindISO27001, nil
	}
	return "", fmt.Errorf("%w: unknown report %q (want %s)", ErrUsage, s, strings.Join(Kinds(), ", "))
}

// Formats lists the formats a report renders to.
func Formats() []string { return []string{"json", "html"} }

// CheckFormat returns an error wrapping ErrUsage for a format Render does
// not know.
func CheckFormat(format string) error {
	if format != "json" && format != "html" {
		return fmt.Errorf("%w: --format %q: want json or html", ErrUsage, format)
	}
	return nil
}

// Report is a built report of any kind.
type Report interface {
	// Cover is what the report is based on.
	Cover() *Coverage
	// HTML writes the report as one self-contained page.
	HTML(io.Writer) error
}

func (r *SOC2Report) Cover() *Coverage     { return &r.Coverage }
func (r *PCIReport) Cover() *Coverage      { return &r.Coverage }
func (r *ISO27001Report) Cover() *Coverage { return &r.Coverage }
func (r *GDPRReport) Cover() *Coverage     { return &r.Coverage }

// Build builds the report of kind.
func Build(ctx context.Context, kind string, o Options) (Report, error) {
	var r Report
	var err error
	switch kind {
	case KindSOC2:
		r, err = nonNil(SOC2(ctx, o))
	case KindPCI:
		r, err = nonNil(PCI(ctx, o))
	case KindISO27001:
		r, err = nonNil(ISO27001(ctx, o))
	case KindGDPR:
		r, err = nonNil(GDPR(ctx, o))
	default:
		_, err = ParseKind(kind)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// nonNil returns r as a Report, or the error alone (never a Report
// holding a nil pointer).
func nonNil[T Report](r T, err error) (Report, error) {
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Render returns the report in format (json: indented, ending in a
// newline; html: one self-contained page). The bytes are what is written
// out, and what a signed report's SHA-256 covers.
func Render(r Report, format string) ([]byte, error) {
	if err := CheckFormat(format); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if format == "html" {
		if err := r.HTML(&b); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		return b.Bytes(), nil
	}
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return b.Bytes(), nil
}
