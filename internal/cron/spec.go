package cron

import (
	"math/bits"
	"strings"
	"sync"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Spec produces fire times. The implementations in this package are
// immutable and safe for concurrent use.
type Spec interface {
	// Next returns the first fire time strictly after t, and false when there
	// is none.
	Next(t time.Time) (time.Time, bool)
}

// Once fires a single time. Build one with [NewOnce].
type Once struct {
	at time.Time
}

// NewOnce returns a Spec that fires once, at at.
func NewOnce(at time.Time) *Once { return &Once{at: at} }

// At returns the instant the Once fires.
func (o *Once) At() time.Time { return o.at }

// Next returns the fire instant if it is after t, else false.
func (o *Once) Next(t time.Time) (time.Time, bool) {
	if o.at.After(t) {
		return o.at, true
	}
	return time.Time{}, false
}

// Interval fires at a fixed rate: anchor + k·every for every k ≥ 0. It
// never re-anchors, so fires do not drift however long it runs. Build one
// with [NewInterval].
type Interval struct {
	anchor time.Time
	every  time.Duration
}

// Bounds on an interval anchor: the years a JSON or TOML time can hold.
var (
	minAnchor = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxAnchor = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// NewInterval returns a Spec firing at anchor + k·every, k ≥ 0, in anchor's
// location. It returns a *model.FieldError with Field "interval" when every
// is not positive, and with Field "start_time" when anchor lies outside the
// years 1 to 9999.
func NewInterval(anchor time.Time, every time.Duration) (*Interval, error) {
	if every <= 0 {
		return nil, model.Errorf("interval", "must be positive, got %s", every)
	}
	if anchor.Before(minAnchor) || !anchor.Before(maxAnchor) {
		return nil, model.Errorf("start_time", "must be within the years 1 to 9999")
	}
	return &Interval{anchor: anchor.Round(0), every: every}, nil
}

// Anchor returns the first fire time.
func (iv *Interval) Anchor() time.Time { return iv.anchor }

// Every returns the time between fires.
func (iv *Interval) Every() time.Duration { return iv.every }

// Next returns the first anchor + k·every strictly after t, in the anchor's
// location. It takes constant time whatever k is, and is exact to the
// nanosecond. Like [Cron.Next] it stops with the calendar: for t on or after
// 2200-01-02T00:00:00Z it returns false.
func (iv *Interval) Next(t time.Time) (time.Time, bool) {
	a := iv.anchor
	if t.Before(a) {
		return a, true
	}
	if !t.Before(horizon) {
		return time.Time{}, false
	}
	// t - a in nanoseconds can pass 2⁶³ (292 years), so compute its
	// remainder modulo every in 128 bits; the next fire is t + every - r.
	ds := uint64(t.Unix() - a.Unix()) // both bounded: a ≤ t < horizon
	hi, lo := bits.Mul64(ds, uint64(time.Second))
	dn := int64(t.Nanosecond()) - int64(a.Nanosecond())
	var c uint64
	if dn >= 0 {
		lo, c = bits.Add64(lo, uint64(dn), 0)
		hi += c
	} else {
		lo, c = bits.Sub64(lo, uint64(-dn), 0)
		hi -= c
	}
	r := bits.Rem64(hi, lo, uint64(iv.every))
	return t.Round(0).Add(iv.every - time.Duration(r)).In(a.Location()), true
}

// window bounds a Spec; see [Window].
type window struct {
	s                Spec
	start, end       time.Time
	hasStart, hasEnd bool
}

// Window returns s limited to fires at or after start and at or before end;
// a nil bound is open. With both nil it returns s itself. The bounds are
// copied, so later changes to *start or *end do not affect it.
func Window(s Spec, start, end *time.Time) Spec {
	if start == nil && end == nil {
		return s
	}
	w := &window{s: s}
	if start != nil {
		w.start, w.hasStart = *start, true
	}
	if end != nil {
		w.end, w.hasEnd = *end, true
	}
	return w
}

// Next returns the first fire of the bounded Spec strictly after t.
func (w *window) Next(t time.Time) (time.Time, bool) {
	if w.hasStart && t.Before(w.start) {
		t = w.start.Add(-1) // fire times are nanoseconds: > start-1ns is ≥ start
	}
	f, ok := w.s.Next(t)
	if !ok || (w.hasEnd && f.After(w.end)) {
		return time.Time{}, false
	}
	return f, true
}

// First returns the first fire of s at or after t; the generator uses it to
// set a new schedule's cursor.
func First(s Spec, t time.Time) (time.Time, bool) { return s.Next(t.Add(-1)) }

// Preview returns up to n fires of s strictly after from, in order; fewer
// when s runs out. It calls the same Next the generator uses, so a preview
// shows exactly what will fire. n ≤ 0 returns nil.
func Preview(s Spec, from time.Time, n int) []time.Time {
	if n <= 0 {
		return nil
	}
	out := make([]time.Time, 0, min(n, 64))
	for t := from; len(out) < n; {
		f, ok := s.Next(t)
		if !ok {
			break
		}
		out = append(out, f)
		t = f
	}
	return out
}

// ForSchedule returns the Spec of a Cron, Interval or Once schedule,
// evaluated in its TimeZone and bounded by StartTime and EndTime (both
// inclusive). Interval schedules anchor at StartTime, else at CreatedAt; Once
// schedules fire at StartTime. MaxCount is left to the caller, which counts
// fires.
//
// Errors are *model.FieldError naming the field: "kind" for kinds without fire
// times (event, flow, daemon), "cron", "interval", "time_zone", "start_time"
// (missing where required) or "end_time" (before start_time).
func ForSchedule(s *model.Schedule) (Spec, error) {
	switch s.Kind {
	case model.ScheduleCron, model.ScheduleInterval, model.ScheduleOnce:
	default:
		return nil, model.Errorf("kind", "a %s schedule has no fire times; only cron, interval and once schedules do", s.Kind)
	}
	loc, err := LoadLocation(s.TimeZone)
	if err != nil {
		return nil, err
	}
	if s.StartTime != nil && s.EndTime != nil && s.EndTime.Before(*s.StartTime) {
		return nil, model.Errorf("end_time", "is before start_time")
	}
	var spec Spec
	switch s.Kind {
	case model.ScheduleCron:
		if strings.TrimSpace(s.Cron) == "" {
			return nil, model.Errorf("cron", "required for a cron schedule")
		}
		if spec, err = ParseCron(s.Cron, loc); err != nil {
			return nil, err
		}
	case model.ScheduleInterval:
		anchor := s.CreatedAt
		if s.StartTime != nil {
			anchor = *s.StartTime
		}
		if anchor.IsZero() {
			return nil, model.Errorf("start_time", "required for an interval schedule without a creation time")
		}
		if spec, err = NewInterval(anchor.In(loc), s.Interval.D()); err != nil {
			return nil, err
		}
	case model.ScheduleOnce:
		if s.StartTime == nil {
			return nil, model.Errorf("start_time", "required for a once schedule: it is the instant to fire")
		}
		spec = NewOnce(s.StartTime.In(loc))
	}
	return Window(spec, s.StartTime, s.EndTime), nil
}

// locations caches loaded zones by name. time.LoadLocation reads and parses
// a file per call and returns a new *time.Location each time; with 100,000
// schedules sharing a few zones, one copy each is enough. Only valid names
// are stored, so the cache is bounded by the zone database.
var locations sync.Map // string → *time.Location

// LoadLocation returns the IANA time zone name; "" and "UTC" give UTC. The
// result is shared between callers and must not be modified (no
// *time.Location method does). "Local" is refused: the server's own zone
// would make a schedule depend on where it runs. Errors are
// *model.FieldError with Field "time_zone".
func LoadLocation(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return nil, model.Errorf("time_zone", "Local is not allowed; name an IANA zone such as Europe/Berlin, or leave it empty for UTC")
	}
	if v, ok := locations.Load(name); ok {
		return v.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, model.Errorf("time_zone", "unknown time zone %q; use an IANA name such as America/New_York", name)
	}
	v, _ := locations.LoadOrStore(name, loc)
	return v.(*time.Location), nil
}
