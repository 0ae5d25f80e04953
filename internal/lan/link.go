package lan

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"parley/protocol"
)

// LinkScheme is the URL scheme of a join link.
const LinkScheme = "parley"

// MaxLinkLen is the longest join link ParseLink accepts, in bytes.
const MaxLinkLen = 2048

// maxHostLen is the longest DNS name a link may carry (RFC 1035).
const maxHostLen = 253

// Link is what a join link says: where the server is, which certificate to
// pin, and which room to open.
type Link struct {
	// Host is a DNS name or an IP address (IPv6 without brackets, with a
	// zone for a link-local address).
	Host string
	// Port is the server's port number, 1–65535.
	Port int
	// Hash is the certificate's SHA-256, 64 lower-case hex digits, or empty
	// when the server's certificate is verified by the system's roots.
	Hash string
	// Key is the SHA-256 of the certificate's public key (SubjectPublicKeyInfo),
	// 64 lower-case hex digits, or empty: also accepted, it outlives the
	// renewals of a self-signed certificate (which keep the key).
	Key string
	// Room is the room to join, or empty.
	Room string
}

// Addr returns host:port, with brackets around an IPv6 address.
func (l Link) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// ServerURL returns the https URL a client dials for this link.
func (l Link) ServerURL() string { return "https://" + l.Addr() }

// String returns the link in canonical form (FormatLink).
func (l Link) String() string {
	s, err := FormatLink(l)
	if err != nil {
		return "parley://invalid"
	}
	return s
}

// ErrBadLink is wrapped by every error ParseLink and FormatLink return.
var ErrBadLink = errors.New("bad join link")

func linkErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadLink, fmt.Sprintf(format, args...))
}

// ParseLink reads a join link (see the package comment) and validates every
// part of it. It returns the link with the hash in lower case and the room
// in NFC.
func ParseLink(s string) (Link, error) {
	if len(s) > MaxLinkLen {
		return Link{}, linkErr("longer than %d bytes", MaxLinkLen)
	}
	if strings.TrimSpace(s) != s {
		return Link{}, linkErr("starts or ends with white space")
	}
	u, err := url.Parse(s)
	if err != nil {
		return Link{}, linkErr("%v", errors.Unwrap(err))
	}
	if u.Scheme != LinkScheme {
		return Link{}, linkErr("the scheme must be %q, not %q", LinkScheme+"://", u.Scheme)
	}
	if u.Opaque != "" {
		return Link{}, linkErr("%q must be followed by //host:port", LinkScheme+":")
	}
	if u.User != nil {
		return Link{}, linkErr("user information is not allowed")
	}
	if u.Path != "" && u.Path != "/" {
		return Link{}, linkErr("a path is not allowed (%q)", u.Path)
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return Link{}, linkErr("a fragment is not allowed")
	}
	var l Link
	if l.Host, err = checkHost(u.Hostname(), strings.HasPrefix(u.Host, "[")); err != nil {
		return Link{}, err
	}
	if l.Port, err = checkPort(u.Port(), u.Host); err != nil {
		return Link{}, err
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Link{}, linkErr("the query is malformed: %v", err)
	}
	if v, ok, err := single(q, "hash"); err != nil {
		return Link{}, err
	} else if ok {
		if l.Hash, err = CheckHash(v); err != nil {
			return Link{}, fmt.Errorf("%w: %v", ErrBadLink, err)
		}
	}
	if v, ok, err := single(q, "key"); err != nil {
		return Link{}, err
	} else if ok {
		if l.Key, err = CheckKeyHash(v); err != nil {
			return Link{}, fmt.Errorf("%w: %v", ErrBadLink, err)
		}
	}
	if v, ok, err := single(q, "room"); err != nil {
		return Link{}, err
	} else if ok {
		r, err := protocol.CleanRoom(v)
		if err != nil {
			return Link{}, linkErr("room: %v", err)
		}
		l.Room = r
	}
	return l, nil
}

