package limits

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

func TestAmountBoundsOfLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in     string
		amount bool // Amount accepts it
		signed bool // SignedAmount accepts it
		pct    bool // Percent accepts it
		adj    bool // AdjustmentPercent accepts it
	}{
		{"0", true, true, true, true},
		{"1000000000", true, true, false, false},
		{"1000000000.000001", false, false, false, false},
		{"-1000000000", false, true, false, false},
		{"0.123456", true, true, true, true},
		{"0.1234567", false, false, false, false},
		{"0.1234560000", true, true, true, true},
		{"1e9", true, true, false, false},
		{"1e10", false, false, false, false},
		{"1e400", false, false, false, false},
		{"1e-400", false, false, false, false},
		{"100", true, true, true, true},
		{"100.000001", true, true, false, true},
		{"1000", true, true, false, true},
		{"1000.5", true, true, false, false},
		{"-1", false, true, false, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			d, err := decimal.NewFromString(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.amount, Amount(d) == nil, "Amount")
			require.Equal(t, tc.signed, SignedAmount(d) == nil, "SignedAmount")
			require.Equal(t, tc.pct, Percent(d) == nil, "Percent")
			require.Equal(t, tc.adj, AdjustmentPercent(d) == nil, "AdjustmentPercent")
		})
	}
}

func TestParseAmountRefusesWhatIsNotANumber(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "abc", "1,5", "NaN", "Inf", strings.Repeat("9", 65), "0x10", "1e99999999999999999999"} {
		_, err := ParseAmount(s, Amount)
		require.Error(t, err, "%q", s)
	}
	d, err := ParseAmount("12.50", Amount)
	require.NoError(t, err)
	require.Equal(t, "12.5", d.String())
}

func TestText(t *testing.T) {
	t.Parallel()
	require.NoError(t, Text("josé 用户42 🎉", 255, false))
	require.Error(t, Text("a\x00b", 255, false))
	require.Error(t, Text("a\x01b", 255, false))
	require.Error(t, Text("a\nb", 255, false))
	require.NoError(t, Text("a\nb", 255, true))
	require.Error(t, Text("\xff", 255, false))
	require.NoError(t, Text(strings.Repeat("é", 255), 255, false))
	require.Error(t, Text(strings.Repeat("é", 256), 255, false))
}

func TestClipKeepsMessagesShort(t *testing.T) {
	t.Parallel()
	c := Clip(strings.Repeat("x", 100_000))
	require.Less(t, len(c), 100)
	require.Contains(t, c, "100000 characters")
	require.Equal(t, "short", Clip("short"))
}
