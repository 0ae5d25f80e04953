package lan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/mdns"
	"github.com/miekg/dns"

	"parley/protocol"
)

// ServiceType is the DNS-SD service type Parley servers announce.
const ServiceType = "_parley._udp"

// Domain is the mDNS domain.
const Domain = "local."

// MaxNameBytes is the longest server name the TXT record carries, in bytes
// of UTF-8; a longer name is shortened at a character boundary.
const MaxNameBytes = 200

// Info is what a server announces about itself.
type Info struct {
	// Name is the server's name shown to users (required).
	Name string
	// Port is the server's port number, 1–65535 (required).
	Port int
	// CertHash is the certificate hash clients pin: 64 hex digits (required).
	CertHash string
	// Members is the number of users connected.
	Members int
	// IPs are the addresses announced. Empty: Addresses(), or the loopback
	// addresses on a machine with no network.
	IPs []net.IP
	// Host is the host name announced (a DNS name ending in "."). Empty: the
	// machine's host name under "local.".
	Host string
}

// Announcer answers mDNS queries for one server until it is closed.
type Announcer struct {
	mu      sync.Mutex
	svc     *mdns.MDNSService // the current record set; replaced by Update
	info    Info              // what svc was built from (IPs copied)
	server  *mdns.Server
	closed  bool
	stopCtx func() bool
}

// Announce starts answering mDNS queries for info on the default multicast
// interface. It stops when ctx ends or Close is called.
func Announce(ctx context.Context, info Info) (*Announcer, error) {
	svc, err := service(info)
	if err != nil {
		return nil, err
	}
	a := &Announcer{svc: svc, info: cloneInfo(info)}
	srv, err := mdns.NewServer(&mdns.Config{Zone: zone{a}, Logger: quietLogger()})
	if err != nil {
		return nil, fmt.Errorf("lan: cannot listen for mDNS queries (is there a multicast route?): %w", err)
	}
	a.server = srv
	a.stopCtx = context.AfterFunc(ctx, func() { _ = a.Close() })
	return a, nil
}

// Update replaces what is announced (for example a new member count). The
// port and certificate hash may change too; the instance name follows the
// hash.
func (a *Announcer) Update(info Info) error {
	svc, err := service(info)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return errors.New("lan: announcer is closed")
	}
	a.svc, a.info = svc, cloneInfo(info)
	return nil
}

// Close stops answering queries. It is idempotent.
func (a *Announcer) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	if a.stopCtx != nil {
		a.stopCtx()
	}
	return a.server.Shutdown()
}

// zone answers from the announcer's current record set.
type zone struct{ a *Announcer }

func (z zone) Records(q dns.Question) []dns.RR {
	z.a.mu.Lock()
	svc, closed := z.a.svc, z.a.closed
	z.a.mu.Unlock()
	if closed {
		return nil
	}
	return svc.Records(q)
}

// service builds the record set for info.
func service(info Info) (*mdns.MDNSService, error) {
	hash, err := CheckHash(info.CertHash)
	if err != nil {
		return nil, fmt.Errorf("lan: %w", err)
	}
	if info.Port < 1 || info.Port > 65535 {
		return nil, fmt.Errorf("lan: port %d is out of range 1–65535", info.Port)
	}
	if strings.TrimSpace(info.Name) == "" {
		return nil, errors.New("lan: the server name is empty")
	}
	if info.Members < 0 {
		return nil, fmt.Errorf("lan: negative member count %d", info.Members)
	}
	ips := info.IPs
	if len(ips) == 0 {
		if ips, err = Addresses(); err != nil {
			return nil, fmt.Errorf("lan: listing addresses: %w", err)
		}
		if len(ips) == 0 {
			ips = loopbackAddresses()
		}
		if len(ips) == 0 {
			return nil, errors.New("lan: this machine has no address to announce")
		}
	}
	host := info.Host
	if host == "" {
		host = hostName()
	}
	txt := []string{
		"v=" + strconv.Itoa(protocol.Version),
		"name=" + escapeTXT(truncateUTF8(info.Name, MaxNameBytes)),
		"hash=" + hash,
		"members=" + strconv.Itoa(info.Members),
		"port=" + strconv.Itoa(info.Port),
	}
	return mdns.NewMDNSService(instanceName(hash), ServiceType, Domain, host, info.Port, ips, txt)
}

func instanceName(hash string) string { return "parley-" + hash[:16] }

// hostName is the machine's host name as an mDNS name ("box.local.").
func hostName() string {
	h, err := os.Hostname()
	if err != nil {
		h = "parley"
	}
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		}
		if r == '.' {
			break // the first label only
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		s = "parley"
	}
	if len(s) > 63 {
		s = s[:63]
	}
	return s + "." + Domain
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// quietLogger discards hashicorp/mdns's log lines, which report normal
// conditions (no IPv6 multicast, say) as errors.
func quietLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// escapeTXT escapes a TXT string the way github.com/miekg/dns packs it:
// a backslash starts an escape there.
func escapeTXT(s string) string { return strings.ReplaceAll(s, `\`, `\\`) }

// unescapeTXT undoes github.com/miekg/dns's presentation escaping of a
// received TXT string: \DDD (a decimal byte) and \X (the byte X).
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b = append(b, s[i])
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n <= 255 {
				b = append(b, byte(n))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
