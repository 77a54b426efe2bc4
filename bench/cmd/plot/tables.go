package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// A metric is one figure of one concern, for every implementation.
type metric struct {
	concern string
	label   string
	bench   string // benchmark name with %s for the implementation
	unit    string // unit in the raw output
	scale   float64
	show    string // unit shown in the tables
	higher  bool   // higher is better
	minus   string // if set, the median of this unit is subtracted
	worst   bool   // the largest value of the runs, not the median
	sum     bool   // the sum of the runs, not the median
}

var metrics = []metric{
	{concern: "Uncontended", label: "Obtain+Release, serial (mean per op)", bench: "Uncontended/impl=%s", unit: "ns/op", scale: 1e-3, show: "µs"},
	{concern: "Uncontended", label: "allocations per Obtain+Release", bench: "Uncontended/impl=%s", unit: "allocs/op", scale: 1, show: "allocs"},
	{concern: "Uncontended", label: "Obtain+Release p50 (healthy, from HungNodes)", bench: "HungNodes/nodes=healthy/impl=%s", unit: "p50-ms", scale: 1e3, show: "µs"},
	{concern: "Throughput", label: "Obtain+Release cycles/s, 16 goroutines", bench: "Throughput/impl=%s", unit: "cycles/s", scale: 1, show: "cycles/s", higher: true},
	{concern: "Handoff", label: "1 waiter: handoff p50", bench: "Handoff/impl=%s", unit: "p50-ms", scale: 1, show: "ms"},
	{concern: "Handoff", label: "1 waiter: handoff p99", bench: "Handoff/impl=%s", unit: "p99-ms", scale: 1, show: "ms"},
	{concern: "Handoff", label: "1 waiter: slowest run's p99", bench: "Handoff/impl=%s", unit: "p99-ms", scale: 1, show: "ms", worst: true},
	{concern: "Handoff", label: "1 waiter: handoffs sampled, all runs", bench: "Handoff/impl=%s", unit: "samples", scale: 1, show: "", higher: true, sum: true},
	{concern: "Stampede", label: "50 waiters: all served, total p50", bench: "Stampede/impl=%s", unit: "total-p50-ms", scale: 1, show: "ms"},
	{concern: "Stampede", label: "50 waiters: all served, total mean", bench: "Stampede/impl=%s", unit: "ns/op", scale: 1e-6, show: "ms"},
	{concern: "Stampede", label: "50 waiters: slowest stampede of all runs", bench: "Stampede/impl=%s", unit: "total-p99-ms", scale: 1, show: "ms", worst: true},
	{concern: "Stampede", label: "50 waiters: stampedes sampled, all runs", bench: "Stampede/impl=%s", unit: "samples", scale: 1, show: "", higher: true, sum: true},
	{concern: "Stampede", label: "50 waiters: per-handoff p50", bench: "Stampede/impl=%s", unit: "handoff-p50-ms", scale: 1, show: "ms"},
	{concern: "Stampede", label: "50 waiters: per-handoff p99", bench: "Stampede/impl=%s", unit: "handoff-p99-ms", scale: 1, show: "ms"},
	{concern: "Stampede", label: "50 waiters: Obtain calls that gave up, per stampede", bench: "Stampede/impl=%s", unit: "fails/op", scale: 1, show: ""},
	{concern: "Hung nodes", label: "healthy: Obtain+Release p99", bench: "HungNodes/nodes=healthy/impl=%s", unit: "p99-ms", scale: 1, show: "ms"},
	{concern: "Hung nodes", label: "2 of 5 hung: Obtain+Release p50", bench: "HungNodes/nodes=2-hung/impl=%s", unit: "p50-ms", scale: 1, show: "ms"},
	{concern: "Hung nodes", label: "2 of 5 hung: Obtain+Release p99", bench: "HungNodes/nodes=2-hung/impl=%s", unit: "p99-ms", scale: 1, show: "ms"},
	{concern: "Hung nodes", label: "2 of 5 hung: failed cycles", bench: "HungNodes/nodes=2-hung/impl=%s", unit: "fails/op", scale: 1, show: ""},
	{concern: "Hung nodes", label: "2 of 5 hung: cycles sampled per run", bench: "HungNodes/nodes=2-hung/impl=%s", unit: "samples", scale: 1, show: "", higher: true},
	{concern: "Down nodes", label: "2 of 5 down: Obtain+Release p50", bench: "HungNodes/nodes=2-down/impl=%s", unit: "p50-ms", scale: 1, show: "ms"},
	{concern: "Down nodes", label: "2 of 5 down: Obtain+Release p99", bench: "HungNodes/nodes=2-down/impl=%s", unit: "p99-ms", scale: 1, show: "ms"},
	{concern: "Down nodes", label: "2 of 5 down: failed cycles", bench: "HungNodes/nodes=2-down/impl=%s", unit: "fails/op", scale: 1, show: ""},
	{concern: "Memory", label: "heap per held lock", bench: "Memory/impl=%s", unit: "heap-B/lock", scale: 1, show: "B"},
	{concern: "Memory", label: "goroutines per held lock", bench: "Memory/impl=%s", unit: "goroutines/lock", scale: 1, show: ""},
	{concern: "Memory", label: "heap per waiter (steady)", bench: "Memory/impl=%s", unit: "heap-B/waiter", scale: 1, show: "B"},
	{concern: "Memory", label: "heap retained once the waiters left (runtime's goroutine descriptors)", bench: "Memory/impl=%s", unit: "retained-heap-B/waiter", scale: 1, show: "B"},
	{concern: "Memory", label: "heap per waiter, less what is retained", bench: "Memory/impl=%s", unit: "heap-B/waiter", scale: 1, show: "B", minus: "retained-heap-B/waiter"},
	{concern: "Memory", label: "stack per waiter (steady)", bench: "Memory/impl=%s", unit: "stack-B/waiter", scale: 1, show: "B"},
	{concern: "Memory", label: "goroutines per waiter (steady)", bench: "Memory/impl=%s", unit: "goroutines/waiter", scale: 1, show: ""},
	{concern: "Memory", label: "goroutines per waiter (peak, first attempts)", bench: "Memory/impl=%s", unit: "peak-goroutines/waiter", scale: 1, show: ""},
}

