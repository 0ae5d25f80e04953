package server

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// listenAttempts bounds the retries of port-0 listening when the TCP side
// of a picked UDP port is taken.
const listenAttempts = 20

// listenPair binds UDP and TCP on the same port number of addr. With port
// 0 it picks the UDP port first, then binds TCP on that number, retrying
// with a fresh UDP port if TCP is taken.
func listenPair(addr string) (net.PacketConn, net.Listener, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("server: listen %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, nil, fmt.Errorf("server: listen %q: bad port", addr)
	}
	var last error
	for range listenAttempts {
		udp, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return nil, nil, fmt.Errorf("server: listen udp %s: %w", addr, err)
		}
		p := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		last = err
		if port != 0 {
			break
		}
	}
	return nil, nil, fmt.Errorf("server: listen tcp %s: %w", addr, errors.Join(last))
}
