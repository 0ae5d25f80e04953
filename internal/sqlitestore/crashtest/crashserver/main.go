// Command crashserver is the server the crash tests kill: server.New with the
// SQLite store on --data, listening on --addr with the certificate in
// --cert/--key. Once listening it prints "READY <udp addr> <cert hash>" on
// stdout. SIGTERM or SIGINT shut it down (sessions closed with 4002, the
// store flushed and closed) and it exits 0; a failure exits 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"parley/internal/sqlitestore"
	"parley/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crashserver:", err)
		os.Exit(1)
	}
}

func run() error {
	data := flag.String("data", "", "data directory")
	addr := flag.String("addr", "127.0.0.1:0", "listen address (UDP and TCP)")
	cert := flag.String("cert", "", "certificate PEM file")
	key := flag.String("key", "", "key PEM file")
	flag.Parse()

	st, err := sqlitestore.Open(*data, sqlitestore.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := server.New(server.Config{
		Store:    st,
		CertFile: *cert,
		KeyFile:  *key,
		Rate:     -1, // one test client sends as fast as it can
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	if err := srv.Listen(*addr); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	fmt.Printf("READY %s %s\n", srv.Addr(), srv.CertHash())
	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	<-served
	return st.Close()
}
