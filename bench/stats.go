package main

import (
	"encoding/json"
	"math"
	"slices"
	"time"
)

// Summary is one figure over several runs: the median, the smallest and the
// largest of the per-run values, and the values themselves in run order.
type Summary struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

// Summarize returns the median, min and max of runs. NaN values (a run that
// produced no value) are left out of the three; with no value at all, all
// three are NaN.
func Summarize(runs []float64) Summary {
	s := Summary{Runs: slices.Clone(runs)}
	var vals []float64
	for _, v := range runs {
		if !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		s.Median, s.Min, s.Max = math.NaN(), math.NaN(), math.NaN()
		return s
	}
	slices.Sort(vals)
	s.Median = Median(vals)
	s.Min, s.Max = vals[0], vals[len(vals)-1]
	return s
}

// MarshalJSON writes NaN (no value) as null, which JSON can express.
func (s Summary) MarshalJSON() ([]byte, error) {
	runs := make([]*float64, len(s.Runs))
	for i := range s.Runs {
		runs[i] = jsonNum(s.Runs[i])
	}
	return json.Marshal(struct {
		Median *float64   `json:"median"`
		Min    *float64   `json:"min"`
		Max    *float64   `json:"max"`
		Runs   []*float64 `json:"runs"`
	}{jsonNum(s.Median), jsonNum(s.Min), jsonNum(s.Max), runs})
}

// jsonNum returns nil for NaN and infinities, else a pointer to v.
func jsonNum(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Median returns the median of xs (the mean of the two middle values for an
// even count), or NaN for no values. xs need not be sorted and is not
// changed.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Percentile returns the p-th percentile (0 ≤ p ≤ 100) of sorted by the
// nearest-rank method: the smallest value with at least p % of the values at
// or below it. It returns NaN for no values. sorted must be ascending.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	if p <= 0 {
		return sorted[0]
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// Dist describes a sample: its size and the usual percentiles.
type Dist struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// NewDist describes xs. An empty sample gives N 0 and NaN everywhere else.
func NewDist(xs []float64) Dist {
	if len(xs) == 0 {
		nan := math.NaN()
		return Dist{P50: nan, P95: nan, P99: nan, Max: nan, Mean: nan}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	return Dist{
		N: len(s), P50: Percentile(s, 50), P95: Percentile(s, 95), P99: Percentile(s, 99),
		Max: s[len(s)-1], Mean: sum / float64(len(s)),
	}
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Fire is one planned instant of one schedule.
type Fire struct {
	ScheduleID string
	At         time.Time
}

// key returns a comparable form of f; instants compare at microsecond
// precision, the precision both stores keep.
func (f Fire) key() fireKey {
	return fireKey{f.ScheduleID, f.At.UnixMicro()}
}

type fireKey struct {
	schedule string
	at       int64
}

// FireTask is what accounting needs of a task: its planned fire.
type FireTask struct {
	ID string
	Fire
}

// FireInstance is what accounting needs of a task instance.
type FireInstance struct {
	TaskID    string
	Succeeded bool
}

// Accounting counts how the planned fires of a window were served.
type Accounting struct {
	// Expected is the number of planned fires.
	Expected int `json:"expected"`
	// Missed counts planned fires without a succeeded instance.
	Missed int `json:"missed"`
	// Duplicated counts planned fires with more than one task, or whose
	// task has more than one succeeded instance.
	Duplicated int `json:"duplicated"`
	// Unexpected counts tasks at instants that were not planned.
	Unexpected int `json:"unexpected"`
}

// Account matches tasks and their instances against the fires that should
// have happened. Tasks and instances outside expected are counted as
// Unexpected (tasks) or ignored (instances of such tasks).
func Account(expected []Fire, tasks []FireTask, instances []FireInstance) Accounting {
	want := make(map[fireKey]bool, len(expected))
	for _, f := range expected {
		want[f.key()] = true
	}
	acc := Accounting{Expected: len(want)}
	succeeded := make(map[string]int, len(instances))
	for _, in := range instances {
		if in.Succeeded {
			succeeded[in.TaskID]++
		}
	}
	tasksAt := make(map[fireKey]int, len(tasks))
	okAt := make(map[fireKey]int, len(tasks))
	for _, t := range tasks {
		k := t.key()
		if !want[k] {
			acc.Unexpected++
			continue
		}
		tasksAt[k]++
		okAt[k] += succeeded[t.ID]
	}
	for k := range want {
		switch {
		case okAt[k] == 0:
			acc.Missed++
			if tasksAt[k] > 1 {
				acc.Duplicated++
			}
		case tasksAt[k] > 1 || okAt[k] > 1:
			acc.Duplicated++
		}
	}
	return acc
}

// Trend compares the start and the end of a series: the median of its last
// third minus the median of its first third. ys must be ordered by the
// series' x (for example planned instant). Fewer than three values give 0.
func Trend(ys []float64) float64 {
	n := len(ys)
	if n < 3 {
		return 0
	}
	third := n / 3
	return Median(ys[n-third:]) - Median(ys[:third])
}

// BurstExcess returns, for start lags of a burst of simultaneous fires, each
// start's excess over the physical floor: the k-th start (k from 0, in
// order of lag) cannot begin before k execs fit at ceiling execs per second.
// lags are in milliseconds; the result is in milliseconds, in lag order.
func BurstExcess(lags []float64, ceiling float64) []float64 {
	s := slices.Clone(lags)
	slices.Sort(s)
	out := make([]float64, len(s))
	for k, l := range s {
		floor := 0.0
		if ceiling > 0 {
			floor = float64(k) / ceiling * 1000
		}
		out[k] = l - floor
	}
	return out
}

// blockRates returns the completion rate (items/s) of each full block of
// size items, taking items in the order they completed; done holds each
// item's completion time from the start.
func blockRates(done []time.Duration, size int) []float64 {
	sorted := slices.Clone(done)
	slices.Sort(sorted)
	var rates []float64
	var prev time.Duration
	for end := size; end <= len(sorted); end += size {
		t := sorted[end-1]
		rates = append(rates, float64(size)/(t-prev).Seconds())
		prev = t
	}
	return rates
}
