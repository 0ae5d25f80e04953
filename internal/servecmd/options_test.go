package servecmd

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func parse(t *testing.T, args []string, e map[string]string) (Options, error) {
	t.Helper()
	return Parse(args, env(e), &bytes.Buffer{})
}

func TestParseDefaults(t *testing.T) {
	o, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Addr: ":4433", Name: o.Name, MaxText: 4000, MaxImage: 10 << 20,
		MaxSessions: 10000, MaxUserSessions: 16, MaxRooms: 256,
		LogFormat: "text", LogLevel: slog.LevelInfo}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("defaults = %+v, want %+v", o, want)
	}
	if o.Name == "" {
		t.Error("the default name is empty")
	}
}

func writeFile(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseEveryFlagAndEnv(t *testing.T) {
	cert, key := writeFile(t, "c.pem"), writeFile(t, "k.pem")
	data := t.TempDir()
	want := Options{Addr: "127.0.0.2:9000", CertFile: cert, KeyFile: key, DataDir: data, Name: "Büro",
		MaxText: 100, MaxImage: 2 << 20, MaxSessions: 500, MaxUserSessions: 3, MaxRooms: 40,
		LogFormat: "json", LogLevel: slog.LevelDebug,
		Admin: "127.0.0.1:9090", RetainAge: 30 * 24 * time.Hour, RetainCount: 10000,
		Origins: []string{"https://chat.example.org", "http://localhost:8080"}, LAN: true}
	want.Addr = ":9000" // --lan wants a reachable address
	args := []string{"--addr", ":9000", "--cert", cert, "--key", key, "--data", data, "--name", "Büro",
		"--max-text", "100", "--max-image", "2MiB",
		"--max-sessions", "500", "--max-user-sessions", "3", "--max-rooms", "40", "--log-format", "json", "--log-level", "debug",
		"--admin", "127.0.0.1:9090", "--retain", "30d,10000",
		"--origins", "https://chat.example.org, http://LOCALHOST:8080", "--lan"}
	o, err := parse(t, args, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("flags: %+v\nwant   %+v", o, want)
	}
	e := map[string]string{"PARLEY_ADDR": ":9000", "PARLEY_CERT": cert, "PARLEY_KEY": key, "PARLEY_DATA": data,
		"PARLEY_NAME": "Büro", "PARLEY_MAX_TEXT": "100", "PARLEY_MAX_IMAGE": "2097152",
		"PARLEY_MAX_SESSIONS": "500", "PARLEY_MAX_USER_SESSIONS": " 3", "PARLEY_MAX_ROOMS": "40", "PARLEY_LOG_FORMAT": "JSON",
		"PARLEY_LOG_LEVEL": "DEBUG", "PARLEY_ADMIN": "127.0.0.1:9090", "PARLEY_RETAIN": "10000,720h",
		"PARLEY_ORIGINS": "https://chat.example.org,http://localhost:8080", "PARLEY_LAN": "1"}
	o, err = parse(t, nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("env: %+v\nwant %+v", o, want)
	}
	if len(e) != len(Flags) {
		t.Errorf("the test sets %d variables, there are %d flags", len(e), len(Flags))
	}
}

func TestFlagWinsOverEnv(t *testing.T) {
	o, err := parse(t, []string{"--max-text", "50", "--lan=false"}, map[string]string{"PARLEY_MAX_TEXT": "60", "PARLEY_NAME": "from env", "PARLEY_LAN": "true"})
	if err != nil {
		t.Fatal(err)
	}
	if o.MaxText != 50 || o.Name != "from env" || o.LAN {
		t.Errorf("got %+v", o)
	}
}

func TestParseLimitsAtAndPastTheLimit(t *testing.T) {
	ok := [][]string{
		{"--max-text", "1"}, {"--max-text", "16000"},
		{"--max-sessions", "1"}, {"--max-sessions", "1000000"},
		{"--max-user-sessions", "1"}, {"--max-user-sessions", "1000"},
		{"--max-rooms", "1"}, {"--max-rooms", "100000"},
		{"--max-image", "1024"}, {"--max-image", "1KiB"}, {"--max-image", "1GiB"}, {"--max-image", "1073741824"},
		{"--name", strings.Repeat("n", 64)},
		{"--addr", ":0"}, {"--addr", ":65535"}, {"--addr", "[::1]:4433"}, {"--addr", "localhost:1"},
		{"--retain", "1m"}, {"--retain", "36500d"}, {"--retain", "1"}, {"--retain", "1000000000"},
	}
	for _, a := range ok {
		args := a
		if a[0] == "--retain" {
			args = append(args, "--data", t.TempDir())
		}
		if _, err := parse(t, args, nil); err != nil {
			t.Errorf("%v: %v", a, err)
		}
	}
	bad := map[string][]string{
		"--max-text":       {"--max-text", "0"},
		"16001":            {"--max-text", "16001"},
		"sessions 0":       {"--max-sessions", "0"},
		"sessions 1000001": {"--max-sessions", "1000001"},
		"user 0":           {"--max-user-sessions", "0"},
		"user 1001":        {"--max-user-sessions", "1001"},
		"rooms 0":          {"--max-rooms", "0"},
		"rooms 100001":     {"--max-rooms", "100001"},
		"1023":             {"--max-image", "1023"},
		"1073741825":       {"--max-image", "1073741825"},
		"65 char":          {"--name", strings.Repeat("n", 65)},
		"65536":            {"--addr", ":65536"},
		"59s":              {"--retain", "59s", "--data", t.TempDir()},
		"36501d":           {"--retain", "36501d", "--data", t.TempDir()},
		"1000000001":       {"--retain", "1000000001", "--data", t.TempDir()},
		"count 0":          {"--retain", "0", "--data", t.TempDir()},
		"retain alone":     {"--retain", "30d"},
	}
	for name, a := range bad {
		if _, err := parse(t, a, nil); err == nil {
			t.Errorf("%s: %v accepted", name, a)
		}
	}
}

func TestParseErrorsAreClear(t *testing.T) {
	dataFile := writeFile(t, "data")
	cases := []struct {
		args []string
		env  map[string]string
		want string // substring of the error
	}{
		{[]string{"--addr", "4433"}, nil, "--addr: \"4433\" is not host:port"},
		{[]string{"--addr", "example.org:4433"}, nil, "--addr: host \"example.org\" must be an IP address"},
		{[]string{"--addr", ":http"}, nil, "--addr: port \"http\""},
		{nil, map[string]string{"PARLEY_ADDR": "nope"}, "PARLEY_ADDR: \"nope\" is not host:port"},
		{[]string{"--cert", writeFile(t, "c")}, nil, "--cert: a certificate needs its key"},
		{[]string{"--key", writeFile(t, "k")}, nil, "--key: a key needs its certificate"},
		{[]string{"--cert", "/nonexistent/c.pem", "--key", "/nonexistent/k.pem"}, nil, "no such file"},
		{[]string{"--cert", t.TempDir(), "--key", writeFile(t, "k")}, nil, "is a directory"},
		{[]string{"--data", dataFile}, nil, "--data: " + dataFile + " is a file"},
		{[]string{"--name", " padded"}, nil, "--name: starts or ends with white space"},
		{[]string{"--name", "bell\a"}, nil, "--name: contains the control"},
		{[]string{"--max-text", "many"}, nil, "--max-text: \"many\" is not a whole number"},
		{nil, map[string]string{"PARLEY_MAX_TEXT": "-5"}, "PARLEY_MAX_TEXT: -5 is out of range"},
		{[]string{"--max-sessions", "lots"}, nil, "--max-sessions: \"lots\" is not a whole number"},
		{[]string{"--max-sessions", "1000001"}, nil, "--max-sessions: 1000001 is out of range 1–1000000"},
		{nil, map[string]string{"PARLEY_MAX_SESSIONS": "-1"}, "PARLEY_MAX_SESSIONS: -1 is out of range 1–1000000"},
		{[]string{"--max-user-sessions", "0"}, nil, "--max-user-sessions: 0 is out of range 1–1000"},
		{nil, map[string]string{"PARLEY_MAX_USER_SESSIONS": "1.5"}, "PARLEY_MAX_USER_SESSIONS: \"1.5\" is not a whole number"},
		{[]string{"--max-rooms", "100001"}, nil, "--max-rooms: 100001 is out of range 1–100000"},
		{nil, map[string]string{"PARLEY_MAX_ROOMS": "0"}, "PARLEY_MAX_ROOMS: 0 is out of range 1–100000"},
		{[]string{"--max-image", "10 parsecs"}, nil, "--max-image: unknown unit"},
		{[]string{"--max-image", "MiB"}, nil, "--max-image: \"MiB\" is not a size"},
		{[]string{"--max-image", "99999999999999MiB"}, nil, "--max-image: \"99999999999999MiB\" is too large"},
		{[]string{"--log-format", "xml"}, nil, "--log-format: \"xml\" is neither text nor json"},
		{[]string{"--log-level", "loud"}, nil, "--log-level: \"loud\" is not one of"},
		{[]string{"--admin", "0.0.0.0:9090"}, nil, "--admin: the admin endpoints must listen on a loopback address"},
		{[]string{"--admin", ":9090"}, nil, "must listen on a loopback address"},
		{[]string{"--admin", "127.0.0.1"}, nil, "--admin: \"127.0.0.1\" is not host:port"},
		{[]string{"--retain", "soon", "--data", t.TempDir()}, nil, "--retain: age \"soon\" is not a duration"},
		{[]string{"--retain", "30d,12h", "--data", t.TempDir()}, nil, "gives two ages"},
		{[]string{"--retain", "1,2", "--data", t.TempDir()}, nil, "gives two counts"},
		{[]string{"--retain", "1,2,3", "--data", t.TempDir()}, nil, "more than an age and a count"},
		{[]string{"--retain", "30d,", "--data", t.TempDir()}, nil, "empty part"},
		{[]string{"--retain", "30d"}, nil, "--retain: retention applies to the durable store: give --data"},
		{[]string{"--origins", "chat.example.org"}, nil, "--origins: \"chat.example.org\" is not an origin"},
		{[]string{"--origins", "https://x.org/path"}, nil, "is not an origin"},
		{[]string{"--origins", "ftp://x.org"}, nil, "is not an origin"},
		{nil, map[string]string{"PARLEY_LAN": "maybe"}, "PARLEY_LAN: \"maybe\" is not a boolean"},
		{[]string{"--lan", "--addr", "127.0.0.1:4433"}, nil, "--lan: --addr 127.0.0.1:4433 is reachable only from this machine"},
		{[]string{"--nope"}, nil, "flag provided but not defined: -nope"},
		{[]string{"extra"}, nil, "unexpected argument \"extra\""},
	}
	for _, c := range cases {
		_, err := parse(t, c.args, c.env)
		if err == nil {
			t.Errorf("%v %v: accepted", c.args, c.env)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: error %q does not say %q", c.args, c.env, err, c.want)
		}
	}
}

func TestParseReportsEveryError(t *testing.T) {
	_, err := parse(t, []string{"--max-text", "0", "--log-format", "xml"}, nil)
	if err == nil || !strings.Contains(err.Error(), "--max-text") || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("error %v should name both bad flags", err)
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	_, err := Parse([]string{"-h"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, f := range Flags {
		if !strings.Contains(out.String(), "--"+f.Name) || !strings.Contains(out.String(), f.Env) {
			t.Errorf("usage lacks --%s or %s", f.Name, f.Env)
		}
	}
}

func TestParseSize(t *testing.T) {
	cases := map[string]int64{"0": 0, "1": 1, "1B": 1, "1k": 1024, "2KiB": 2048, "3kb": 3000,
		"10MiB": 10 << 20, "10 MB": 10e6, "1G": 1 << 30, "1GB": 1e9}
	for in, want := range cases {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5MiB", "MiB", "1TiB", "1 M B"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestParseRetain(t *testing.T) {
	cases := []struct {
		in    string
		age   time.Duration
		count int
	}{
		{"", 0, 0}, {"30d", 30 * 24 * time.Hour, 0}, {"10000", 0, 10000},
		{"30d,10000", 30 * 24 * time.Hour, 10000}, {" 10000 , 12h ", 12 * time.Hour, 10000},
		{"90m", 90 * time.Minute, 0},
	}
	for _, c := range cases {
		age, count, err := ParseRetain(c.in)
		if err != nil || age != c.age || count != c.count {
			t.Errorf("ParseRetain(%q) = %v, %d, %v; want %v, %d", c.in, age, count, err, c.age, c.count)
		}
	}
}

func TestOriginsWildcard(t *testing.T) {
	o, err := ParseOrigins("*")
	if err != nil || !reflect.DeepEqual(o, []string{"*"}) {
		t.Errorf("ParseOrigins(*) = %v, %v", o, err)
	}
}

// TestDocsListEveryOption keeps README.md and docs/operations.md in step
// with Flags.
func TestDocsListEveryOption(t *testing.T) {
	for _, doc := range []string{"../../README.md", "../../docs/operations.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		for _, f := range Flags {
			if !bytes.Contains(b, []byte("`--"+f.Name)) || !bytes.Contains(b, []byte(f.Env)) {
				t.Errorf("%s does not document --%s / %s", doc, f.Name, f.Env)
			}
		}
	}
}
