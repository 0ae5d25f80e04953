package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"

	"parley/protocol"
)

// The load generator: BenchmarkFanoutRemote re-executes the test binary
// with loadgenEnv set to a JSON loadConf; TestMain then runs loadgenMain
// instead of the tests. The child connects the members and the sender to
// the parent's server over real QUIC/WebTransport on loopback, prints
// "ready", waits for a line on stdin, sends at the paced rate, prints
// "done" once every delivery arrived (before closing anything), then one
// JSON loadResult line. Latency is measured in the child: the send
// time is in the message text and both ends read the same clock.
const loadgenEnv = "PARLEY_LOADGEN"

// loadConf is what the parent asks of a load generator.
type loadConf struct {
	Addr, Hash string
	Room       string
	Members    int  // receiving sessions
	Rate       int  // room messages per second from the sender
	Messages   int  // messages to send in all
	ImageBytes int  // > 0: another session uploads an image of this size every second (WebTransport only)
	WebSocket  bool // the WebSocket fallback instead of WebTransport
	RoomSize   int  // > 0: member i joins room Room-(i/RoomSize) instead of Room (idle sessions spread over rooms)
	SetupSecs  int  // the run's time limit in seconds (0: 120)
}

// loadResult is what a load generator reports.
type loadResult struct {
	Sent      int
	Expected  int64   // Sent × Members
	Delivered int64   // chat messages received by the members
	P50, P99  float64 // µs
	Max       float64 // µs
	Images    int     // images acknowledged
	SendSecs  float64 // wall time of the send phase
	CPUSecs   float64 // the load generator's own CPU time during the run
	Err       string
}

func TestMain(m *testing.M) {
	if conf := os.Getenv(loadgenEnv); conf != "" {
		os.Exit(loadgenMain(conf))
	}
	os.Exit(m.Run())
}

func loadgenMain(confJSON string) int {
	var conf loadConf
	res := loadResult{}
	out := json.NewEncoder(os.Stdout)
	if err := json.Unmarshal([]byte(confJSON), &conf); err != nil {
		res.Err = err.Error()
		out.Encode(res)
		return 1
	}
	if err := runLoad(conf, &res); err != nil {
		res.Err = err.Error()
		out.Encode(res)
		return 1
	}
	out.Encode(res)
	return 0
}

// loadSession is one session of the load generator, over WebTransport
// (sess, ctrl, r) or WebSocket (ws).
type loadSession struct {
	sess *webtransport.Session
	ctrl *webtransport.Stream
	r    *protocol.Reader
	ws   *websocket.Conn
}

// next returns the next frame's JSON text.
func (ls *loadSession) next() ([]byte, error) {
	if ls.ws != nil {
		_, b, err := ls.ws.Read(context.Background())
		return b, err
	}
	return ls.r.Next()
}

// write sends frames: JSON texts, each ending with a line feed.
func (ls *loadSession) write(lines []byte) error {
	if ls.ws == nil {
		_, err := ls.ctrl.Write(lines)
		return err
	}
	for len(lines) > 0 {
		i := bytes.IndexByte(lines, '\n')
		if err := ls.ws.Write(context.Background(), websocket.MessageText, lines[:i]); err != nil {
			return err
		}
		lines = lines[i+1:]
	}
	return nil
}

func (ls *loadSession) close() {
	if ls.ws != nil {
		ls.ws.CloseNow()
		return
	}
	ls.sess.CloseWithError(0, "")
}

