package agent

import (
	"sync"
	"time"
)

// numClockSamples is how many heartbeat round trips the offset estimate
// looks back on.
const numClockSamples = 8

// clockSample is one round trip: how long it took, and the offset it
// implies.
type clockSample struct {
	rtt    time.Duration
	offset time.Duration
}

// clock estimates the offset server − agent time on the current connection.
// Each heartbeat round trip gives a sample; the estimate is the offset of the
// sample with the shortest round trip among the last eight, since a short
// round trip bounds the error best (NTP's clock filter, simplified). Before
// the first round trip the estimate comes from welcome.ServerTime. The zero
// value estimates an offset of zero.
type clock struct {
	mu      sync.Mutex
	samples [numClockSamples]clockSample
	n       int // samples filled
	next    int // where the next sample goes
	offset  time.Duration
}

// Offset returns the current estimate of server − agent time.
func (c *clock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// reset forgets the samples of the last connection and estimates from a
// welcome: serverTime was read by the server between sent (when hello left)
// and recv (when welcome arrived).
func (c *clock) reset(serverTime, sent, recv time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n, c.next = 0, 0
	if serverTime.IsZero() {
		c.offset = 0
		return
	}
	c.offset = serverTime.Sub(sent.Add(recv.Sub(sent) / 2))
}

// sample records a heartbeat round trip: the heartbeat left at echo (agent
// clock), the server answered at server (server clock), and the answer
// arrived at now. It reports whether the estimate changed.
func (c *clock) sample(echo, server, now time.Time) bool {
	rtt := now.Sub(echo)
	if rtt < 0 {
		return false // the local clock stepped back; the sample means nothing
	}
	s := clockSample{rtt: rtt, offset: server.Sub(echo.Add(rtt / 2))}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.samples[c.next] = s
	c.next = (c.next + 1) % numClockSamples
	if c.n < numClockSamples {
		c.n++
	}
	best := c.samples[0]
	for _, x := range c.samples[1:c.n] {
		if x.rtt < best.rtt {
			best = x
		}
	}
	changed := best.offset != c.offset
	c.offset = best.offset
	return changed
}
