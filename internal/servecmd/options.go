package servecmd

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"parley/protocol"
	"parley/server"
)

// Bounds of the configurable limits.
const (
	// MaxTextLimit is the largest --max-text: a message of that many code
	// points still fits a frame when most of them are ASCII.
	MaxTextLimit = 16000
	// MinImageLimit and MaxImageLimit bound --max-image, in bytes.
	MinImageLimit = 1 << 10
	MaxImageLimit = 1 << 30
	// MaxServerName is the longest --name, in code points.
	MaxServerName = 64
	// MaxSessionsLimit, MaxUserSessionsLimit and MaxRoomsLimit are the
	// largest --max-sessions, --max-user-sessions and --max-rooms.
	MaxSessionsLimit     = 1000000
	MaxUserSessionsLimit = 1000
	MaxRoomsLimit        = 100000
	// DefaultAddr is the default --addr.
	DefaultAddr = ":4433"
)

// Options is a validated `parley serve` configuration.
type Options struct {
	Addr            string        // --addr: host:port of UDP and TCP; empty host = all interfaces
	CertFile        string        // --cert: PEM certificate; empty with KeyFile: self-signed
	KeyFile         string        // --key: PEM private key
	DataDir         string        // --data: directory of the durable store; empty: in memory
	Name            string        // --name: server name shown to clients
	MaxText         int           // --max-text: longest message, in code points
	MaxImage        int64         // --max-image: largest image, in bytes
	MaxSessions     int           // --max-sessions: sessions on the server at once
	MaxUserSessions int           // --max-user-sessions: sessions one user name holds at once
	MaxRooms        int           // --max-rooms: rooms one session is in at once
	LogFormat       string        // --log-format: "text" or "json"
	LogLevel        slog.Level    // --log-level
	Admin           string        // --admin: loopback host:port of /metrics, /healthz, /readyz; empty: off
	RetainAge       time.Duration // --retain: drop messages older than this; 0 keeps them
	RetainCount     int           // --retain: keep at most this many per conversation; 0 keeps all
	Origins         []string      // --origins: browser origins allowed besides the server's own
	LAN             bool          // --lan: announce on mDNS
}

// Flag describes one option: its flag, its environment variable, its
// default and what it does.
type Flag struct {
	Name, Env, Default, Usage string
}

// Flags lists every option of `parley serve`, in the order of the docs.
var Flags = []Flag{
	{"addr", "PARLEY_ADDR", DefaultAddr, "host:port to listen on, UDP (HTTP/3, WebTransport) and TCP (HTTPS, WebSocket); port 0 picks a free port"},
	{"cert", "PARLEY_CERT", "", "TLS certificate (PEM); without --cert/--key a self-signed ECDSA certificate valid < 14 days is made and renewed (kept in --data across restarts)"},
	{"key", "PARLEY_KEY", "", "TLS private key (PEM) of --cert"},
	{"data", "PARLEY_DATA", "", "data directory (SQLite history, identities, images); empty keeps everything in memory"},
	{"name", "PARLEY_NAME", "", "server name shown to clients and on the LAN (default: the host name)"},
	{"max-text", "PARLEY_MAX_TEXT", strconv.Itoa(protocol.DefaultMaxText), fmt.Sprintf("longest message in characters (1–%d)", MaxTextLimit)},
	{"max-image", "PARLEY_MAX_IMAGE", "10MiB", "largest image (bytes, or with KB/KiB/MB/MiB/GB/GiB; 1KiB–1GiB)"},
	{"max-sessions", "PARLEY_MAX_SESSIONS", strconv.Itoa(server.DefaultMaxSessions), fmt.Sprintf("most network sessions on the server at once (WebTransport and WebSocket); past it a new session is refused with 503 (1–%d)", MaxSessionsLimit)},
	{"max-user-sessions", "PARLEY_MAX_USER_SESSIONS", strconv.Itoa(server.DefaultMaxUserSessions), fmt.Sprintf("most sessions one user name holds at once (1–%d)", MaxUserSessionsLimit)},
	{"max-rooms", "PARLEY_MAX_ROOMS", strconv.Itoa(server.DefaultMaxRooms), fmt.Sprintf("most rooms one session is in at once (1–%d)", MaxRoomsLimit)},
	{"log-format", "PARLEY_LOG_FORMAT", "text", "log format: text or json"},
	{"log-level", "PARLEY_LOG_LEVEL", "info", "log level: debug, info, warn or error"},
	{"admin", "PARLEY_ADMIN", "", "loopback host:port serving /metrics, /healthz, /readyz (e.g. 127.0.0.1:9090); empty: off"},
	{"retain", "PARLEY_RETAIN", "", "retention with --data: an age (30d, 12h), a count per conversation (10000), or both (30d,10000); empty keeps everything"},
	{"origins", "PARLEY_ORIGINS", "", "comma-separated browser origins allowed besides the server's own (https://chat.example.org), or *"},
	{"lan", "PARLEY_LAN", "false", "announce the server on the local network (mDNS service _parley._udp)"},
}