// ratioMetrics are the rows of the ratio table: the headline of each concern.
var ratioMetrics = map[string]bool{
	"Obtain+Release, serial (mean per op)":         true,
	"Obtain+Release p50 (healthy, from HungNodes)": true,
	"allocations per Obtain+Release":               true,
	"Obtain+Release cycles/s, 16 goroutines":       true,
	"1 waiter: handoff p50":                        true,
	"1 waiter: handoff p99":                        true,
	"50 waiters: all served, total p50":            true,
	"50 waiters: slowest stampede of all runs":     true,
	"1 waiter: slowest run's p99":                  true,
	"50 waiters: per-handoff p50":                  true,
	"2 of 5 hung: Obtain+Release p50":              true,
	"2 of 5 hung: Obtain+Release p99":              true,
	"2 of 5 down: Obtain+Release p99":              true,
	"heap per held lock":                           true,
	"heap per waiter (steady)":                     true,
	"heap per waiter, less what is retained":       true,
	"goroutines per waiter (steady)":               true,
}

func (m metric) value(r results, impl string) float64 {
	name := fmt.Sprintf(m.bench, impl)
	if m.worst {
		vs := r[name][m.unit]
		if len(vs) == 0 {
			return math.NaN()
		}
		return slices.Max(vs) * m.scale
	}
	if m.sum {
		var sum float64
		for _, v := range r[name][m.unit] {
			sum += v
		}
		if len(r[name][m.unit]) == 0 {
			return math.NaN()
		}
		return sum
	}
	v := value(r, name, m.unit)
	if m.minus != "" {
		v -= value(r, fmt.Sprintf(m.bench, impl), m.minus)
	}
	return v * m.scale
}

