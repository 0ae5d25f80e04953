// Command parley is the Parley chat: with no arguments the desktop app,
// `parley serve` the headless room server, `parley chat` a terminal client.
//
// main only dispatches; every capability lives in an importable package.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"parley/internal/chatcmd"
	"parley/internal/servecmd"
)

const usage = `Parley: room chat over WebTransport.

Usage:
  parley                 open the desktop app (desktop build only)
  parley serve [flags]   run the room server (parley serve -h for the flags)
  parley chat [flags]    a terminal client (parley chat -h for the flags)
  parley version         the version of this build
  parley help            this text
`

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "parley:", err)
		os.Exit(1)
	}
}

// errUsage is returned for an unknown subcommand after the usage is printed.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return runDesktop()
	}
	// SIGINT/SIGTERM end ctx: the subcommand drains and returns. A second
	// signal kills the process the default way.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }()

	switch args[0] {
	case "serve":
		return servecmd.Run(ctx, args[1:], stdout, stderr)
	case "chat":
		return chatcmd.Run(ctx, args[1:], os.Stdin, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, servecmd.Version())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "parley: unknown command %q\n\n%s", args[0], usage)
		return errUsage
	}
}
