//go:build linux

package main

import (
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The contenders' colours in the chart.
var colours = map[string]color.Color{
	cRootlessd: color.RGBA{R: 0x1b, G: 0x9e, B: 0x77, A: 0xff},
	cAnchor:    color.RGBA{R: 0xd9, G: 0x5f, B: 0x02, A: 0xff},
	cFloor:     color.RGBA{R: 0x75, G: 0x70, B: 0xb3, A: 0xff},
}

// panel is one plot of the chart: metrics of one unit, grouped by metric and stack.
type panel struct {
	title, unit string
	metrics     []string
	labels      map[string]string
}

var panels = []panel{
	{title: "Start, first container, density, shutdown (lower is better)", unit: "ms",
		metrics: []string{mReady, mFirst, mDensity, mShutdown},
		labels:  map[string]string{mReady: "ready", mFirst: "first container", mDensity: "density: all ready", mShutdown: "shutdown"}},
	{title: "Memory added besides the engine, PSS (lower is better)", unit: "MiB",
		metrics: []string{mMemory + "-pss", mMemory + "-pss-host"},
		labels:  map[string]string{mMemory + "-pss": "added", mMemory + "-pss-host": "added + host program"}},
	{title: "-p throughput, one TCP stream (higher is better; floor: host loopback)", unit: "Gbit/s",
		metrics: []string{mThroughput},
		labels:  map[string]string{mThroughput: "host → container"}},
}

// writeChart draws the medians of r as grouped bars, one panel per unit, to path (.svg or .png).
func writeChart(r *results, path string) error {
	var plots [][]*plot.Plot
	most := 0
	for _, pn := range panels {
		p, n := pn.plot(r)
		if n > 0 {
			plots = append(plots, []*plot.Plot{p})
			most = max(most, n)
		}
	}
	if len(plots) == 0 {
		return nil
	}
	// Each group of bars gets room for its three-line label.
	w, h := max(10*vg.Inch, vg.Length(most)*1.25*vg.Inch), vg.Length(len(plots))*3.6*vg.Inch
	var c interface {
		vg.CanvasSizer
		io.WriterTo
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
		c = vgsvg.New(w, h)
	case ".png":
		c = vgimg.PngCanvas{Canvas: vgimg.New(w, h)}
	default:
		return fmt.Errorf("%s: want a .svg or .png file", path)
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 2 * vg.Millimeter}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// plot draws pn's metrics of r; it returns the number of groups of bars (0: nothing to draw).
func (pn panel) plot(r *results) (*plot.Plot, int) {
	type group struct{ metric, stack, drivers string }
	var groups []group
	for _, m := range pn.metrics {
		for _, rec := range r.Records {
			g := group{m, rec.Stack, rec.Drivers}
			if rec.Metric == m && !containsKey(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	if len(groups) == 0 {
		return nil, 0
	}
	multiDrivers := false
	for _, g := range groups {
		multiDrivers = multiDrivers || g.drivers != groups[0].drivers
	}
	p := plot.New()
	p.Title.Text = pn.title
	p.Y.Label.Text = pn.unit
	p.Y.Min = 0
	var names []string
	for _, g := range groups {
		n := pn.labels[g.metric] + "\n" + g.stack
		if multiDrivers {
			n += "\n" + g.drivers
		}
		names = append(names, n)
	}
	const barWidth = 14
	contenders := []string{cRootlessd, cAnchor, cFloor}
	for i, c := range contenders {
		vals := make(plotter.Values, len(groups))
		any := false
		for j, g := range groups {
			if rec := r.find(g.metric, g.stack, g.drivers, c); rec != nil {
				vals[j], any = rec.Median, true
			}
		}
		if !any {
			continue
		}
		bars, err := plotter.NewBarChart(vals, barWidth)
		if err != nil {
			continue
		}
		bars.Color = colours[c]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(i-1) * barWidth
		p.Add(bars)
		p.Legend.Add(c, bars)
	}
	p.Legend.Top = true
	p.NominalX(names...)
	return p, len(groups)
}
