package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Accepted is one postback the API answered 200.
type Accepted struct {
	ConversionID int64
	Duplicate    bool  // the API answered that it was a duplicate
	Resend       bool  // the bench sent it again on purpose
	FirstID      int64 // for a resend: the conversion its first send created
	Hot          bool  // the hot partner × offer
}

// recorder collects what the load's clients see.
type recorder struct {
	sent atomic.Int64

	mu           sync.Mutex
	latencies    []time.Duration // every accept
	window       []time.Duration // accepts since the last tick
	accepted     []Accepted
	newAccepted  int64 // accepted and not a duplicate
	errors       int
	errorSamples []string
}

func (r *recorder) accept(a Accepted, latency time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latencies = append(r.latencies, latency)
	r.window = append(r.window, latency)
	r.accepted = append(r.accepted, a)
	if !a.Duplicate {
		r.newAccepted++
	}
}

func (r *recorder) fail(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors++
	if len(r.errorSamples) < 5 {
		r.errorSamples = append(r.errorSamples, msg)
	}
}

// tick returns the accept latencies since the last tick and the number of
// new conversions accepted so far.
func (r *recorder) tick() ([]time.Duration, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.window
	r.window = nil
	return w, r.newAccepted
}

// load sends postbacks over HTTP from many concurrent clients.
type load struct {
	cfg  Config
	net  *Network
	base []string // the APIs' base URLs: client i sends to base[i mod len]
	http *http.Client
	rec  *recorder
	seed uint64
}

func newLoad(cfg Config, n *Network, base []string) *load {
	transport := &http.Transport{
		MaxIdleConns:        cfg.Clients * 2,
		MaxIdleConnsPerHost: cfg.Clients * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &load{
		cfg: cfg, net: n, base: base,
		http: &http.Client{Transport: transport, Timeout: 30 * time.Second},
		rec:  &recorder{},
		seed: uint64(time.Now().UnixNano()),
	}
}

// run sends postbacks from start until end: at cfg.Rate per second in
// total (each send is due at start + n/rate; a client that is late sends at
// once), or as fast as the API answers when the rate is 0.
func (l *load) run(ctx context.Context, start, end time.Time) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := range l.cfg.Clients {
		wg.Go(func() { l.client(ctx, i, start, end, &next) })
	}
	wg.Wait()
	l.http.CloseIdleConnections()
}

// sentPostback is a postback kept to be sent again as a duplicate.
type sentPostback struct {
	query string
	id    int64
	hot   bool
}

func (l *load) client(ctx context.Context, i int, start, end time.Time, next *atomic.Int64) {
	g := &generator{
		cfg: l.cfg, net: l.net, client: i,
		rng: rand.New(rand.NewPCG(l.seed, uint64(i))),
	}
	g.zipf = rand.NewZipf(g.rng, l.cfg.ZipfS, l.cfg.ZipfV, uint64(l.cfg.Customers-1))
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		if l.cfg.Rate > 0 {
			n := next.Add(1) - 1
			due := start.Add(time.Duration(float64(n) / l.cfg.Rate * float64(time.Second)))
			if !due.Before(end) {
				return
			}
			if wait := time.Until(due); wait > 0 {
				timer.Reset(wait)
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
			}
		} else if !time.Now().Before(end) {
			return
		}
		p, resend := g.next()
		l.send(ctx, g, p, resend)
	}
}

