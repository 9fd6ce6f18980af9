// Package metrics is roy-procwatch's Prometheus exposition (GET /metrics):
// a private registry whose collectors read the core's shared snapshot (a
// scrape never costs a second pass over /proc), plus the daemon's own
// counters, which the transports and the core feed through small hooks.
//
// Every name is under roy_procwatch_, except the client library's standard
// go_* and process_* families of the daemon itself. Cardinality is bounded:
// units and users, never PIDs, except for the opt-in top processes.
// docs/metrics.md lists every family.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/roy/roy-procwatch/daemon/procs"
)

const namespace = "roy_procwatch"

// Snapshotter is the core's shared, TTL-cached inventory.
type Snapshotter interface {
	Snapshot(ctx context.Context) ([]procs.Process, time.Time, error)
}

// Source is one concern's metrics (host figures, units, …) gathered from a
// context that carries the collector's time budget. An error is counted in
// roy_procwatch_scrape_errors_total and the metrics sent before it are
// kept: one failing source never fails the scrape.
type Source interface {
	Describe(ch chan<- *prometheus.Desc)
	Collect(ctx context.Context, ch chan<- prometheus.Metric) error
}

// Options configure the metrics.
type Options struct {
	Snapshot Snapshotter
	Version  string
	// MaxListenSeries caps roy_procwatch_listen_info (default 1000);
	// listeners beyond it are counted in
	// roy_procwatch_listen_info_dropped_total.
	MaxListenSeries int
	// Top is how many of the busiest processes (by CPU, and by RSS) get
	// per-process series labelled with their PID (default 0: none).
	Top int
	// Timeout bounds each collector of one scrape (default 5s).
	Timeout time.Duration
	// SSEClients, when set, reports the open event streams.
	SSEClients func() int
}

// Metrics is the registry and the daemon's own counters. Its methods are
// safe for concurrent use, and safe on a nil *Metrics (they do nothing), so
// the hooks need no checks.
type Metrics struct {
	opts Options
	reg  *prometheus.Registry

	snapshotDuration prometheus.Histogram
	httpRequests     *prometheus.CounterVec
	actions          *prometheus.CounterVec
	authFailures     *prometheus.CounterVec
	dbusCalls        prometheus.Counter
}

// New builds the registry with every collector.
func New(o Options) *Metrics {
	if o.MaxListenSeries <= 0 {
		o.MaxListenSeries = 1000
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	m := &Metrics{
		opts: o,
		reg:  prometheus.NewRegistry(),
		snapshotDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "snapshot_duration_seconds",
			Help:    "Time one pass over /proc (the shared process snapshot) took.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "actions_total",
			Help: "Actions on processes (HTTP and D-Bus), by action and result (ok or the error kind).",
		}, []string{"action", "result"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "auth_failures_total",
			Help: "Failed HTTP authentications: missing or wrong token (invalid), or the read-only token used for an action (read_only).",
		}, []string{"reason"}),
		dbusCalls: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "dbus_calls_total",
			Help: "Method calls received on org.roy.ProcWatch1.",
		}),
	}
	for _, r := range []string{"invalid", "read_only"} {
		m.authFailures.WithLabelValues(r)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.snapshotDuration, m.httpRequests, m.actions, m.authFailures, m.dbusCalls,
		scrapeDescs{},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "build_info",
			Help:        "Always 1; the daemon's version in a label.",
			ConstLabels: prometheus.Labels{"version": o.Version},
		}, func() float64 { return 1 }),
	)
	if o.SSEClients != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "sse_clients",
			Help: "Open event streams (GET /api/events).",
		}, func() float64 { return float64(o.SSEClients()) }))
	}
	if o.Snapshot != nil {
		views := []snapshotView{processView{}, &listenView{max: o.MaxListenSeries}}
		if o.Top > 0 {
			views = append(views, &topView{n: o.Top})
		}
		m.Add("processes", &snapshotSource{snap: o.Snapshot, views: views})
	}
	return m
}