// FormatLink writes l as a join link in canonical form: parameters in the
// order hash, key, room, each present only when set. It validates l as
// ParseLink would.
func FormatLink(l Link) (string, error) {
	host, err := checkHost(l.Host, strings.Contains(l.Host, ":"))
	if err != nil {
		return "", err
	}
	if l.Port < 1 || l.Port > 65535 {
		return "", linkErr("port %d is out of range 1–65535", l.Port)
	}
	var b strings.Builder
	b.WriteString(LinkScheme + "://")
	hp := net.JoinHostPort(host, strconv.Itoa(l.Port))
	if strings.Contains(host, "%") { // a zone: escape the % as a URL does
		hp = strings.Replace(hp, "%", "%25", 1)
	}
	b.WriteString(hp)
	sep := "?"
	if l.Hash != "" {
		h, err := CheckHash(l.Hash)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadLink, err)
		}
		b.WriteString(sep + "hash=" + h)
		sep = "&"
	}
	if l.Key != "" {
		k, err := CheckKeyHash(l.Key)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadLink, err)
		}
		b.WriteString(sep + "key=" + k)
		sep = "&"
	}
	if l.Room != "" {
		r, err := protocol.CleanRoom(l.Room)
		if err != nil {
			return "", linkErr("room: %v", err)
		}
		b.WriteString(sep + "room=" + url.QueryEscape(r))
	}
	return b.String(), nil
}

// CheckHash validates a certificate hash (64 hex digits, either case) and
// returns it in lower case.
func CheckHash(h string) (string, error) { return checkHex("certificate hash", h) }

// CheckKeyHash validates a key hash (64 hex digits, either case) and
// returns it in lower case.
func CheckKeyHash(h string) (string, error) { return checkHex("key hash", h) }

func checkHex(what, h string) (string, error) {
	if len(h) != 64 {
		return "", fmt.Errorf("the %s must be 64 hex digits, got %d characters", what, len(h))
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return "", fmt.Errorf("the %s has a non-hex character at position %d", what, i+1)
		}
	}
	return strings.ToLower(h), nil
}

func single(q url.Values, key string) (string, bool, error) {
	v, ok := q[key]
	if !ok {
		return "", false, nil
	}
	if len(v) != 1 {
		return "", false, linkErr("%q is given %d times", key, len(v))
	}
	return v[0], true, nil
}

func checkPort(p, hostport string) (int, error) {
	if p == "" {
		if strings.HasSuffix(hostport, ":") {
			return 0, linkErr("the port is empty")
		}
		return 0, linkErr("the port is missing (parley://host:port)")
	}
	if len(p) > 5 || p[0] == '0' {
		return 0, linkErr("port %q is not a number in 1–65535", p)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, linkErr("port %q is not a number in 1–65535", p)
	}
	return n, nil
}

// checkHost accepts an IP literal (IPv6 only when bracketed in the URL, or
// when it contains ':' for FormatLink) or a DNS name of letters, digits,
// hyphens and underscores in dot-separated labels of 1–63 bytes.
func checkHost(h string, bracketed bool) (string, error) {
	if h == "" {
		return "", linkErr("the host is missing")
	}
	if bracketed {
		addr, zone, _ := strings.Cut(h, "%")
		ip := net.ParseIP(addr)
		if ip == nil || ip.To4() != nil && !strings.Contains(addr, ":") {
			return "", linkErr("%q is not an IPv6 address", h)
		}
		if zone != "" || strings.Contains(h, "%") {
			if !ip.IsLinkLocalUnicast() {
				return "", linkErr("a zone is only allowed on a link-local address")
			}
			if !validZone(zone) {
				return "", linkErr("zone %q is not an interface name", zone)
			}
			return ip.String() + "%" + zone, nil
		}
		return ip.String(), nil
	}
	if ip := net.ParseIP(h); ip != nil {
		if ip.To4() == nil {
			return "", linkErr("an IPv6 address must be in brackets")
		}
		return ip.String(), nil
	}
	if len(h) > maxHostLen {
		return "", linkErr("the host name is longer than %d bytes", maxHostLen)
	}
	name := strings.TrimSuffix(h, ".")
	allDigits := true
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return "", linkErr("host %q has an empty or over-long label", h)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "", linkErr("host %q has a label starting or ending with '-'", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '_':
				allDigits = false
			default:
				return "", linkErr("host %q contains %q; use an IP address or an ASCII host name", h, rune(c))
			}
		}
	}
	if allDigits {
		return "", linkErr("host %q is neither an IP address nor a host name", h)
	}
	return strings.ToLower(h), nil
}

func validZone(z string) bool {
	if z == "" || len(z) > 15 {
		return false
	}
	for i := 0; i < len(z); i++ {
		c := z[i]
		if c <= ' ' || c >= 0x7f || c == '/' || c == '%' || c == '[' || c == ']' {
			return false
		}
	}
	return true
}