// raw holds the option strings before validation.
type raw map[string]*string

type strValue struct{ p *string }

func (v strValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}
func (v strValue) Set(s string) error { *v.p = s; return nil }

type boolValue struct{ strValue }

func (boolValue) IsBoolFlag() bool { return true }

// Parse reads args (after "serve") and the environment through getenv
// (nil: os.Getenv) and returns validated Options. -h returns flag.ErrHelp
// after writing the usage to out.
func Parse(args []string, getenv func(string) string, out io.Writer) (Options, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	fs := flag.NewFlagSet("parley serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	vals := raw{}
	from := map[string]string{} // where each value came from, for errors
	for _, f := range Flags {
		v := f.Default
		vals[f.Name] = &v
		from[f.Name] = "--" + f.Name
		if e := getenv(f.Env); e != "" {
			v = e
			from[f.Name] = f.Env
		}
		if f.Name == "lan" {
			fs.Var(boolValue{strValue{vals[f.Name]}}, f.Name, f.Usage)
		} else {
			fs.Var(strValue{vals[f.Name]}, f.Name, f.Usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeUsage(out)
			return Options{}, flag.ErrHelp
		}
		return Options{}, fmt.Errorf("%v (parley serve -h lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return Options{}, fmt.Errorf("unexpected argument %q (parley serve takes only flags)", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { from[f.Name] = "--" + f.Name })
	return validate(vals, from)
}

func writeUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: parley serve [flags]\n\nRuns the Parley room server. Every flag can also be set by its environment variable;\na flag on the command line wins.\n\n")
	for _, f := range Flags {
		def := ""
		if f.Default != "" {
			def = " (default " + f.Default + ")"
		}
		fmt.Fprintf(w, "  --%s  [%s]%s\n      %s\n", f.Name, f.Env, def, f.Usage)
	}
}

func validate(v raw, from map[string]string) (Options, error) {
	var o Options
	var errs []error
	bad := func(name string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", from[name], fmt.Sprintf(format, args...)))
	}
	var err error

	o.Addr = strings.TrimSpace(*v["addr"])
	if err := checkAddr(o.Addr); err != nil {
		bad("addr", "%v", err)
	}

	o.CertFile, o.KeyFile = *v["cert"], *v["key"]
	switch {
	case o.CertFile != "" && o.KeyFile == "":
		bad("cert", "a certificate needs its key (--key)")
	case o.KeyFile != "" && o.CertFile == "":
		bad("key", "a key needs its certificate (--cert)")
	}
	for _, n := range []string{"cert", "key"} {
		if p := *v[n]; p != "" {
			if st, err := os.Stat(p); err != nil {
				bad(n, "%v", err)
			} else if st.IsDir() {
				bad(n, "%s is a directory, not a PEM file", p)
			}
		}
	}

	o.DataDir = *v["data"]
	if o.DataDir != "" {
		if st, err := os.Stat(o.DataDir); err == nil && !st.IsDir() {
			bad("data", "%s is a file, not a directory", o.DataDir)
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			bad("data", "%v", err)
		}
	}

	o.Name = *v["name"]
	if o.Name == "" {
		o.Name = defaultName()
	}
	if err := checkServerName(o.Name); err != nil {
		bad("name", "%v", err)
	}

	intIn := func(name string, lo, hi int) int {
		n, err := strconv.Atoi(strings.TrimSpace(*v[name]))
		if err != nil {
			bad(name, "%q is not a whole number", *v[name])
		} else if n < lo || n > hi {
			bad(name, "%d is out of range %d–%d", n, lo, hi)
		}
		return n
	}
	o.MaxText = intIn("max-text", 1, MaxTextLimit)

	if o.MaxImage, err = ParseSize(*v["max-image"]); err != nil {
		bad("max-image", "%v", err)
	} else if o.MaxImage < MinImageLimit || o.MaxImage > MaxImageLimit {
		bad("max-image", "%d bytes is out of range %d–%d (1KiB–1GiB)", o.MaxImage, MinImageLimit, MaxImageLimit)
	}

	o.MaxSessions = intIn("max-sessions", 1, MaxSessionsLimit)
	o.MaxUserSessions = intIn("max-user-sessions", 1, MaxUserSessionsLimit)
	o.MaxRooms = intIn("max-rooms", 1, MaxRoomsLimit)

	switch o.LogFormat = strings.ToLower(strings.TrimSpace(*v["log-format"])); o.LogFormat {
	case "text", "json":
	default:
		bad("log-format", "%q is neither text nor json", *v["log-format"])
	}
	if err := o.LogLevel.UnmarshalText([]byte(strings.TrimSpace(*v["log-level"]))); err != nil {
		bad("log-level", "%q is not one of debug, info, warn, error", *v["log-level"])
	}

	o.Admin = strings.TrimSpace(*v["admin"])
	if o.Admin != "" {
		if err := checkAdmin(o.Admin); err != nil {
			bad("admin", "%v", err)
		}
	}

	if o.RetainAge, o.RetainCount, err = ParseRetain(*v["retain"]); err != nil {
		bad("retain", "%v", err)
	} else if (o.RetainAge > 0 || o.RetainCount > 0) && o.DataDir == "" {
		bad("retain", "retention applies to the durable store: give --data too")
	}

	if o.Origins, err = ParseOrigins(*v["origins"]); err != nil {
		bad("origins", "%v", err)
	}

	if o.LAN, err = strconv.ParseBool(strings.TrimSpace(*v["lan"])); err != nil {
		bad("lan", "%q is not a boolean (true/false/1/0)", *v["lan"])
	} else if o.LAN && len(errs) == 0 {
		if host, _, _ := net.SplitHostPort(o.Addr); isLoopbackHost(host) {
			bad("lan", "--addr %s is reachable only from this machine; announcing it on the LAN is pointless (use --addr :PORT)", o.Addr)
		}
	}
	if len(errs) > 0 {
		return Options{}, errors.Join(errs...)
	}
	return o, nil
}

func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. :4433 or 192.168.1.5:4433)", a)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number in 0–65535", port)
	}
	if host != "" && host != "localhost" && net.ParseIP(strings.SplitN(host, "%", 2)[0]) == nil {
		return fmt.Errorf("host %q must be an IP address of this machine, localhost, or empty for all interfaces", host)
	}
	return nil
}

