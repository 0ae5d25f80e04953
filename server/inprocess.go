package server

import (
	"context"
	"net"
	"sync"
)

// memListener is a net.Listener of in-memory connections (net.Pipe), for
// the in-process transport: the host application's own client joins
// through it without TLS or QUIC.
type memListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newMemListener() *memListener {
	return &memListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// Accept waits for the next in-process connection.
func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops the listener; pending and later dials fail.
func (l *memListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr returns the listener's pseudo address.
func (l *memListener) Addr() net.Addr { return memAddr{} }

func (l *memListener) dial(ctx context.Context) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- &memConn{server}:
		return &memConn{client}, nil
	case <-l.closed:
		server.Close()
		client.Close()
		return nil, ErrServerClosed
	case <-ctx.Done():
		server.Close()
		client.Close()
		return nil, ctx.Err()
	}
}

// memConn is one end of an in-process connection, with addresses that say so.
type memConn struct{ net.Conn }

func (memConn) LocalAddr() net.Addr  { return memAddr{} }
func (memConn) RemoteAddr() net.Addr { return memAddr{} }

type memAddr struct{}

func (memAddr) Network() string { return "inprocess" }
func (memAddr) String() string  { return "inprocess" }