func loadDial(ctx context.Context, conf loadConf, name, room string) (*loadSession, error) {
	ls := &loadSession{}
	if conf.WebSocket {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: pinned(conf.Hash)}}
		ws, _, err := websocket.Dial(ctx, "wss://"+conf.Addr+"/parley", &websocket.DialOptions{HTTPClient: hc})
		if err != nil {
			return nil, fmt.Errorf("%s: dial: %w", name, err)
		}
		ws.SetReadLimit(-1)
		ls.ws = ws
	} else {
		tr := &webtransport.Transport{
			TLSClientConfig: pinned(conf.Hash),
			QUICConfig:      &quic.Config{EnableDatagrams: true, EnableStreamResetPartialDelivery: true, MaxIdleTimeout: 30 * time.Second},
		}
		_, sess, err := tr.Dial(ctx, "https://"+conf.Addr+"/parley", nil)
		if err != nil {
			return nil, fmt.Errorf("%s: dial: %w", name, err)
		}
		ctrl, err := sess.OpenStreamSync(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: control stream: %w", name, err)
		}
		ls.sess, ls.ctrl, ls.r = sess, ctrl, protocol.NewReader(ctrl)
	}
	hello := fmt.Sprintf(`{"type":"hello","id":1,"v":1,"name":%q}`+"\n"+`{"type":"join","id":2,"room":%q}`+"\n", name, room)
	if err := ls.write([]byte(hello)); err != nil {
		return nil, fmt.Errorf("%s: hello: %w", name, err)
	}
	// Wait for the join's answer (events before it are dropped).
	for {
		b, err := ls.next()
		if err != nil {
			return nil, fmt.Errorf("%s: setup: %w", name, err)
		}
		if bytes.Contains(b, []byte(`"type":"err"`)) {
			return nil, fmt.Errorf("%s: setup: %s", name, b)
		}
		if bytes.Contains(b, []byte(`"type":"ok"`)) && bytes.Contains(b, []byte(`"id":2`)) {
			return ls, nil
		}
	}
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func runLoad(conf loadConf, res *loadResult) error {
	limit := 2 * time.Minute
	if conf.SetupSecs > 0 {
		limit = time.Duration(conf.SetupSecs) * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	// The parent's "go" line; end at once if the parent goes away (its
	// end of stdin closes), whatever the generator is doing.
	goLine := make(chan struct{})
	go func() {
		br := bufio.NewReader(os.Stdin)
		if _, err := br.ReadString('\n'); err != nil {
			os.Exit(2)
		}
		close(goLine)
		io.Copy(io.Discard, br)
		os.Exit(2)
	}()

	// Members, dialled a few at a time.
	members := make([]*loadSession, conf.Members)
	var setupErr error
	var setupMu sync.Mutex
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range members {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			room := conf.Room
			if conf.RoomSize > 0 {
				room = fmt.Sprintf("%s-%d", conf.Room, i/conf.RoomSize)
			}
			ls, err := loadDial(ctx, conf, fmt.Sprintf("m%05d", i), room)
			setupMu.Lock()
			defer setupMu.Unlock()
			if err != nil {
				setupErr = errors.Join(setupErr, err)
				return
			}
			members[i] = ls
		}()
	}
	wg.Wait()
	defer func() {
		for _, m := range members {
			if m != nil {
				m.close()
			}
		}
	}()
	if setupErr != nil {
		return setupErr
	}
	sender, err := loadDial(ctx, conf, "sender", conf.Room)
	if err != nil {
		return err
	}
	defer sender.close()
	var imager *loadSession
	if conf.ImageBytes > 0 {
		if imager, err = loadDial(ctx, conf, "imager", conf.Room); err != nil {
			return err
		}
		defer imager.close()
	}

	// Member readers: every chat message's latency, in µs.
	var delivered atomic.Int64
	expected := int64(conf.Messages) * int64(conf.Members)
	allIn := make(chan struct{})
	lats := make([][]float64, len(members))
	var readers sync.WaitGroup
	for i, m := range members {
		readers.Add(1)
		go func() {
			defer readers.Done()
			local := make([]float64, 0, conf.Messages)
			defer func() { lats[i] = local }()
			for {
				b, err := m.next()
				if err != nil {
					return
				}
				j := bytes.Index(b, []byte(`"text":"t`))
				if j < 0 {
					continue
				}
				rest := b[j+9:]
				k := bytes.IndexByte(rest, '"')
				if k < 0 {
					continue
				}
				ns, err := strconv.ParseInt(string(rest[:k]), 10, 64)
				if err != nil {
					continue
				}
				local = append(local, float64(time.Now().UnixNano()-ns)/1e3)
				if delivered.Add(1) == expected {
					close(allIn)
				}
				if len(local) == conf.Messages {
					return
				}
			}
		}()
	}
	// The sender's answers.
	var answered, failed atomic.Int64
	go func() {
		for {
			b, err := sender.next()
			if err != nil {
				return
			}
			if bytes.Contains(b, []byte(`"type":"err"`)) {
				failed.Add(1)
			} else if bytes.Contains(b, []byte(`"type":"ok"`)) {
				answered.Add(1)
			}
		}
	}()

	fmt.Println("ready")
	<-goLine
	cpu0 := cpuNow()
	start := time.Now()

	// Images: one every second, each different (content-addressed store).
	stopImages := make(chan struct{})
	var images atomic.Int64
	if imager != nil {
		go func() {
			for {
				b, err := imager.next()
				if err != nil {
					return
				}
				if bytes.Contains(b, []byte(`"type":"ok"`)) {
					images.Add(1)
				}
			}
		}()
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for n := 0; ; n++ {
				body := pngHeader(640, 480, conf.ImageBytes)
				copy(body[len(body)-8:], strconv.AppendInt(nil, int64(n)^start.UnixNano(), 16))
				h := fmt.Sprintf(`{"type":"image","id":%d,"room":%q,"name":"load.png","size":%d}`+"\n", n+10, conf.Room, len(body))
				str, err := imager.sess.OpenUniStreamSync(ctx)
				if err != nil {
					return
				}
				str.Write([]byte(h))
				str.Write(body)
				str.Close()
				select {
				case <-t.C:
				case <-stopImages:
					return
				}
			}
		}()
	}

	// Open loop: message i leaves at start + i/rate whatever the answers.
	interval := time.Second / time.Duration(conf.Rate)
	var line []byte
	for i := range conf.Messages {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		line = append(line[:0], `{"type":"say","id":`...)
		line = strconv.AppendInt(line, int64(i+10), 10)
		line = append(line, `,"room":`...)
		line = strconv.AppendQuote(line, conf.Room)
		line = append(line, `,"text":"t`...)
		line = strconv.AppendInt(line, time.Now().UnixNano(), 10)
		line = append(line, "\"}\n"...)
		if err := sender.write(line); err != nil {
			return fmt.Errorf("sender: %w", err)
		}
		res.Sent++
	}
	res.SendSecs = time.Since(start).Seconds()
	if expected > 0 {
		select {
		case <-allIn:
		case <-time.After(30 * time.Second):
		}
	}
	close(stopImages)
	res.CPUSecs = (cpuNow() - cpu0).Seconds()
	fmt.Println("done") // the parent stops its clocks before the teardown
	res.Expected = expected
	res.Delivered = delivered.Load()
	res.Images = int(images.Load())
	for _, m := range members {
		m.close()
	}
	readers.Wait()
	var all []float64
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	if n := len(all); n > 0 {
		res.P50, res.P99, res.Max = all[n/2], all[n*99/100], all[n-1]
	}
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d says failed", f)
	}
	if res.Delivered != expected {
		return fmt.Errorf("%d of %d deliveries (%d answered)", res.Delivered, expected, answered.Load())
	}
	return nil
}
