// Command plot reads the raw output of the bench suite (go test -bench, any
// -count) and draws, from the median of each benchmark's runs:
//
//	docs/handoff.png  handoff latency per implementation (1 waiter p50/p99,
//	                  50 waiters per-handoff p50), log scale
//	docs/hung.png     Obtain+Release latency p50/p99 with 0 and 2 hung of 5
//	                  nodes per implementation, log scale
//
// and prints the ratio tables of docs/benchmarks.md (quorumlock ÷ each peer)
// as Markdown on standard output.
//
//	go run ./cmd/plot -in results/2026-11-25.txt -out ../docs
package main

import (
	"bufio"
	"flag"
	"fmt"
	"image/color"
	"io"
	"log"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Implementation names as in the sub-benchmark names, in column order.
var impls = []string{"quorumlock", "redsync-default", "redsync-tuned", "redislock-1node"}

func main() {
	in := flag.String("in", "", "raw benchmark output (default: newest file in results/)")
	out := flag.String("out", "../docs", "directory to write handoff.png and hung.png to")
	before := flag.String("before", "", "optional raw output of an earlier quorumlock revision, drawn as an extra group in handoff.png")
	flag.Parse()
	if *in == "" {
		*in = newest("results")
	}
	res, err := load(*in)
	if err != nil {
		log.Fatal(err)
	}
	var prev results
	if *before != "" {
		if prev, err = load(*before); err != nil {
			log.Fatal(err)
		}
	}
	if err := handoffPlot(res, prev, filepath.Join(*out, "handoff.png")); err != nil {
		log.Fatal(err)
	}
	if err := hungPlot(res, filepath.Join(*out, "hung.png")); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("<!-- from %s (quorumlock %s) -->\n", *in, res.config("quorumlock"))
	writeTables(os.Stdout, res)
	if prev != nil {
		fmt.Println()
		writeChange(os.Stdout, prev, res)
	}
}

// load parses one raw output file.
func load(path string) (results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res, err := parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("%s: no benchmark results", path)
	}
	return res, nil
}

// newest returns the most recently named .txt file in dir.
func newest(dir string) string {
	names, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	if len(names) == 0 {
		log.Fatalf("no -in given and no results in %s", dir)
	}
	slices.Sort(names)
	return names[len(names)-1]
}

// results maps a benchmark name (without the -GOMAXPROCS suffix) and a unit
// to the values of its runs; the configuration lines ("key: value") are kept
// under the name "" with the value as the unit.
type results map[string]map[string][]float64

// config returns the value of a configuration line, or "?".
func (r results) config(key string) string {
	for unit := range r[""] {
		if v, ok := strings.CutPrefix(unit, key+": "); ok {
			return v
		}
	}
	return "?"
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// parse reads Go benchmark format lines: name, iterations, then value/unit
// pairs. Everything else is ignored.
func parse(r io.Reader) (results, error) {
	res := results{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok && !strings.HasPrefix(k, "Benchmark") && !strings.ContainsAny(k, " \t") {
			if res[""] == nil {
				res[""] = map[string][]float64{}
			}
			res[""][k+": "+strings.TrimSpace(v)] = nil
			continue
		}
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") || len(fields)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue
		}
		name := procsSuffix.ReplaceAllString(strings.TrimPrefix(fields[0], "Benchmark"), "")
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			if res[name] == nil {
				res[name] = map[string][]float64{}
			}
			res[name][fields[i+1]] = append(res[name][fields[i+1]], v)
		}
	}
	return res, sc.Err()
}

// median returns the median of the runs of name in unit, and false if there
// are none.
func (r results) median(name, unit string) (float64, bool) {
	vs := slices.Clone(r[name][unit])
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if n := len(vs); n%2 == 1 {
		return vs[n/2], true
	} else {
		return (vs[n/2-1] + vs[n/2]) / 2, true
	}
}

// ---- plots ----

// A series is one bar per group, in one color.
type series struct {
	name   string
	values []float64 // per group; NaN: no bar
	color  color.Color
}

var (
	blue      = color.RGBA{0x1f, 0x77, 0xb4, 0xff}
	lightBlue = color.RGBA{0xae, 0xc7, 0xe8, 0xff}
	red       = color.RGBA{0xd6, 0x27, 0x28, 0xff}
	lightRed  = color.RGBA{0xff, 0x98, 0x96, 0xff}
	green     = color.RGBA{0x2c, 0xa0, 0x2c, 0xff}
)

func handoffPlot(r, prev results, path string) error {
	var p50, p99, st []float64
	names := labels(impls)
	if prev != nil {
		names = append([]string{"quorumlock\nbefore " + prev.config("quorumlock")}, names...)
		p50 = append(p50, value(prev, "Handoff/impl=quorumlock", "p50-ms"))
		p99 = append(p99, value(prev, "Handoff/impl=quorumlock", "p99-ms"))
		st = append(st, value(prev, "Stampede/impl=quorumlock", "handoff-p50-ms"))
		names[1] = "quorumlock\n" + r.config("quorumlock")
	}
	for _, im := range impls {
		p50 = append(p50, value(r, "Handoff/impl="+im, "p50-ms"))
		p99 = append(p99, value(r, "Handoff/impl="+im, "p99-ms"))
		st = append(st, value(r, "Stampede/impl="+im, "handoff-p50-ms"))
	}
	return barPlot(path,
		"Handoff: holder's Release returns → waiter's Obtain returns",
		"5 redis-server nodes (redislock: 1); medians of the runs; 1 waiter: ~15-60 handoffs per run, 50 waiters: 50 per stampede",
		"milliseconds (log scale; lower is better)",
		names, []series{
			{"1 waiter, p50", p50, blue},
			{"1 waiter, p99", p99, lightBlue},
			{"50 waiters, p50 per handoff", st, green},
		}, 2, "target: quorumlock p50 < 2 ms")
}

