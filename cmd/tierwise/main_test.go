package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestComposeSetsOnlyVariablesTheBinaryReads checks docker-compose.yml
// against the variables each command documents (and reads).
func TestComposeSetsOnlyVariablesTheBinaryReads(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docker-compose.yml")
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &compose))
	usages := map[string]string{}
	for _, c := range commands {
		usages[c.name] = c.usage
	}
	checked := 0
	for name, svc := range compose.Services {
		if len(svc.Command) == 0 {
			continue
		}
		usage, ok := usages[svc.Command[0]]
		if !ok {
			continue // not a tierwise service
		}
		for key := range svc.Environment {
			require.Contains(t, usage, key, "service %s sets %s, which tierwise %s does not read", name, key, svc.Command[0])
			checked++
		}
	}
	require.Greater(t, checked, 5)
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, c := range commands {
		var out strings.Builder
		require.Equal(t, 0, run([]string{c.name, "--help"}, &out, &out), c.name)
		require.Contains(t, out.String(), "Usage: tierwise "+c.name)
	}
}