// send sends one postback and records the answer.
func (l *load) send(ctx context.Context, g *generator, p sentPostback, resend bool) {
	l.rec.sent.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base[g.client%len(l.base)]+"/postback?"+p.query, nil)
	if err != nil {
		l.rec.fail(err.Error())
		return
	}
	began := time.Now()
	resp, err := l.http.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			l.rec.fail(err.Error())
		}
		return
	}
	raw, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	latency := time.Since(began)
	if err != nil {
		l.rec.fail(err.Error())
		return
	}
	if resp.StatusCode != http.StatusOK {
		l.rec.fail(fmt.Sprintf("%s: %s", resp.Status, raw))
		return
	}
	var ans struct {
		ConversionID int64 `json:"conversion_id"`
		Duplicate    bool  `json:"duplicate"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil || ans.ConversionID == 0 {
		l.rec.fail(fmt.Sprintf("unexpected answer %s", raw))
		return
	}
	a := Accepted{ConversionID: ans.ConversionID, Duplicate: ans.Duplicate, Hot: p.hot}
	if resend {
		a.Resend, a.FirstID = true, p.id
	} else if !ans.Duplicate {
		g.remember(sentPostback{query: p.query, id: ans.ConversionID, hot: p.hot})
	}
	l.rec.accept(a, latency)
}

// generator makes one client's postbacks: customers from a Zipf
// distribution, each referred by one partner to one offer, the hot partner
// × offer's share (customers of its own), base conversions and events with
// sale amounts and data points, and now and then a postback sent again.
type generator struct {
	cfg    Config
	net    *Network
	client int
	rng    *rand.Rand
	zipf   *rand.Zipf
	seq    int
	recent []sentPostback // a ring of this client's accepted postbacks
	pos    int
}

const recentKept = 64

func (g *generator) remember(p sentPostback) {
	if len(g.recent) < recentKept {
		g.recent = append(g.recent, p)
		return
	}
	g.recent[g.pos] = p
	g.pos = (g.pos + 1) % recentKept
}

// next returns the next postback and whether it is one sent before.
func (g *generator) next() (sentPostback, bool) {
	if len(g.recent) > 0 && g.rng.Float64() < g.cfg.DuplicateShare {
		return g.recent[g.rng.IntN(len(g.recent))], true
	}
	g.seq++
	n := g.net
	q := url.Values{}
	hot := g.rng.Float64() < g.cfg.HotShare
	customer := g.zipf.Uint64()
	offer := n.Offers[0]
	partner := n.HotPartner
	user := fmt.Sprintf("%s-h%d", n.RunID, customer) // the hot partner × offer's customers
	event := ""
	if !hot {
		// A customer was referred by one partner, to one offer: every
		// postback of theirs names them.
		h := customerHash(customer)
		offer = n.Offers[h%uint64(len(n.Offers))]
		partner = n.Partners[(h/uint64(len(n.Offers)))%uint64(len(n.Partners))]
		user = fmt.Sprintf("%s-u%d", n.RunID, customer)
		switch x := g.rng.Float64(); {
		case x < 0.40:
			event = "deposit"
		case x < 0.65:
			event = "trade"
		}
		hot = partner == n.HotPartner && offer.ID == n.HotOffer && event == ""
	}
	q.Set("token", offer.Token)
	q.Set("offer_id", strconv.FormatInt(offer.ID, 10))
	q.Set("partner_id", strconv.FormatInt(partner, 10))
	if event != "" || g.rng.Float64() >= g.cfg.AnonymousShare {
		q.Set("user_id", user) // a conversion without one has no lifetime, and costs no workflow
	}
	q.Set("order_id", fmt.Sprintf("%s-%d-%d", n.RunID, g.client, g.seq))
	sale := g.money(10, 500)
	q.Set("amount", sale)
	switch event {
	case "":
		geos := []string{"EU1", "EU1", "US", "APAC", "EU2"}
		q.Set("geo", geos[g.rng.IntN(len(geos))])
	default:
		q.Set("event", event)
		q.Set(event, sale)
	}
	if g.rng.Float64() < 0.15 {
		q.Set("level", strconv.Itoa(1+g.rng.IntN(12)))
	}
	if g.rng.Float64() < 0.05 {
		q.Set("revenue", g.money(5, 100))
	}
	return sentPostback{query: q.Encode(), hot: hot}, false
}

// customerHash spreads customer numbers over partners and offers (the
// SplitMix64 finalizer), so the busiest customers are not all one
// partner's.
func customerHash(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// money returns a random amount in [lo, hi) with cents.
func (g *generator) money(lo, hi int) string {
	cents := lo*100 + g.rng.IntN((hi-lo)*100)
	return strconv.Itoa(cents/100) + "." + fmt.Sprintf("%02d", cents%100)
}
