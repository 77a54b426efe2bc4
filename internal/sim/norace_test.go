//go:build !race

package sim

// raceScale divides the test's schedule counts: the race detector makes a
// schedule about five times slower.
const raceScale = 1

// defaultSeeds is how many schedules TestSchedules runs unless told.
const defaultSeeds = 2000
