// Package crashtest holds the crash tests of the durable store (issue 4):
// a real server process (crashserver: server.New over sqlitestore) is
// killed with SIGKILL and stopped with SIGTERM while a real client sends
// through it, and the stored history is checked afterwards. It has no API;
// everything is in its tests. The tests build crashserver with `go build`
// once per run and start each server process from the test goroutine.
package crashtest
