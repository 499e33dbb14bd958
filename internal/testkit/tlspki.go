package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSPKI is a throwaway certificate authority for tests of TLS receivers
// (the export sinks): a server certificate for 127.0.0.1 and localhost, a
// client certificate named audit-sealer-export, their P-256 keys, all as
// PEM files in a directory. Each NewTLSPKI makes another CA, so the client
// certificate of one is a stranger's to the receivers of another.
type TLSPKI struct {
	CA                    string // the CA certificate
	ServerCert, ServerKey string
	ClientCert, ClientKey string
	Pool                  *x509.CertPool // holds the CA
}

// NewTLSPKI writes a new CA and its certificates into dir (created).
func NewTLSPKI(dir string) (*TLSPKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	write := func(name, typ string, der []byte) (string, error) {
		p := filepath.Join(dir, name)
		return p, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "audit-sealer test CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	p := &TLSPKI{Pool: x509.NewCertPool()}
	p.Pool.AddCert(ca)
	if p.CA, err = write("ca.pem", "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	leaf := func(name string, server bool) (string, string, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", "", err
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, DNSNames: []string{name}}
		if server {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return "", "", err
		}
		k, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return "", "", err
		}
		c, err := write(name+".pem", "CERTIFICATE", der)
		if err != nil {
			return "", "", err
		}
		kp, err := write(name+".key", "PRIVATE KEY", k)
		return c, kp, err
	}
	if p.ServerCert, p.ServerKey, err = leaf("localhost", true); err != nil {
		return nil, fmt.Errorf("testkit: server certificate: %w", err)
	}
	if p.ClientCert, p.ClientKey, err = leaf("audit-sealer-export", false); err != nil {
		return nil, fmt.Errorf("testkit: client certificate: %w", err)
	}
	return p, nil
}

// ServerConfig returns a receiver's TLS configuration: the server
// certificate, and client certificates required and checked against the
// CA (mutual TLS), at most maxVersion (0: Go's default).
func (p *TLSPKI) ServerConfig(maxVersion uint16) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.Pool, MaxVersion: maxVersion}, nil
}
