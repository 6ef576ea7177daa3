package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/internal/pgtest"
)

// TestServeWithoutTemporal: `tierwise serve` starts while Temporal is
// unreachable, /readyz says so without the dial error, and postbacks are
// accepted, stored unsignalled for the sweeper (DESIGN §9).
func TestServeWithoutTemporal(t *testing.T) {
	apiAddr, nowhere := freeAddr(t), freeAddr(t) // nothing listens on nowhere
	for k, v := range map[string]string{
		"DATABASE_URL":       pgtest.Database(t),
		"TEMPORAL_ADDRESS":   nowhere,
		"LISTEN_ADDR":        apiAddr,
		"TIERWISE_ADMIN_KEY": testAdminKey,
		"LOG_LEVEL":          "error",
	} {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() { errs <- runServe(ctx, nil, io.Discard) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-errs) })
	api := "http://" + apiAddr
	require.Eventually(t, func() bool { return answers(api + "/healthz") }, 30*time.Second, 50*time.Millisecond)

	resp, err := http.Get(api + "/readyz")
	require.NoError(t, err)
	var ready map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ready))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "ready: postbacks are accepted")
	require.Equal(t, "ok", ready["postgres"])
	require.Equal(t, "unreachable", ready["temporal"])
	require.NotContains(t, fmt.Sprint(ready), strings.Split(nowhere, ":")[1], "no address or dial error for anonymous callers")

	admin := func(path string, body, out any) {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, api+path, bytes.NewReader(raw))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+testAdminKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	var adv struct {
		ID    int64  `json:"id"`
		Token string `json:"postback_token"`
	}
	admin("/advertisers", map[string]any{"name": "A"}, &adv)
	var offer, partner struct {
		ID int64 `json:"id"`
	}
	admin("/offers", map[string]any{"advertiser_id": adv.ID, "name": "O", "destination_url": "https://a.example/",
		"events": []map[string]any{{"event": "", "payout": map[string]any{"type": "cpa", "amount": "1"}, "revenue": map[string]any{"type": "rpa", "amount": "2"}}}}, &offer)
	admin("/partners", map[string]any{"name": "P"}, &partner)

	resp, err = http.Get(fmt.Sprintf("%s/postback?token=%s&offer_id=%d&partner_id=%d&user_id=u1", api, adv.Token, offer.ID, partner.ID))
	require.NoError(t, err)
	var res map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&res))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", res)
	require.Equal(t, "approved", res["status"])
}

func TestVersion(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.Equal(t, 0, run([]string{"--version"}, &out, io.Discard))
	require.True(t, strings.HasPrefix(out.String(), "tierwise "), out.String())
	require.Contains(t, out.String(), "go1.")
}