// Add registers a source under a collector name (the label of
// roy_procwatch_scrape_errors_total), bounded by the collector timeout.
// Call it before serving.
func (m *Metrics) Add(name string, s Source) {
	m.reg.MustRegister(&bounded{name: name, src: s, timeout: m.opts.Timeout})
}

// Handler serves the registry: the text format, or OpenMetrics when the
// scraper's Accept asks for it. Collector errors never fail the scrape.
// promhttp's own in-flight limit and timeout are left off: they answer in
// plain text, and the collectors are bounded already (as are the daemon's
// connections).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorHandling:     promhttp.ContinueOnError,
	})
}

// Gatherer is the registry, for tests and the bench.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// ObserveSnapshot records one pass over /proc (procs.Options.OnSnapshot).
func (m *Metrics) ObserveSnapshot(d time.Duration) {
	if m != nil {
		m.snapshotDuration.Observe(d.Seconds())
	}
}

// ObserveRequest counts one HTTP answer. route is the matched pattern
// ("GET /api/process/{pid}"), "" for none.
func (m *Metrics) ObserveRequest(route string, code int) {
	if m == nil {
		return
	}
	if route == "" {
		route = "other"
	}
	m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}

// ObserveAction counts one audited action (procs.Options.OnAction).
func (m *Metrics) ObserveAction(action, result string) {
	if m != nil {
		m.actions.WithLabelValues(action, result).Inc()
	}
}

// AuthFailed counts a failed authentication; reason is "invalid" or
// "read_only".
func (m *Metrics) AuthFailed(reason string) {
	if m != nil {
		m.authFailures.WithLabelValues(reason).Inc()
	}
}

// DBusCall counts one D-Bus method call.
func (m *Metrics) DBusCall() {
	if m != nil {
		m.dbusCalls.Inc()
	}
}

// bounded runs a Source within a time budget. Past it, the scrape goes on
// without the rest of that source's metrics, and the error is counted.
type bounded struct {
	name    string
	src     Source
	timeout time.Duration
	errors  atomic.Uint64 // emitted by Collect itself, so a scrape counts its own failure
}

var (
	collectorDuration = prometheus.NewDesc(namespace+"_scrape_collector_duration_seconds",
		"How long each collector took in this scrape.", []string{"collector"}, nil)
	collectorSuccess = prometheus.NewDesc(namespace+"_scrape_collector_success",
		"1 when the collector finished without error in this scrape, else 0.", []string{"collector"}, nil)
	scrapeErrors = prometheus.NewDesc(namespace+"_scrape_errors_total",
		"Collector runs that failed or ran out of time, by collector.", []string{"collector"}, nil)
)

func (b *bounded) Describe(ch chan<- *prometheus.Desc) { b.src.Describe(ch) }

// scrapeDescs registers the two per-collector families once; every bounded
// collector emits them with its own label (the registry checks descriptors
// registry-wide).
type scrapeDescs struct{}

func (scrapeDescs) Describe(ch chan<- *prometheus.Desc) {
	ch <- collectorDuration
	ch <- collectorSuccess
	ch <- scrapeErrors
}

func (scrapeDescs) Collect(chan<- prometheus.Metric) {}

func (b *bounded) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	inner := make(chan prometheus.Metric)
	done := make(chan error, 1)
	go func() {
		done <- b.src.Collect(ctx, inner)
		close(inner)
	}()
	var err error
forward:
	for {
		select {
		case mt, ok := <-inner:
			if !ok {
				err = <-done
				break forward
			}
			ch <- mt
		case <-ctx.Done():
			err = ctx.Err()
			go func() { // let the late source finish and be collected
				for range inner {
				}
			}()
			break forward
		}
	}
	ok := 1.0
	if err != nil {
		ok = 0
		b.errors.Add(1)
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrors, prometheus.CounterValue, float64(b.errors.Load()), b.name)
	ch <- prometheus.MustNewConstMetric(collectorDuration, prometheus.GaugeValue, time.Since(start).Seconds(), b.name)
	ch <- prometheus.MustNewConstMetric(collectorSuccess, prometheus.GaugeValue, ok, b.name)
}
