package client

// eventQueue delivers events in order without ever blocking the producer.
type eventQueue struct {
	out chan Event
}
