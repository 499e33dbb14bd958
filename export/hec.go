package export

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// HECPath is the Splunk HTTP Event Collector's endpoint for JSON events.
const HECPath = "/services/collector/event"

// HECOptions configure a HECSink.
type HECOptions struct {
	// URL is the collector's base URL (https://host:8088) or the full URL
	// of its event endpoint; a URL without a path gets HECPath.
	URL string
	// Token is the HEC token, sent as "Authorization: Splunk <token>".
	Token string
	// TLS is the client configuration: the collector's CA, a client
	// certificate for mutual TLS.
	TLS *tls.Config
	// Host, Source, SourceType and Index are the events' HEC metadata;
	// empty ones are left out (the collector's defaults apply).
	Host, Source, SourceType, Index string
	// Format is the records' format: a JSON format's line goes in "event"
	// as an object, a CEF line as a string.
	Format Format
	// Timeout bounds each request; 0 means 30 s.
	Timeout time.Duration
}

// HECSink posts each batch as one request to an HTTP endpoint shaped like
// the Splunk HTTP Event Collector: POST /services/collector/event,
// "Authorization: Splunk <token>", a body of concatenated event objects
//
//	{"time":<receive time, seconds>,"host":…,"source":…,"sourcetype":…,"index":…,
//	 "event":<the record>,"fields":{"seq":"…","audit_id":"…","type":"…","service":"…"}}
//
// ("redelivered":"true" among the fields of a re-sent record), confirmed
// by a 200 response whose JSON body has "code":0. A 400, 401, 403, 404 or
// 413 response is permanent (ErrPermanent: a bad token, a disabled token,
// data the collector refuses, a batch too large); other failures
// (connection errors, 429, 5xx, 503 "server is busy") are worth retrying.
type HECSink struct {
	o      HECOptions
	url    string
	client *http.Client
	buf    bytes.Buffer
}

// NewHECSink returns a HECSink.
func NewHECSink(o HECOptions) (*HECSink, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("export: HEC URL %q: want https://HOST:PORT[/PATH]", o.URL)
	}
	if u.Scheme == "http" {
		return nil, fmt.Errorf("export: HEC URL %q: plain http would send the token and the records in clear; use https", o.URL)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = HECPath
	}
	if o.Token == "" {
		return nil, errors.New("export: the HEC sink needs a token")
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     o.TLS,
		TLSHandshakeTimeout: o.Timeout,
		MaxIdleConns:        1,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &HECSink{o: o, url: u.String(), client: &http.Client{Transport: tr, Timeout: o.Timeout}}, nil
}

func (s *HECSink) String() string { return "HEC at " + s.url }

// hecEvent is one event of a HEC request.
type hecEvent struct {
	Time       json.Number       `json:"time"`
	Host       string            `json:"host,omitempty"`
	Source     string            `json:"source,omitempty"`
	SourceType string            `json:"sourcetype,omitempty"`
	Index      string            `json:"index,omitempty"`
	Event      json.RawMessage   `json:"event"`
	Fields     map[string]string `json:"fields"`
}

// hecReply is the collector's JSON answer.
type hecReply struct {
	Text string `json:"text"`
	Code *int   `json:"code"`
}

// Send posts the batch and waits for the collector's answer.
func (s *HECSink) Send(ctx context.Context, batch []Record) error {
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf)
	enc.SetEscapeHTML(false)
	for i := range batch {
		r := &batch[i]
		ev := hecEvent{Time: json.Number(strconv.FormatFloat(float64(r.Received.UnixMilli())/1000, 'f', 3, 64)),
			Host: s.o.Host, Source: s.o.Source, SourceType: s.o.SourceType, Index: s.o.Index,
			Fields: map[string]string{"seq": strconv.FormatUint(r.Seq, 10), "audit_id": r.AuditID, "type": r.Type, "service": r.Service}}
		if r.Redelivered {
			ev.Fields["redelivered"] = "true"
		}
		if s.o.Format.IsJSON() {
			ev.Event = r.Line
		} else {
			b, err := json.Marshal(string(r.Line))
			if err != nil {
				return err
			}
			ev.Event = b
		}
		if err := enc.Encode(&ev); err != nil {
			return fmt.Errorf("export: encoding record %d for HEC: %w", r.Seq, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(s.buf.Bytes()))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Splunk "+s.o.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("export: posting to %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var rep hecReply
	jerr := json.Unmarshal(body, &rep)
	if resp.StatusCode == http.StatusOK && jerr == nil && rep.Code != nil && *rep.Code == 0 {
		return nil
	}
	what := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if jerr == nil && rep.Code != nil {
		what += fmt.Sprintf(", code %d %q", *rep.Code, rep.Text)
	} else if len(body) > 0 {
		what += fmt.Sprintf(", body %.200q", body)
	}
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusRequestEntityTooLarge:
		return fmt.Errorf("%w: %s answered %s", ErrPermanent, s.url, what)
	case http.StatusOK:
		return fmt.Errorf("export: %s answered %s, not code 0", s.url, what)
	}
	return fmt.Errorf("export: %s answered %s", s.url, what)
}

// Close closes idle connections.
func (s *HECSink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}