func writeTables(w io.Writer, r results) {
	fmt.Fprintln(w, "### Ratios: quorumlock ÷ peer (medians of the runs)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| concern | figure | better | ÷ redsync-default | ÷ redsync-tuned | ÷ redislock-1node |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---:|")
	for _, m := range metrics {
		if !ratioMetrics[m.label] {
			continue
		}
		q := m.value(r, impls[0])
		better := "lower"
		if m.higher {
			better = "higher"
		}
		fmt.Fprintf(w, "| %s | %s | %s |", m.concern, m.label, better)
		for _, peer := range impls[1:] {
			fmt.Fprintf(w, " %s |", ratio(q, m.value(r, peer)))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Raw figures (medians of the runs)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| concern | figure | unit | quorumlock | redsync-default | redsync-tuned | redislock-1node |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|")
	for _, m := range metrics {
		fmt.Fprintf(w, "| %s | %s | %s |", m.concern, m.label, m.show)
		for _, im := range impls {
			fmt.Fprintf(w, " %s |", num(m.value(r, im)))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	writeTargets(w, r)
}

func writeTargets(w io.Writer, r results) {
	get := func(label, impl string) float64 {
		for _, m := range metrics {
			if m.label == label {
				return m.value(r, impl)
			}
		}
		return math.NaN()
	}
	q := impls[0]
	hoQ, hoD, hoT := get("1 waiter: handoff p50", q), get("1 waiter: handoff p50", "redsync-default"), get("1 waiter: handoff p50", "redsync-tuned")
	unQ, unD, unT := get("Obtain+Release, serial (mean per op)", q), get("Obtain+Release, serial (mean per op)", "redsync-default"), get("Obtain+Release, serial (mean per op)", "redsync-tuned")
	p50Q, p50D, p50T := get("Obtain+Release p50 (healthy, from HungNodes)", q), get("Obtain+Release p50 (healthy, from HungNodes)", "redsync-default"), get("Obtain+Release p50 (healthy, from HungNodes)", "redsync-tuned")
	tpQ, tpD, tpT := get("Obtain+Release cycles/s, 16 goroutines", q), get("Obtain+Release cycles/s, 16 goroutines", "redsync-default"), get("Obtain+Release cycles/s, 16 goroutines", "redsync-tuned")
	hp99, p99 := get("2 of 5 hung: Obtain+Release p99", q), get("healthy: Obtain+Release p99", q)
	hfail := get("2 of 5 hung: failed cycles", q)

	fmt.Fprintln(w, "### Targets (quorumlock, 5 real nodes, same run)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | measured | met |")
	fmt.Fprintln(w, "|---|---|---|")
	row := func(target, measured string, ok bool) {
		verdict := "**no**"
		if ok {
			verdict = "yes"
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", target, measured, verdict)
	}
	row("handoff p50 < 2 ms", num(hoQ)+" ms", hoQ < 2)
	row("handoff ≥ 50x faster than redsync-default", fmt.Sprintf("%sx (%s vs %s ms)", num(hoD/hoQ), num(hoQ), num(hoD)), hoD/hoQ >= 50)
	row("handoff ≥ 50x faster than redsync-tuned", fmt.Sprintf("%sx (%s vs %s ms)", num(hoT/hoQ), num(hoQ), num(hoT)), hoT/hoQ >= 50)
	row("uncontended ≤ 1.0x redsync-default (target 0.7x), mean per op", fmt.Sprintf("%sx (%s vs %s µs)", num(unQ/unD), num(unQ), num(unD)), unQ/unD <= 1.0)
	row("uncontended ≤ 1.0x redsync-default (target 0.7x), p50", fmt.Sprintf("%sx (%s vs %s µs)", num(p50Q/p50D), num(p50Q), num(p50D)), p50Q/p50D <= 1.0)
	row("uncontended ≤ 1.0x redsync-tuned, mean per op", fmt.Sprintf("%sx (%s vs %s µs)", num(unQ/unT), num(unQ), num(unT)), unQ/unT <= 1.0)
	row("uncontended ≤ 1.0x redsync-tuned, p50", fmt.Sprintf("%sx (%s vs %s µs)", num(p50Q/p50T), num(p50Q), num(p50T)), p50Q/p50T <= 1.0)
	row("throughput ≥ 1.5x redsync-default", fmt.Sprintf("%sx (%s vs %s cycles/s)", num(tpQ/tpD), num(tpQ), num(tpD)), tpQ/tpD >= 1.5)
	row("throughput ≥ 1.5x redsync-tuned", fmt.Sprintf("%sx (%s vs %s cycles/s)", num(tpQ/tpT), num(tpQ), num(tpT)), tpQ/tpT >= 1.5)
	row("2 of 5 hung: p99 ≤ 3x healthy p99", fmt.Sprintf("%sx (%s vs %s ms)", num(hp99/p99), num(hp99), num(p99)), hp99/p99 <= 3)
	row("2 of 5 hung: no failures, default options", fmt.Sprintf("%s failed cycles per cycle", num(hfail)), hfail == 0)
}

// ratio formats a/b.
func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "—"
	}
	return num(a/b) + "x"
}

// num formats a figure with three significant digits, or a dash.
func num(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "—"
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// writeChange compares quorumlock's figures in an earlier run with this one.
func writeChange(w io.Writer, prev, r results) {
	fmt.Fprintf(w, "### quorumlock %s → %s (medians of the runs)\n\n", prev.config("quorumlock"), r.config("quorumlock"))
	fmt.Fprintln(w, "| concern | figure | unit | before | after | after ÷ before |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---:|")
	for _, m := range metrics {
		a, b := m.value(prev, impls[0]), m.value(r, impls[0])
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", m.concern, m.label, m.show, num(a), num(b), ratio(b, a))
	}
}
