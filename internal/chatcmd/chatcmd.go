package chatcmd

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"parley/client"
	"parley/protocol"
)

// Run runs `parley chat` with args (without the subcommand name) until
// stdin ends, /quit, or ctx ends.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parley chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", os.Getenv("PARLEY_SERVER"), "server address, https://host:port or host:port (env PARLEY_SERVER)")
	hash := fs.String("cert-hash", os.Getenv("PARLEY_CERT_HASH"), "hex SHA-256 of the server certificate (env PARLEY_CERT_HASH)")
	key := fs.String("key-hash", os.Getenv("PARLEY_KEY_HASH"), "hex SHA-256 of the server's public key, also accepted: it outlives certificate renewals (parley serve logs it as key_hash; env PARLEY_KEY_HASH)")
	name := fs.String("name", os.Getenv("PARLEY_USER"), "user name (env PARLEY_USER)")
	room := fs.String("room", os.Getenv("PARLEY_ROOM"), "room to join first (env PARLEY_ROOM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *server == "" || *name == "" {
		fs.Usage()
		return errors.New("parley chat: --server and --name are required")
	}
	return run(ctx, client.Config{Server: *server, CertHash: *hash, KeyHash: *key, Name: *name, ClientName: "parley-chat/1"}, *room, stdin, stdout)
}

// out writes whole lines under a mutex.
type out struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *out) line(fields ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintln(o.w, strings.Join(fields, " "))
}

func (o *out) err(err error) {
	code := string(protocol.CodeOf(err))
	if code == "" {
		code = "-"
	}
	o.line("error", code, escape(err.Error()))
}

// escape makes text fit on one line.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`).Replace(s)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func run(ctx context.Context, cfg client.Config, room string, stdin io.Reader, stdout io.Writer) error {
	o := &out{w: stdout}
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	c, err := client.Dial(dctx, cfg)
	cancel()
	if err != nil {
		o.err(err)
		return err
	}
	defer c.Close()
	evDone := make(chan struct{})
	printed := make(chan struct{}) // closed once the first event is printed
	go func() {
		defer close(evDone)
		first := true
		for ev := range c.Events() {
			printEvent(o, ev)
			if first {
				first = false
				close(printed)
			}
		}
	}()
	// Dial queued "state connected" before it returned: print it before
	// any answer, so a script reads the state first. Events and answers
	// are printed by different goroutines, and nothing else orders them.
	select {
	case <-printed:
	case <-evDone:
	case <-ctx.Done():
	}
	sh := &shell{c: c, o: o}
	if room != "" {
		sh.exec(ctx, "/join "+room)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), protocol.MaxFrame)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			c.Close()
			<-evDone
			return nil
		case l, ok := <-lines:
			if !ok || strings.TrimSpace(l) == "/quit" {
				c.Close()
				<-evDone
				return nil
			}
			sh.exec(ctx, l)
		}
	}
}

func printEvent(o *out, ev client.Event) {
	switch ev.Kind {
	case client.EventMessage:
		m := ev.Message
		seq := strconv.FormatInt(m.Seq, 10)
		switch {
		case m.Image != nil:
			o.line("image", dash(m.Room), seq, m.From, dash(m.To), m.Image.ID, m.Image.Mime, escape(m.Image.Name))
		case m.Broadcast:
			o.line("broadcast", m.From, escape(m.Text))
		case m.To != "":
			o.line("pm", m.Room, seq, m.From, m.To, escape(m.Text))
		default:
			o.line("msg", m.Room, seq, m.From, escape(m.Text))
		}
	case client.EventJoined:
		o.line("join", ev.Room, ev.User)
	case client.EventLeft:
		o.line("part", ev.Room, ev.User)
	case client.EventTyping:
		o.line("typing", ev.Room, ev.User)
	case client.EventMembers:
		o.line("members", ev.Room, strings.Join(ev.Members, ","))
	case client.EventState:
		if ev.Transport != "" {
			o.line("state", string(ev.State), ev.Transport)
		} else {
			o.line("state", string(ev.State))
		}
	case client.EventEpoch:
		conv := ev.Room
		if ev.With != "" {
			conv = "@" + ev.With
		}
		o.line("epoch", conv, ev.Epoch)
	case client.EventError:
		o.err(ev.Err)
	}
}

// shell executes input lines.
type shell struct {
	c    *client.Client
	o    *out
	room string // the current room
}

func (sh *shell) exec(ctx context.Context, l string) {
	l = strings.TrimRight(l, "\r")
	if strings.TrimSpace(l) == "" {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd, rest, _ := strings.Cut(l, " ")
	rest = strings.TrimSpace(rest)
	var err error
	switch {
	case cmd == "/join":
		var r client.JoinResult
		if r, err = sh.c.Join(rctx, rest); err == nil {
			sh.room = r.Room
			sh.o.line("joined", r.Room, strconv.FormatInt(r.Seq, 10))
		}
	case cmd == "/leave":
		target := sh.orCurrent(rest)
		if err = sh.c.Leave(rctx, target); err == nil {
			sh.o.line("left", target)
			if protocol.Fold(target) == protocol.Fold(sh.room) {
				sh.room = ""
			}
		}
	case cmd == "/users":
		target := sh.orCurrent(rest)
		var users []string
		if users, err = sh.c.Users(rctx, target); err == nil {
			sh.o.line("members", target, strings.Join(users, ","))
		}
	case cmd == "/rooms":
		var rooms []protocol.RoomInfo
		if rooms, err = sh.c.Rooms(rctx); err == nil {
			parts := make([]string, len(rooms))
			for i, r := range rooms {
				parts[i] = r.Room + ":" + strconv.Itoa(r.Members)
			}
			sh.o.line("rooms", strings.Join(parts, ","))
		}
	case cmd == "/image":
		var s client.Sent
		if s, err = sh.c.SendImageFile(rctx, sh.room, "", rest); err == nil {
			sh.o.line("sent", sh.room, strconv.FormatInt(s.Seq, 10))
		}
	case cmd == "/all":
		if _, err = sh.c.Broadcast(rctx, rest); err == nil {
			sh.o.line("sent", "*", "0")
		}
	case strings.HasPrefix(cmd, "/"):
		err = fmt.Errorf("unknown command %s", cmd)
	case strings.HasPrefix(cmd, "@") && len(cmd) > 1:
		var s client.Sent
		if s, err = sh.c.SayTo(rctx, sh.room, cmd[1:], rest); err == nil {
			sh.o.line("sent", sh.room, strconv.FormatInt(s.Seq, 10))
		}
	default:
		var s client.Sent
		if s, err = sh.c.Say(rctx, sh.room, l); err == nil {
			sh.o.line("sent", sh.room, strconv.FormatInt(s.Seq, 10))
		}
	}
	if err != nil {
		sh.o.err(err)
	}
}

func (sh *shell) orCurrent(r string) string {
	if r == "" {
		return sh.room
	}
	return r
}
