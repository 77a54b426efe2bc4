package faultproxy

import (
	"net"
	"time"
)

const (
	// chunkSize is the largest single read forwarded as one chunk.
	chunkSize = 32 << 10
	// queueLen bounds the chunks in flight per direction; a full queue
	// applies back-pressure to the reader.
	queueLen = 64
)

// chunk is a piece of data read from one side, to be written to the other
// side no earlier than release.
type chunk struct {
	data    []byte
	release time.Time
}

// pipe is one direction of a link: a reader goroutine stamps chunks and
// queues them, a writer goroutine releases them in order. The FIFO queue
// keeps byte order even when the delay changes.
type pipe struct {
	l     *link
	src   net.Conn
	dst   net.Conn
	queue chan chunk
}

func newPipe(l *link, src, dst net.Conn) *pipe {
	return &pipe{l: l, src: src, dst: dst, queue: make(chan chunk, queueLen)}
}

// read copies chunks from src into the queue, dropping them while the link
// is hung. On a read error it closes the queue so the writer can flush
// what is pending and then close the link.
func (pp *pipe) read() {
	defer pp.l.p.wg.Done()
	defer close(pp.queue)
	buf := make([]byte, chunkSize)
	for {
		n, err := pp.src.Read(buf)
		if n > 0 && !pp.l.hung.Load() {
			c := chunk{
				data:    append([]byte(nil), buf[:n]...),
				release: time.Now().Add(time.Duration(pp.l.p.delay.Load())),
			}
			select {
			case pp.queue <- c:
			case <-pp.l.done:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// write releases queued chunks to dst in order, each at its release time.
// When the queue ends or a write fails, it closes the whole link.
func (pp *pipe) write() {
	defer pp.l.p.wg.Done()
	defer pp.l.close()
	timer := time.NewTimer(time.Hour)
	timer.Stop() // since Go 1.23 a stopped timer never delivers a stale tick
	defer timer.Stop()
	for c := range pp.queue {
		if wait := time.Until(c.release); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-pp.l.done:
				return
			}
		}
		if pp.l.hung.Load() {
			continue // blackholed while it was queued: never deliver
		}
		if _, err := pp.dst.Write(c.data); err != nil {
			return
		}
	}
}
