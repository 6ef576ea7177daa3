package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestOpenAPICoversRoutes fails when a route is missing from openapi.yaml,
// or the document names a route that does not exist.
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(openAPI, &doc))
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "patch", "delete", "head", "options":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}

	router := NewServer(Config{}).Handler().(chi.Routes)
	served := map[string]bool{}
	err := chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.TrimSuffix(strings.ReplaceAll(route, "/*/", "/"), "/")
		served[method+" "+route] = true
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, served)

	for r := range served {
		require.True(t, documented[r], "route %s is not in openapi.yaml", r)
	}
	for r := range documented {
		require.True(t, served[r], "openapi.yaml documents %s, which is not served", r)
	}
}