func hungPlot(r results, path string) error {
	groups := impls[:3]
	get := func(state, unit string) []float64 {
		vs := make([]float64, len(groups))
		for i, im := range groups {
			vs[i] = value(r, "HungNodes/nodes="+state+"/impl="+im, unit)
		}
		return vs
	}
	return barPlot(path,
		"Obtain+Release with 0 and 2 of 5 nodes hung (SIGSTOP)",
		"medians of the runs; 300 serial cycles per run, redsync-default with 2 hung: 1 cycle per run (each takes 10 s)",
		"milliseconds (log scale; lower is better)",
		labels(groups), []series{
			{"healthy, p50", get("healthy", "p50-ms"), blue},
			{"healthy, p99", get("healthy", "p99-ms"), lightBlue},
			{"2 hung, p50", get("2-hung", "p50-ms"), red},
			{"2 hung, p99", get("2-hung", "p99-ms"), lightRed},
		}, 0, "")
}

// labels turns implementation names into axis labels.
func labels(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.Replace(n, "-", "\n", 1)
	}
	return out
}

// value is the median or NaN.
func value(r results, name, unit string) float64 {
	if v, ok := r.median(name, unit); ok {
		return v
	}
	return math.NaN()
}

// barPlot draws grouped bars on a log scale, each labelled with its value,
// and an optional horizontal reference line at ref.
func barPlot(path, title, xlabel, ylabel string, groups []string, ss []series, ref float64, refLabel string) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.X.Label.TextStyle.Font.Size = vg.Points(9)
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Y.Label.Text = ylabel
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = msTicks{}
	p.X.Tick.Label.Font.Size = vg.Points(11)
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Add(plotter.NewGrid())

	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, v := range s.values {
			if v > 0 {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		return fmt.Errorf("%s: no data", path)
	}
	if ref > 0 {
		lo, hi = min(lo, ref), max(hi, ref)
	}
	floor := math.Pow10(int(math.Floor(math.Log10(lo))))
	top := hi * 8 // room for the legend and the value labels

	const barWidth = 26
	n := len(ss)
	for k, s := range ss {
		base := make(plotter.Values, len(groups))
		vals := make(plotter.Values, len(groups))
		var xys plotter.XYs
		var texts []string
		for i := range groups {
			base[i] = floor
			v := s.values[i]
			if math.IsNaN(v) || v <= floor {
				vals[i] = 0
			} else {
				vals[i] = v - floor
			}
			if !math.IsNaN(v) {
				xys = append(xys, plotter.XY{X: float64(i), Y: max(v, floor)})
				texts = append(texts, " "+fmtMs(v))
			}
		}
		baseBars, err := plotter.NewBarChart(base, barWidth)
		if err != nil {
			return err
		}
		bars, err := plotter.NewBarChart(vals, barWidth)
		if err != nil {
			return err
		}
		bars.StackOn(baseBars) // bars from the floor of the log axis, not from 0
		bars.Color = s.color
		bars.LineStyle.Width = vg.Points(0.5)
		bars.Offset = vg.Points(float64(barWidth) * (float64(k) - float64(n-1)/2))
		p.Add(bars)
		p.Legend.Add(s.name, bars)

		if len(xys) > 0 {
			lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
			if err != nil {
				return err
			}
			for i := range lb.TextStyle {
				lb.TextStyle[i].Rotation = math.Pi / 2
				lb.TextStyle[i].Font.Size = vg.Points(8.5)
				lb.TextStyle[i].XAlign = draw.XLeft
				lb.TextStyle[i].YAlign = draw.YCenter
			}
			lb.Offset = vg.Point{X: bars.Offset}
			p.Add(lb)
		}
	}
	if ref > 0 {
		line, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: ref}, {X: float64(len(groups)) - 0.5, Y: ref}})
		if err != nil {
			return err
		}
		line.Color = color.Black
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(line)
		p.Legend.Add(refLabel, line)
	}
	p.NominalX(groups...)
	p.X.Min, p.X.Max = -0.5, float64(len(groups))-0.5
	p.Y.Min, p.Y.Max = floor, top
	return p.Save(vg.Points(float64(180*len(groups)+120)), vg.Points(430), path)
}

// msTicks labels powers of ten in milliseconds.
type msTicks struct{}

func (msTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); math.Pow10(int(e)) <= hi; e++ {
		v := math.Pow10(int(e))
		ticks = append(ticks, plot.Tick{Value: v, Label: fmtMs(v)})
		for m := 2; m < 10; m++ {
			if v*float64(m) <= hi {
				ticks = append(ticks, plot.Tick{Value: v * float64(m)})
			}
		}
	}
	return ticks
}

// fmtMs formats milliseconds with a sensible number of digits.
func fmtMs(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v/1000, 'f', 1, 64) + " s"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
	default:
		return strconv.FormatFloat(v, 'f', 3, 64) + " ms"
	}
}
