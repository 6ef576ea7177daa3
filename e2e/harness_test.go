// Package e2e tests the whole payout chain over HTTP: the API, a real
// PostgreSQL, a real embedded Temporal server and the worker.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/api"
	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/internal/temporaltest"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/worker"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const adminKey = "test-admin-key"

type testBundle struct {
	t        *testing.T
	url      string
	pool     *pgxpool.Pool
	store    *store.Store
	temporal *temporaltest.Server
	worker   *worker.Worker
	logger   *slog.Logger
}

func setup(t *testing.T, opts ...temporaltest.Option) *testBundle {
	t.Helper()
	pool := pgtest.Pool(t)
	ts := temporaltest.Start(t, opts...)
	c := ts.Client()
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	// The tests pin their dates (2024 and on), so they accept conversions
	// older than the default 400 days; TestPostbackTimestamps checks the
	// default.
	apiServer := api.NewServer(api.Config{Pool: pool, Temporal: c, AdminKeys: []string{adminKey}, Logger: logger,
		PostbackMaxAge: 20 * 365 * 24 * time.Hour})
	stop := apiServer.Start() // signal in the background, as the binary does
	srv := httptest.NewServer(apiServer.Handler())
	t.Cleanup(func() { srv.Close(); stop() })
	b := &testBundle{t: t, url: srv.URL, pool: pool, store: store.New(pool), temporal: ts, logger: logger}
	b.startWorker()
	t.Cleanup(func() { b.worker.Stop() })
	return b
}

// startWorker starts a worker with a client of its own.
func (b *testBundle) startWorker() {
	b.t.Helper()
	b.worker = worker.New(b.temporal.Client(), worker.Config{Pool: b.pool, Logger: b.logger, SweepInterval: 200 * time.Millisecond})
	require.NoError(b.t, b.worker.Start())
}

// do sends a JSON request as the admin and decodes the answer into out.
func (b *testBundle) do(method, path string, body, out any) int {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		require.NoError(b.t, err)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, b.url+path, rd)
	require.NoError(b.t, err)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	if out != nil && len(raw) > 0 {
		require.NoError(b.t, json.Unmarshal(raw, out), "decode %s %s: %s", method, path, raw)
	}
	return resp.StatusCode
}

// mustDo is do that requires the status.
func (b *testBundle) mustDo(status int, method, path string, body, out any) {
	b.t.Helper()
	var raw json.RawMessage
	got := b.do(method, path, body, &raw)
	require.Equal(b.t, status, got, "%s %s: %s", method, path, raw)
	if out != nil {
		require.NoError(b.t, json.Unmarshal(raw, out))
	}
}

type advertiser struct {
	ID    int64  `json:"id"`
	Token string `json:"postback_token"`
}

func (b *testBundle) advertiser() advertiser {
	b.t.Helper()
	var out struct {
		advertiser
		Advertiser *advertiser `json:"advertiser"`
	}
	b.mustDo(http.StatusCreated, http.MethodPost, "/advertisers", map[string]any{"name": "Broker"}, &out)
	if out.Advertiser != nil {
		out.advertiser.ID = out.Advertiser.ID
	}
	require.NotZero(b.t, out.ID)
	require.NotEmpty(b.t, out.Token)
	return out.advertiser
}

type rate struct {
	Type    string `json:"type"`
	Amount  string `json:"amount,omitempty"`
	Percent string `json:"percent,omitempty"`
}

type event struct {
	Event      string `json:"event"`
	Payout     rate   `json:"payout"`
	Revenue    rate   `json:"revenue"`
	Repeatable bool   `json:"repeatable,omitempty"`
}

func (b *testBundle) offer(advertiserID int64, visibility string, events ...event) int64 {
	b.t.Helper()
	var out struct {
		ID int64 `json:"id"`
	}
	b.mustDo(http.StatusCreated, http.MethodPost, "/offers", map[string]any{
		"advertiser_id": advertiserID, "name": "Offer", "visibility": visibility, "currency": "USD",
		"destination_url": "https://advertiser.example/land?click={transaction_id}", "events": events,
	}, &out)
	return out.ID
}

