// Package chatcmd is `parley chat`: a terminal client on package client,
// for people, scripts and tests.
//
//	parley chat --server host:port --cert-hash HEX [--key-hash HEX] --name NAME [--room ROOM]
//
// Flags may also come from the environment: PARLEY_SERVER,
// PARLEY_CERT_HASH, PARLEY_KEY_HASH, PARLEY_USER, PARLEY_ROOM (a flag
// wins). --key-hash (the key_hash parley serve logs) keeps working after
// the server renews its self-signed certificate; it may replace
// --cert-hash.
//
// # Input
//
// Each line of standard input is one command:
//
//	text            say text in the current room (the last one joined)
//	@name text      say text privately to name, a member of the current room
//	/join ROOM      join ROOM and make it the current room
//	/leave [ROOM]   leave ROOM (default: the current room)
//	/users [ROOM]   list the members of ROOM
//	/rooms          list the rooms that have members
//	/image FILE     send an image file to the current room
//	/all text       broadcast text to everyone on the server
//	/quit           leave (as does the end of input)
//
// # Output
//
// One line per event or answer, fields separated by one space; a free
// text field comes last and has backslash, line feed and carriage return
// escaped as \\, \n and \r, so every line is one event. The first line is
// always "state connected TRANSPORT". Later, an answer and an event that
// happened at about the same time may be printed in either order:
//
//	state STATE [TRANSPORT]          connected/reconnecting/offline
//	joined ROOM SEQ                  our own join succeeded (ROOM's latest seq)
//	left ROOM                        our own leave succeeded
//	sent ROOM SEQ                    a message was acknowledged (ROOM "*" for a broadcast)
//	msg ROOM SEQ FROM TEXT           a room message
//	pm ROOM SEQ FROM TO TEXT         a private message
//	broadcast FROM TEXT              a broadcast
//	image ROOM SEQ FROM TO ID MIME NAME   an image (TO is "-" in a room)
//	join ROOM USER / part ROOM USER  someone joined / left a room
//	typing ROOM USER
//	members ROOM USER,USER,...       after /users, and after a reconnect
//	rooms ROOM:N,ROOM:N,...
//	epoch ROOM|@USER EPOCH           history was lost on the server
//	error CODE TEXT                  a failed command or background error (CODE "-" if none)
//
// Room and user names never contain a space-only field, but may contain
// spaces; scripts that need exact names should use rooms without spaces.
//
// # Concurrency
//
// Run reads commands on its own goroutine and prints events from another;
// output lines are written whole under one mutex.
package chatcmd
