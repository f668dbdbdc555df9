package main

import "time"

// setConfig sizes every scenario. The standard set fits `make bench` in
// under 10 minutes on the 2-core development machine; the full set is what
// the issue asks for and takes much longer.
type setConfig struct {
	// AllStores runs every scenario on every store of -stores; otherwise
	// only throughput, manual trigger and startup do, and the rest use the
	// first.
	AllStores bool
	// ColdBuild adds a build with an empty cache (minutes).
	ColdBuild bool

	SpreadN        []int         // runs per second
	SpreadDuration time.Duration // from T0
	SpreadWarmup   time.Duration // left out at the start of the window

	BurstN []int

	ManualRuns int // manual triggers per run

	TputAgents    []int     // agent processes
	TputCapacity  int       // per agent
	TputFractions []float64 // ramp steps, fractions of the fork/exec ceiling
	TputStep      time.Duration
	TputRamps     int // independent ramps (fresh clusters); at least 1
	HTTPRates     []float64
	HTTPCapacity  int

	// OverloadDuration is how long twice the found capacity is offered;
	// zero skips the overload scenario.
	OverloadDuration time.Duration

	CreateJobs int

	ScaleSchedules []int
	ScaleAgents    int
	ScaleWindow    time.Duration // CPU measurement window

	APIInstances int
	APIRate      float64 // requests per second
	APIDuration  time.Duration
}

// sets are the named sets -set chooses from.
var sets = map[string]*setConfig{
	"standard": {
		SpreadN: []int{200}, SpreadDuration: 30 * time.Second, SpreadWarmup: 2 * time.Second,
		BurstN:     []int{20, 100},
		ManualRuns: 200,
		TputAgents: []int{1, 2}, TputCapacity: 16, TputFractions: []float64{0.2, 0.3, 0.4, 0.5, 0.7, 0.85, 1.0},
		TputStep: 5 * time.Second, TputRamps: 1,
		HTTPRates: []float64{500, 1000, 2000, 3000}, HTTPCapacity: 512,
		OverloadDuration: 4 * time.Second,
		CreateJobs:       20_000,
		ScaleSchedules:   []int{10_000}, ScaleAgents: 1_000, ScaleWindow: 3 * time.Second,
		APIInstances: 100_000, APIRate: 500, APIDuration: 4 * time.Second,
	},
	"full": {
		AllStores: true, ColdBuild: true,
		SpreadN: []int{20, 200, 1000}, SpreadDuration: 30 * time.Second, SpreadWarmup: 2 * time.Second,
		BurstN:     []int{20, 100},
		ManualRuns: 200,
		TputAgents: []int{1, 2}, TputCapacity: 16, TputFractions: []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 1.0},
		TputStep: 60 * time.Second, TputRamps: 3,
		HTTPRates: []float64{250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000}, HTTPCapacity: 512,
		OverloadDuration: 60 * time.Second,
		CreateJobs:       100_000,
		ScaleSchedules:   []int{10_000, 100_000}, ScaleAgents: 10_000, ScaleWindow: 15 * time.Second,
		APIInstances: 1_000_000, APIRate: 500, APIDuration: 20 * time.Second,
	},
}
