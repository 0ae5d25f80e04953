package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"sync"
	"time"
)

// Validity is how long a self-signed certificate is valid: less than the
// 14 days browsers accept for serverCertificateHashes.
const Validity = 13 * 24 * time.Hour

// RenewBefore is how long before expiry a self-signed certificate is replaced.
const RenewBefore = 2 * 24 * time.Hour

// backdate makes a fresh certificate valid slightly in the past, to tolerate
// clock skew between server and client.
const backdate = time.Hour

// Provider supplies a server's certificate.
type Provider struct {
	mu   sync.Mutex
	now  func() time.Time
	key  *ecdsa.PrivateKey // self-signed only; kept across renewals so the SPKI hash is stable
	host []string
	file bool // loaded from PEM files: never renewed

	cert      *tls.Certificate
	hash      string
	spki      string
	notBefore time.Time
	notAfter  time.Time

	onRenew func(hash string)
	dir     string       // Persistent: where each renewal is written
	log     *slog.Logger // Persistent: where a failed write is reported
}

// Option configures a Provider.
type Option func(*Provider)

// WithClock makes the Provider read time from now (tests).
func WithClock(now func() time.Time) Option { return func(p *Provider) { p.now = now } }

// OnRenew calls f with the new hash after each renewal (not the first certificate).
func OnRenew(f func(hash string)) Option { return func(p *Provider) { p.onRenew = f } }

// WithLogger makes a Persistent provider report there a renewed
// certificate it could not write back (the renewal still serves). Default:
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(p *Provider) { p.log = l } }

// SelfSigned returns a Provider of self-signed certificates for hosts
// (DNS names or IP addresses; "localhost", 127.0.0.1 and ::1 are always
// included). The key is made once and kept across renewals.
func SelfSigned(hosts []string, opts ...Option) (*Provider, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	p := newSelfSigned(key, hosts, opts)
	if err := p.renewLocked(); err != nil {
		return nil, err
	}
	return p, nil
}

// newKey makes the key of a self-signed certificate.
func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: generate key: %w", err)
	}
	return key, nil
}

// newSelfSigned is a self-signed Provider of key, without a certificate yet.
func newSelfSigned(key *ecdsa.PrivateKey, hosts []string, opts []Option) *Provider {
	p := &Provider{now: time.Now, key: key, host: append([]string{"localhost", "127.0.0.1", "::1"}, hosts...)}
	for _, o := range opts {
		o(p)
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p
}

// Load returns a Provider of the certificate and key in the PEM files.
func Load(certFile, keyFile string) (*Provider, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	return FromPEM(certPEM, keyPEM)
}

// FromPEM returns a Provider of the certificate and key in PEM form.
func FromPEM(certPEM, keyPEM []byte) (*Provider, error) {
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	if len(c.Certificate) == 0 {
		return nil, errors.New("certs: no certificate in PEM")
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	c.Leaf = leaf
	p := &Provider{now: time.Now, file: true}
	p.set(&c, leaf)
	return p, nil
}

func (p *Provider) set(c *tls.Certificate, leaf *x509.Certificate) {
	h := sha256.Sum256(c.Certificate[0])
	s := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	p.cert = c
	p.hash = hex.EncodeToString(h[:])
	p.spki = base64.StdEncoding.EncodeToString(s[:])
	p.notBefore, p.notAfter = leaf.NotBefore, leaf.NotAfter
}

// due reports whether a self-signed certificate valid from notBefore to
// notAfter must be replaced at now: from RenewBefore ahead of its expiry
// on (the threshold itself included), before it is valid (the clock went
// back), or when it is valid for longer than Validity (browsers refuse it
// for serverCertificateHashes).
func due(now, notBefore, notAfter time.Time) bool {
	return !now.Before(notAfter.Add(-RenewBefore)) || now.Before(notBefore) || notAfter.Sub(notBefore) > Validity
}

func (p *Provider) renewLocked() error {
	now := p.now()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return fmt.Errorf("certs: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "parley"},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(-backdate).Add(Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range p.host {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.key.PublicKey, p.key)
	if err != nil {
		return fmt.Errorf("certs: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	p.set(&tls.Certificate{Certificate: [][]byte{der}, PrivateKey: p.key, Leaf: leaf}, leaf)
	return nil
}

// current returns the certificate, renewing a self-signed one that is
// due (within RenewBefore of its expiry). A Persistent provider writes the
// renewed certificate back; failing that is logged, and it serves anyway.
func (p *Provider) current() (*tls.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.file && due(p.now(), p.notBefore, p.notAfter) {
		if err := p.renewLocked(); err != nil {
			return nil, err
		}
		if p.dir != "" {
			if err := p.saveCertLocked(); err != nil {
				p.logger().Warn("the renewed certificate could not be kept: the next start makes another one, and pinned clients need its hash", "dir", p.dir, "err", err)
			}
		}
		if p.onRenew != nil {
			go p.onRenew(p.hash)
		}
	}
	return p.cert, nil
}

func (p *Provider) logger() *slog.Logger {
	if p.log != nil {
		return p.log
	}
	return slog.Default()
}

// GetCertificate is the tls.Config.GetCertificate hook.
func (p *Provider) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return p.current()
}

// Certificate returns the certificate served now.
func (p *Provider) Certificate() (*tls.Certificate, error) { return p.current() }

// Hash returns the SHA-256 of the certificate served now (its DER), in
// lower-case hex: what clients pin and browsers pass as serverCertificateHashes.
func (p *Provider) Hash() string {
	if _, err := p.current(); err != nil {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hash
}

// SPKIHash returns the base64 SHA-256 of the certificate's public key info,
// as Chromium's --ignore-certificate-errors-spki-list wants it. It stays
// the same across renewals of a self-signed certificate.
func (p *Provider) SPKIHash() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spki
}

// NotAfter returns when the certificate served now expires.
func (p *Provider) NotAfter() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.notAfter
}

// TLSConfig returns a server tls.Config (TLS 1.3 minimum, as QUIC requires)
// whose certificate comes from p.
func (p *Provider) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, GetCertificate: p.GetCertificate}
}

// HashOf returns the lower-case hex SHA-256 of a DER certificate.
func HashOf(der []byte) string {
	h := sha256.Sum256(der)
	return hex.EncodeToString(h[:])
}

// KeyHashOf returns the lower-case hex SHA-256 of a DER certificate's
// SubjectPublicKeyInfo: the key hash clients also pin (it stays the same
// across renewals of a self-signed certificate).
func KeyHashOf(der []byte) (string, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(h[:]), nil
}
