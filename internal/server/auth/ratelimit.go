package auth

import (
	"math"
	"sync"
	"time"
)

// Limiter is a set of token buckets in memory, one per key: each holds up
// to Burst tokens and refills at Rate a second. Each server limits on its
// own; behind a load balancer the effective limit is per server.
type Limiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxBuckets bounds the memory a flood of keys can take; past it, full
// buckets (which hold no state worth keeping) are dropped.
const maxBuckets = 100_000

// NewLimiter returns a limiter; rate <= 0 means no limit.
func NewLimiter(rate float64, burst int) *Limiter {
	return &Limiter{rate: rate, burst: math.Max(1, float64(burst)), now: time.Now, buckets: map[string]*bucket{}}
}

// PerMinute returns a limiter allowing n a minute, in bursts of n.
func PerMinute(n int) *Limiter { return NewLimiter(float64(n)/60, n) }

// Allow takes a token from key's bucket. When none is left it returns false
// and how long until one is.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, max(wait, time.Second)
}

// Reset forgets key's bucket (after a successful login, say).
func (l *Limiter) Reset(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	delete(l.buckets, key)
	l.mu.Unlock()
}

func (l *Limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}