func checkAdmin(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. 127.0.0.1:9090)", a)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number in 0–65535", port)
	}
	if !isLoopbackHost(host) {
		return fmt.Errorf("the admin endpoints must listen on a loopback address (127.0.0.1, ::1 or localhost), not %q", host)
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func checkServerName(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	n := utf8.RuneCountInString(s)
	if n == 0 || n > MaxServerName {
		return fmt.Errorf("%d characters; it must have 1–%d", n, MaxServerName)
	}
	if strings.TrimSpace(s) != s {
		return errors.New("starts or ends with white space")
	}
	for _, r := range s {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("contains the control or format character %U", r)
		}
	}
	return nil
}

func defaultName() string {
	h, err := os.Hostname()
	if err != nil || checkServerName(h) != nil {
		return "parley"
	}
	return h
}

// ParseSize reads a size in bytes: a whole number, optionally followed by
// B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), case
// insensitive; K, M, G alone mean KiB, MiB, GiB.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 10MiB or 1048576)", s)
	}
	if i > 12 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	n, _ := strconv.ParseInt(t[:i], 10, 64)
	unit := map[string]int64{
		"": 1, "b": 1,
		"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
		"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
		"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	}
	mul, ok := unit[strings.ToLower(strings.TrimSpace(t[i:]))]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q in %q (use B, KB, KiB, MB, MiB, GB or GiB)", t[i:], s)
	}
	return n * mul, nil
}

// ParseRetain reads a retention policy: empty (keep everything), an age
// (a Go duration, or whole days as "30d"), a count of messages per
// conversation ("10000"), or both separated by a comma ("30d,10000").
func ParseRetain(s string) (age time.Duration, count int, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, 0, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > 2 {
		return 0, 0, fmt.Errorf("%q has more than an age and a count", s)
	}
	var haveAge, haveCount bool
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return 0, 0, fmt.Errorf("%q has an empty part", s)
		}
		if allDigits(p) {
			if haveCount {
				return 0, 0, fmt.Errorf("%q gives two counts", s)
			}
			haveCount = true
			if count, err = strconv.Atoi(p); err != nil || count < 1 || count > 1e9 {
				return 0, 0, fmt.Errorf("count %q is out of range 1–1000000000", p)
			}
			continue
		}
		if haveAge {
			return 0, 0, fmt.Errorf("%q gives two ages", s)
		}
		haveAge = true
		if age, err = parseAge(p); err != nil {
			return 0, 0, err
		}
	}
	return age, count, nil
}

func parseAge(p string) (time.Duration, error) {
	const maxAge = 100 * 365 * 24 * time.Hour
	var d time.Duration
	if strings.HasSuffix(p, "d") && allDigits(p[:len(p)-1]) && len(p) > 1 {
		n, err := strconv.Atoi(p[:len(p)-1])
		if err != nil || n > 36500 {
			return 0, fmt.Errorf("age %q is longer than 100 years", p)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(p); err != nil {
			return 0, fmt.Errorf("age %q is not a duration (30d, 12h, 90m)", p)
		}
	}
	if d < time.Minute || d > maxAge {
		return 0, fmt.Errorf("age %q is out of range 1m–36500d", p)
	}
	return d, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ParseOrigins reads a comma-separated list of browser origins
// (scheme://host[:port], http or https, no path) or "*".
func ParseOrigins(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "*" {
			out = append(out, o)
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
			u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%q is not an origin like https://chat.example.org[:port]", o)
		}
		out = append(out, u.Scheme+"://"+strings.ToLower(u.Host))
	}
	return out, nil
}
