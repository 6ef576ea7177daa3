package console_test

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/api"
	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const adminKey = "tw_admin_console_test"

// testBundle is the console served by the API's handler, as the binary
// serves it, on a fresh database, with a browser-like client: it keeps
// cookies and does not follow redirects, so tests see each answer.
type testBundle struct {
	t      *testing.T
	url    string
	pool   *pgxpool.Pool
	store  *store.Store
	client *http.Client
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := pgtest.Pool(t)
	return serve(t, pool, []string{adminKey})
}

// serve starts a console on pool that accepts the configured keys.
func serve(t *testing.T, pool *pgxpool.Pool, keys []string) *testBundle {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv := api.NewServer(api.Config{Pool: pool, AdminKeys: keys, Logger: logger, Console: true,
		TemporalUIURL: "http://temporal-ui.example", Namespace: "default"})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &testBundle{t: t, url: ts.URL, pool: pool, store: store.New(pool), client: client}
}

// page is an answer: its status, its Location for redirects, its body.
type page struct {
	Status   int
	Location string
	Body     string
	Header   http.Header
}

func (b *testBundle) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(body), Header: resp.Header}
}

// get fetches a console path.
func (b *testBundle) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.url+path, nil)
	require.NoError(b.t, err)
	return b.do(req)
}

// mustGet fetches a console path and requires 200.
func (b *testBundle) mustGet(path string) page {
	b.t.Helper()
	p := b.get(path)
	require.Equal(b.t, http.StatusOK, p.Status, "GET %s: %s", path, p.Body)
	return p
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf reads the CSRF token of a page's forms.
func (b *testBundle) csrf() string {
	b.t.Helper()
	m := csrfInput.FindStringSubmatch(b.mustGet("/console/").Body)
	require.NotNil(b.t, m, "no CSRF token on the home page")
	return m[1]
}

// post sends a form as the signed-in admin, with the session's CSRF token.
func (b *testBundle) post(path string, form url.Values) page {
	b.t.Helper()
	form = cloneForm(form)
	form.Set("csrf_token", b.csrf())
	return b.postRaw(path, form, nil)
}

// postRaw sends a form as is, with extra headers.
func (b *testBundle) postRaw(path string, form url.Values, headers map[string]string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.url+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return b.do(req)
}

func cloneForm(f url.Values) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// signIn signs in with key through the sign-in form.
func (b *testBundle) signIn(key string) page {
	b.t.Helper()
	form := b.get("/console/sign-in")
	require.Equal(b.t, http.StatusOK, form.Status)
	m := csrfInput.FindStringSubmatch(form.Body)
	require.NotNil(b.t, m, "the sign-in form has a token")
	return b.postRaw("/console/sign-in", url.Values{"csrf_token": {m[1]}, "key": {key}, "next": {"/console/"}}, nil)
}

// admin signs in with the configured key and requires it to work.
func (b *testBundle) admin() *testBundle {
	b.t.Helper()
	p := b.signIn(adminKey)
	require.Equal(b.t, http.StatusSeeOther, p.Status, p.Body)
	require.Equal(b.t, "/console/", p.Location)
	return b
}

// requireField requires the page to show a problem next to the input of
// field, containing message.
func requireField(t *testing.T, p page, field, message string) {
	t.Helper()
	re := regexp.MustCompile(`(?s)name="` + regexp.QuoteMeta(field) + `"[^>]*aria-invalid="true"[^>]*>.*?<p class="field-error" id="` +
		regexp.QuoteMeta(field) + `-error" role="alert">([^<]*)</p>`)
	m := re.FindStringSubmatch(p.Body)
	require.NotNil(t, m, "no error next to field %s in:\n%s", field, p.Body)
	require.Contains(t, html.UnescapeString(m[1]), message)
}

// network is a small network: an advertiser, an offer whose base
// conversion pays $0.50 and earns $1.00, and a partner.
type network struct {
	Advertiser store.Advertiser
	Token      string
	Offer      store.Offer
	Partner    store.Partner
}

func (b *testBundle) network() network {
	b.t.Helper()
	ctx := context.Background()
	adv, token, err := b.store.CreateAdvertiser(ctx, store.AdvertiserInput{Name: "Acme Broker"})
	require.NoError(b.t, err)
	offer, err := b.store.CreateOffer(ctx, store.OfferInput{
		AdvertiserID: adv.ID, Name: "Sign-up", Currency: "USD", DestinationURL: "https://acme.example/join?click={transaction_id}",
		Events: []store.OfferEvent{
			{Payout: pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("0.50")}, Revenue: pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("1.00")}},
			{Event: "deposit", Repeatable: true, Payout: pricing.PayoutRate{Type: pricing.PayoutCPS, Percent: dec("10")}, Revenue: pricing.RevenueRate{Type: pricing.RevenueRPS, Percent: dec("20")}},
		},
	})
	require.NoError(b.t, err)
	partner, err := b.store.CreatePartner(ctx, store.PartnerInput{Name: "Blue Media"})
	require.NoError(b.t, err)
	return network{Advertiser: adv, Token: token, Offer: offer, Partner: partner}
}

// conversion stores an approved conversion, priced unless pending, the way
// the worker prices it (without a Temporal server: no tiered signals are
// sent, they stay in the outbox).
type conversion struct {
	Event, UserID, OrderID, Status string
	Sale                           string
	Data                           map[string]any
	At                             time.Time
	PartnerID                      int64
}

func (b *testBundle) convert(n network, c conversion) store.Conversion {
	b.t.Helper()
	ctx := context.Background()
	if c.Status == "" {
		c.Status = store.StatusApproved
	}
	if c.At.IsZero() {
		c.At = time.Now().Add(-time.Minute)
	}
	if c.PartnerID == 0 {
		c.PartnerID = n.Partner.ID
	}
	sale := decimal.Zero
	if c.Sale != "" {
		sale = dec(c.Sale)
	}
	workflow := "anonymous"
	if c.UserID != "" {
		workflow = "customer/" + itoa(n.Advertiser.ID) + "/" + c.UserID
	}
	key := strings.Join([]string{itoa(n.Offer.ID), c.Event, c.UserID, c.OrderID, c.At.String()}, ":")
	in := store.NewConversion{AdvertiserID: n.Advertiser.ID, OfferID: n.Offer.ID, PartnerID: c.PartnerID, Event: c.Event,
		UserID: c.UserID, OrderID: c.OrderID, DedupeKey: key, Currency: "USD", SaleAmount: sale, Status: c.Status,
		OccurredAt: c.At, Data: c.Data, WorkflowID: workflow}
	if c.Status == store.StatusRejected {
		in.RejectionReason = store.RejectPartnerNotApproved
	}
	conv, dup, err := b.store.InsertConversion(ctx, in)
	require.NoError(b.t, err)
	require.False(b.t, dup)
	if c.Status != store.StatusApproved {
		return conv
	}
	return b.price(conv.ID)
}

// price prices a conversion as the pricing activity does.
func (b *testBundle) price(id int64) store.Conversion {
	b.t.Helper()
	c, _, _, err := b.store.PriceConversion(context.Background(), id, priceWithoutRules)
	require.NoError(b.t, err)
	return c
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func itoa(n int64) string { return decimal.NewFromInt(n).String() }

// priceWithoutRules prices a conversion as the pricing activity does when no
// Customer Value rule is active: its amounts are final once priced.
func priceWithoutRules(ctx context.Context, p *store.PricingTx) (store.Priced, error) {
	pr, err := activities.Price(ctx, p)
	pr.ValueEvaluated = true
	return pr, err
}