func (b *testBundle) partner(extra map[string]any) int64 {
	b.t.Helper()
	body := map[string]any{"name": "Partner"}
	for k, v := range extra {
		body[k] = v
	}
	var out struct {
		ID     int64 `json:"id"`
		TierID int64 `json:"tier_id"`
	}
	b.mustDo(http.StatusCreated, http.MethodPost, "/partners", body, &out)
	return out.ID
}

func (b *testBundle) tier(name, margin string, partners ...int64) int64 {
	b.t.Helper()
	var out struct {
		ID int64 `json:"id"`
	}
	b.mustDo(http.StatusCreated, http.MethodPost, "/tiers", map[string]any{
		"name": name, "margin": margin, "status": "active", "partner_ids": partners,
	}, &out)
	return out.ID
}

func (b *testBundle) tierOffer(tierID, offerID int64, autoApprove, applyMargin bool) {
	b.t.Helper()
	b.mustDo(http.StatusOK, http.MethodPut, fmt.Sprintf("/tiers/%d/offers/%d", tierID, offerID),
		map[string]any{"auto_approve": autoApprove, "apply_margin": applyMargin}, nil)
}

// postback sends a postback and returns the status and the decoded body.
func (b *testBundle) postback(params url.Values) (int, map[string]any) {
	b.t.Helper()
	resp, err := http.Get(b.url + "/postback?" + params.Encode())
	require.NoError(b.t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(b.t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

// convert sends a postback that must be accepted and returns the conversion
// once it is priced.
func (b *testBundle) convert(params url.Values) store.Conversion {
	b.t.Helper()
	status, body := b.postback(params)
	require.Equal(b.t, http.StatusOK, status, "postback %v: %v", params, body)
	return b.waitPriced(int64(body["conversion_id"].(float64)))
}

// waitPriced waits until the worker has priced the conversion.
func (b *testBundle) waitPriced(id int64) store.Conversion {
	b.t.Helper()
	var c store.Conversion
	require.Eventually(b.t, func() bool {
		var err error
		c, err = b.store.Conversion(context.Background(), id)
		require.NoError(b.t, err)
		return c.PricedAt != nil
	}, 30*time.Second, 20*time.Millisecond, "conversion %d was not priced", id)
	return c
}

// explanation reads the explanation of a conversion.
func (b *testBundle) explanation(id int64) explanationView {
	b.t.Helper()
	var e explanationView
	b.mustDo(http.StatusOK, http.MethodGet, fmt.Sprintf("/conversions/%d/explanation", id), nil, &e)
	return e
}

type explanationView struct {
	Payout  string `json:"payout"`
	Revenue string `json:"revenue"`
	Pricing struct {
		Explanation struct {
			PayoutLayer  string `json:"payout_layer"`
			RevenueLayer string `json:"revenue_layer"`
			Steps        []struct {
				Layer         string `json:"layer"`
				Applied       bool   `json:"applied"`
				Reason        string `json:"reason"`
				CustomSetting *struct {
					ID int64 `json:"id"`
				} `json:"custom_setting"`
				Tier *struct {
					ID int64 `json:"id"`
				} `json:"tier"`
			} `json:"steps"`
		} `json:"explanation"`
	} `json:"pricing"`
	Lines []struct {
		Kind   string `json:"kind"`
		Amount string `json:"amount"`
		Reason string `json:"reason"`
		Layer  string `json:"layer"`
	} `json:"lines"`
}

// step returns the explanation's step of a layer.
func (e explanationView) step(t *testing.T, layer string) (applied bool, reason string, settingID, tierID int64) {
	t.Helper()
	for _, s := range e.Pricing.Explanation.Steps {
		if s.Layer == layer {
			if s.CustomSetting != nil {
				settingID = s.CustomSetting.ID
			}
			if s.Tier != nil {
				tierID = s.Tier.ID
			}
			return s.Applied, s.Reason, settingID, tierID
		}
	}
	t.Fatalf("no %s step in the explanation", layer)
	return
}

func params(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func cpaRPA(payout, revenue string) event {
	return event{Payout: rate{Type: "cpa", Amount: payout}, Revenue: rate{Type: "rpa", Amount: revenue}}
}

// deposits is a repeatable deposit event paying a CPA and earning an RPA.
func deposits(payout, revenue string) event {
	e := cpaRPA(payout, revenue)
	e.Event, e.Repeatable = "deposit", true
	return e
}
