package lan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/mdns"
)

// Server is a Parley server found on the local network.
type Server struct {
	// Instance is the mDNS instance name ("parley-<16 hex digits>").
	Instance string
	// Name is the server's name, as it announced it.
	Name string
	// Host is the announced host name ("box.local.").
	Host string
	// IP is the address to dial (IPv4 when the server announced one).
	IP net.IP
	// Port is the server's port.
	Port int
	// CertHash is the certificate hash to pin.
	CertHash string
	// Version is the protocol version the server speaks.
	Version int
	// Members is the number of users connected when it answered.
	Members int
}

// Link returns the join link for this server and room (room may be empty).
func (s Server) Link(room string) Link {
	return Link{Host: s.IP.String(), Port: s.Port, Hash: s.CertHash, Room: room}
}

// DefaultDiscoverTimeout is how long Discover listens when given no timeout.
const DefaultDiscoverTimeout = time.Second

// maxEntries bounds how many answers one Discover collects.
const maxEntries = 256

// Discover asks the local network for Parley servers and collects the
// answers that arrive within timeout (DefaultDiscoverTimeout when ≤ 0), or
// until ctx ends. Servers are returned once each, sorted by name. It queries
// over IPv4 multicast.
func Discover(ctx context.Context, timeout time.Duration) ([]Server, error) {
	if timeout <= 0 {
		timeout = DefaultDiscoverTimeout
	}
	entries := make(chan *mdns.ServiceEntry, maxEntries)
	found := map[string]Server{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for e := range entries {
			if s, ok := parseEntry(e); ok {
				found[s.Instance] = s
			}
		}
	}()
	params := &mdns.QueryParam{
		Service:     ServiceType,
		Domain:      Domain,
		Timeout:     timeout,
		Entries:     entries,
		DisableIPv6: true,
		Logger:      quietLogger(),
	}
	err := mdns.QueryContext(ctx, params)
	close(entries)
	wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return nil, fmt.Errorf("lan: mDNS query: %w", err)
	}
	out := make([]Server, 0, len(found))
	for _, s := range found {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Instance < out[j].Instance
	})
	if err := ctx.Err(); err != nil && len(out) == 0 {
		return nil, err
	}
	return out, nil
}

// parseEntry turns an mDNS answer into a Server, or reports that it is not
// a valid Parley announcement.
func parseEntry(e *mdns.ServiceEntry) (Server, bool) {
	suffix := "." + ServiceType + "." + Domain
	if !strings.HasSuffix(e.Name, suffix) {
		return Server{}, false
	}
	s := Server{
		Instance: strings.TrimSuffix(e.Name, suffix),
		Host:     e.Host,
		Port:     e.Port,
	}
	switch {
	case e.AddrV4 != nil:
		s.IP = e.AddrV4
	case e.AddrV6IPAddr != nil:
		s.IP = e.AddrV6IPAddr.IP
	default:
		return Server{}, false
	}
	fields := map[string]string{}
	for _, f := range e.InfoFields {
		k, v, ok := strings.Cut(unescapeTXT(f), "=")
		if ok {
			fields[k] = v
		}
	}
	var err error
	if s.Version, err = strconv.Atoi(fields["v"]); err != nil || s.Version < 1 {
		return Server{}, false
	}
	if s.CertHash, err = CheckHash(fields["hash"]); err != nil {
		return Server{}, false
	}
	if p, err := strconv.Atoi(fields["port"]); err == nil && p >= 1 && p <= 65535 {
		if s.Port == 0 {
			s.Port = p
		}
	}
	if s.Port < 1 || s.Port > 65535 {
		return Server{}, false
	}
	if m, err := strconv.Atoi(fields["members"]); err == nil && m >= 0 {
		s.Members = m
	}
	s.Name = strings.ToValidUTF8(fields["name"], "\uFFFD")
	if s.Name == "" {
		s.Name = s.Instance
	}
	return s, true
}
