package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Backlog is the work that waits in PostgreSQL, read when /metrics is
// scraped (store.Store.Backlog).
type Backlog struct {
	// Unsignalled are the approved conversions whose customer workflow has
	// not been told yet; UnsignalledOldest is how long the oldest of them
	// has waited since its accept.
	Unsignalled       int64
	UnsignalledOldest time.Duration
	// Stuck are the conversions whose signal failed so often that an
	// operator must look (store.StuckAfterAttempts).
	Stuck int64
	// Outboxes are the signals written with money and not delivered yet,
	// one per outbox table.
	Outboxes []Outbox
}

// Outbox is what waits in one outbox table.
type Outbox struct {
	Name   string
	Unsent int64
	Oldest time.Duration
}

// BacklogReader reads the backlog; *store.Store is one.
type BacklogReader interface {
	Backlog(ctx context.Context) (Backlog, error)
}

var (
	backlogUp = prometheus.NewDesc("tierwise_backlog_up",
		"1 when the last read of the backlog from PostgreSQL succeeded; without it the backlog metrics are missing.", nil, nil)
	unsignalled = prometheus.NewDesc("tierwise_unsignalled_conversions",
		"Approved conversions whose customer workflow has not been told yet (the sweeper's work).", nil, nil)
	unsignalledOldest = prometheus.NewDesc("tierwise_unsignalled_oldest_age_seconds",
		"How long the oldest unsignalled conversion has waited since its accept; 0 when there is none.", nil, nil)
	stuck = prometheus.NewDesc("tierwise_stuck_conversions",
		"Conversions stuck: approved and still not signalled long after their accept.", nil, nil)
	outboxUnsent = prometheus.NewDesc("tierwise_outbox_unsent",
		"Outbox signals written and not delivered yet, by outbox table.", []string{"outbox"}, nil)
	outboxOldest = prometheus.NewDesc("tierwise_outbox_oldest_age_seconds",
		"How long the oldest undelivered signal of an outbox has waited; 0 when there is none.", []string{"outbox"}, nil)
)

// The backlog is read at most once per backlogCacheFor, within
// backlogTimeout, so that several scrapers (or a refreshing dashboard)
// cost one query, and a slow database delays no scrape for long.
const (
	backlogCacheFor = 2 * time.Second
	backlogTimeout  = 2 * time.Second
)

// backlogCollector reads the backlog when scraped.
type backlogCollector struct {
	read   BacklogReader
	logger *slog.Logger

	mu   sync.Mutex
	at   time.Time
	last Backlog
	err  error
}

// Describe implements prometheus.Collector.
func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{backlogUp, unsignalled, unsignalledOldest, stuck, outboxUnsent, outboxOldest} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	b, err := c.backlog()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(backlogUp, prometheus.GaugeValue, 0)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(backlogUp, 1)
	gauge(unsignalled, float64(b.Unsignalled))
	gauge(unsignalledOldest, b.UnsignalledOldest.Seconds())
	gauge(stuck, float64(b.Stuck))
	for _, o := range b.Outboxes {
		gauge(outboxUnsent, float64(o.Unsent), o.Name)
		gauge(outboxOldest, o.Oldest.Seconds(), o.Name)
	}
}

// backlog returns the last read of the backlog, reading it again when it is
// older than backlogCacheFor.
func (c *backlogCollector) backlog() (Backlog, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) < backlogCacheFor {
		return c.last, c.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
	defer cancel()
	c.last, c.err = c.read.Backlog(ctx)
	c.at = time.Now()
	if c.err != nil {
		c.logger.Warn("read the backlog for /metrics", "error", c.err)
	}
	return c.last, c.err
}
