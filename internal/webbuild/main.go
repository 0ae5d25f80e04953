// Command webbuild builds the browser client's WebAssembly module and
// writes it, precompressed, where the server embeds it (server/webwasm):
//
//	parley.wasm      GOOS=js GOARCH=wasm go build -trimpath -ldflags=-s ./wasm
//	parley.wasm.gz   gzip, best compression
//	parley.wasm.br   brotli, quality -brq (skipped with -br=false); measured
//	                 on a 7.7 MB module: q9 1.70 MB in ~3 s, q10 1.51 MB in
//	                 ~30 s, q11 1.49 MB in ~2 min; q9 is the default so that
//	                 `make test` stays fast, release builds pass -brq 11)
//	wasm_exec.js     $(go env GOROOT)/lib/wasm/wasm_exec.js, which must match
//	                 the Go that built parley.wasm
//	build.json       sizes and the content hash, for the report and the page
//
// It runs from `go generate ./server` (server/web.go) or from the Makefile:
//
//	go run ./internal/webbuild -out server/webwasm
//
// These outputs are not committed; without them the server still builds and
// its web page says that parley.wasm was not built.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/andybalholm/brotli"
)

// Build describes what was built; it is written to build.json.
type Build struct {
	Hash      string `json:"hash"` // hex SHA-256 of parley.wasm
	Raw       int    `json:"raw"`
	Gzip      int    `json:"gzip"`
	Brotli    int    `json:"brotli,omitempty"`
	GoVersion string `json:"go"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "webbuild:", err)
		os.Exit(1)
	}
}

func run() error {
	out := flag.String("out", "server/webwasm", "directory to write into")
	pkg := flag.String("pkg", "./wasm", "the WebAssembly main package")
	br := flag.Bool("br", true, "also write a brotli-compressed copy")
	brq := flag.Int("brq", 9, "brotli quality, 0–11")
	flag.Parse()

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	dir := *out
	if !filepath.IsAbs(dir) {
		wd, _ := os.Getwd()
		dir = filepath.Join(wd, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	wasmPath := filepath.Join(dir, "parley.wasm")
	start := time.Now()
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s", "-o", wasmPath, *pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", *pkg, err)
	}
	raw, err := os.ReadFile(wasmPath)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	b := Build{Hash: hex.EncodeToString(sum[:]), Raw: len(raw), GoVersion: runtime.Version()}

	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		return err
	}
	b.Gzip = gz.Len()
	if err := os.WriteFile(wasmPath+".gz", gz.Bytes(), 0o644); err != nil {
		return err
	}
	os.Remove(wasmPath + ".br")
	if *br {
		var bb bytes.Buffer
		bw := brotli.NewWriterOptions(&bb, brotli.WriterOptions{Quality: *brq, LGWin: 24})
		bw.Write(raw)
		if err := bw.Close(); err != nil {
			return err
		}
		b.Brotli = bb.Len()
		if err := os.WriteFile(wasmPath+".br", bb.Bytes(), 0o644); err != nil {
			return err
		}
	}
	execJS, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		return fmt.Errorf("wasm_exec.js of this Go: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wasm_exec.js"), execJS, 0o644); err != nil {
		return err
	}
	meta, _ := json.MarshalIndent(b, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "build.json"), append(meta, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "webbuild: parley.wasm %d bytes, gzip %d, brotli %d (%s)\n", b.Raw, b.Gzip, b.Brotli, time.Since(start).Round(time.Millisecond))
	return nil
}

// moduleRoot is the directory of the go.mod of the working directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module")
	}
	return filepath.Dir(mod), nil
}
