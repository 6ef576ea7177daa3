package csvexport

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSafeNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
		"+1+1":              "'+1+1",
		"-1+1":              "'-1+1",
		"@SUM(A1)":          "'@SUM(A1)",
		"\tcmd":             "'\tcmd",
		"-2.42":             "-2.42",
		"12.5":              "12.5",
		"josé":              "josé",
		"":                  "",
	} {
		require.Equal(t, want, Safe(in), "%q", in)
	}
}

func TestWriterWritesSafeCells(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	require.NoError(t, w.Write([]string{"=1+1", "-3.10", "a,b"}))
	require.NoError(t, w.Flush())
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Equal(t, [][]string{{"'=1+1", "-3.10", "a,b"}}, rows)
}
